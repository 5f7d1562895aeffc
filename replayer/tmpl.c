/* SPDX-License-Identifier: MIT */
/* tmpl.c -- ${name} templates: compiled once per plan, expanded per request.
 *
 * A template is a list of literal runs (pointing into the plan, which outlives the run) and
 * variable references by id. "$${" is a literal "${". */
#include <stdio.h>
#include <string.h>

#include "rp_int.h"

int rp__var_id(const struct rp_vars *v, const char *name, size_t len)
{
    for (size_t i = 0; i < v->n; i++) {
        if (strlen(v->names[i]) == len && memcmp(v->names[i], name, len) == 0)
            return (int)i;
    }
    return -1;
}

int rp__var_add(struct rp_vars *v, const char *name)
{
    int id = rp__var_id(v, name, strlen(name));
    if (id >= 0)
        return id;
    v->names = rr_xrealloc(v->names, (v->n + 1) * sizeof(*v->names));
    v->names[v->n] = rr_xstrdup(name);
    return (int)v->n++;
}

static void add_part(struct rp_tmpl *t, int var, const char *p, size_t len)
{
    if (var < 0 && len == 0)
        return;
    /* Merge adjacent literals (a "$${" escape splits one). */
    if (var < 0 && t->n && t->parts[t->n - 1].var < 0 &&
        t->parts[t->n - 1].p + t->parts[t->n - 1].len == p) {
        t->parts[t->n - 1].len += len;
        return;
    }
    t->parts = rr_xrealloc(t->parts, (t->n + 1) * sizeof(*t->parts));
    t->parts[t->n].var = var;
    t->parts[t->n].p = p;
    t->parts[t->n].len = len;
    t->n++;
}

int rp__tmpl_compile(struct rp_tmpl *t, const void *text, size_t len, const struct rp_vars *vars,
                     char *why, size_t whylen)
{
    const char *s = text, *end = s + len, *lit = s;

    memset(t, 0, sizeof(*t));
    t->is_static = true;
    if (!s)
        return 0;
    for (const char *p = s; p < end;) {
        if (*p != '$') {
            p++;
            continue;
        }
        if (end - p >= 3 && p[1] == '$' && p[2] == '{') {
            /* "$${": keep "${" (drop the first '$') */
            add_part(t, -1, lit, (size_t)(p - lit));
            lit = p + 1;
            p += 3;
            continue;
        }
        if (end - p >= 2 && p[1] == '{') {
            const char *close = memchr(p + 2, '}', (size_t)(end - p - 2));
            if (!close) {
                p++;
                continue;
            }
            int id = rp__var_id(vars, p + 2, (size_t)(close - p - 2));
            if (id < 0) {
                snprintf(why, whylen, "${%.*s} is neither a pool nor a value extracted earlier",
                         (int)(close - p - 2), p + 2);
                rp__tmpl_fini(t);
                return RR_EPARSE;
            }
            add_part(t, -1, lit, (size_t)(p - lit));
            add_part(t, id, NULL, 0);
            t->is_static = false;
            p = close + 1;
            lit = p;
            continue;
        }
        p++;
    }
    add_part(t, -1, lit, (size_t)(end - lit));
    return 0;
}

void rp__tmpl_expand(const struct rp_tmpl *t, const struct rp_val *vals, struct rr_buf *out)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct rp_part *p = &t->parts[i];
        if (p->var < 0)
            rr_buf_add(out, p->p, p->len);
        else if (vals[p->var].p)
            rr_buf_add(out, vals[p->var].p, vals[p->var].len);
    }
}

void rp__tmpl_fini(struct rp_tmpl *t)
{
    free(t->parts);
    memset(t, 0, sizeof(*t));
}
