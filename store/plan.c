/* plan.c -- The plan text format: parse, format, validate, free (docs/plan-format.md).
 *
 * The format is line based: every line is a keyword followed by words, a word being bare
 * (no space, quote or '#') or a double-quoted string with C escapes. Blocks (pool, flow,
 * on_start, on_stop, before, after, step) end with "end". The formatter writes one canonical
 * layout, so export -> import -> export gives the same bytes, and a person's edit shows as a
 * small diff. Strings never span lines: a body is split into several "body" lines that are
 * concatenated, cut after each newline so a multi-line body diffs line by line. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/plan.h"

/* A think line with the most quantiles: "think MEAN dist" and RR_PLAN_MAX_THINK_Q values */
#define MAX_WORDS  (RR_PLAN_MAX_THINK_Q + 3)
#define BODY_CHUNK 96 /* formatted bytes per body line, before the escapes */

/* ------------------------------------------------------------------------------------------ */
/* Formatting */

static int utf8_len(const uint8_t *p, size_t n)
{
    /* Length of a valid UTF-8 sequence starting at p (2..4), or 0. Overlong forms and
     * surrogates count as invalid so the text stays valid UTF-8. */
    uint8_t c = p[0];
    int len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Writes bytes [i, ...) as escaped string content until about max input bytes were used or
 * (when cut_nl) just after a newline. Returns how many input bytes were written. */
static size_t put_escaped(struct rr_buf *out, const uint8_t *p, size_t n, size_t max, int cut_nl)
{
    size_t i = 0;
    while (i < n && i < max) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            rr_buf_addc(out, '\\');
            rr_buf_addc(out, c);
        } else if (c == '\n') {
            rr_buf_adds(out, "\\n");
        } else if (c == '\r') {
            rr_buf_adds(out, "\\r");
        } else if (c == '\t') {
            rr_buf_adds(out, "\\t");
        } else if (c >= 0x20 && c < 0x7f) {
            rr_buf_addc(out, c);
        } else if (c >= 0x80) {
            int l = utf8_len(p + i, n - i);
            if (l) {
                rr_buf_add(out, p + i, (size_t)l);
                i += (size_t)l;
                continue;
            }
            rr_buf_printf(out, "\\x%02x", c);
        } else {
            rr_buf_printf(out, "\\x%02x", c);
        }
        i++;
        if (c == '\n' && cut_nl)
            break;
    }
    return i;
}

static void put_str(struct rr_buf *out, const char *s)
{
    rr_buf_addc(out, '"');
    if (s)
        put_escaped(out, (const uint8_t *)s, strlen(s), SIZE_MAX, 0);
    rr_buf_addc(out, '"');
}

static int is_bare_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* Identifiers (pool and variable names, methods) stay bare when they can. */
static void put_word(struct rr_buf *out, const char *s)
{
    int bare = s && *s;
    for (const char *c = s; bare && *c; c++)
        bare = is_bare_char((unsigned char)*c);
    if (bare && (!strcmp(s, "end") || s[0] == '-'))
        bare = 0;
    if (bare)
        rr_buf_adds(out, s);
    else
        put_str(out, s);
}

/* The shortest decimal that reads back as the same double. */
static void put_double(struct rr_buf *out, double v)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    rr_buf_adds(out, tmp);
}

/* Microseconds as seconds with up to six decimals: exact both ways. */
static void put_us(struct rr_buf *out, uint64_t us)
{
    uint64_t frac = us % 1000000;
    rr_buf_printf(out, "%llu", (unsigned long long)(us / 1000000));
    if (frac) {
        char d[8];
        snprintf(d, sizeof(d), "%06llu", (unsigned long long)frac);
        for (int i = 5; i > 0 && d[i] == '0'; i--)
            d[i] = 0;
        rr_buf_printf(out, ".%s", d);
    }
}

static void indent(struct rr_buf *out, int lvl)
{
    for (int i = 0; i < lvl; i++)
        rr_buf_adds(out, "  ");
}

static const char *const wait_names[] = {"recorded", "none", "constant", "between", "pacing"};
static const char *const mode_names[] = {"random", "round-robin", "unique"};
static const char *const scope_names[] = {"iteration", "user"};
static const char *const extract_names[] = {"json", "header", "cookie", "regex"};

static void format_step(const struct rr_plan_step *s, struct rr_buf *out, int lvl)
{
    indent(out, lvl);
    rr_buf_adds(out, "step ");
    put_str(out, s->name);
    rr_buf_addc(out, ' ');
    put_word(out, s->method && *s->method ? s->method : "GET");
    rr_buf_addc(out, ' ');
    put_str(out, s->target);
    rr_buf_addc(out, '\n');
    for (size_t i = 0; i < s->n_headers; i++) {
        indent(out, lvl + 1);
        rr_buf_adds(out, "header ");
        put_str(out, s->headers[i].name);
        rr_buf_addc(out, ' ');
        put_str(out, s->headers[i].value);
        rr_buf_addc(out, '\n');
    }
    for (size_t off = 0; off < s->body_len;) {
        indent(out, lvl + 1);
        rr_buf_adds(out, "body \"");
        off += put_escaped(out, s->body + off, s->body_len - off, BODY_CHUNK, 1);
        rr_buf_adds(out, "\"\n");
    }
    if (s->think_us || s->n_think_q) {
        indent(out, lvl + 1);
        rr_buf_adds(out, "think ");
        put_us(out, s->think_us);
        if (s->n_think_q) {
            rr_buf_adds(out, " dist");
            for (size_t i = 0; i < s->n_think_q; i++) {
                rr_buf_addc(out, ' ');
                put_us(out, s->think_q_us[i]);
            }
        }
        rr_buf_addc(out, '\n');
    }
    if (s->exchange_id) {
        indent(out, lvl + 1);
        rr_buf_printf(out, "exchange %llu\n", (unsigned long long)s->exchange_id);
    }
    for (size_t i = 0; i < s->n_extracts; i++) {
        const struct rr_plan_extract *x = &s->extracts[i];
        indent(out, lvl + 1);
        rr_buf_adds(out, "extract ");
        put_word(out, x->var);
        rr_buf_printf(out, " %s ", extract_names[x->kind]);
        put_str(out, x->expr);
        rr_buf_addc(out, '\n');
    }
    for (size_t i = 0; i < s->n_checks; i++) {
        const struct rr_plan_check *c = &s->checks[i];
        indent(out, lvl + 1);
        switch (c->kind) {
        case RR_CHECK_STATUS:
            rr_buf_printf(out, "check status %d %d", c->status_lo, c->status_hi);
            break;
        case RR_CHECK_JSON_EQ:
            rr_buf_adds(out, "check json ");
            put_str(out, c->expr);
            rr_buf_addc(out, ' ');
            put_str(out, c->value);
            break;
        case RR_CHECK_BODY_CONTAINS:
            rr_buf_adds(out, "check contains ");
            put_str(out, c->value);
            break;
        case RR_CHECK_MAX_MS:
            rr_buf_adds(out, "check max_ms ");
            put_double(out, c->max_ms);
            break;
        }
        if (c->message) {
            rr_buf_adds(out, " message ");
            put_str(out, c->message);
        }
        rr_buf_addc(out, '\n');
    }
    indent(out, lvl);
    rr_buf_adds(out, "end\n");
}

static void format_list(const char *kw, const struct rr_plan_step *s, size_t n, struct rr_buf *out,
                        int lvl)
{
    indent(out, lvl);
    rr_buf_printf(out, "%s\n", kw);
    for (size_t i = 0; i < n; i++)
        format_step(&s[i], out, lvl + 1);
    indent(out, lvl);
    rr_buf_adds(out, "end\n");
}

void rr_plan_format(const struct rr_plan *p, struct rr_buf *out)
{
    rr_buf_printf(out, "rrload-plan %d\n", RR_PLAN_VERSION);
    if (p->host) {
        rr_buf_adds(out, "host ");
        put_str(out, p->host);
        rr_buf_addc(out, '\n');
    }
    const struct rr_plan_wait *w = &p->wait;
    rr_buf_printf(out, "wait %s", wait_names[w->kind]);
    if (w->kind == RR_WAIT_CONSTANT || w->kind == RR_WAIT_BETWEEN || w->kind == RR_WAIT_PACING) {
        rr_buf_addc(out, ' ');
        put_double(out, w->a);
    }
    if (w->kind == RR_WAIT_BETWEEN) {
        rr_buf_addc(out, ' ');
        put_double(out, w->b);
    }
    if (w->scale != 1.0) {
        rr_buf_adds(out, " scale ");
        put_double(out, w->scale);
    }
    rr_buf_addc(out, '\n');
    for (size_t i = 0; i < p->n_pools; i++) {
        const struct rr_plan_pool *pl = &p->pools[i];
        rr_buf_addc(out, '\n');
        rr_buf_adds(out, "pool ");
        put_word(out, pl->name);
        rr_buf_printf(out, " mode %s scope %s", mode_names[pl->mode], scope_names[pl->scope]);
        if (pl->csv_path) {
            rr_buf_adds(out, " csv ");
            put_str(out, pl->csv_path);
            rr_buf_printf(out, " column %u", pl->csv_column);
        }
        rr_buf_addc(out, '\n');
        for (size_t v = 0; v < pl->n_values; v++) {
            rr_buf_adds(out, "  value ");
            put_str(out, pl->values[v]);
            rr_buf_addc(out, '\n');
        }
        rr_buf_adds(out, "end\n");
    }
    if (p->n_before) {
        rr_buf_addc(out, '\n');
        format_list("before", p->before, p->n_before, out, 0);
    }
    for (size_t i = 0; i < p->n_flows; i++) {
        const struct rr_plan_flow *f = &p->flows[i];
        rr_buf_addc(out, '\n');
        rr_buf_adds(out, "flow ");
        put_str(out, f->name);
        rr_buf_printf(out, " weight %u\n", f->weight);
        if (f->n_on_start)
            format_list("on_start", f->on_start, f->n_on_start, out, 1);
        for (size_t s = 0; s < f->n_steps; s++)
            format_step(&f->steps[s], out, 1);
        if (f->n_on_stop)
            format_list("on_stop", f->on_stop, f->n_on_stop, out, 1);
        rr_buf_adds(out, "end\n");
    }
    if (p->n_after) {
        rr_buf_addc(out, '\n');
        format_list("after", p->after, p->n_after, out, 0);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Freeing */

static void step_fini(struct rr_plan_step *s)
{
    free(s->name);
    free(s->method);
    free(s->target);
    for (size_t i = 0; i < s->n_headers; i++) {
        free(s->headers[i].name);
        free(s->headers[i].value);
    }
    free(s->headers);
    free(s->body);
    for (size_t i = 0; i < s->n_extracts; i++) {
        free(s->extracts[i].var);
        free(s->extracts[i].expr);
    }
    free(s->extracts);
    for (size_t i = 0; i < s->n_checks; i++) {
        free(s->checks[i].expr);
        free(s->checks[i].value);
        free(s->checks[i].message);
    }
    free(s->checks);
    free(s->think_q_us);
    memset(s, 0, sizeof(*s));
}

static void steps_free(struct rr_plan_step *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        step_fini(&s[i]);
    free(s);
}

void rr_plan_free(struct rr_plan **pp)
{
    struct rr_plan *p = pp ? *pp : NULL;
    if (!p)
        return;
    free(p->host);
    for (size_t i = 0; i < p->n_pools; i++) {
        struct rr_plan_pool *pl = &p->pools[i];
        free(pl->name);
        free(pl->csv_path);
        for (size_t v = 0; v < pl->n_values; v++)
            free(pl->values[v]);
        free(pl->values);
    }
    free(p->pools);
    steps_free(p->before, p->n_before);
    steps_free(p->after, p->n_after);
    for (size_t i = 0; i < p->n_flows; i++) {
        struct rr_plan_flow *f = &p->flows[i];
        free(f->name);
        steps_free(f->on_start, f->n_on_start);
        steps_free(f->steps, f->n_steps);
        steps_free(f->on_stop, f->n_on_stop);
    }
    free(p->flows);
    free(p);
    *pp = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* References: every ${name} names a pool or a value extracted earlier in its list. */

struct names {
    size_t n, cap;
    const char **v;
};

static void names_add(struct names *ns, const char *s)
{
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->v = rr_xrealloc(ns->v, ns->cap * sizeof(*ns->v));
    }
    ns->v[ns->n++] = s;
}

static int names_has(const struct names *ns, const char *s, size_t len)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strlen(ns->v[i]) == len && memcmp(ns->v[i], s, len) == 0)
            return 1;
    return 0;
}

/* Calls fn for each ${name} in a template (the same rule as the replayer: "$${" is a
 * literal, a "${" without "}" is text). Stops at fn's first non-zero return. */
typedef int var_fn(const char *name, size_t len, size_t off, void *ud);

static int each_var(const void *text, size_t len, var_fn *fn, void *ud)
{
    const char *s = text, *end = s + len;
    if (!s)
        return 0;
    for (const char *p = s; p < end; p++) {
        if (*p != '$')
            continue;
        if (end - p >= 3 && p[1] == '$' && p[2] == '{') {
            p += 2;
            continue;
        }
        if (end - p >= 2 && p[1] == '{') {
            const char *close = memchr(p + 2, '}', (size_t)(end - p - 2));
            if (!close)
                continue;
            int rc = fn(p + 2, (size_t)(close - p - 2), (size_t)(p - s), ud);
            if (rc)
                return rc;
            p = close;
        }
    }
    return 0;
}

struct vcheck {
    const struct names *pools, *extracted;
    const char *bad;
    size_t bad_len, bad_off;
};

static int vcheck_one(const char *name, size_t len, size_t off, void *ud)
{
    struct vcheck *vc = ud;
    if (names_has(vc->pools, name, len) || names_has(vc->extracted, name, len))
        return 0;
    vc->bad = name;
    vc->bad_len = len;
    vc->bad_off = off;
    return 1;
}

static int check_list(const struct rr_plan_step *s, size_t n, const char *where,
                      const struct names *pools, struct names *ex, char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        struct vcheck vc = {pools, ex, NULL, 0, 0};
        /* a plan built in memory gets the rules the parser applies to a think dist line */
        size_t nq = s[i].n_think_q;
        int q_bad = nq == 1 || nq > RR_PLAN_MAX_THINK_Q || (nq && !s[i].think_q_us);
        for (size_t q = 1; !q_bad && q < nq; q++)
            q_bad = s[i].think_q_us[q] < s[i].think_q_us[q - 1];
        if (q_bad) {
            snprintf(why, whylen,
                     "%s, step %zu (%s): think dist: expected 2 to %d quantiles in ascending "
                     "order, got %zu",
                     where, i + 1, s[i].name ? s[i].name : "", RR_PLAN_MAX_THINK_Q, nq);
            return RR_EPARSE;
        }
        const char *field = "target";
        int bad = each_var(s[i].target, s[i].target ? strlen(s[i].target) : 0, vcheck_one, &vc);
        for (size_t h = 0; !bad && h < s[i].n_headers; h++) {
            const char *v = s[i].headers[h].value;
            field = "header";
            bad = each_var(v, v ? strlen(v) : 0, vcheck_one, &vc);
        }
        if (!bad) {
            field = "body";
            bad = each_var(s[i].body, s[i].body_len, vcheck_one, &vc);
        }
        if (bad) {
            snprintf(why, whylen,
                     "%s, step %zu (%s): %s: ${%.*s} is neither a pool nor a value extracted "
                     "earlier",
                     where, i + 1, s[i].name ? s[i].name : "", field, (int)vc.bad_len, vc.bad);
            return RR_EPARSE;
        }
        for (size_t x = 0; x < s[i].n_extracts; x++)
            names_add(ex, s[i].extracts[x].var ? s[i].extracts[x].var : "");
    }
    return 0;
}

int rr_plan_validate(const struct rr_plan *p, char *why, size_t whylen)
{
    struct names pools = {0}, ex = {0};
    char where[160];
    int rc = 0;

    for (size_t i = 0; i < p->n_pools; i++) {
        const char *nm = p->pools[i].name ? p->pools[i].name : "";
        if (!*nm || names_has(&pools, nm, strlen(nm))) {
            snprintf(why, whylen, "pool %zu: %s", i + 1,
                     *nm ? "the name is used twice" : "the name is empty");
            rc = RR_EPARSE;
            goto out;
        }
        if (!p->pools[i].n_values && !p->pools[i].csv_path) {
            snprintf(why, whylen, "pool %s has neither values nor a csv file", nm);
            rc = RR_EPARSE;
            goto out;
        }
        names_add(&pools, nm);
    }
    rc = check_list(p->before, p->n_before, "before", &pools, &ex, why, whylen);
    if (rc)
        goto out;
    ex.n = 0;
    rc = check_list(p->after, p->n_after, "after", &pools, &ex, why, whylen);
    if (rc)
        goto out;
    for (size_t i = 0; i < p->n_flows; i++) {
        const struct rr_plan_flow *f = &p->flows[i];
        ex.n = 0;
        snprintf(where, sizeof(where), "flow %.100s", f->name ? f->name : "");
        rc = check_list(f->on_start, f->n_on_start, where, &pools, &ex, why, whylen);
        if (!rc)
            rc = check_list(f->steps, f->n_steps, where, &pools, &ex, why, whylen);
        if (!rc)
            rc = check_list(f->on_stop, f->n_on_stop, where, &pools, &ex, why, whylen);
        if (rc)
            goto out;
    }
out:
    free(pools.v);
    free(ex.v);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing */

struct word {
    char *s; /* decoded, NUL-terminated (owned by the parser's arena) */
    size_t len;
    unsigned col;
    int quoted;
    int has_nul;
    const char *raw; /* source text of the word, to place a ${name} inside it */
    size_t raw_len;
};

/* A ${name} that is not an earlier extract: it must name a pool (checked at the end). */
struct pending {
    char *name;
    unsigned line, col;
};

struct parser {
    const char *text;
    size_t len, pos;
    unsigned line;
    struct word w[MAX_WORDS];
    size_t nw;
    char *why;
    size_t whylen;
    struct rr_plan *plan;
    struct names ex; /* extracted so far in the current list */
    struct pending *pend;
    size_t n_pend, cap_pend;
    int at_eof;
};

static int perr(struct parser *ps, unsigned col, const char *fmt, ...) RR_PRINTF(3, 4);

static int perr(struct parser *ps, unsigned col, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ps->why, ps->whylen, "%u:%u: %s", ps->line, col, msg);
    return RR_EPARSE;
}

static void words_free(struct parser *ps)
{
    for (size_t i = 0; i < ps->nw; i++)
        free(ps->w[i].s);
    ps->nw = 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the next line with words into ps->w. Returns 1 with words, 0 at the end of the text,
 * or RR_EPARSE. Blank and comment lines are skipped. */
static int next_line(struct parser *ps)
{
    words_free(ps);
    while (ps->pos < ps->len) {
        const char *ls = ps->text + ps->pos;
        const char *nl = memchr(ls, '\n', ps->len - ps->pos);
        const char *le = nl ? nl : ps->text + ps->len;
        ps->line++;
        ps->pos = (size_t)(le - ps->text) + (nl ? 1 : 0);
        if (le > ls && le[-1] == '\r')
            le--;
        const char *p = ls;
        while (p < le) {
            while (p < le && (*p == ' ' || *p == '\t'))
                p++;
            if (p == le || *p == '#')
                break;
            if (ps->nw == MAX_WORDS) {
                int rc = perr(ps, (unsigned)(p - ls) + 1, "too many words on one line (at most %d)",
                              MAX_WORDS);
                words_free(ps);
                return rc;
            }
            struct word *w = &ps->w[ps->nw];
            struct rr_buf b;
            memset(w, 0, sizeof(*w));
            w->col = (unsigned)(p - ls) + 1;
            w->raw = p;
            rr_buf_init(&b);
            if (*p == '"') {
                w->quoted = 1;
                p++;
                for (;;) {
                    if (p == le) {
                        rr_buf_fini(&b);
                        int rc =
                            perr(ps, (unsigned)(p - ls) + 1,
                                 "expected '\"' to end the string started at column %u", w->col);
                        words_free(ps);
                        return rc;
                    }
                    if (*p == '"') {
                        p++;
                        break;
                    }
                    if ((unsigned char)*p < 0x20 && *p != '\t') {
                        rr_buf_fini(&b);
                        int rc = perr(ps, (unsigned)(p - ls) + 1,
                                      "control character in a string (write it as \\xHH)");
                        words_free(ps);
                        return rc;
                    }
                    if (*p != '\\') {
                        rr_buf_addc(&b, (uint8_t)*p++);
                        continue;
                    }
                    unsigned ecol = (unsigned)(p - ls) + 1;
                    int c = p + 1 < le ? p[1] : -1, h1, h2;
                    p += 2;
                    switch (c) {
                    case 'n':
                        rr_buf_addc(&b, '\n');
                        break;
                    case 'r':
                        rr_buf_addc(&b, '\r');
                        break;
                    case 't':
                        rr_buf_addc(&b, '\t');
                        break;
                    case '"':
                        rr_buf_addc(&b, '"');
                        break;
                    case '\\':
                        rr_buf_addc(&b, '\\');
                        break;
                    case 'x':
                        h1 = p < le ? hexval(p[0]) : -1;
                        h2 = p + 1 < le ? hexval(p[1]) : -1;
                        if (h1 < 0 || h2 < 0) {
                            rr_buf_fini(&b);
                            int rc = perr(ps, ecol, "expected two hex digits after \\x");
                            words_free(ps);
                            return rc;
                        }
                        if (!h1 && !h2)
                            w->has_nul = 1;
                        rr_buf_addc(&b, (uint8_t)(h1 * 16 + h2));
                        p += 2;
                        break;
                    default: {
                        rr_buf_fini(&b);
                        int rc =
                            perr(ps, ecol,
                                 "unknown escape: expected \\n, \\r, \\t, \\\", \\\\ or \\xHH");
                        words_free(ps);
                        return rc;
                    }
                    }
                }
                if (p < le && *p != ' ' && *p != '\t' && *p != '#') {
                    rr_buf_fini(&b);
                    int rc = perr(ps, (unsigned)(p - ls) + 1, "expected a space after a string");
                    words_free(ps);
                    return rc;
                }
            } else {
                while (p < le && *p != ' ' && *p != '\t' && *p != '#') {
                    if (*p == '"' || (unsigned char)*p < 0x20) {
                        rr_buf_fini(&b);
                        int rc = perr(ps, (unsigned)(p - ls) + 1,
                                      "unexpected character in a word (quote the word)");
                        words_free(ps);
                        return rc;
                    }
                    rr_buf_addc(&b, (uint8_t)*p++);
                }
            }
            w->raw_len = (size_t)(p - w->raw);
            rr_buf_reserve(&b, 1);
            w->s = (char *)rr_buf_take(&b, &w->len);
            if (!w->s)
                w->s = rr_xstrdup("");
            else
                w->s[w->len] = 0;
            ps->nw++;
        }
        if (ps->nw)
            return 1;
    }
    /* errors at the end of the text point just past its last line */
    if (!ps->at_eof && ps->len && ps->text[ps->len - 1] == '\n')
        ps->line++;
    ps->at_eof = 1;
    return 0;
}

static int is_kw(const struct word *w, const char *kw)
{
    return !w->quoted && !strcmp(w->s, kw);
}

/* Line-level helpers: each checks the count of words and names what was expected. */
static int want_words(struct parser *ps, size_t min, size_t max, const char *usage)
{
    /* a line has at least its keyword, and at most MAX_WORDS words (next_line) */
    if (ps->nw < min) {
        const struct word *last = &ps->w[ps->nw ? ps->nw - 1 : 0];
        return perr(ps, last->col + (unsigned)last->raw_len, "expected %s", usage);
    }
    if (ps->nw > max && max < MAX_WORDS)
        return perr(ps, ps->w[max].col, "unexpected word; expected %s", usage);
    return 0;
}

static int str_arg(struct parser *ps, size_t i, char **out)
{
    if (ps->w[i].has_nul)
        return perr(ps, ps->w[i].col, "a NUL byte (\\x00) is allowed only in a body");
    *out = rr_xstrdup(ps->w[i].s);
    return 0;
}

static int name_arg(struct parser *ps, size_t i, char **out, const char *what)
{
    if (!ps->w[i].len)
        return perr(ps, ps->w[i].col, "expected %s (not empty)", what);
    return str_arg(ps, i, out);
}

static int u64_arg(struct parser *ps, size_t i, uint64_t max, uint64_t *out, const char *what)
{
    const char *s = ps->w[i].s;
    uint64_t v = 0;
    if (ps->w[i].quoted || !*s)
        return perr(ps, ps->w[i].col, "expected %s", what);
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
            return perr(ps, ps->w[i].col, "expected %s", what);
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int double_arg(struct parser *ps, size_t i, double *out, const char *what)
{
    const char *s = ps->w[i].s;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (ps->w[i].quoted || !*s || *end || errno || !isfinite(v) || v < 0 ||
        !((*s >= '0' && *s <= '9') || *s == '.'))
        return perr(ps, ps->w[i].col, "expected %s (a number of at least 0)", what);
    *out = v;
    return 0;
}

/* Seconds with up to six decimals, into microseconds, exactly. */
static int us_arg(struct parser *ps, size_t i, uint64_t *out)
{
    const char *s = ps->w[i].s;
    uint64_t whole = 0, frac = 0;
    int nd = 0;
    if (ps->w[i].quoted || !(*s >= '0' && *s <= '9'))
        goto bad;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (whole > UINT64_MAX / 10000000)
            goto bad;
        whole = whole * 10 + (uint64_t)(*s - '0');
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
            if (++nd > 6)
                goto bad;
            frac = frac * 10 + (uint64_t)(*s - '0');
        }
        if (!nd)
            goto bad;
    }
    if (*s)
        goto bad;
    for (; nd < 6; nd++)
        frac *= 10;
    *out = whole * 1000000 + frac;
    return 0;
bad:
    return perr(ps, ps->w[i].col, "expected seconds (e.g. 1.25, at most six decimals)");
}

static int enum_arg(struct parser *ps, size_t i, const char *const *names, int n, int *out,
                    const char *what)
{
    for (int k = 0; k < n; k++) {
        if (is_kw(&ps->w[i], names[k])) {
            *out = k;
            return 0;
        }
    }
    return perr(ps, ps->w[i].col, "expected %s", what);
}

/* JSON paths as the replayer reads them: $ then .name, [N] or ["key"] parts (or a bare
 * "a.b" without "$."). */
static int json_path_ok(const char *s)
{
    if (*s == '$') {
        s++;
    } else {
        if (!*s || *s == '.' || *s == '[')
            return 0;
        goto name;
    }
    while (*s) {
        if (*s == '.') {
            s++;
        name:
            if (!*s || *s == '.' || *s == '[')
                return 0;
            while (*s && *s != '.' && *s != '[') {
                if (*s == ']' || *s == '"' || *s == ' ')
                    return 0;
                s++;
            }
        } else if (*s == '[') {
            s++;
            if (*s == '"') {
                for (s++; *s && *s != '"'; s++)
                    if (*s == '\\' && s[1])
                        s++;
                if (*s != '"')
                    return 0;
                s++;
            } else {
                if (!(*s >= '0' && *s <= '9'))
                    return 0;
                while (*s >= '0' && *s <= '9')
                    s++;
            }
            if (*s != ']')
                return 0;
            s++;
        } else {
            return 0;
        }
    }
    return 1;
}

static int method_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* RFC 9110 token characters; a leading ':' lets HTTP/2 pseudo-headers through (the replayer
 * drops them). */
static int header_name_ok(const char *s)
{
    if (*s == ':')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(*s > ' ' && *s < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", *s)))
            return 0;
    return 1;
}

struct pend_ctx {
    struct parser *ps;
    const struct word *w;
};

/* Column of a ${name} in the word's source text (escapes make the offsets differ, so search
 * the source; fall back to the word's column). */
static unsigned var_col(const struct word *w, const char *name, size_t len)
{
    for (size_t i = 0; i + 2 + len <= w->raw_len; i++) {
        if (w->raw[i] == '$' && w->raw[i + 1] == '{' && !memcmp(w->raw + i + 2, name, len))
            return w->col + (unsigned)i;
    }
    return w->col;
}

static int pend_one(const char *name, size_t len, size_t off, void *ud)
{
    struct pend_ctx *pc = ud;
    struct parser *ps = pc->ps;
    if (names_has(&ps->ex, name, len))
        return 0;
    if (ps->n_pend == ps->cap_pend) {
        ps->cap_pend = ps->cap_pend ? ps->cap_pend * 2 : 16;
        ps->pend = rr_xrealloc(ps->pend, ps->cap_pend * sizeof(*ps->pend));
    }
    struct pending *pd = &ps->pend[ps->n_pend++];
    pd->name = rr_xstrndup(name, len);
    pd->line = ps->line;
    pd->col = var_col(pc->w, name, len);
    return 0;
}

/* Notes the ${name}s of a template word that are not extracted earlier. */
static void note_vars(struct parser *ps, const struct word *w)
{
    struct pend_ctx pc = {ps, w};
    (void)each_var(w->s, w->len, pend_one, &pc);
}

/* Where body lines began, to place a ${name} of the joined body. */
struct body_line {
    unsigned line;
    struct word w; /* raw text and column only */
    size_t off;    /* offset of its text in the joined body */
};

struct body_ctx {
    struct parser *ps;
    const struct body_line *bl;
    size_t n;
};

static int body_one(const char *name, size_t len, size_t off, void *ud)
{
    struct body_ctx *bc = ud;
    struct parser *ps = bc->ps;
    if (names_has(&ps->ex, name, len))
        return 0;
    size_t k = 0;
    while (k + 1 < bc->n && bc->bl[k + 1].off <= off)
        k++;
    if (ps->n_pend == ps->cap_pend) {
        ps->cap_pend = ps->cap_pend ? ps->cap_pend * 2 : 16;
        ps->pend = rr_xrealloc(ps->pend, ps->cap_pend * sizeof(*ps->pend));
    }
    struct pending *pd = &ps->pend[ps->n_pend++];
    pd->name = rr_xstrndup(name, len);
    pd->line = bc->bl[k].line;
    pd->col = var_col(&bc->bl[k].w, name, len);
    return 0;
}

static void append_step(struct rr_plan_step **arr, size_t *n, struct rr_plan_step *s)
{
    *arr = rr_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = *s;
    memset(s, 0, sizeof(*s));
}

/* "think MEAN [dist Q0 Q1 ... Qn]": the quantiles ascend, at least two, at most
 * RR_PLAN_MAX_THINK_Q (a longer line is refused by next_line as too many words). */
static int parse_think(struct parser *ps, struct rr_plan_step *s)
{
    static const char usage[] = "think SECONDS [dist MIN ... MAX]";
    int rc;

    if (s->think_us || s->n_think_q)
        return perr(ps, ps->w[0].col, "think appears twice in this step");
    if ((rc = want_words(ps, 2, ps->nw > 2 ? MAX_WORDS : 2, usage)) ||
        (rc = us_arg(ps, 1, &s->think_us)))
        return rc;
    if (ps->nw == 2)
        return 0;
    if (!is_kw(&ps->w[2], "dist"))
        return perr(ps, ps->w[2].col, "unexpected word; expected %s", usage);
    if (ps->nw < 5)
        return want_words(ps, 5, 5, "at least two quantiles after dist (MIN ... MAX)");
    size_t n = ps->nw - 3;
    uint64_t *q = rr_xcalloc(n, sizeof(*q));
    for (size_t i = 0; i < n; i++) {
        if ((rc = us_arg(ps, 3 + i, &q[i])))
            break;
        if (i && q[i] < q[i - 1]) {
            rc = perr(ps, ps->w[3 + i].col, "expected quantiles in ascending order (at least %s)",
                      ps->w[2 + i].s);
            break;
        }
    }
    if (rc) {
        free(q);
        return rc;
    }
    s->n_think_q = n;
    s->think_q_us = q;
    return 0;
}

/* Parses "step NAME METHOD TARGET" (the current line) up to its "end". */
static int parse_step(struct parser *ps, struct rr_plan_step *s)
{
    struct rr_buf body;
    struct body_line *bl = NULL;
    size_t n_bl = 0, cap_bl = 0;
    int rc;

    memset(s, 0, sizeof(*s));
    rr_buf_init(&body);
    rc = want_words(ps, 4, 4, "step NAME METHOD TARGET");
    if (rc)
        goto out;
    if (!method_ok(ps->w[2].s)) {
        rc = perr(ps, ps->w[2].col, "expected a method such as GET or POST");
        goto out;
    }
    if ((rc = str_arg(ps, 1, &s->name)) || (rc = str_arg(ps, 2, &s->method)) ||
        (rc = str_arg(ps, 3, &s->target)))
        goto out;
    note_vars(ps, &ps->w[3]);
    for (;;) {
        rc = next_line(ps);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            rc = perr(ps, 1, "expected \"end\" to close the step");
            goto out;
        }
        struct word *k = &ps->w[0];
        if (is_kw(k, "end")) {
            rc = want_words(ps, 1, 1, "end");
            break;
        } else if (is_kw(k, "header")) {
            if ((rc = want_words(ps, 3, 3, "header NAME VALUE")))
                goto out;
            if (!header_name_ok(ps->w[1].s)) {
                rc = perr(ps, ps->w[1].col, "expected a header name (a token)");
                goto out;
            }
            struct rr_plan_header h = {NULL, NULL};
            if ((rc = str_arg(ps, 1, &h.name)) || (rc = str_arg(ps, 2, &h.value))) {
                free(h.name);
                goto out;
            }
            note_vars(ps, &ps->w[2]);
            s->headers = rr_xrealloc(s->headers, (s->n_headers + 1) * sizeof(*s->headers));
            s->headers[s->n_headers++] = h;
        } else if (is_kw(k, "body")) {
            if ((rc = want_words(ps, 2, 2, "body \"TEXT\"")))
                goto out;
            if (n_bl == cap_bl) {
                cap_bl = cap_bl ? cap_bl * 2 : 8;
                bl = rr_xrealloc(bl, cap_bl * sizeof(*bl));
            }
            bl[n_bl].line = ps->line;
            bl[n_bl].w = ps->w[1];
            bl[n_bl].w.s = NULL;
            bl[n_bl].off = body.len;
            n_bl++;
            rr_buf_add(&body, ps->w[1].s, ps->w[1].len);
        } else if (is_kw(k, "think")) {
            if ((rc = parse_think(ps, s)))
                goto out;
        } else if (is_kw(k, "exchange")) {
            if ((rc = want_words(ps, 2, 2, "exchange ID")) ||
                (rc = u64_arg(ps, 1, UINT64_MAX, &s->exchange_id, "an exchange id")))
                goto out;
        } else if (is_kw(k, "extract")) {
            int kind = 0;
            if ((rc = want_words(ps, 4, 4, "extract VAR json|header|cookie|regex EXPR")) ||
                (rc = enum_arg(ps, 2, extract_names, 4, &kind, "json, header, cookie or regex")))
                goto out;
            if (!ps->w[1].len) {
                rc = perr(ps, ps->w[1].col, "expected a variable name");
                goto out;
            }
            if (!ps->w[3].len) {
                rc = perr(ps, ps->w[3].col, "expected an expression (not empty)");
                goto out;
            }
            if (kind == RR_EXTRACT_JSON && !json_path_ok(ps->w[3].s)) {
                rc =
                    perr(ps, ps->w[3].col, "expected a JSON path such as $.token or $.items[0].id");
                goto out;
            }
            struct rr_plan_extract x = {NULL, (enum rr_extract_kind)kind, NULL};
            if ((rc = str_arg(ps, 1, &x.var)) || (rc = str_arg(ps, 3, &x.expr))) {
                free(x.var);
                goto out;
            }
            s->extracts = rr_xrealloc(s->extracts, (s->n_extracts + 1) * sizeof(*s->extracts));
            s->extracts[s->n_extracts++] = x;
        } else if (is_kw(k, "check")) {
            struct rr_plan_check c;
            size_t i;
            memset(&c, 0, sizeof(c));
            if ((rc = want_words(ps, 2, MAX_WORDS, "check status|json|contains|max_ms ...")))
                goto out;
            struct word *t = &ps->w[1];
            if (is_kw(t, "status")) {
                uint64_t lo, hi;
                if (ps->nw < 4) {
                    rc = want_words(ps, 4, 4, "check status LOW HIGH");
                    goto out;
                }
                if ((rc = u64_arg(ps, 2, 999, &lo, "a status code")) ||
                    (rc = u64_arg(ps, 3, 999, &hi, "a status code")))
                    goto out;
                if (hi < lo) {
                    rc = perr(ps, ps->w[3].col, "expected a status at least %llu",
                              (unsigned long long)lo);
                    goto out;
                }
                c.kind = RR_CHECK_STATUS;
                c.status_lo = (int)lo;
                c.status_hi = (int)hi;
                i = 4;
            } else if (is_kw(t, "json")) {
                if (ps->nw < 4) {
                    rc = want_words(ps, 4, 4, "check json PATH VALUE");
                    goto out;
                }
                if (!json_path_ok(ps->w[2].s)) {
                    rc = perr(ps, ps->w[2].col, "expected a JSON path such as $.retCode");
                    goto out;
                }
                c.kind = RR_CHECK_JSON_EQ;
                if ((rc = str_arg(ps, 2, &c.expr)) || (rc = str_arg(ps, 3, &c.value))) {
                    free(c.expr);
                    goto out;
                }
                i = 4;
            } else if (is_kw(t, "contains")) {
                if (ps->nw < 3) {
                    rc = want_words(ps, 3, 3, "check contains TEXT");
                    goto out;
                }
                c.kind = RR_CHECK_BODY_CONTAINS;
                if ((rc = str_arg(ps, 2, &c.value)))
                    goto out;
                i = 3;
            } else if (is_kw(t, "max_ms")) {
                if (ps->nw < 3) {
                    rc = want_words(ps, 3, 3, "check max_ms MILLISECONDS");
                    goto out;
                }
                c.kind = RR_CHECK_MAX_MS;
                if ((rc = double_arg(ps, 2, &c.max_ms, "milliseconds")))
                    goto out;
                i = 3;
            } else {
                rc = perr(ps, t->col, "expected status, json, contains or max_ms");
                goto out;
            }
            if (i < ps->nw) {
                if (!is_kw(&ps->w[i], "message") || i + 2 != ps->nw) {
                    rc = perr(ps, ps->w[i].col, "expected message \"TEXT\" or the end of the line");
                } else {
                    rc = str_arg(ps, i + 1, &c.message);
                }
            }
            if (rc) {
                free(c.expr);
                free(c.value);
                goto out;
            }
            s->checks = rr_xrealloc(s->checks, (s->n_checks + 1) * sizeof(*s->checks));
            s->checks[s->n_checks++] = c;
        } else {
            rc = perr(ps, k->col,
                      "unknown field \"%.40s\"; expected header, body, think, exchange, extract, "
                      "check or end",
                      k->s);
            goto out;
        }
    }
    if (body.len) {
        /* the joined body: a ${name} may be split over two body lines */
        struct body_ctx bc = {ps, bl, n_bl};
        (void)each_var(body.p, body.len, body_one, &bc);
        s->body_len = body.len;
        s->body = rr_buf_take(&body, &s->body_len);
    }
    /* a step's own extracts serve later steps only */
    for (size_t i = 0; i < s->n_extracts; i++)
        names_add(&ps->ex, s->extracts[i].var);
out:
    free(bl);
    rr_buf_fini(&body);
    if (rc)
        step_fini(s);
    return rc;
}

/* Parses steps up to "end" of a before/after/on_start/on_stop list. */
static int parse_list(struct parser *ps, const char *kw, struct rr_plan_step **arr, size_t *n)
{
    int rc = want_words(ps, 1, 1, kw);
    if (rc)
        return rc;
    if (*arr)
        return perr(ps, ps->w[0].col, "%s appears twice", kw);
    for (;;) {
        rc = next_line(ps);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return perr(ps, 1, "expected \"end\" to close %s", kw);
        if (is_kw(&ps->w[0], "end"))
            break;
        if (!is_kw(&ps->w[0], "step"))
            return perr(ps, ps->w[0].col, "unknown field \"%.40s\"; expected step or end",
                        ps->w[0].s);
        struct rr_plan_step s;
        rc = parse_step(ps, &s);
        if (rc)
            return rc;
        append_step(arr, n, &s);
    }
    rc = want_words(ps, 1, 1, "end");
    if (!rc && !*arr)
        *arr = rr_xcalloc(1, sizeof(**arr)); /* remembers that the list was seen */
    return rc;
}

static int parse_flow(struct parser *ps, struct rr_plan_flow *f)
{
    uint64_t w;
    int rc = want_words(ps, 4, 4, "flow NAME weight N");
    if (rc)
        return rc;
    if (!is_kw(&ps->w[2], "weight"))
        return perr(ps, ps->w[2].col, "expected weight");
    if ((rc = u64_arg(ps, 3, UINT32_MAX, &w, "a weight (a whole number)")) ||
        (rc = name_arg(ps, 1, &f->name, "a flow name")))
        return rc;
    f->weight = (unsigned)w;
    ps->ex.n = 0;
    int seen_steps = 0;
    for (;;) {
        rc = next_line(ps);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return perr(ps, 1, "expected \"end\" to close flow %.60s", f->name);
        struct word *k = &ps->w[0];
        if (is_kw(k, "end")) {
            return want_words(ps, 1, 1, "end");
        } else if (is_kw(k, "on_start")) {
            if (seen_steps || f->on_stop)
                return perr(ps, k->col, "on_start must come before the flow's steps");
            rc = parse_list(ps, "on_start", &f->on_start, &f->n_on_start);
        } else if (is_kw(k, "on_stop")) {
            rc = parse_list(ps, "on_stop", &f->on_stop, &f->n_on_stop);
        } else if (is_kw(k, "step")) {
            struct rr_plan_step s;
            if (f->on_stop)
                return perr(ps, k->col, "steps must come before on_stop");
            rc = parse_step(ps, &s);
            if (!rc)
                append_step(&f->steps, &f->n_steps, &s);
            seen_steps = 1;
        } else {
            return perr(ps, k->col,
                        "unknown field \"%.40s\"; expected step, on_start, on_stop or end", k->s);
        }
        if (rc)
            return rc;
    }
}

static int parse_pool(struct parser *ps, struct rr_plan_pool *pl)
{
    int rc;
    if (ps->nw < 2)
        return want_words(ps, 2, 2, "pool NAME [mode M] [scope S] [csv FILE column N]");
    if ((rc = name_arg(ps, 1, &pl->name, "a pool name")))
        return rc;
    int seen_col = 0;
    for (size_t i = 2; i < ps->nw; i += 2) {
        struct word *k = &ps->w[i];
        int v = 0;
        uint64_t col;
        if (i + 1 >= ps->nw)
            return perr(ps, k->col + (unsigned)k->raw_len, "expected a value after %.20s", k->s);
        if (is_kw(k, "mode")) {
            if ((rc = enum_arg(ps, i + 1, mode_names, 3, &v, "random, round-robin or unique")))
                return rc;
            pl->mode = (enum rr_pool_mode)v;
        } else if (is_kw(k, "scope")) {
            if ((rc = enum_arg(ps, i + 1, scope_names, 2, &v, "iteration or user")))
                return rc;
            pl->scope = (enum rr_pool_scope)v;
        } else if (is_kw(k, "csv")) {
            free(pl->csv_path);
            pl->csv_path = NULL;
            if ((rc = name_arg(ps, i + 1, &pl->csv_path, "a file name")))
                return rc;
        } else if (is_kw(k, "column")) {
            if ((rc = u64_arg(ps, i + 1, 100000, &col, "a column number (0 is the first)")))
                return rc;
            pl->csv_column = (unsigned)col;
            seen_col = 1;
        } else {
            return perr(ps, k->col, "unknown field \"%.40s\"; expected mode, scope, csv or column",
                        k->s);
        }
    }
    if (seen_col && !pl->csv_path)
        return perr(ps, ps->w[1].col, "column needs csv FILE");
    size_t cap = 0;
    for (;;) {
        rc = next_line(ps);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return perr(ps, 1, "expected \"end\" to close pool %.60s", pl->name);
        if (is_kw(&ps->w[0], "end")) {
            if ((rc = want_words(ps, 1, 1, "end")))
                return rc;
            break;
        }
        if (!is_kw(&ps->w[0], "value"))
            return perr(ps, ps->w[0].col, "unknown field \"%.40s\"; expected value or end",
                        ps->w[0].s);
        if ((rc = want_words(ps, 2, 2, "value \"TEXT\"")))
            return rc;
        if (pl->n_values == cap) {
            cap = cap ? cap * 2 : 16;
            pl->values = rr_xrealloc(pl->values, cap * sizeof(*pl->values));
        }
        if ((rc = str_arg(ps, 1, &pl->values[pl->n_values])))
            return rc;
        pl->n_values++;
    }
    if (!pl->n_values && !pl->csv_path)
        return perr(ps, 1, "expected value lines or csv FILE for pool %.60s", pl->name);
    return 0;
}

static int parse_wait(struct parser *ps, struct rr_plan_wait *w)
{
    int kind = 0, rc;
    if ((rc = want_words(ps, 2, 6, "wait recorded|none|constant A|between A B|pacing A")) ||
        (rc = enum_arg(ps, 1, wait_names, 5, &kind, "recorded, none, constant, between or pacing")))
        return rc;
    w->kind = (enum rr_wait_kind)kind;
    size_t i = 2, nargs = kind == RR_WAIT_BETWEEN ? 2 : kind >= RR_WAIT_CONSTANT ? 1 : 0;
    if (ps->nw < 2 + nargs)
        return want_words(ps, 2 + nargs, 2 + nargs, "seconds after the wait kind");
    if (nargs >= 1 && (rc = double_arg(ps, i++, &w->a, "seconds")))
        return rc;
    if (nargs == 2) {
        if ((rc = double_arg(ps, i++, &w->b, "seconds")))
            return rc;
        if (w->b < w->a)
            return perr(ps, ps->w[3].col, "expected a maximum at least the minimum");
    }
    if (i < ps->nw) {
        if (!is_kw(&ps->w[i], "scale") || i + 2 != ps->nw)
            return perr(ps, ps->w[i].col, "expected scale FACTOR or the end of the line");
        if ((rc = double_arg(ps, i + 1, &w->scale, "a scale factor")))
            return rc;
    }
    return 0;
}

int rr_plan_parse(const void *text, size_t len, struct rr_plan **out, char *why, size_t whylen)
{
    struct parser ps;
    struct rr_plan *p = rr_xcalloc(1, sizeof(*p));
    int rc, seen_wait = 0, seen_host = 0;
    size_t cap_pools = 0, cap_flows = 0;

    memset(&ps, 0, sizeof(ps));
    ps.text = text;
    ps.len = len;
    ps.why = why;
    ps.whylen = whylen;
    ps.plan = p;
    p->wait.kind = RR_WAIT_RECORDED;
    p->wait.scale = 1.0;
    *out = NULL;
    if (whylen)
        why[0] = 0;

    rc = next_line(&ps);
    if (rc < 0)
        goto fail;
    if (rc == 0 || !is_kw(&ps.w[0], "rrload-plan") || ps.nw != 2) {
        if (!ps.line)
            ps.line = 1;
        rc = perr(&ps, rc ? ps.w[0].col : 1, "expected \"rrload-plan %d\" first", RR_PLAN_VERSION);
        goto fail;
    }
    uint64_t ver = 0;
    if ((rc = u64_arg(&ps, 1, 1000000, &ver, "a version number")))
        goto fail;
    if (ver != RR_PLAN_VERSION) {
        rc = perr(&ps, ps.w[1].col, "expected plan version %d (this one is %llu)", RR_PLAN_VERSION,
                  (unsigned long long)ver);
        goto fail;
    }
    for (;;) {
        rc = next_line(&ps);
        if (rc < 0)
            goto fail;
        if (rc == 0)
            break;
        struct word *k = &ps.w[0];
        if (is_kw(k, "host")) {
            if (seen_host) {
                rc = perr(&ps, k->col, "host appears twice");
                goto fail;
            }
            seen_host = 1;
            if ((rc = want_words(&ps, 2, 2, "host \"http://HOST:PORT\"")) ||
                (rc = str_arg(&ps, 1, &p->host)))
                goto fail;
        } else if (is_kw(k, "wait")) {
            if (seen_wait) {
                rc = perr(&ps, k->col, "wait appears twice");
                goto fail;
            }
            seen_wait = 1;
            if ((rc = parse_wait(&ps, &p->wait)))
                goto fail;
        } else if (is_kw(k, "pool")) {
            if (p->n_pools == cap_pools) {
                cap_pools = cap_pools ? cap_pools * 2 : 8;
                p->pools = rr_xrealloc(p->pools, cap_pools * sizeof(*p->pools));
            }
            struct rr_plan_pool *pl = &p->pools[p->n_pools++];
            memset(pl, 0, sizeof(*pl));
            unsigned line = ps.line, col = ps.w[1 < ps.nw ? 1 : 0].col;
            if ((rc = parse_pool(&ps, pl)))
                goto fail;
            for (size_t i = 0; i + 1 < p->n_pools; i++) {
                if (!strcmp(p->pools[i].name, pl->name)) {
                    ps.line = line;
                    rc = perr(&ps, col, "pool %.60s is defined twice", pl->name);
                    goto fail;
                }
            }
        } else if (is_kw(k, "before") || is_kw(k, "after")) {
            int before = is_kw(k, "before");
            ps.ex.n = 0;
            rc = before ? parse_list(&ps, "before", &p->before, &p->n_before)
                        : parse_list(&ps, "after", &p->after, &p->n_after);
            if (rc)
                goto fail;
        } else if (is_kw(k, "flow")) {
            if (p->n_flows == cap_flows) {
                cap_flows = cap_flows ? cap_flows * 2 : 8;
                p->flows = rr_xrealloc(p->flows, cap_flows * sizeof(*p->flows));
            }
            struct rr_plan_flow *f = &p->flows[p->n_flows++];
            memset(f, 0, sizeof(*f));
            if ((rc = parse_flow(&ps, f)))
                goto fail;
        } else {
            rc = perr(&ps, k->col,
                      "unknown field \"%.40s\"; expected host, wait, pool, before, flow or after",
                      k->s);
            goto fail;
        }
    }
    /* names not extracted earlier must be pools */
    struct pending *first = NULL;
    for (size_t i = 0; i < ps.n_pend; i++) {
        struct pending *pd = &ps.pend[i];
        int found = 0;
        for (size_t j = 0; j < p->n_pools && !found; j++)
            found = !strcmp(p->pools[j].name, pd->name);
        if (!found &&
            (!first || pd->line < first->line || (pd->line == first->line && pd->col < first->col)))
            first = pd;
    }
    if (first) {
        ps.line = first->line;
        rc = perr(&ps, first->col, "${%.60s} is neither a pool nor a value extracted earlier",
                  first->name);
        goto fail;
    }
    rc = 0;
    *out = p;
    p = NULL;
fail:
    words_free(&ps);
    for (size_t i = 0; i < ps.n_pend; i++)
        free(ps.pend[i].name);
    free(ps.pend);
    free(ps.ex.v);
    rr_plan_free(&p);
    return rc;
}
