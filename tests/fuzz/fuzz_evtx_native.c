/*
 * libFuzzer target for hvdiag's own EVTX decoder: the input is the first chunk of a file
 * (padded with zeros to 64 KiB) behind a valid file header, so mutations land in the chunk
 * header, the string and template tables, the records and their BinXML. The first byte
 * picks the options (recovered records, the dirty flag); the file is read twice, the second
 * time from the position taken halfway.
 * Seeds: tests/fuzz/seeds/evtx_native (first chunks of evtxgen files).
 */
#define _GNU_SOURCE /* memfd_create */
#include "evtx_native.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#define HEAD  4096
#define CHUNK 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t drain(hvd_evtx_native *r, uint64_t stop_at, char **token)
{
    hvd_event ev;
    hvd_error err;
    uint64_t n = 0;

    while (hvd_evtx_native_next(r, &ev, &err) > 0) {
        size_t len = strlen(ev.host) + strlen(ev.provider) + strlen(ev.provider_guid) +
                     strlen(ev.channel) + strlen(ev.user_sid) + strlen(ev.message);

        for (size_t i = 0; i < ev.nfields; i++) {
            len += strlen(ev.fields[i].name) + strlen(ev.fields[i].value);
        }
        if (len == (size_t)-1) {
            abort();
        }
        n++;
        if (token && n == stop_at) {
            *token = strdup(hvd_evtx_native_position(r));
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t file[HEAD + CHUNK];
    hvd_source_options opt = {0};
    hvd_evtx_native *r = NULL;
    hvd_error err;
    char path[64];
    char *token = NULL;
    uint64_t total;
    uint32_t crc;
    int fd;

    if (size < 1) {
        return 0;
    }
    opt.include_recovered = data[0] & 1;
    memset(file, 0, sizeof(file));
    memcpy(file, "ElfFile", 8);
    file[32] = 128;                 /* header size */
    file[36] = 1;                   /* minor version */
    file[38] = 3;                   /* major version */
    file[41] = HEAD >> 8;           /* header block size: chunk 0's offset */
    file[42] = 1;                   /* one chunk */
    file[120] = (data[0] >> 1) & 1; /* dirty */
    crc = (uint32_t)crc32(0L, file, 120);
    memcpy(file + 124, &crc, 4);
    memcpy(file + HEAD, data + 1, size - 1 < CHUNK ? size - 1 : CHUNK);
    fd = memfd_create("fuzz.evtx", 0);
    if (fd < 0 || write(fd, file, sizeof(file)) != (ssize_t)sizeof(file)) {
        abort();
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (hvd_evtx_native_open(&r, path, &opt, NULL, &err) < 0) {
        abort(); /* the header is valid: open must not fail */
    }
    total = drain(r, 0, NULL);
    hvd_evtx_native_close(r);
    r = NULL;
    if (hvd_evtx_native_open(&r, path, &opt, NULL, &err) == 0) {
        drain(r, total / 2 ? total / 2 : 1, &token);
        hvd_evtx_native_close(r);
        r = NULL;
    }
    if (token) {
        opt.resume = token;
        if (hvd_evtx_native_open(&r, path, &opt, NULL, &err) < 0) {
            abort(); /* its own position must be accepted */
        }
        drain(r, 0, NULL);
        hvd_evtx_native_close(r);
        free(token);
    }
    close(fd);
    return 0;
}
