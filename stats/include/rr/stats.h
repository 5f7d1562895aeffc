/* stats.h -- Request statistics in Locust's model, and its reports.
 *
 * A struct rr_stats is one shard: one replay thread records into its own, and the reporting
 * side merges shards (rr_stats_merge) into a total. Entries are keyed by (method, name),
 * failures by (method, name, error), as Locust keys them. Recording never allocates once the
 * entry and error exist. A shard belongs to one thread. */
#ifndef RR_STATS_H
#define RR_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"
#include "rr/err.h"

struct rr_stats;

int rr_stats_new(struct rr_stats **out) RR_WUR;
void rr_stats_free(struct rr_stats **s);

/* Returns the index of the entry (method, name), creating it when new. Resolve once, record
 * many times. */
int rr_stats_entry(struct rr_stats *s, const char *method, const char *name);

/* Records one request of entry: its response time in microseconds, its content length, and
 * error (NULL on success, else a Locust-style error string, copied when first seen).
 * now_s is the Unix time in seconds of the response (Locust's per-second counters). */
void rr_stats_record(struct rr_stats *s, int entry, uint64_t resp_us, uint64_t content_len,
                     const char *error, uint32_t now_s);

/* Adds every entry and failure of src into dst (by key, not by index). */
void rr_stats_merge(struct rr_stats *dst, const struct rr_stats *src);
/* Forgets all counts; entries keep their indices. */
void rr_stats_reset(struct rr_stats *s);

#endif
