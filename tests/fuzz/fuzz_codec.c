/* fuzz_codec.c -- The store's record decoders on arbitrary bytes.
 *
 * The first input byte picks a mode; the rest is the record. With an odd mode the record's
 * trailing check is recomputed first, so the fuzzer gets past it and reaches the field
 * validation (a random record otherwise fails the check and nothing else). Whatever decodes
 * must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/store_int.h"
#include "rr/store.h"
#include "rr/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip_x(const uint8_t *rec, size_t n, const struct rr_exchange *x)
{
    struct rr_buf enc, scratch;
    struct rr_exchange y;
    rr_buf_init(&enc);
    rr_buf_init(&scratch);
    rr_exchange_encode(x, &enc);
    /* Varints have one shortest form but decode from longer ones too, so compare by
     * re-decoding rather than byte for byte; lengths only ever shrink. */
    if (enc.len > n || rr_exchange_decode(enc.p, enc.len, &y, &scratch) != 0)
        abort();
    struct rr_buf enc2;
    rr_buf_init(&enc2);
    rr_exchange_encode(&y, &enc2);
    if (enc2.len != enc.len || memcmp(enc2.p, enc.p, enc.len) != 0)
        abort();
    rr_buf_fini(&enc);
    rr_buf_fini(&enc2);
    rr_buf_fini(&scratch);
}

static void check_roundtrip_c(const uint8_t *rec, size_t n, const struct rr_conn *c)
{
    struct rr_buf enc;
    struct rr_conn d;
    rr_buf_init(&enc);
    rr_conn_encode(c, &enc);
    if (enc.len > n || rr_conn_decode(enc.p, enc.len, &d) != 0 || memcmp(c, &d, sizeof(d)) != 0)
        abort();
    rr_buf_fini(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1;
    /* An exact-size copy: ASan then catches any read past the record. */
    uint8_t *rec = malloc(n ? n : 1);
    if (!rec)
        abort();
    memcpy(rec, data + 1, n);
    if ((data[0] & 1) && n >= 4) {
        uint32_t c = (uint32_t)rr_hash64(rec, n - 4, RR_REC_CHECK_SEED);
        rec[n - 4] = (uint8_t)(c >> 24);
        rec[n - 3] = (uint8_t)(c >> 16);
        rec[n - 2] = (uint8_t)(c >> 8);
        rec[n - 1] = (uint8_t)c;
    }
    struct rr_exchange x;
    struct rr_buf scratch;
    rr_buf_init(&scratch);
    int rc = rr_exchange_decode(rec, n, &x, &scratch);
    if (rc == 0)
        check_roundtrip_x(rec, n, &x);
    else if (rc != RR_ECORRUPT && rc != RR_EVERSION)
        abort();
    rr_buf_fini(&scratch);

    struct rr_conn c;
    rc = rr_conn_decode(rec, n, &c);
    if (rc == 0)
        check_roundtrip_c(rec, n, &c);
    else if (rc != RR_ECORRUPT && rc != RR_EVERSION)
        abort();
    free(rec);
    return 0;
}
