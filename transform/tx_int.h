/* tx_int.h -- What the transform's files share. */
#ifndef RR_TX_INT_H
#define RR_TX_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "rr/transform.h"

enum tx_filter_kind {
    TXF_HOST,
    TXF_PATH,
    TXF_METHOD,
    TXF_STATUS
};

struct tx_filter {
    int keep; /* 1 keep, 0 drop */
    enum tx_filter_kind kind;
    char *pat; /* glob for host/path, word for method, "4xx"/"404" for status */
};

struct tx_name_rule {
    char *method; /* NULL: any */
    char *glob;
    char *name;
};

struct tx_correlate {
    char *var;
    enum rr_extract_kind kind;
    char *expr;
};

struct tx_pool_rule {
    char *name;
    char *csv;
    unsigned column;
    int mode, scope; /* -1: unchanged */
};

struct tx_check_rule {
    char *glob;
    struct rr_plan_check check;
};

enum tx_session_mode {
    TXS_AUTO,
    TXS_CONNECTION,
    TXS_CLIENT
};

struct rr_transform_rules {
    int keep_statics;
    int no_correlation;
    enum tx_session_mode session;
    uint64_t gap_us;  /* TXS_CLIENT idle gap; TXS_AUTO: how soon an anonymous connection must be
                       * followed by the connection it joins */
    uint64_t idle_us; /* session auto/connection: idle time after which a session ends */
    int no_before, no_after; /* no detection of test-level steps (rules still force them) */
    size_t n_before, n_after;
    struct tx_name_rule *before, *after; /* name unused: METHOD (or NULL) and PATH-GLOB */
    int has_wait;
    struct rr_plan_wait wait;
    size_t n_filters, n_names, n_correlate, n_ignore, n_pools, n_checks;
    struct tx_filter *filters;
    struct tx_name_rule *names;
    struct tx_correlate *correlate;
    char **ignore;
    struct tx_pool_rule *pools;
    struct tx_check_rule *checks;
};

bool tx_glob(const char *pat, const char *s, size_t len);

struct rr_buf;
/* A regex whose group 1 takes val out of body (its first occurrence there), checked against
 * body; name gets the name the page gives the value ("" if none). 0, or -1: no such regex. */
int tx_regex_for(const char *body, size_t blen, const char *val, size_t vlen, struct rr_buf *re,
                 struct rr_buf *name);

#endif
