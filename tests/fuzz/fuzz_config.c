/*
 * libFuzzer target for hvdiagd's configuration file: the input is the file's text. A file
 * that is accepted must hold what the daemon relies on (each watch with an absolute path
 * and at least one pattern, 1..64 workers).
 */
#include "alloc.h"
#include "config.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hvd_config *c = NULL;
    hvd_error err;
    char *text;

    if (memchr(data, '\0', size)) {
        return 0; /* hvd_config_load() refuses NUL bytes before parsing */
    }
    text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    if (hvd_config_parse_string(&c, text, "fuzz.conf", NULL, &err) == HVD_OK) {
        if (c->nwatches > HVD_CONFIG_MAX_WATCHES || c->workers == 0) {
            abort();
        }
        for (size_t i = 0; i < c->nwatches; i++) {
            if (!c->watches[i].path || c->watches[i].path[0] != '/' ||
                c->watches[i].npatterns == 0) {
                abort(); /* an accepted watch has an absolute path and patterns */
            }
        }
        hvd_config_destroy(c);
    }
    free(text);
    return 0;
}
