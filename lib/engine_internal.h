/* Engine switches for the example runner (ruletest.c), not for production callers. */
#ifndef HVD_ENGINE_INTERNAL_H
#define HVD_ENGINE_INTERNAL_H

#include "engine.h"

/* on: rules with enabled="false" are matched too, so their examples stay checked. */
void hvd__engine_match_disabled(hvd_engine *e, int on);

#endif
