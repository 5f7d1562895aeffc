/* store_int.h -- What store.c and codec.c share; not part of the public API. */
#ifndef RR_STORE_INT_H
#define RR_STORE_INT_H

#include <stdint.h>

#include "rr/exchange.h"

/* Record header: magic byte, record version, then the fields, then a 32-bit check of
 * everything before it. The check comes first on decode, so a bit flip anywhere (even in
 * the version byte) is reported as damage rather than as a newer version. */
#define RR_XREC_MAGIC     0xE5 /* exchange record */
#define RR_CREC_MAGIC     0xC5 /* connection record */
#define RR_REC_VERSION    1
#define RR_REC_CHECK_SEED 0x7272636b /* "rrck" */

/* Seeds of the two hashes that name a body (with its length). */
#define RR_BODY_SEED0 0x626f6479 /* "body" */
#define RR_BODY_SEED1 0x68617368 /* "hash" */

#define RR_XF_KNOWN 0x1ffu
#define RR_CF_KNOWN 0x3fu

/* Computes the reference of a body: two seeded hashes and the length. */
void rr_store__body_ref(const void *p, size_t len, struct rr_body_ref *out);

#endif
