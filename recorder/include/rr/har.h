/* har.h -- Import of HAR 1.2 files (browser and proxy exports) into a store.
 *
 * Each entry becomes one exchange; entries are grouped into connections by their
 * "connection" id (Chrome, Firefox) or, when there is none, by scheme, host and port.
 * Timestamps come from startedDateTime and timings. See docs/har.md. */
#ifndef RR_HAR_H
#define RR_HAR_H

#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"
#include "rr/store.h"

struct rr_har_stats {
    uint64_t entries;   /* entries read */
    uint64_t exchanges; /* exchanges stored */
    uint64_t conns;     /* connections stored */
    uint64_t skipped;   /* entries without a usable request (e.g. data: URLs) */
    uint64_t body_bytes;
};

/* Imports the HAR file at path into store s. On bad input returns RR_EPARSE (or a negated
 * errno for a file that cannot be read) and writes one line into why, without the file
 * name: "line 3 column 7: ..." for bad JSON, "entry 12: missing request.url" for a bad
 * entry. stats may be NULL. */
int rr_har_import(struct rr_store *s, const char *path, struct rr_har_stats *stats, char *why,
                  size_t whylen) RR_WUR;

#endif
