/* plan.h -- The replay plan: flows of steps, data pools, extractors, checks, waits.
 *
 * The transform builds a plan from recorded exchanges; the replayer runs it. It is a
 * persisted format (text in the store's `plan` database, and a file a person edits with
 * `rrload plan FILE export|import`), so it lives beside the store. The text format is
 * documented in docs/plan-format.md.
 *
 * Templates: target, header values and bodies may hold ${name}, replaced at run time by the
 * value of the extractor or pool called name; "$${" writes a literal "${".
 *
 * A struct rr_plan owns every string and array in it; rr_plan_free releases them. Once built
 * it is read-only, so replay threads share it without locks. */
#ifndef RR_PLAN_H
#define RR_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"
#include "rr/err.h"

#define RR_PLAN_VERSION 1
#define RR_PLAN_MAX_THINK_Q 64 /* most quantiles in a step's think-time distribution */

enum rr_wait_kind {
    RR_WAIT_RECORDED, /* each step waits its recorded think time, times scale */
    RR_WAIT_NONE,
    RR_WAIT_CONSTANT, /* a seconds after each step */
    RR_WAIT_BETWEEN,  /* uniform in [a, b] seconds */
    RR_WAIT_PACING,   /* constant_pacing(a): each iteration takes at least a seconds */
};

struct rr_plan_wait {
    enum rr_wait_kind kind;
    double a, b;  /* seconds */
    double scale; /* multiplies recorded waits; 1.0 default */
};

enum rr_pool_mode { RR_POOL_RANDOM, RR_POOL_ROUNDROBIN, RR_POOL_UNIQUE };
enum rr_pool_scope { RR_POOL_PER_ITERATION, RR_POOL_PER_USER };

struct rr_plan_pool {
    char *name;
    enum rr_pool_mode mode;
    enum rr_pool_scope scope;
    char *csv_path;  /* values come from this CSV file (column csv_column) when set */
    unsigned csv_column;
    size_t n_values;
    char **values;
};

enum rr_extract_kind {
    RR_EXTRACT_JSON,   /* expr: a JSON path such as $.token or $.items[0].id */
    RR_EXTRACT_HEADER, /* expr: a response header name */
    RR_EXTRACT_COOKIE, /* expr: a cookie name from Set-Cookie */
    RR_EXTRACT_REGEX,  /* expr: a PCRE2 pattern over the body; group 1 (or 0) is the value */
};

struct rr_plan_extract {
    char *var; /* the ${var} it fills */
    enum rr_extract_kind kind;
    char *expr;
};

enum rr_check_kind {
    RR_CHECK_STATUS,        /* status in [lo, hi] */
    RR_CHECK_JSON_EQ,       /* JSON path expr equals value */
    RR_CHECK_BODY_CONTAINS, /* body contains value */
    RR_CHECK_MAX_MS,        /* response time at most max_ms */
};

struct rr_plan_check {
    enum rr_check_kind kind;
    int status_lo, status_hi;
    char *expr;
    char *value;
    double max_ms;
    char *message; /* the failure text in the error report; NULL: a default one */
};

struct rr_plan_header {
    char *name;
    char *value; /* template */
};

struct rr_plan_step {
    char *name;   /* the stats name (Locust's name=) */
    char *method;
    char *target; /* template: path and query */
    size_t n_headers;
    struct rr_plan_header *headers;
    uint8_t *body; /* template; may hold any bytes */
    size_t body_len;
    uint64_t think_us;    /* recorded wait after this step (RR_WAIT_RECORDED): the mean */
    /* The recorded distribution of that wait: n_think_q quantiles (0 or at least 2), equally
     * spaced in probability from the minimum (q[0]) to the maximum (q[n-1]), ascending. A
     * replay draws a uniform u and interpolates; without them it waits think_us. */
    size_t n_think_q;
    uint64_t *think_q_us;
    uint64_t exchange_id; /* the recorded exchange it came from; 0 if written by hand */
    size_t n_extracts;
    struct rr_plan_extract *extracts;
    size_t n_checks;
    struct rr_plan_check *checks;
};

struct rr_plan_flow {
    char *name;
    unsigned weight;
    size_t n_on_start, n_steps, n_on_stop;
    struct rr_plan_step *on_start; /* once per virtual user */
    struct rr_plan_step *steps;    /* in order, every iteration */
    struct rr_plan_step *on_stop;  /* once when the user stops */
};

struct rr_plan {
    char *host; /* "http://127.0.0.1:8080": the default target */
    struct rr_plan_wait wait;
    size_t n_pools;
    struct rr_plan_pool *pools;
    size_t n_before, n_after; /* once per test, before the first user and after the last */
    struct rr_plan_step *before;
    struct rr_plan_step *after;
    size_t n_flows;
    struct rr_plan_flow *flows;
};

/* Parses plan text. On RR_EPARSE, why gets "LINE:COL: what was expected" (the caller adds the
 * file name). *out is owned by the caller (rr_plan_free). */
int rr_plan_parse(const void *text, size_t len, struct rr_plan **out, char *why,
                  size_t whylen) RR_WUR;
/* Writes plan text; parse(format(p)) == p and format(parse(t)) == t for formatted t. */
void rr_plan_format(const struct rr_plan *p, struct rr_buf *out);
/* Checks references: every ${name} names a pool or an extractor set earlier in the flow.
 * RR_EPARSE with a description in why. */
int rr_plan_validate(const struct rr_plan *p, char *why, size_t whylen) RR_WUR;
void rr_plan_free(struct rr_plan **p);

#endif
