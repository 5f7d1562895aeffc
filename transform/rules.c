/* rules.c -- The transform's rules file (docs/transform.md): one rule per line, words as in
 * the plan format (bare, or double-quoted with \" \\ \n \r \t \xHH escapes), # comments. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tx_int.h"

#define MAX_WORDS 16

bool tx_glob(const char *pat, const char *s, size_t len)
{
    /* iterative glob with one backtrack point: '*' any run, '?' one byte */
    const char *star = NULL;
    size_t i = 0, star_i = 0;
    while (i < len) {
        if (*pat == '*') {
            star = pat++;
            star_i = i;
        } else if (*pat && (*pat == '?' || *pat == s[i])) {
            pat++;
            i++;
        } else if (star) {
            pat = star + 1;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == 0;
}

struct rword {
    char *s;
    unsigned col;
    int quoted;
};

struct rparser {
    unsigned line;
    struct rword w[MAX_WORDS];
    size_t nw;
    char *why;
    size_t whylen;
};

static int rerr(struct rparser *ps, unsigned col, const char *fmt, ...) RR_PRINTF(3, 4);

static int rerr(struct rparser *ps, unsigned col, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ps->why, ps->whylen, "%u:%u: %s", ps->line, col, msg);
    return RR_EPARSE;
}

static void rwords_free(struct rparser *ps)
{
    for (size_t i = 0; i < ps->nw; i++)
        free(ps->w[i].s);
    ps->nw = 0;
}

static int hexv(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int split_line(struct rparser *ps, const char *ls, const char *le)
{
    const char *p = ls;
    while (p < le) {
        while (p < le && (*p == ' ' || *p == '\t'))
            p++;
        if (p == le || *p == '#')
            break;
        if (ps->nw == MAX_WORDS)
            return rerr(ps, (unsigned)(p - ls) + 1, "too many words on one line");
        struct rword *w = &ps->w[ps->nw];
        struct rr_buf b;
        rr_buf_init(&b);
        w->col = (unsigned)(p - ls) + 1;
        w->quoted = *p == '"';
        if (w->quoted) {
            for (p++;; p++) {
                if (p == le) {
                    rr_buf_fini(&b);
                    return rerr(ps, w->col, "expected '\"' to end this string");
                }
                if (*p == '"')
                    break;
                if (*p != '\\') {
                    rr_buf_addc(&b, (uint8_t)*p);
                    continue;
                }
                int c = p + 1 < le ? p[1] : 0;
                p++;
                if (c == 'n' || c == 'r' || c == 't' || c == '"' || c == '\\') {
                    rr_buf_addc(&b, c == 'n'   ? '\n'
                                    : c == 'r' ? '\r'
                                    : c == 't' ? '\t'
                                               : (uint8_t)c);
                } else if (c == 'x' && p + 2 < le && hexv(p[1]) >= 0 && hexv(p[2]) >= 0) {
                    rr_buf_addc(&b, (uint8_t)(hexv(p[1]) * 16 + hexv(p[2])));
                    p += 2;
                } else {
                    rr_buf_fini(&b);
                    return rerr(ps, (unsigned)(p - ls),
                                "unknown escape: expected \\n, \\r, \\t, "
                                "\\\", \\\\ or \\xHH");
                }
            }
            p++;
        } else {
            while (p < le && *p != ' ' && *p != '\t' && *p != '#')
                rr_buf_addc(&b, (uint8_t)*p++);
        }
        w->s = rr_xstrdup(rr_buf_cstr(&b));
        rr_buf_fini(&b);
        ps->nw++;
    }
    return 0;
}

static int kw(const struct rword *w, const char *k)
{
    return !w->quoted && !strcmp(w->s, k);
}

static int need(struct rparser *ps, size_t min, size_t max, const char *usage)
{
    if (ps->nw < min)
        return rerr(ps,
                    ps->w[ps->nw - 1].col + (unsigned)strlen(ps->w[ps->nw - 1].s) +
                        (ps->w[ps->nw - 1].quoted ? 2 : 0),
                    "expected %s", usage);
    if (ps->nw > max)
        return rerr(ps, ps->w[max < MAX_WORDS ? max : MAX_WORDS - 1].col,
                    "unexpected word; expected %s", usage);
    return 0;
}

static int num(struct rparser *ps, size_t i, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(ps->w[i].s, &end);
    if (!*ps->w[i].s || *end || errno || !isfinite(v) || v < 0)
        return rerr(ps, ps->w[i].col, "expected a number of at least 0");
    *out = v;
    return 0;
}

static int whole(struct rparser *ps, size_t i, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(ps->w[i].s, &end, 10);
    if (!*ps->w[i].s || *end || errno || v > max || ps->w[i].s[0] == '-')
        return rerr(ps, ps->w[i].col, "expected a whole number up to %lu", max);
    *out = v;
    return 0;
}

static void *grow(void *arr, size_t n, size_t sz)
{
    return rr_xrealloc(arr, (n + 1) * sz);
}

static int parse_check(struct rparser *ps, size_t i, struct rr_plan_check *c)
{
    int rc;
    memset(c, 0, sizeof(*c));
    if (i >= ps->nw)
        return need(ps, i + 1, MAX_WORDS, "status, json, contains or max_ms");
    if (kw(&ps->w[i], "status")) {
        unsigned long lo = 0, hi = 0;
        if (ps->nw < i + 3)
            return need(ps, i + 3, i + 3, "status LOW HIGH");
        if ((rc = whole(ps, i + 1, 999, &lo)) || (rc = whole(ps, i + 2, 999, &hi)))
            return rc;
        if (hi < lo)
            return rerr(ps, ps->w[i + 2].col, "expected a status at least %lu", lo);
        c->kind = RR_CHECK_STATUS;
        c->status_lo = (int)lo;
        c->status_hi = (int)hi;
        i += 3;
    } else if (kw(&ps->w[i], "json")) {
        if (ps->nw < i + 3)
            return need(ps, i + 3, i + 3, "json PATH VALUE");
        c->kind = RR_CHECK_JSON_EQ;
        c->expr = rr_xstrdup(ps->w[i + 1].s);
        c->value = rr_xstrdup(ps->w[i + 2].s);
        i += 3;
    } else if (kw(&ps->w[i], "contains")) {
        if (ps->nw < i + 2)
            return need(ps, i + 2, i + 2, "contains TEXT");
        c->kind = RR_CHECK_BODY_CONTAINS;
        c->value = rr_xstrdup(ps->w[i + 1].s);
        i += 2;
    } else if (kw(&ps->w[i], "max_ms")) {
        if (ps->nw < i + 2)
            return need(ps, i + 2, i + 2, "max_ms MILLISECONDS");
        c->kind = RR_CHECK_MAX_MS;
        if ((rc = num(ps, i + 1, &c->max_ms)))
            return rc;
        i += 2;
    } else {
        return rerr(ps, ps->w[i].col, "expected status, json, contains or max_ms");
    }
    if (i < ps->nw) {
        if (!kw(&ps->w[i], "message") || i + 2 != ps->nw) {
            free(c->expr);
            free(c->value);
            return rerr(ps, ps->w[i].col, "expected message \"TEXT\" or the end of the line");
        }
        c->message = rr_xstrdup(ps->w[i + 1].s);
    }
    return 0;
}

static int parse_rule(struct rparser *ps, struct rr_transform_rules *r)
{
    struct rword *k = &ps->w[0];
    int rc;

    if (kw(k, "keep") || kw(k, "drop")) {
        int keep = kw(k, "keep");
        if (ps->nw == 2 && keep && kw(&ps->w[1], "statics")) {
            r->keep_statics = 1;
            return 0;
        }
        if ((rc = need(ps, 3, 3, "host|path|method|status PATTERN")))
            return rc;
        struct tx_filter f = {keep, TXF_HOST, NULL};
        if (kw(&ps->w[1], "host"))
            f.kind = TXF_HOST;
        else if (kw(&ps->w[1], "path"))
            f.kind = TXF_PATH;
        else if (kw(&ps->w[1], "method"))
            f.kind = TXF_METHOD;
        else if (kw(&ps->w[1], "status"))
            f.kind = TXF_STATUS;
        else
            return rerr(ps, ps->w[1].col, "expected host, path, method, status (or statics)");
        if (f.kind == TXF_STATUS) {
            const char *s = ps->w[2].s;
            if (strlen(s) != 3 || s[0] < '1' || s[0] > '5' ||
                !((s[1] == 'x' && s[2] == 'x') ||
                  (s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9')))
                return rerr(ps, ps->w[2].col,
                            "expected a status such as 404 or a class such as 4xx");
        }
        f.pat = rr_xstrdup(ps->w[2].s);
        r->filters = grow(r->filters, r->n_filters, sizeof(f));
        r->filters[r->n_filters++] = f;
    } else if (kw(k, "session") && ps->nw >= 2 && kw(&ps->w[1], "idle")) {
        double idle = 0;
        if ((rc = need(ps, 3, 3, "session idle SECONDS")) || (rc = num(ps, 2, &idle)))
            return rc;
        if (idle < 1)
            return rerr(ps, ps->w[2].col, "expected at least 1 second");
        r->idle_us = (uint64_t)(idle * 1e6);
    } else if (kw(k, "before") || kw(k, "after")) {
        int before = kw(k, "before");
        if ((rc = need(ps, 2, 3,
                       before ? "before [METHOD] PATH-GLOB, or before off"
                              : "after [METHOD] PATH-GLOB, or after off")))
            return rc;
        if (ps->nw == 2 && kw(&ps->w[1], "off")) {
            if (before)
                r->no_before = 1;
            else
                r->no_after = 1;
            return 0;
        }
        struct tx_name_rule n = {NULL, rr_xstrdup(ps->w[ps->nw - 1].s), NULL};
        if (ps->nw == 3 && strcmp(ps->w[1].s, "*"))
            n.method = rr_xstrdup(ps->w[1].s);
        if (before) {
            r->before = grow(r->before, r->n_before, sizeof(n));
            r->before[r->n_before++] = n;
        } else {
            r->after = grow(r->after, r->n_after, sizeof(n));
            r->after[r->n_after++] = n;
        }
    } else if (kw(k, "session")) {
        if ((rc = need(ps, 2, 3, "auto|connection|client [GAP_SECONDS]")))
            return rc;
        double gap = 0;
        if (ps->nw == 3 && (rc = num(ps, 2, &gap)))
            return rc;
        if (kw(&ps->w[1], "auto"))
            r->session = TXS_AUTO;
        else if (kw(&ps->w[1], "connection"))
            r->session = TXS_CONNECTION;
        else if (kw(&ps->w[1], "client"))
            r->session = TXS_CLIENT;
        else
            return rerr(ps, ps->w[1].col, "expected auto, connection or client");
        if (ps->nw == 3)
            r->gap_us = (uint64_t)(gap * 1e6);
    } else if (kw(k, "name")) {
        if ((rc = need(ps, 4, 4, "name METHOD|* PATH-GLOB NAME")))
            return rc;
        struct tx_name_rule n = {NULL, rr_xstrdup(ps->w[2].s), rr_xstrdup(ps->w[3].s)};
        if (strcmp(ps->w[1].s, "*"))
            n.method = rr_xstrdup(ps->w[1].s);
        r->names = grow(r->names, r->n_names, sizeof(n));
        r->names[r->n_names++] = n;
    } else if (kw(k, "correlate")) {
        if ((rc = need(ps, 4, 4, "correlate VAR json|header|cookie|regex EXPR")))
            return rc;
        static const char *const kinds[] = {"json", "header", "cookie", "regex"};
        int kind = -1;
        for (int i = 0; i < 4; i++)
            if (kw(&ps->w[2], kinds[i]))
                kind = i;
        if (kind < 0)
            return rerr(ps, ps->w[2].col, "expected json, header, cookie or regex");
        struct tx_correlate c = {rr_xstrdup(ps->w[1].s), (enum rr_extract_kind)kind,
                                 rr_xstrdup(ps->w[3].s)};
        r->correlate = grow(r->correlate, r->n_correlate, sizeof(c));
        r->correlate[r->n_correlate++] = c;
    } else if (kw(k, "ignore")) {
        if ((rc = need(ps, 2, 2, "ignore VAR")))
            return rc;
        r->ignore = grow(r->ignore, r->n_ignore, sizeof(char *));
        r->ignore[r->n_ignore++] = rr_xstrdup(ps->w[1].s);
    } else if (kw(k, "correlation")) {
        if ((rc = need(ps, 2, 2, "correlation on|off")))
            return rc;
        if (!kw(&ps->w[1], "on") && !kw(&ps->w[1], "off"))
            return rerr(ps, ps->w[1].col, "expected on or off");
        r->no_correlation = kw(&ps->w[1], "off");
    } else if (kw(k, "pool")) {
        if ((rc = need(ps, 2, MAX_WORDS, "pool NAME [csv FILE] [column N] [mode M] [scope S]")))
            return rc;
        struct tx_pool_rule p = {rr_xstrdup(ps->w[1].s), NULL, 0, -1, -1};
        for (size_t i = 2; i < ps->nw; i += 2) {
            unsigned long col = 0;
            if (i + 1 >= ps->nw) {
                rc = rerr(ps, ps->w[i].col, "expected a value after %s", ps->w[i].s);
            } else if (kw(&ps->w[i], "csv")) {
                free(p.csv);
                p.csv = rr_xstrdup(ps->w[i + 1].s);
            } else if (kw(&ps->w[i], "column")) {
                if (!(rc = whole(ps, i + 1, 100000, &col)))
                    p.column = (unsigned)col;
            } else if (kw(&ps->w[i], "mode")) {
                p.mode = kw(&ps->w[i + 1], "random")        ? RR_POOL_RANDOM
                         : kw(&ps->w[i + 1], "round-robin") ? RR_POOL_ROUNDROBIN
                         : kw(&ps->w[i + 1], "unique")      ? RR_POOL_UNIQUE
                                                            : -1;
                if (p.mode < 0)
                    rc = rerr(ps, ps->w[i + 1].col, "expected random, round-robin or unique");
            } else if (kw(&ps->w[i], "scope")) {
                p.scope = kw(&ps->w[i + 1], "iteration") ? RR_POOL_PER_ITERATION
                          : kw(&ps->w[i + 1], "user")    ? RR_POOL_PER_USER
                                                         : -1;
                if (p.scope < 0)
                    rc = rerr(ps, ps->w[i + 1].col, "expected iteration or user");
            } else {
                rc = rerr(ps, ps->w[i].col,
                          "unknown field \"%.40s\"; expected csv, column, mode "
                          "or scope",
                          ps->w[i].s);
            }
            if (rc) {
                free(p.name);
                free(p.csv);
                return rc;
            }
        }
        r->pools = grow(r->pools, r->n_pools, sizeof(p));
        r->pools[r->n_pools++] = p;
    } else if (kw(k, "check")) {
        struct tx_check_rule c;
        if ((rc = need(ps, 3, MAX_WORDS, "check PATH-GLOB status|json|contains|max_ms ...")))
            return rc;
        if ((rc = parse_check(ps, 2, &c.check)))
            return rc;
        c.glob = rr_xstrdup(ps->w[1].s);
        r->checks = grow(r->checks, r->n_checks, sizeof(c));
        r->checks[r->n_checks++] = c;
    } else if (kw(k, "wait")) {
        struct rr_plan_wait w = {RR_WAIT_RECORDED, 0, 0, 1.0};
        size_t nargs = 0;
        if ((rc = need(ps, 2, 5, "recorded|none|constant A|between A B|pacing A [scale F]")))
            return rc;
        if (kw(&ps->w[1], "recorded"))
            w.kind = RR_WAIT_RECORDED;
        else if (kw(&ps->w[1], "none"))
            w.kind = RR_WAIT_NONE;
        else if (kw(&ps->w[1], "constant"))
            w.kind = RR_WAIT_CONSTANT, nargs = 1;
        else if (kw(&ps->w[1], "between"))
            w.kind = RR_WAIT_BETWEEN, nargs = 2;
        else if (kw(&ps->w[1], "pacing"))
            w.kind = RR_WAIT_PACING, nargs = 1;
        else
            return rerr(ps, ps->w[1].col, "expected recorded, none, constant, between or pacing");
        if (ps->nw < 2 + nargs)
            return need(ps, 2 + nargs, 2 + nargs, "seconds");
        if (nargs >= 1 && (rc = num(ps, 2, &w.a)))
            return rc;
        if (nargs == 2 && (rc = num(ps, 3, &w.b)))
            return rc;
        if (nargs == 2 && w.b < w.a)
            return rerr(ps, ps->w[3].col, "expected a maximum at least the minimum");
        size_t i = 2 + nargs;
        if (i < ps->nw) {
            if (!kw(&ps->w[i], "scale") || i + 2 != ps->nw)
                return rerr(ps, ps->w[i].col, "expected scale FACTOR or the end of the line");
            if ((rc = num(ps, i + 1, &w.scale)))
                return rc;
        }
        r->has_wait = 1;
        r->wait = w;
    } else {
        return rerr(ps, k->col,
                    "unknown rule \"%.40s\"; expected keep, drop, session, name, correlate, "
                    "ignore, correlation, pool, check, wait, before or after",
                    k->s);
    }
    return 0;
}

int rr_transform_rules_parse(const void *text, size_t len, struct rr_transform_rules **out,
                             char *why, size_t whylen)
{
    struct rr_transform_rules *r = rr_xcalloc(1, sizeof(*r));
    struct rparser ps;
    const char *s = text, *end = s + len;
    int rc = 0;

    memset(&ps, 0, sizeof(ps));
    ps.why = why;
    ps.whylen = whylen;
    r->wait.scale = 1.0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        ps.line++;
        if (le > s && le[-1] == '\r')
            le--;
        if (le > s && memchr(s, 0, (size_t)(le - s))) {
            rc = rerr(&ps, 1, "a NUL byte: expected text");
            break;
        }
        rc = split_line(&ps, s, le);
        if (!rc && ps.nw)
            rc = parse_rule(&ps, r);
        rwords_free(&ps);
        if (rc)
            break;
        s = nl ? nl + 1 : end;
    }
    rwords_free(&ps);
    if (rc) {
        rr_transform_rules_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

int rr_transform_rules_load(const char *path, struct rr_transform_rules **out, char *why,
                            size_t whylen)
{
    FILE *f = fopen(path, "rb");
    struct rr_buf b;
    char tmp[4096];
    size_t n;
    int rc;

    if (!f) {
        rc = -errno;
        snprintf(why, whylen, "%s", strerror(errno));
        return rc;
    }
    rr_buf_init(&b);
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        if (b.len + n > (16u << 20)) {
            fclose(f);
            rr_buf_fini(&b);
            snprintf(why, whylen, "larger than 16 MiB: expected a rules file");
            return RR_ELIMIT;
        }
        rr_buf_add(&b, tmp, n);
    }
    fclose(f);
    rc = rr_transform_rules_parse(b.p, b.len, out, why, whylen);
    rr_buf_fini(&b);
    return rc;
}

void rr_transform_rules_free(struct rr_transform_rules **rp)
{
    struct rr_transform_rules *r = rp ? *rp : NULL;
    if (!r)
        return;
    for (size_t i = 0; i < r->n_filters; i++)
        free(r->filters[i].pat);
    free(r->filters);
    for (size_t i = 0; i < r->n_names; i++) {
        free(r->names[i].method);
        free(r->names[i].glob);
        free(r->names[i].name);
    }
    free(r->names);
    for (size_t i = 0; i < r->n_before; i++) {
        free(r->before[i].method);
        free(r->before[i].glob);
    }
    free(r->before);
    for (size_t i = 0; i < r->n_after; i++) {
        free(r->after[i].method);
        free(r->after[i].glob);
    }
    free(r->after);
    for (size_t i = 0; i < r->n_correlate; i++) {
        free(r->correlate[i].var);
        free(r->correlate[i].expr);
    }
    free(r->correlate);
    for (size_t i = 0; i < r->n_ignore; i++)
        free(r->ignore[i]);
    free(r->ignore);
    for (size_t i = 0; i < r->n_pools; i++) {
        free(r->pools[i].name);
        free(r->pools[i].csv);
    }
    free(r->pools);
    for (size_t i = 0; i < r->n_checks; i++) {
        free(r->checks[i].glob);
        free(r->checks[i].check.expr);
        free(r->checks[i].check.value);
        free(r->checks[i].check.message);
    }
    free(r->checks);
    free(r);
    *rp = NULL;
}
