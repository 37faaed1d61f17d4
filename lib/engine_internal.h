/* Engine switches for the example runner (ruletest.c) and the tests, not for production
 * callers. */
#ifndef HVD_ENGINE_INTERNAL_H
#define HVD_ENGINE_INTERNAL_H

#include "engine.h"

/* on: rules with enabled="false" are matched too, so their examples stay checked. */
void hvd__engine_match_disabled(hvd_engine *e, int on);

/* Far state goes once more than soft groups, open and kept diagnoses are held, looked for
 * every 'every' events (the replay tests drop it all the time: results must not change). */
void hvd__engine_drop_far(hvd_engine *e, size_t soft, size_t every);

/* Groups, open and kept diagnoses held now. */
size_t hvd__engine_held(const hvd_engine *e);

#endif
