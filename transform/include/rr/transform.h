/* transform.h -- Builds a replay plan (rr/plan.h) from the exchanges of a store.
 *
 * Steps (docs/transform.md): filter (static assets dropped by default), sessions (by shared
 * identity values such as a session cookie or bearer token, else by connection, else by client
 * address and idle gap), names (/api/items/123 -> /api/items/[id]), flows (sessions with the
 * same sequence of named steps; weight = how often), correlation (values produced by a
 * response and sent later become extractors and ${var}), data pools (request values that vary
 * between sessions), think times and checks. A rules file (docs/transform.md) overrides each. */
#ifndef RR_TRANSFORM_H
#define RR_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"
#include "rr/err.h"
#include "rr/plan.h"
#include "rr/store.h"

struct rr_transform_rules;

/* Reads a rules file. RR_EPARSE with "LINE:COL: what was expected" in why; -errno when the
 * file cannot be read. */
int rr_transform_rules_load(const char *path, struct rr_transform_rules **out, char *why,
                            size_t whylen) RR_WUR;
/* The same from text in memory. */
int rr_transform_rules_parse(const void *text, size_t len, struct rr_transform_rules **out,
                             char *why, size_t whylen) RR_WUR;
void rr_transform_rules_free(struct rr_transform_rules **r);

struct rr_transform_opts {
    const struct rr_transform_rules *rules; /* NULL: the defaults */
    int no_correlation;                     /* keep recorded values (proves correlation) */
};

/* What the transform saw and did, for the summary and the tests. */
struct rr_transform_stats {
    uint64_t exchanges;      /* read from the store */
    uint64_t kept;           /* in sessions */
    uint64_t dropped_static; /* static assets */
    uint64_t dropped_rule;   /* by filter rules, or without a response */
    uint64_t sessions;
    uint64_t flows;
    uint64_t extractors; /* over all steps */
    uint64_t pools;
    uint64_t capped_pools;  /* pools fed by a field with more distinct values than kept */
    uint64_t before, after; /* test-level steps */
    uint64_t peak_open;     /* most exchanges held in open sessions at once */
    struct rr_buf statics;  /* "COUNT METHOD PATH\n" per distinct dropped static asset */
};

void rr_transform_stats_init(struct rr_transform_stats *st);
void rr_transform_stats_fini(struct rr_transform_stats *st);

/* Builds the plan from every exchange of the store. *out is owned by the caller. why gets a
 * one-line description on failure. RR_ENOTFOUND when no exchange is left to replay. */
int rr_transform_run(struct rr_store *s, const struct rr_transform_opts *o, struct rr_plan **out,
                     struct rr_transform_stats *st, char *why, size_t whylen) RR_WUR;

/* Prints the summary the CLI shows (sessions, flows with weights, extractors, pools, dropped
 * static assets). */
void rr_transform_summary(const struct rr_plan *p, const struct rr_transform_stats *st,
                          struct rr_buf *out);

/* The stats name of a path: ids (numbers, UUIDs, hex ids, emails) become [id], [uuid], [hex],
 * [email]; the query is dropped. Appends to out. */
void rr_transform_name(const char *target, size_t len, struct rr_buf *out);

/* Writes a locustfile that runs the plan under Locust: one HttpUser (FastHttpUser when fast)
 * class per flow with its weight, a SequentialTaskSet of its steps, on_start/on_stop, pools,
 * extraction, checks with response.failure(), wait_time. */
void rr_transform_locustfile(const struct rr_plan *p, int fast, struct rr_buf *out);

#endif
