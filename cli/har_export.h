/* har_export.h -- A store's recorded exchanges as a HAR 1.2 file (rrload export --har). */
#ifndef RR_HAR_EXPORT_H
#define RR_HAR_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "rr/err.h"
#include "rr/store.h"

struct rr_har_export_stats {
    uint64_t entries;    /* exchanges written */
    uint64_t decoded;    /* response bodies inflated (gzip, deflate) for the HAR */
    uint64_t body_bytes; /* request and response body bytes, as written (decoded) */
};

/* Writes every exchange of s, in capture order, as a HAR 1.2 document to f; version goes into
 * log.creator. RR_ENOTFOUND when the store has no exchange (the document is still complete),
 * else an rr code from the store; why gets one line. st may be NULL. Write errors are the
 * caller's to check (ferror, fclose). */
int rr_har_export(struct rr_store *s, FILE *f, const char *version, struct rr_har_export_stats *st,
                  char *why, size_t whylen) RR_WUR;

#endif
