/* transform.c -- From recorded exchanges to a plan (docs/transform.md).
 *
 * Two walks over the store. The first reads only exchange records (no bodies, except the
 * JSON answers of anonymous POSTs, which hand out tokens): it filters, names each exchange,
 * links connections into sessions by the identity values they share, and keeps one small
 * record per kept exchange. Sessions with the same sequence of named steps form a flow.
 * The second walk copies the exchanges of one representative session per flow in full, and
 * collects the request values (path ids, query, form and JSON fields) of every session, so a
 * value that varies between sessions becomes a pool. Then each flow is built from its
 * representative: values produced by a response and sent later become extractors and ${var}. */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rr/util.h"
#include "tx_int.h"

#define MIN_TOKEN        8 /* shorter response values are not taken for correlations */
#define MAX_TEXT_BODY    (256 * 1024) /* larger text bodies are not searched for values */
#define MAX_TEXT_VALUE   1024         /* nor for longer values */
#define MAX_TEXT_LOOKBACK 32           /* text pages searched back from a request, at most */
#define MAX_TEXT_SCAN     (UINT64_C(256) << 20) /* bytes of text pages searched per flow */
#define MIN_IDENTITY     8 /* shorter cookie/bearer values do not link connections */
#define MAX_POOL_VALUES  10000
#define ANON_GAP_US      2000000 /* an anonymous connection joins one that starts this soon after */
#define IDLE_US          300000000 /* session auto/connection: idle time that ends a session */
#define SLACK_US         60000000  /* how far out of time order the walk may run */
#define MAX_FIELD_VALUES 4096      /* distinct values kept per request field and step */
#define SEEN_MAX         65536     /* entries of the collected-once cache before it is emptied */
#define THINK_SAMPLE     256       /* recorded waits sampled per step */
#define THINK_Q          9         /* quantiles of a step's wait: every 12.5 % */
#define MAX_SESSION_X    4096      /* a session this long is closed: more steps is noise */
#define ANON_SCAN        64        /* a client's anonymous sessions looked at per connection */

/* ------------------------------------------------------------------------------------------ */
/* A u64 -> u32 open-addressing map (keys are hashes or ids; 0 is mapped to 1). */

struct map {
    uint64_t *k;
    uint32_t *v;
    size_t n, cap;
};

static uint32_t *map_slot(struct map *m, uint64_t key, int create)
{
    if (!key)
        key = 1;
    if (create && (m->n + 1) * 2 > m->cap) {
        struct map nm = {0};
        nm.cap = m->cap ? m->cap * 2 : 1024;
        nm.k = rr_xcalloc(nm.cap, sizeof(*nm.k));
        nm.v = rr_xcalloc(nm.cap, sizeof(*nm.v));
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->k[i])
                continue;
            size_t j = (size_t)(m->k[i] * 0x9e3779b97f4a7c15u >> 7) & (nm.cap - 1);
            while (nm.k[j])
                j = (j + 1) & (nm.cap - 1);
            nm.k[j] = m->k[i];
            nm.v[j] = m->v[i];
            nm.n++;
        }
        free(m->k);
        free(m->v);
        *m = nm;
    }
    if (!m->cap)
        return NULL;
    size_t j = (size_t)(key * 0x9e3779b97f4a7c15u >> 7) & (m->cap - 1);
    while (m->k[j] && m->k[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->k[j]) {
        if (!create)
            return NULL;
        m->k[j] = key;
        m->v[j] = UINT32_MAX;
        m->n++;
    }
    return &m->v[j];
}

static void map_fini(struct map *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------------------------------ */
/* Names */

static bool all_digits(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static bool is_hexid(const char *s, size_t n)
{
    bool digit = false;
    if (n < 8)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        digit = digit || isdigit((unsigned char)s[i]);
    }
    return digit;
}

static bool is_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    return at && at > s && memchr(at, '.', (size_t)(s + n - at)) && s[n - 1] != '.';
}

/* The placeholder of a path segment, or NULL when it stays as is. */
static const char *seg_kind(const char *s, size_t n)
{
    if (all_digits(s, n))
        return "[id]";
    if (is_uuid(s, n))
        return "[uuid]";
    if (is_hexid(s, n))
        return "[hex]";
    if (is_email(s, n))
        return "[email]";
    return NULL;
}

/* The path of a target: an absolute form loses scheme and authority, the query is cut. */
static void split_target(const char *t, size_t len, const char **path, size_t *plen,
                         const char **query, size_t *qlen)
{
    if (!t || !len) {
        t = "/";
        len = 1;
    }
    if (len > 7 && (!strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8))) {
        const char *a = t + (t[4] == ':' ? 7 : 8);
        const char *sl = memchr(a, '/', (size_t)(t + len - a));
        len = sl ? (size_t)(t + len - sl) : 0;
        t = sl ? sl : "/";
        if (!sl)
            len = 1;
    }
    const char *q = memchr(t, '?', len);
    *path = t;
    *plen = q ? (size_t)(q - t) : len;
    *query = q ? q + 1 : NULL;
    *qlen = q ? (size_t)(t + len - q - 1) : 0;
}

void rr_transform_name(const char *target, size_t len, struct rr_buf *out)
{
    const char *path, *query;
    size_t plen, qlen;
    split_target(target, len, &path, &plen, &query, &qlen);
    if (!plen) {
        rr_buf_addc(out, '/');
        return;
    }
    for (size_t i = 0; i < plen;) {
        if (path[i] == '/') {
            rr_buf_addc(out, '/');
            i++;
            continue;
        }
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        const char *k = seg_kind(path + i, j - i);
        if (k)
            rr_buf_adds(out, k);
        else
            rr_buf_add(out, path + i, j - i);
        i = j;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Strings and small helpers */

struct strset {
    size_t n, cap;
    char **v;
};

static ssize_t strset_find(const struct strset *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return (ssize_t)i;
    return -1;
}

static size_t strset_push(struct strset *s, const char *v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = rr_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n] = rr_xstrdup(v);
    return s->n++;
}

static size_t strset_add(struct strset *s, const char *v)
{
    ssize_t i = strset_find(s, v);
    if (i >= 0)
        return (size_t)i;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = rr_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n] = rr_xstrdup(v);
    return s->n++;
}

static void strset_fini(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static char *vdup(struct rr_view v)
{
    return rr_xstrndup(v.p ? (const char *)v.p : "", v.len);
}

static bool is_static_path(const char *p, size_t n)
{
    static const char *const ext[] = {".css", ".js",   ".png",  ".jpg",   ".jpeg", ".gif",
                                      ".ico", ".svg",  ".woff", ".woff2", ".ttf",  ".eot",
                                      ".map", ".webp", ".bmp",  ".otf",   NULL};
    const char *dot = NULL;
    for (size_t i = n; i > 0; i--) {
        if (p[i - 1] == '/')
            break;
        if (p[i - 1] == '.') {
            dot = p + i - 1;
            break;
        }
    }
    if (!dot)
        return false;
    size_t el = (size_t)(p + n - dot);
    for (int i = 0; ext[i]; i++)
        if (strlen(ext[i]) == el && !strncasecmp(ext[i], dot, el))
            return true;
    return false;
}

static bool is_static_type(struct rr_view ct)
{
    static const char *const pre[] = {
        "text/css", "application/javascript", "text/javascript", "image/", "font/", NULL};
    for (int i = 0; pre[i]; i++) {
        size_t l = strlen(pre[i]);
        if (ct.len >= l && !strncasecmp((const char *)ct.p, pre[i], l))
            return true;
    }
    return false;
}

static bool is_json_type(struct rr_view ct)
{
    return ct.p && memmem(ct.p, ct.len, "json", 4);
}

static bool is_form_type(struct rr_view ct)
{
    return ct.p && memmem(ct.p, ct.len, "x-www-form-urlencoded", 21);
}

static bool name_has(const char *name, const char *const *words)
{
    for (int i = 0; words[i]; i++)
        if (strcasestr(name, words[i]))
            return true;
    return false;
}

static const char *const login_words[] = {"login", "signin", "sign-in", "sign_in", "logon",
                                          "auth",  "token",  "session", NULL};
static const char *const logout_words[] = {"logout",   "signout", "sign-out",
                                           "sign_out", "logoff",  NULL};

/* ------------------------------------------------------------------------------------------ */
/* JSON helpers */

static void json_leaf_text(json_t *v, struct rr_buf *out)
{
    if (json_is_string(v)) {
        rr_buf_add(out, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        rr_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        char tmp[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, json_real_value(v));
            if (strtod(tmp, NULL) == json_real_value(v))
                break;
        }
        rr_buf_adds(out, tmp);
    } else if (json_is_true(v)) {
        rr_buf_adds(out, "true");
    } else if (json_is_false(v)) {
        rr_buf_adds(out, "false");
    } else if (json_is_null(v)) {
        rr_buf_adds(out, "null");
    }
}

static bool plain_key(const char *k)
{
    if (!*k || isdigit((unsigned char)*k))
        return false;
    for (; *k; k++)
        if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
            return false;
    return true;
}

static void path_push_key(struct rr_buf *p, const char *k)
{
    if (plain_key(k)) {
        rr_buf_printf(p, ".%s", k);
    } else {
        rr_buf_adds(p, "[\"");
        for (; *k; k++) {
            if (*k == '"' || *k == '\\')
                rr_buf_addc(p, '\\');
            rr_buf_addc(p, (uint8_t)*k);
        }
        rr_buf_adds(p, "\"]");
    }
}

/* Follows a JSON path ($.a.b[0]["c d"], or a.b) into v. */
static json_t *json_at(json_t *v, const char *s)
{
    char key[256];
    if (*s == '$')
        s++;
    else if (*s && *s != '.' && *s != '[')
        goto name;
    while (v && *s) {
        if (*s == '.') {
            s++;
        name:;
            size_t n = 0;
            while (*s && *s != '.' && *s != '[' && n + 1 < sizeof(key))
                key[n++] = *s++;
            key[n] = 0;
            v = json_object_get(v, key);
        } else if (*s == '[') {
            s++;
            if (*s == '"') {
                size_t n = 0;
                for (s++; *s && *s != '"' && n + 1 < sizeof(key); s++) {
                    if (*s == '\\' && s[1])
                        s++;
                    key[n++] = *s;
                }
                key[n] = 0;
                if (*s == '"')
                    s++;
                v = json_object_get(v, key);
            } else {
                v = json_array_get(v, strtoul(s, (char **)&s, 10));
            }
            if (*s != ']')
                return NULL;
            s++;
        } else {
            return NULL;
        }
    }
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* State: open sessions, the flow table */

#define NIL UINT32_MAX

/* One kept exchange of an open session. */
struct xrec {
    uint64_t id;
    uint64_t t0, t1;
    uint32_t step;
};

/* A session that can still grow: the connections merged into it (by identity values, the
 * anonymous-gap rule or the client and idle gap) and its exchanges so far. */
struct osess {
    struct xrec *x;
    uint32_t n, cap;
    uint64_t *conns; /* the conn_sess entries to drop when it closes */
    uint32_t n_conns, cap_conns;
    uint64_t *ids; /* the identity-map entries to drop when it closes */
    uint32_t n_ids, cap_ids;
    uint64_t first, last;  /* earliest request start, latest response end */
    uint64_t min_id;       /* its first exchange in the store's order */
    uint64_t client;       /* hash of the client address */
    uint32_t prev, next;   /* the activity list (most recently active first) */
    uint32_t aprev, anext; /* its client's list of anonymous sessions */
    bool identity, live, in_anon;
};

struct stepdef {
    char *method;
    char *name;
};

/* A distinct request value of one field, with the first exchange that sent it. */
struct fval {
    char *v;
    uint64_t id;
};

/* The request values of one step position: field key -> distinct values (at most
 * MAX_FIELD_VALUES: past it the field is high-cardinality and keeps what it has). */
struct field {
    char *key;
    struct fval *vals;
    size_t n, cap;
    struct map idx; /* value hash -> index in vals */
    bool capped;
};

struct fstep {
    size_t n, cap;
    struct field *f;
};

/* The recorded waits after one step: a fixed-size uniform sample (reservoir) of them, and the
 * exact extremes. */
struct thinkq {
    uint64_t *res;
    uint32_t n_res, cap_res; /* grows to THINK_SAMPLE: a rare flow keeps a small sample */
    uint64_t seen, min, max;
};

/* A full copy of a representative exchange. */
struct cap {
    char *method, *target, *scheme, *authority;
    size_t n_req, n_resp;
    struct rr_plan_header *req, *resp; /* name/value copies */
    struct rr_buf req_body, resp_body;
    uint16_t status;
    uint64_t id;
};

enum flow_role {
    ROLE_FLOW,
    ROLE_BEFORE,
    ROLE_AFTER
};

struct flow {
    uint32_t *seq;                /* its steps (indices into tx.steps) */
    uint32_t n;                   /* steps */
    uint32_t count;               /* sessions */
    uint64_t rep_id;              /* first exchange of its representative: its first session */
    uint64_t rep_first, rep_last; /* that session's span */
    uint64_t *think_sum;
    struct thinkq *tq;
    struct fstep *fields;
    struct cap *caps;
    uint64_t rng;
    enum flow_role role;
};

/* A session span, for the before/after rule. */
struct span {
    uint64_t t, id; /* time; first exchange id of its session (0: none yet) */
};

struct tx {
    struct rr_store *s;
    const struct rr_transform_rules *rules;
    struct rr_transform_rules defaults;
    int no_corr;
    struct rr_transform_stats *st;
    /* names, hosts, statics */
    struct stepdef *steps;
    size_t n_steps, cap_steps;
    struct map step_idx; /* hash of "METHOD name" -> step */
    struct strset statics;
    uint64_t *static_counts;
    size_t cap_static;
    struct strset hosts;
    uint32_t *host_counts;
    struct rr_buf tmp, body;
    /* open sessions */
    struct osess *os;
    size_t n_os, cap_os;
    uint32_t free_os;       /* free slots, chained by next */
    uint32_t head, tail;    /* activity list */
    struct map conn_sess;   /* connection id -> open session */
    struct map ident;       /* identity hash -> open session */
    struct map anon_head;   /* client hash -> first of its anonymous open sessions */
    struct map client_sess; /* session client: client hash -> its latest open session */
    uint64_t watermark;     /* latest request start seen */
    uint64_t horizon;       /* idle time after which a session cannot grow */
    uint64_t last_id;
    uint64_t cur_t0;              /* request start of the exchange being read */
    uint64_t open_x, peak_open_x; /* exchanges held in open sessions */
    /* flows */
    struct flow *flows;
    size_t n_flows;
    struct map flow_idx;                /* sequence hash -> flow */
    struct span min1, min2, max1, max2; /* earliest starts, latest ends of all sessions */
    /* folding one session */
    struct map seen_fields;
    struct strset capped; /* pools fed by a high-cardinality field */
    uint32_t cur_flow, cur_pos;
    bool cur_rep;
    int rc;
    char *why;
    size_t whylen;
};

/* Removes key from a map (linear probing: later entries of the same run move back). */
static void map_del(struct map *m, uint64_t key)
{
    if (!key)
        key = 1;
    if (!m->cap)
        return;
    size_t mask = m->cap - 1, i = (size_t)(key * 0x9e3779b97f4a7c15u >> 7) & mask;
    while (m->k[i] && m->k[i] != key)
        i = (i + 1) & mask;
    if (!m->k[i])
        return;
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!m->k[j])
            break;
        size_t h = (size_t)(m->k[j] * 0x9e3779b97f4a7c15u >> 7) & mask;
        /* j's entry may move to i only when its home is not in (i, j] (cyclically) */
        bool stay = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (stay)
            continue;
        m->k[i] = m->k[j];
        m->v[i] = m->v[j];
        i = j;
    }
    m->k[i] = 0;
    m->n--;
}

static uint32_t map_get(struct map *m, uint64_t key)
{
    uint32_t *v = map_slot(m, key, 0);
    return v ? *v : NIL;
}

static void map_put(struct map *m, uint64_t key, uint32_t val)
{
    *map_slot(m, key, 1) = val;
}

static void *grow_arr(void *p, uint32_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    uint32_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    *cap = nc;
    return rr_xrealloc(p, (size_t)nc * size);
}

/* --- the activity list and the clients' anonymous lists --- */

static void act_unlink(struct tx *t, uint32_t s)
{
    struct osess *o = &t->os[s];
    if (o->prev != NIL)
        t->os[o->prev].next = o->next;
    else
        t->head = o->next;
    if (o->next != NIL)
        t->os[o->next].prev = o->prev;
    else
        t->tail = o->prev;
    o->prev = o->next = NIL;
}

static void act_push(struct tx *t, uint32_t s)
{
    struct osess *o = &t->os[s];
    o->prev = NIL;
    o->next = t->head;
    if (t->head != NIL)
        t->os[t->head].prev = s;
    t->head = s;
    if (t->tail == NIL)
        t->tail = s;
}

static void anon_unlink(struct tx *t, uint32_t s)
{
    struct osess *o = &t->os[s];
    if (!o->in_anon)
        return;
    if (o->aprev != NIL)
        t->os[o->aprev].anext = o->anext;
    else if (o->anext != NIL)
        map_put(&t->anon_head, o->client, o->anext);
    else
        map_del(&t->anon_head, o->client);
    if (o->anext != NIL)
        t->os[o->anext].aprev = o->aprev;
    o->aprev = o->anext = NIL;
    o->in_anon = false;
}

static void anon_push(struct tx *t, uint32_t s)
{
    struct osess *o = &t->os[s];
    uint32_t h = map_get(&t->anon_head, o->client);
    o->aprev = NIL;
    o->anext = h;
    if (h != NIL)
        t->os[h].aprev = s;
    map_put(&t->anon_head, o->client, s);
    o->in_anon = true;
}

/* Marks activity: the session moves to the front of its lists. */
static void touch(struct tx *t, uint32_t s)
{
    if (t->head != s) {
        act_unlink(t, s);
        act_push(t, s);
    }
    if (t->os[s].in_anon && t->os[s].aprev != NIL) {
        anon_unlink(t, s);
        anon_push(t, s);
    }
}

static uint32_t sess_new(struct tx *t, uint64_t client)
{
    uint32_t s;
    if (t->free_os != NIL) {
        s = t->free_os;
        t->free_os = t->os[s].next;
    } else {
        if (t->n_os == t->cap_os) {
            t->cap_os = t->cap_os ? t->cap_os * 2 : 256;
            t->os = rr_xrealloc(t->os, t->cap_os * sizeof(*t->os));
        }
        s = (uint32_t)t->n_os++;
    }
    struct osess *o = &t->os[s];
    memset(o, 0, sizeof(*o));
    o->first = UINT64_MAX;
    o->min_id = UINT64_MAX;
    o->client = client;
    o->live = true;
    o->prev = o->next = o->aprev = o->anext = NIL;
    act_push(t, s);
    return s;
}

static void sess_free(struct tx *t, uint32_t s)
{
    struct osess *o = &t->os[s];
    act_unlink(t, s);
    anon_unlink(t, s);
    free(o->x);
    free(o->conns);
    free(o->ids);
    memset(o, 0, sizeof(*o));
    o->next = t->free_os;
    t->free_os = s;
}

/* Moves session b into a (the larger one survives); returns the survivor. */
static uint32_t sess_merge(struct tx *t, uint32_t a, uint32_t b)
{
    if (a == b)
        return a;
    if (t->os[a].n + t->os[a].n_conns < t->os[b].n + t->os[b].n_conns) {
        uint32_t x = a;
        a = b;
        b = x;
    }
    struct osess *oa = &t->os[a], *ob = &t->os[b];
    oa->conns = grow_arr(oa->conns, &oa->cap_conns, oa->n_conns + ob->n_conns, sizeof(uint64_t));
    for (uint32_t i = 0; i < ob->n_conns; i++) {
        map_put(&t->conn_sess, ob->conns[i], a);
        oa->conns[oa->n_conns++] = ob->conns[i];
    }
    oa->ids = grow_arr(oa->ids, &oa->cap_ids, oa->n_ids + ob->n_ids, sizeof(uint64_t));
    for (uint32_t i = 0; i < ob->n_ids; i++) {
        map_put(&t->ident, ob->ids[i], a);
        oa->ids[oa->n_ids++] = ob->ids[i];
    }
    oa->x = grow_arr(oa->x, &oa->cap, oa->n + ob->n, sizeof(struct xrec));
    memcpy(oa->x + oa->n, ob->x, ob->n * sizeof(struct xrec));
    oa->n += ob->n;
    if (ob->first < oa->first)
        oa->first = ob->first;
    if (ob->last > oa->last)
        oa->last = ob->last;
    if (ob->min_id < oa->min_id)
        oa->min_id = ob->min_id;
    oa->identity = oa->identity || ob->identity;
    if (t->client_sess.n && map_get(&t->client_sess, ob->client) == b)
        map_put(&t->client_sess, ob->client, a);
    sess_free(t, b);
    oa = &t->os[a];
    if (oa->identity)
        anon_unlink(t, a);
    return a;
}

/* ------------------------------------------------------------------------------------------ */
/* Sessions */

static int sess_close(struct tx *t, uint32_t s);

static void identity(struct tx *t, uint64_t conn, const void *p, size_t n)
{
    if (n < MIN_IDENTITY)
        return;
    uint64_t h = rr_hash64(p, n, 7);
    uint32_t s = map_get(&t->conn_sess, conn);
    t->os[s].identity = true;
    anon_unlink(t, s);
    uint32_t v = map_get(&t->ident, h);
    if (v != NIL && v != s && t->cur_t0 > t->os[v].last + t->horizon) {
        /* the value's session idled past the horizon: it ended; this one starts anew */
        int rc = sess_close(t, v);
        if (rc && !t->rc)
            t->rc = rc;
        v = NIL;
    }
    if (v == NIL) {
        map_put(&t->ident, h, s);
        struct osess *o = &t->os[s];
        o->ids = grow_arr(o->ids, &o->cap_ids, o->n_ids + 1, sizeof(uint64_t));
        o->ids[o->n_ids++] = h;
    } else if (v != s) {
        sess_merge(t, v, s);
    }
}

/* The string values (not the keys) of a JSON text, without parsing it: escapes are rare in
 * tokens, so a value holding one is skipped rather than decoded. */
static void json_string_identities(struct tx *t, uint64_t conn, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"')
            continue;
        size_t j = i + 1;
        bool esc = false;
        while (j < n && s[j] != '"') {
            if (s[j] == '\\') {
                esc = true;
                j++;
            }
            j++;
        }
        if (j >= n)
            return;
        size_t k = j + 1;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r'))
            k++;
        if (!esc && (k >= n || s[k] != ':'))
            identity(t, conn, s + i + 1, j - i - 1);
        i = j;
    }
}

/* Cookie header "a=1; b=2": calls identity on each value. */
static void cookie_identities(struct tx *t, uint64_t conn, struct rr_view c)
{
    const char *s = (const char *)c.p, *end = s + c.len;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *e = semi ? semi : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (eq)
            identity(t, conn, eq + 1, (size_t)(e - eq - 1));
        s = semi ? semi + 1 : end;
        while (s < end && *s == ' ')
            s++;
    }
}

/* The open session of a connection; a connection seen for the first time starts one, which
 * joins its client's session (session client) or takes in the client's anonymous sessions
 * that ended just before it started (session auto). */
static uint32_t sess_of_conn(struct tx *t, uint64_t conn, uint64_t t0)
{
    uint32_t s = map_get(&t->conn_sess, conn);
    if (s != NIL && t0 > t->os[s].last + t->horizon) {
        /* a connection idle past the horizon: its session ended, a new one starts */
        int rc = sess_close(t, s);
        if (rc && !t->rc)
            t->rc = rc;
        s = NIL;
    }
    if (s != NIL)
        return s;
    const struct rr_transform_rules *r = t->rules;
    struct rr_conn c;
    uint64_t client = 0;
    if (rr_store_conn_get(t->s, conn, &c) == 0)
        client = rr_hash64(c.client_ip, 16, 11);
    if (r->session == TXS_CLIENT) {
        uint64_t gap = r->gap_us ? r->gap_us : 30000000;
        uint32_t cs = map_get(&t->client_sess, client);
        if (cs != NIL && t0 <= t->os[cs].last + gap) {
            s = cs;
        } else {
            s = sess_new(t, client);
            map_put(&t->client_sess, client, s);
        }
    } else {
        s = sess_new(t, client);
    }
    struct osess *o = &t->os[s];
    o->conns = grow_arr(o->conns, &o->cap_conns, o->n_conns + 1, sizeof(uint64_t));
    o->conns[o->n_conns++] = conn;
    map_put(&t->conn_sess, conn, s);
    if (r->session == TXS_AUTO) {
        /* a connection without any identity value (the page and its assets before a login)
         * joins the next connection of the same client that starts soon after it ended */
        uint64_t gap = r->gap_us ? r->gap_us : ANON_GAP_US;
        uint32_t a = map_get(&t->anon_head, client);
        for (unsigned seen = 0; a != NIL && seen < ANON_SCAN; seen++) {
            uint32_t next = t->os[a].anext;
            const struct osess *u = &t->os[a];
            if (u->last + gap + SLACK_US < t0)
                break; /* the list is in order of activity: the rest ended even earlier */
            if (u->n && t0 + 1000 >= u->last && t0 <= u->last + gap)
                s = sess_merge(t, s, a);
            a = next;
        }
        if (!t->os[s].in_anon && !t->os[s].identity)
            anon_push(t, s);
    }
    return s;
}

static bool status_match(const char *pat, unsigned st)
{
    char s[4];
    snprintf(s, sizeof(s), "%03u", st % 1000);
    return s[0] == pat[0] && (pat[1] == 'x' || (s[1] == pat[1] && s[2] == pat[2]));
}

/* Applies the filter rules; returns 1 keep, 0 drop, -1 no rule said. Later rules win. */
static int filter_rules(const struct rr_transform_rules *r, const struct rr_exchange *x,
                        const char *path, size_t plen)
{
    int verdict = -1, keep_host_rule = 0, host_kept = 0;
    for (size_t i = 0; i < r->n_filters; i++) {
        const struct tx_filter *f = &r->filters[i];
        bool m = false;
        switch (f->kind) {
        case TXF_HOST:
            m = tx_glob(f->pat, (const char *)x->authority.p, x->authority.len);
            if (f->keep) {
                keep_host_rule = 1;
                host_kept |= m;
                continue;
            }
            break;
        case TXF_PATH:
            m = tx_glob(f->pat, path, plen);
            break;
        case TXF_METHOD:
            m = rr_view_caseeqs(x->method, f->pat);
            break;
        case TXF_STATUS:
            m = status_match(f->pat, x->status);
            break;
        }
        if (m)
            verdict = f->keep;
    }
    if (keep_host_rule && !host_kept)
        return 0;
    return verdict;
}

static uint32_t intern_step(struct tx *t, const char *method, size_t mlen, const char *name)
{
    rr_buf_reset(&t->tmp);
    rr_buf_add(&t->tmp, method, mlen);
    rr_buf_addc(&t->tmp, ' ');
    rr_buf_adds(&t->tmp, name);
    uint32_t *v = map_slot(&t->step_idx, rr_hash64(t->tmp.p, t->tmp.len, 3), 1);
    if (*v != UINT32_MAX)
        return *v;
    if (t->n_steps == t->cap_steps) {
        t->cap_steps = t->cap_steps ? t->cap_steps * 2 : 64;
        t->steps = rr_xrealloc(t->steps, t->cap_steps * sizeof(*t->steps));
    }
    t->steps[t->n_steps].method = rr_xstrndup(method, mlen);
    t->steps[t->n_steps].name = rr_xstrdup(name);
    *v = (uint32_t)t->n_steps;
    return (uint32_t)t->n_steps++;
}

typedef void field_fn(void *ud, const char *key, const char *val, size_t vlen);

static void json_fields(json_t *v, struct rr_buf *path, field_fn *fn, void *ud, int depth)
{
    if (depth > 16)
        return;
    size_t mark = path->len;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
        {
            path_push_key(path, k);
            json_fields(c, path, fn, ud, depth + 1);
            path->len = mark;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            rr_buf_printf(path, "[%zu]", i);
            json_fields(c, path, fn, ud, depth + 1);
            path->len = mark;
        }
    } else if (json_is_string(v) || json_is_integer(v) || json_is_real(v)) {
        struct rr_buf b;
        rr_buf_init(&b);
        rr_buf_adds(&b, "json:");
        rr_buf_add(&b, path->p, path->len);
        struct rr_buf val;
        rr_buf_init(&val);
        json_leaf_text(v, &val);
        fn(ud, rr_buf_cstr(&b), (const char *)val.p ? (const char *)val.p : "", val.len);
        rr_buf_fini(&b);
        rr_buf_fini(&val);
    }
}

/* key=value pairs separated by '&' (query strings and form bodies) */
static void pairs_fields(const char *prefix, const char *s, size_t n, field_fn *fn, void *ud)
{
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (eq && eq > s) {
            char key[300];
            snprintf(key, sizeof(key), "%s:%.*s", prefix, (int)(eq - s > 200 ? 200 : eq - s), s);
            fn(ud, key, eq + 1, (size_t)(e - eq - 1));
        }
        s = amp ? amp + 1 : end;
    }
}

/* Calls fn for every request value that could vary: templated path segments, query and
 * form pairs, JSON leaves. */
static void request_fields(const char *target, size_t tlen, struct rr_view ctype,
                           const struct rr_buf *body, field_fn *fn, void *ud)
{
    const char *path, *query;
    size_t plen, qlen;
    split_target(target, tlen, &path, &plen, &query, &qlen);
    unsigned segno = 0;
    for (size_t i = 0; i < plen;) {
        if (path[i] == '/') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        if (seg_kind(path + i, j - i)) {
            char key[32];
            snprintf(key, sizeof(key), "path:%u", segno);
            fn(ud, key, path + i, j - i);
        }
        segno++;
        i = j;
    }
    if (query)
        pairs_fields("query", query, qlen, fn, ud);
    if (body && body->len) {
        if (is_json_type(ctype)) {
            json_t *j = json_loadb((const char *)body->p, body->len, 0, NULL);
            if (j) {
                struct rr_buf p;
                rr_buf_init(&p);
                rr_buf_addc(&p, '$');
                json_fields(j, &p, fn, ud, 0);
                rr_buf_fini(&p);
                json_decref(j);
            }
        } else if (is_form_type(ctype)) {
            pairs_fields("form", (const char *)body->p, body->len, fn, ud);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Closing a session: its flow, waits, request values and (for a flow's first session) full
 * copies of its exchanges */

static void field_add(struct fstep *fs, const char *key, const char *val, size_t vlen, uint64_t id)
{
    struct field *f = NULL;
    for (size_t i = 0; i < fs->n && !f; i++)
        if (!strcmp(fs->f[i].key, key))
            f = &fs->f[i];
    if (!f) {
        if (fs->n == fs->cap) {
            fs->cap = fs->cap ? fs->cap * 2 : 8;
            fs->f = rr_xrealloc(fs->f, fs->cap * sizeof(*fs->f));
        }
        f = &fs->f[fs->n++];
        memset(f, 0, sizeof(*f));
        f->key = rr_xstrdup(key);
    }
    uint64_t h = rr_hash64(val, vlen, 5);
    for (;; h++) {
        uint32_t i = map_get(&f->idx, h);
        if (i == NIL)
            break;
        if (strlen(f->vals[i].v) == vlen && !memcmp(f->vals[i].v, val, vlen)) {
            if (id < f->vals[i].id)
                f->vals[i].id = id;
            return;
        }
    }
    if (f->n >= MAX_FIELD_VALUES) {
        f->capped = true; /* high-cardinality: what it has stands for the rest */
        return;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->vals = rr_xrealloc(f->vals, f->cap * sizeof(*f->vals));
    }
    f->vals[f->n].v = rr_xstrndup(val, vlen);
    f->vals[f->n].id = id;
    map_put(&f->idx, h, (uint32_t)f->n);
    f->n++;
}

struct collect {
    struct fstep *fs;
    uint64_t id;
};

static void collect_field(void *ud, const char *key, const char *val, size_t vlen)
{
    struct collect *c = ud;
    field_add(c->fs, key, val, vlen, c->id);
}

static void copy_headers(const struct rr_header *h, size_t n, struct rr_plan_header **out,
                         size_t *nout)
{
    *out = rr_xcalloc(n + 1, sizeof(**out));
    *nout = n;
    for (size_t i = 0; i < n; i++) {
        (*out)[i].name = vdup(h[i].name);
        (*out)[i].value = vdup(h[i].value);
    }
}

static void cap_fini(struct cap *c)
{
    free(c->method);
    free(c->target);
    free(c->scheme);
    free(c->authority);
    for (size_t i = 0; i < c->n_req; i++) {
        free(c->req[i].name);
        free(c->req[i].value);
    }
    free(c->req);
    for (size_t i = 0; i < c->n_resp; i++) {
        free(c->resp[i].name);
        free(c->resp[i].value);
    }
    free(c->resp);
    rr_buf_fini(&c->req_body);
    rr_buf_fini(&c->resp_body);
    memset(c, 0, sizeof(*c));
}

/* One exchange of the session being closed, read again by id. */
static int fold_cb(const struct rr_exchange *x, void *ud)
{
    struct tx *t = ud;
    struct flow *f = &t->flows[t->cur_flow];
    uint32_t pos = t->cur_pos;
    struct rr_view ctype = rr_exchange_header(x->req_headers, x->n_req_headers, "content-type");
    int rc;

    /* the same target and body at the same step give the same values: collect them once (a
     * cache: it is emptied when full, so it stays small however many exchanges pass) */
    uint64_t key = rr_hash64(x->target.p, x->target.len, x->req_body.hash[0] ^ x->req_body.len);
    key ^= ((uint64_t)t->cur_flow << 32 | pos) * 0x9e3779b97f4a7c15u;
    uint32_t *seen = map_slot(&t->seen_fields, key, 0);
    if (seen && !t->cur_rep)
        return 0;
    if (!seen) {
        if (t->seen_fields.n >= SEEN_MAX)
            map_fini(&t->seen_fields);
        map_put(&t->seen_fields, key, 1);
    }
    rr_buf_reset(&t->body);
    if (x->req_body.len) {
        rc = rr_store_body_get(t->s, &x->req_body, &t->body);
        if (rc && rc != RR_ENOTFOUND)
            return rc;
    }
    struct collect col = {&f->fields[pos], x->id};
    request_fields((const char *)x->target.p, x->target.len, ctype, &t->body, collect_field, &col);
    if (!t->cur_rep)
        return 0;
    struct cap *c = &f->caps[pos];
    c->id = x->id;
    c->method = vdup(x->method);
    c->target = vdup(x->target);
    c->scheme = vdup(x->scheme);
    c->authority = vdup(x->authority);
    c->status = x->status;
    copy_headers(x->req_headers, x->n_req_headers, &c->req, &c->n_req);
    copy_headers(x->resp_headers, x->n_resp_headers, &c->resp, &c->n_resp);
    rr_buf_init(&c->req_body);
    rr_buf_init(&c->resp_body);
    rr_buf_add(&c->req_body, t->body.p, t->body.len);
    if (x->resp_body.len) {
        rc = rr_store_body_get(t->s, &x->resp_body, &c->resp_body);
        if (rc && rc != RR_ENOTFOUND)
            return rc;
    }
    return 0;
}

static int cmp_xrec(const void *a, const void *b)
{
    const struct xrec *ra = a, *rb = b;
    if (ra->t0 != rb->t0)
        return ra->t0 < rb->t0 ? -1 : 1;
    return ra->id < rb->id ? -1 : ra->id > rb->id ? 1 : 0;
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: a fixed seed per flow, so a plan is the same on every run */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1du;
}

static void think_add(struct flow *f, struct thinkq *q, uint64_t gap)
{
    if (!q->seen || gap < q->min)
        q->min = gap;
    if (gap > q->max)
        q->max = gap;
    q->seen++;
    if (q->n_res < THINK_SAMPLE) {
        q->res = grow_arr(q->res, &q->cap_res, q->n_res + 1, sizeof(uint64_t));
        q->res[q->n_res++] = gap;
        return;
    }
    /* reservoir sampling: the k-th gap replaces a random slot with probability SAMPLE/k */
    uint64_t r = rng_next(&f->rng) % q->seen;
    if (r < THINK_SAMPLE)
        q->res[r] = gap;
}

static void span_min(struct tx *t, uint64_t v, uint64_t id)
{
    if (!t->min1.id || v < t->min1.t) {
        t->min2 = t->min1;
        t->min1 = (struct span){v, id};
    } else if (!t->min2.id || v < t->min2.t) {
        t->min2 = (struct span){v, id};
    }
}

static void span_max(struct tx *t, uint64_t v, uint64_t id)
{
    if (!t->max1.id || v > t->max1.t) {
        t->max2 = t->max1;
        t->max1 = (struct span){v, id};
    } else if (!t->max2.id || v > t->max2.t) {
        t->max2 = (struct span){v, id};
    }
}

static uint64_t seq_hash(const struct xrec *x, uint32_t n)
{
    uint64_t h = 1469598103934665603u;
    for (uint32_t k = 0; k < n; k++) {
        h ^= x[k].step + 1;
        h *= 1099511628211u;
    }
    return h ^ n;
}

/* Folds a finished session into its flow. */
static int fold(struct tx *t, struct osess *o)
{
    if (!o->n)
        return 0;
    qsort(o->x, o->n, sizeof(*o->x), cmp_xrec);
    uint64_t h = seq_hash(o->x, o->n);
    uint32_t fi;
    /* probe past hash collisions of different sequences */
    for (;; h++) {
        fi = map_get(&t->flow_idx, h);
        if (fi == NIL)
            break;
        const struct flow *f = &t->flows[fi];
        bool eq = f->n == o->n;
        for (uint32_t k = 0; k < o->n && eq; k++)
            eq = f->seq[k] == o->x[k].step;
        if (eq)
            break;
    }
    if (fi == NIL) {
        fi = (uint32_t)t->n_flows;
        map_put(&t->flow_idx, h, fi);
        t->flows = rr_xrealloc(t->flows, (t->n_flows + 1) * sizeof(*t->flows));
        struct flow *f = &t->flows[t->n_flows++];
        memset(f, 0, sizeof(*f));
        f->n = o->n;
        f->seq = rr_xmalloc(o->n * sizeof(uint32_t));
        for (uint32_t k = 0; k < o->n; k++)
            f->seq[k] = o->x[k].step;
        f->rep_id = UINT64_MAX;
        f->think_sum = rr_xcalloc(o->n + 1, sizeof(uint64_t));
        f->tq = rr_xcalloc(o->n + 1, sizeof(struct thinkq));
        f->fields = rr_xcalloc(o->n + 1, sizeof(struct fstep));
        f->caps = rr_xcalloc(o->n + 1, sizeof(struct cap));
        f->rng = 0x9e3779b97f4a7c15u ^ h;
    }
    struct flow *f = &t->flows[fi];
    f->count++;
    t->st->sessions++;
    for (uint32_t k = 0; k + 1 < o->n; k++) {
        const struct xrec *a = &o->x[k], *b = &o->x[k + 1];
        uint64_t gap = b->t0 > a->t1 ? b->t0 - a->t1 : 0;
        f->think_sum[k] += gap;
        think_add(f, &f->tq[k], gap);
    }
    span_min(t, o->first, o->min_id);
    span_max(t, o->last, o->min_id);
    /* the representative is the flow's first session in the store's order; one that closes
     * late (it idled longer) takes the place of one that closed before it */
    t->cur_rep = o->min_id < f->rep_id;
    if (t->cur_rep) {
        for (uint32_t k = 0; k < f->n; k++)
            cap_fini(&f->caps[k]);
        f->rep_id = o->min_id;
        f->rep_first = o->first;
        f->rep_last = o->last;
    }
    t->cur_flow = fi;
    for (uint32_t k = 0; k < o->n; k++) {
        t->cur_pos = k;
        int rc = rr_store_exchange_get(t->s, o->x[k].id, fold_cb, t);
        if (rc)
            return rc;
    }
    return 0;
}

/* Closes a session: it is folded into its flow, and its map entries go. */
static int sess_close(struct tx *t, uint32_t s)
{
    struct osess *o = &t->os[s];
    for (uint32_t i = 0; i < o->n_conns; i++)
        if (map_get(&t->conn_sess, o->conns[i]) == s)
            map_del(&t->conn_sess, o->conns[i]);
    for (uint32_t i = 0; i < o->n_ids; i++)
        if (map_get(&t->ident, o->ids[i]) == s)
            map_del(&t->ident, o->ids[i]);
    if (t->client_sess.n && map_get(&t->client_sess, o->client) == s)
        map_del(&t->client_sess, o->client);
    t->open_x -= o->n;
    int rc = fold(t, o);
    sess_free(t, s);
    return rc;
}

/* Closes the sessions idle for longer than the horizon (plus the walk's disorder). */
static int sweep(struct tx *t)
{
    while (t->tail != NIL) {
        const struct osess *o = &t->os[t->tail];
        if (o->last + t->horizon + SLACK_US >= t->watermark)
            break;
        int rc = sess_close(t, t->tail);
        if (rc)
            return rc;
    }
    return 0;
}

static int close_all(struct tx *t)
{
    /* in order of activity, oldest first, as the sweep would */
    while (t->tail != NIL) {
        int rc = sess_close(t, t->tail);
        if (rc)
            return rc;
    }
    return 0;
}

/* The walk's last exchange: every session still open closes inside the walk's read
 * transaction (one lookup per exchange, not one transaction each). */
static int last_cb(const struct rr_exchange *x, void *ud)
{
    struct tx *t = ud;
    return x->id == t->last_id ? close_all(t) : 0;
}

static int walk_cb(const struct rr_exchange *x, void *ud)
{
    struct tx *t = ud;
    const struct rr_transform_rules *r = t->rules;
    const char *path, *query;
    size_t plen, qlen;

    t->st->exchanges++;
    t->last_id = x->id;
    if (x->flags & RR_XF_PUSH) {
        t->st->dropped_rule++;
        return 0;
    }
    split_target((const char *)x->target.p, x->target.len, &path, &plen, &query, &qlen);
    int verdict = filter_rules(r, x, path, plen);
    if (verdict == 0 || (verdict < 0 && (!x->status || !x->method.len))) {
        t->st->dropped_rule++;
        return 0;
    }
    if (verdict < 0 && !r->keep_statics &&
        (is_static_path(path, plen) ||
         is_static_type(rr_exchange_header(x->resp_headers, x->n_resp_headers, "content-type")) ||
         (plen == 12 && !memcmp(path, "/favicon.ico", 12)))) {
        t->st->dropped_static++;
        rr_buf_reset(&t->tmp);
        rr_buf_add(&t->tmp, x->method.p, x->method.len);
        rr_buf_addc(&t->tmp, ' ');
        rr_buf_add(&t->tmp, path, plen);
        size_t i = strset_add(&t->statics, rr_buf_cstr(&t->tmp));
        if (i >= t->cap_static) {
            size_t nc = t->cap_static ? t->cap_static * 2 : 16;
            t->static_counts = rr_xrealloc(t->static_counts, nc * sizeof(uint64_t));
            memset(t->static_counts + t->cap_static, 0, (nc - t->cap_static) * sizeof(uint64_t));
            t->cap_static = nc;
        }
        t->static_counts[i]++;
        return 0;
    }
    /* name */
    const char *name = NULL;
    for (size_t i = 0; i < r->n_names && !name; i++) {
        const struct tx_name_rule *n = &r->names[i];
        if ((!n->method || rr_view_caseeqs(x->method, n->method)) && tx_glob(n->glob, path, plen))
            name = n->name;
    }
    struct rr_buf nb;
    rr_buf_init(&nb);
    if (!name) {
        rr_transform_name((const char *)x->target.p, x->target.len, &nb);
        name = rr_buf_cstr(&nb);
    }
    uint32_t step = intern_step(t, (const char *)x->method.p, x->method.len, name);
    rr_buf_fini(&nb);

    /* host */
    rr_buf_reset(&t->tmp);
    rr_buf_add(&t->tmp, x->scheme.len ? x->scheme.p : (const uint8_t *)"http",
               x->scheme.len ? x->scheme.len : 4);
    rr_buf_adds(&t->tmp, "://");
    rr_buf_add(&t->tmp, x->authority.p, x->authority.len);
    size_t nh = t->hosts.n, hi = strset_add(&t->hosts, rr_buf_cstr(&t->tmp));
    if (t->hosts.n != nh) {
        t->host_counts = rr_xrealloc(t->host_counts, t->hosts.n * sizeof(uint32_t));
        t->host_counts[hi] = 0;
    }
    t->host_counts[hi]++;

    uint64_t t0 = x->t_req_start_us, t1 = x->t_resp_end_us ? x->t_resp_end_us : x->t_req_end_us;
    if (t1 < t0)
        t1 = t0;
    if (t0 > t->watermark)
        t->watermark = t0;
    uint64_t conn = x->conn_id;
    t->cur_t0 = t0;
    (void)sess_of_conn(t, conn, t0);

    if (r->session == TXS_AUTO) {
        struct rr_view auth = rr_exchange_header(x->req_headers, x->n_req_headers, "authorization");
        if (auth.p) {
            const uint8_t *sp = memrchr(auth.p, ' ', auth.len);
            size_t off = sp ? (size_t)(sp + 1 - auth.p) : 0;
            identity(t, conn, auth.p + off, auth.len - off);
        }
        for (size_t i = 0; i < x->n_req_headers; i++)
            if (rr_view_caseeqs(x->req_headers[i].name, "cookie"))
                cookie_identities(t, conn, x->req_headers[i].value);
        for (size_t i = 0; i < x->n_resp_headers; i++) {
            if (!rr_view_caseeqs(x->resp_headers[i].name, "set-cookie"))
                continue;
            struct rr_view v = x->resp_headers[i].value;
            if (!v.len)
                continue;
            const uint8_t *eq = memchr(v.p, '=', v.len), *semi = memchr(v.p, ';', v.len);
            if (eq && (!semi || eq < semi))
                identity(t, conn, eq + 1, (size_t)((semi ? semi : v.p + v.len) - eq - 1));
        }
        /* an anonymous request answered with JSON: the answer may hand out a token */
        if (!auth.p && x->status >= 200 && x->status < 300 && x->resp_body.len &&
            x->resp_body.len < 65536 &&
            is_json_type(rr_exchange_header(x->resp_headers, x->n_resp_headers, "content-type")) &&
            !rr_view_caseeqs(x->method, "GET")) {
            rr_buf_reset(&t->body);
            if (rr_store_body_get(t->s, &x->resp_body, &t->body) == 0)
                json_string_identities(t, conn, (const char *)t->body.p, t->body.len);
        }
    }

    uint32_t s = map_get(&t->conn_sess, conn);
    struct osess *o = &t->os[s];
    o->x = grow_arr(o->x, &o->cap, o->n + 1, sizeof(struct xrec));
    o->x[o->n++] = (struct xrec){x->id, t0, t1, step};
    if (t0 < o->first)
        o->first = t0;
    if (t1 > o->last)
        o->last = t1;
    if (x->id < o->min_id)
        o->min_id = x->id;
    touch(t, s);
    t->st->kept++;
    if (++t->open_x > t->peak_open_x)
        t->peak_open_x = t->open_x;
    /* endless anonymous traffic from one address chains into one session: bounded here */
    if (!t->rc && o->n >= MAX_SESSION_X)
        t->rc = sess_close(t, s);
    return t->rc ? t->rc : sweep(t);
}

/* ------------------------------------------------------------------------------------------ */
/* Building the plan */

/* A value a response produced, and the extractor that gets it at run time. */
struct produced {
    char *value;
    char *var; /* base name */
    enum rr_extract_kind kind;
    char *expr;
    uint32_t step;  /* index in the session */
    char *used_var; /* the variable once used */
};

struct build {
    struct tx *t;
    struct flow *f;
    struct rr_plan *plan;
    struct rr_plan_step *steps; /* the session's steps, in order */
    uint32_t n;
    struct produced *prod;
    size_t n_prod, cap_prod;
    struct strset flow_vars;    /* extractor names used in this flow */
    struct strset sess_vals;    /* pool values already placed in this session ... */
    struct strset sess_valvars; /* ... and their variables */
    struct strset *all_extract; /* extractor names of every flow */
    uint64_t text_scanned;      /* bytes of text pages searched for request values */
};

static void sanitize(const char *in, struct rr_buf *out)
{
    size_t start = out->len;
    for (; *in; in++)
        rr_buf_addc(out, isalnum((unsigned char)*in) ? (uint8_t)tolower((unsigned char)*in) : '_');
    if (out->len == start || isdigit(out->p[start]))
        rr_buf_adds(out, "v");
}

static void add_produced(struct build *b, const char *value, size_t vlen, const char *var,
                         enum rr_extract_kind kind, const char *expr, uint32_t step)
{
    const struct rr_transform_rules *r = b->t->rules;
    struct rr_buf nm;
    rr_buf_init(&nm);
    sanitize(var, &nm);
    for (size_t i = 0; i < r->n_ignore; i++) {
        if (!strcmp(r->ignore[i], rr_buf_cstr(&nm))) {
            rr_buf_fini(&nm);
            return;
        }
    }
    if (b->n_prod == b->cap_prod) {
        b->cap_prod = b->cap_prod ? b->cap_prod * 2 : 32;
        b->prod = rr_xrealloc(b->prod, b->cap_prod * sizeof(*b->prod));
    }
    struct produced *p = &b->prod[b->n_prod++];
    p->value = rr_xstrndup(value, vlen);
    p->var = rr_xstrdup(rr_buf_cstr(&nm));
    p->kind = kind;
    p->expr = rr_xstrdup(expr);
    p->step = step;
    p->used_var = NULL;
    rr_buf_fini(&nm);
}

/* The variable of a produced value: adds the extractor to its step the first time. */
static const char *use_produced(struct build *b, struct produced *p)
{
    if (p->used_var)
        return p->used_var;
    struct rr_plan_step *s = &b->steps[p->step];
    for (size_t i = 0; i < s->n_extracts; i++) {
        if (s->extracts[i].kind == p->kind && !strcmp(s->extracts[i].expr, p->expr)) {
            p->used_var = rr_xstrdup(s->extracts[i].var);
            return p->used_var;
        }
    }
    /* a name not taken in this flow (nor by a pool) */
    struct rr_buf nm;
    rr_buf_init(&nm);
    for (int k = 1;; k++) {
        rr_buf_reset(&nm);
        rr_buf_adds(&nm, p->var);
        if (k > 1)
            rr_buf_printf(&nm, "_%d", k);
        const char *c = rr_buf_cstr(&nm);
        bool taken = strset_find(&b->flow_vars, c) >= 0;
        for (size_t i = 0; i < b->plan->n_pools && !taken; i++)
            taken = !strcmp(b->plan->pools[i].name, c);
        if (!taken)
            break;
    }
    strset_add(&b->flow_vars, rr_buf_cstr(&nm));
    strset_add(b->all_extract, rr_buf_cstr(&nm));
    s->extracts = rr_xrealloc(s->extracts, (s->n_extracts + 1) * sizeof(*s->extracts));
    struct rr_plan_extract *e = &s->extracts[s->n_extracts++];
    e->var = rr_xstrdup(rr_buf_cstr(&nm));
    e->kind = p->kind;
    e->expr = rr_xstrdup(p->expr);
    p->used_var = rr_xstrdup(e->var);
    rr_buf_fini(&nm);
    b->t->st->extractors++;
    return p->used_var;
}

/* The most recent produced value equal to v (exact), or NULL. */
static struct produced *find_exact(struct build *b, const char *v, size_t n, uint32_t before)
{
    if (b->t->no_corr)
        return NULL;
    for (size_t i = b->n_prod; i > 0; i--) {
        struct produced *p = &b->prod[i - 1];
        if (p->step < before && strlen(p->value) == n && !memcmp(p->value, v, n))
            return p;
    }
    return NULL;
}

/* Replaces every long produced value inside text by ${var}. */
static void subst_produced(struct build *b, const char *text, size_t n, uint32_t before,
                           struct rr_buf *out)
{
    size_t i = 0, lit = 0;
    if (b->t->no_corr) {
        rr_buf_add(out, text, n);
        return;
    }
    while (i < n) {
        struct produced *hit = NULL;
        size_t hl = 0;
        for (size_t k = b->n_prod; k > 0; k--) {
            struct produced *p = &b->prod[k - 1];
            size_t pl = strlen(p->value);
            if (p->step < before && pl >= MIN_TOKEN && pl <= n - i && pl > hl &&
                !memcmp(text + i, p->value, pl)) {
                hit = p;
                hl = pl;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        rr_buf_add(out, text + lit, i - lit);
        rr_buf_printf(out, "${%s}", use_produced(b, hit));
        i += hl;
        lit = i;
    }
    rr_buf_add(out, text + lit, n - lit);
}

/* A text body (HTML, plain, JS, XML, form-encoded) small enough to search for values. */
static bool text_body(const struct cap *c)
{
    if (!c->resp_body.len || c->resp_body.len > MAX_TEXT_BODY)
        return false;
    for (size_t i = 0; i < c->n_resp; i++) {
        if (strcasecmp(c->resp[i].name, "content-type"))
            continue;
        const char *v = c->resp[i].value;
        if (strstr(v, "json"))
            return false;
        return !strncasecmp(v, "text/", 5) || strstr(v, "javascript") || strstr(v, "xml") ||
               strstr(v, "html") || strstr(v, "x-www-form-urlencoded");
    }
    /* no type: text when no NUL starts it */
    return !memchr(c->resp_body.p, 0, c->resp_body.len < 512 ? c->resp_body.len : 512);
}

static bool sent_by(const struct cap *c, const char *v, size_t n)
{
    if (memmem(c->target, strlen(c->target), v, n) ||
        (c->req_body.len && memmem(c->req_body.p, c->req_body.len, v, n)))
        return true;
    for (size_t i = 0; i < c->n_req; i++)
        if (memmem(c->req[i].value, strlen(c->req[i].value), v, n))
            return true;
    return false;
}

static void pool_name(const char *key, const char *target, struct rr_buf *out);

/* Pages are full of words; a value handed out (a token, an id) has a digit somewhere. */
static bool memchr_digit(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isdigit((unsigned char)v[i]))
            return true;
    return false;
}

/* A value step pos sends that no response produced so far, found in an earlier text body:
 * becomes a produced value with a regex extractor (the most recent such body; a value an
 * earlier request sent itself is an echo, not something handed out). key names the value
 * when the page does not. */
static void discover(struct build *b, uint32_t pos, const char *key, const char *target,
                     const char *v, size_t n)
{
    if (b->t->no_corr || n < MIN_TOKEN || n > MAX_TEXT_VALUE || !memchr_digit(v, n) ||
        find_exact(b, v, n, pos))
        return;
    unsigned pages = 0;
    for (uint32_t k = pos; k > 0 && pages < MAX_TEXT_LOOKBACK; k--) {
        const struct cap *c = &b->f->caps[k - 1];
        if (!text_body(c))
            continue;
        /* a long session of big pages sending many values: bounded work per flow */
        pages++;
        if (b->text_scanned > MAX_TEXT_SCAN)
            return;
        b->text_scanned += c->resp_body.len;
        if (!memmem(c->resp_body.p, c->resp_body.len, v, n))
            continue;
        for (uint32_t e = 0; e < k; e++)
            if (sent_by(&b->f->caps[e], v, n))
                return;
        struct rr_buf re, name;
        rr_buf_init(&re);
        rr_buf_init(&name);
        if (tx_regex_for((const char *)c->resp_body.p, c->resp_body.len, v, n, &re, &name) == 0) {
            if (!name.len && strchr(key, ':') && target)
                pool_name(key, target, &name); /* form:csrf_token -> csrf_token */
            else if (!name.len)
                rr_buf_adds(&name, key); /* a header's or cookie's name */
            add_produced(b, v, n, rr_buf_cstr(&name), RR_EXTRACT_REGEX, rr_buf_cstr(&re), k - 1);
        }
        rr_buf_fini(&re);
        rr_buf_fini(&name);
        return;
    }
}

static int pool_index(struct rr_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n_pools; i++)
        if (!strcmp(p->pools[i].name, name))
            return (int)i;
    return -1;
}

/* A pool name from a field key: the JSON key, query/form key, or the path segment before
 * an id ("items" -> "item_id"). */
static void pool_name(const char *key, const char *target, struct rr_buf *out)
{
    struct rr_buf raw;
    rr_buf_init(&raw);
    if (!strncmp(key, "json:", 5)) {
        const char *k = key + 5, *last = k;
        for (const char *c = k; *c; c++)
            if (*c == '.' || *c == '[')
                last = c + 1;
        while (*last == '"')
            last++;
        rr_buf_adds(&raw, last);
        while (raw.len && (raw.p[raw.len - 1] == ']' || raw.p[raw.len - 1] == '"'))
            raw.len--;
        if (!raw.len || isdigit(raw.p[0]))
            rr_buf_adds(&raw, "value");
    } else if (!strncmp(key, "query:", 6) || !strncmp(key, "form:", 5)) {
        rr_buf_adds(&raw, strchr(key, ':') + 1);
    } else {
        unsigned want = (unsigned)atoi(key + 5), seg = 0;
        const char *p = target, *prev = NULL, *prev_end = NULL;
        while (*p && *p != '?') {
            if (*p == '/') {
                p++;
                continue;
            }
            const char *e = p;
            while (*e && *e != '/' && *e != '?')
                e++;
            if (seg == want)
                break;
            prev = p;
            prev_end = e;
            seg++;
            p = e;
        }
        if (prev) {
            size_t l = (size_t)(prev_end - prev);
            if (l > 1 && prev[l - 1] == 's')
                l--;
            rr_buf_add(&raw, prev, l);
        } else {
            rr_buf_adds(&raw, "path");
        }
        rr_buf_adds(&raw, "_id");
    }
    sanitize(rr_buf_cstr(&raw), out);
    rr_buf_fini(&raw);
}

/* The template of one request value: an earlier response's value, a pool value of this
 * session, a new pool when the value varies between the flow's sessions, or itself. */
static bool value_var(struct build *b, uint32_t pos, const char *key, const char *v, size_t n,
                      const char *target, struct rr_buf *out)
{
    struct produced *p = find_exact(b, v, n, pos);
    if (p && n >= 4) {
        rr_buf_printf(out, "${%s}", use_produced(b, p));
        return true;
    }
    char *val = rr_xstrndup(v, n);
    ssize_t si = strset_find(&b->sess_vals, val);
    if (si >= 0 && n >= 1) {
        rr_buf_printf(out, "${%s}", b->sess_valvars.v[si]);
        free(val);
        return true;
    }
    const struct fstep *fs = &b->f->fields[pos];
    const struct field *fd = NULL;
    for (size_t i = 0; i < fs->n; i++)
        if (!strcmp(fs->f[i].key, key))
            fd = &fs->f[i];
    if (!fd || fd->n < 2 || b->f->count < 2) {
        free(val);
        return false;
    }
    struct rr_buf nm;
    rr_buf_init(&nm);
    pool_name(key, target, &nm);
    if (strset_find(b->all_extract, rr_buf_cstr(&nm)) >= 0)
        rr_buf_adds(&nm, "_pool");
    struct rr_plan *plan = b->plan;
    int pi = pool_index(plan, rr_buf_cstr(&nm));
    if (pi < 0) {
        plan->pools = rr_xrealloc(plan->pools, (plan->n_pools + 1) * sizeof(*plan->pools));
        struct rr_plan_pool *pl = &plan->pools[plan->n_pools];
        memset(pl, 0, sizeof(*pl));
        pl->name = rr_xstrdup(rr_buf_cstr(&nm));
        pi = (int)plan->n_pools++;
        b->t->st->pools++;
    }
    struct rr_plan_pool *pl = &plan->pools[pi];
    if (fd->capped && strset_find(&b->t->capped, pl->name) < 0) {
        strset_add(&b->t->capped, pl->name);
        b->t->st->capped_pools++;
    }
    for (size_t i = 0; i < fd->n; i++) {
        bool have = false;
        for (size_t k = 0; k < pl->n_values && !have; k++)
            have = !strcmp(pl->values[k], fd->vals[i].v);
        if (!have && pl->n_values < MAX_POOL_VALUES) {
            pl->values = rr_xrealloc(pl->values, (pl->n_values + 1) * sizeof(char *));
            pl->values[pl->n_values++] = rr_xstrdup(fd->vals[i].v);
        }
    }
    if (strset_find(&b->sess_vals, val) < 0) {
        strset_push(&b->sess_vals, val);
        strset_push(&b->sess_valvars, rr_buf_cstr(&nm));
    }
    rr_buf_printf(out, "${%s}", rr_buf_cstr(&nm));
    rr_buf_fini(&nm);
    free(val);
    return true;
}

/* Target: templated path segments, query values; other long produced values inside. */
/* a=1&b=2 (a query or a form body) into out, each value a pool or extractor variable where
 * one applies (its field key is "PREFIX:name"), else with produced values substituted. */
static void build_pairs(struct build *b, uint32_t pos, const char *prefix, const char *p,
                        size_t len, const char *target, struct rr_buf *out)
{
    const char *end = p + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq && eq > p) {
            char key[300];
            snprintf(key, sizeof(key), "%s:%.*s", prefix, (int)(eq - p > 200 ? 200 : eq - p), p);
            rr_buf_add(out, p, (size_t)(eq + 1 - p));
            discover(b, pos, key, target, eq + 1, (size_t)(e - eq - 1));
            if (!value_var(b, pos, key, eq + 1, (size_t)(e - eq - 1), target, out))
                subst_produced(b, eq + 1, (size_t)(e - eq - 1), pos, out);
        } else {
            subst_produced(b, p, (size_t)(e - p), pos, out);
        }
        if (amp)
            rr_buf_addc(out, '&');
        p = amp ? amp + 1 : end;
    }
}

static char *build_target(struct build *b, uint32_t pos, const char *target)
{
    struct rr_buf out, seg;
    const char *path, *query;
    size_t plen, qlen, tlen = strlen(target);
    rr_buf_init(&out);
    rr_buf_init(&seg);
    split_target(target, tlen, &path, &plen, &query, &qlen);
    /* scheme://authority of an absolute target (path may point at a constant "/") */
    size_t pre = path >= target && path <= target + tlen ? (size_t)(path - target) : tlen;
    rr_buf_add(&out, target, pre);
    unsigned segno = 0;
    for (size_t i = 0; i < plen;) {
        if (path[i] == '/') {
            rr_buf_addc(&out, '/');
            i++;
            continue;
        }
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        char key[32];
        snprintf(key, sizeof(key), "path:%u", segno++);
        discover(b, pos, key, target, path + i, j - i);
        if (!seg_kind(path + i, j - i) || !value_var(b, pos, key, path + i, j - i, target, &out))
            subst_produced(b, path + i, j - i, pos, &out);
        i = j;
    }
    if (query) {
        rr_buf_addc(&out, '?');
        build_pairs(b, pos, "query", query, qlen, target, &out);
    }
    rr_buf_fini(&seg);
    (void)rr_buf_cstr(&out);
    return (char *)rr_buf_take(&out, &(size_t){0});
}

static void json_escape(const char *s, size_t n, struct rr_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rr_buf_printf(out, "\\%c", c);
        else if (c < 0x20)
            rr_buf_printf(out, "\\u%04x", c);
        else
            rr_buf_addc(out, c);
    }
}

struct jsub {
    struct build *b;
    uint32_t pos;
    const char *target;
    struct strset repl; /* replacement text per marker */
};

/* Replaces the JSON leaves that become templates by markers, to splice after dumping. */
static void json_template(struct jsub *js, json_t *v, struct rr_buf *path, int depth)
{
    if (depth > 16)
        return;
    size_t mark = path->len;
    const char *k;
    json_t *c;
    size_t i;
    void *tmp;
    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, k, c)
        {
            path_push_key(path, k);
            if (json_is_string(c) || json_is_integer(c) || json_is_real(c)) {
                struct rr_buf key, val, out;
                rr_buf_init(&key);
                rr_buf_init(&val);
                rr_buf_init(&out);
                rr_buf_adds(&key, "json:");
                rr_buf_add(&key, path->p, path->len);
                json_leaf_text(c, &val);
                const char *vs = val.p ? (const char *)val.p : "";
                bool str = json_is_string(c);
                discover(js->b, js->pos, rr_buf_cstr(&key), js->target, vs, val.len);
                bool hit =
                    value_var(js->b, js->pos, rr_buf_cstr(&key), vs, val.len, js->target, &out);
                if (!hit && str) {
                    subst_produced(js->b, vs, val.len, js->pos, &out);
                    hit = out.len != val.len || (out.len && memcmp(out.p, vs, val.len));
                }
                if (hit) {
                    struct rr_buf r;
                    rr_buf_init(&r);
                    if (str) {
                        rr_buf_addc(&r, '"');
                        json_escape((const char *)out.p, out.len, &r);
                        rr_buf_addc(&r, '"');
                    } else {
                        rr_buf_add(&r, out.p, out.len);
                    }
                    char m[32];
                    snprintf(m, sizeof(m), "\x01%zu\x01", js->repl.n);
                    strset_add(&js->repl, rr_buf_cstr(&r));
                    json_object_set_new(v, k, json_string(m));
                    rr_buf_fini(&r);
                }
                rr_buf_fini(&key);
                rr_buf_fini(&val);
                rr_buf_fini(&out);
            } else {
                json_template(js, c, path, depth + 1);
            }
            path->len = mark;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
        {
            rr_buf_printf(path, "[%zu]", i);
            json_template(js, c, path, depth + 1);
            path->len = mark;
        }
    }
}

static void build_body(struct build *b, uint32_t pos, const struct cap *c, struct rr_plan_step *s)
{
    struct rr_buf out;
    struct rr_view ct = {0};
    rr_buf_init(&out);
    for (size_t i = 0; i < c->n_req; i++)
        if (!strcasecmp(c->req[i].name, "content-type"))
            ct = rr_view_of(c->req[i].value, strlen(c->req[i].value));
    if (!c->req_body.len)
        return;
    json_t *j =
        is_json_type(ct) ? json_loadb((const char *)c->req_body.p, c->req_body.len, 0, NULL) : NULL;
    if (j && json_is_object(j)) {
        struct jsub js = {b, pos, c->target, {0}};
        struct rr_buf path;
        rr_buf_init(&path);
        rr_buf_addc(&path, '$');
        json_template(&js, j, &path, 0);
        rr_buf_fini(&path);
        if (js.repl.n) {
            char *d = json_dumps(j, JSON_ENCODE_ANY);
            /* splice the replacements over the markers ("\u0001N\u0001" once dumped) */
            for (const char *p = d; *p;) {
                const char *m = strstr(p, "\"\\u0001");
                if (!m) {
                    rr_buf_adds(&out, p);
                    break;
                }
                rr_buf_add(&out, p, (size_t)(m - p));
                char *e;
                unsigned long k = strtoul(m + 7, &e, 10);
                if (strncmp(e, "\\u0001\"", 7) || k >= js.repl.n) {
                    rr_buf_add(&out, m, 1);
                    p = m + 1;
                    continue;
                }
                rr_buf_adds(&out, js.repl.v[k]);
                p = e + 7;
            }
            free(d);
        } else {
            rr_buf_add(&out, c->req_body.p, c->req_body.len);
        }
        strset_fini(&js.repl);
    } else if (is_form_type(ct)) {
        build_pairs(b, pos, "form", (const char *)c->req_body.p, c->req_body.len, c->target,
                    &out);
    } else {
        subst_produced(b, (const char *)c->req_body.p, c->req_body.len, pos, &out);
    }
    if (j)
        json_decref(j);
    s->body = rr_buf_take(&out, &s->body_len);
}

/* Request headers whose values are the client's own (or the jar's), not a page's. */
static bool skip_discover(const char *n)
{
    static const char *const own[] = {
        "host",    "user-agent", "accept",       "accept-language", "accept-encoding",
        "referer", "origin",     "content-type", "content-length",  "authorization",
        NULL};
    for (int i = 0; own[i]; i++)
        if (!strcasecmp(own[i], n))
            return true;
    return false;
}

static bool skip_req_header(const char *n)
{
    static const char *const hop[] = {
        "host", "content-length", "connection",        "keep-alive", "proxy-connection",
        "te",   "trailer",        "transfer-encoding", "upgrade",    "http2-settings",
        NULL};
    if (n[0] == ':')
        return true;
    for (int i = 0; hop[i]; i++)
        if (!strcasecmp(hop[i], n))
            return true;
    return false;
}

/* Cookie pairs the server set earlier in the session go back by the cookie jar, not here. */
static void build_cookie(struct build *b, uint32_t pos, const char *v, struct rr_buf *out)
{
    const char *s = v, *end = v + strlen(v);
    bool first = true;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *e = semi ? semi : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        bool jar = false;
        for (size_t i = 0; eq && i < b->n_prod && !jar; i++) {
            const struct produced *p = &b->prod[i];
            jar = p->kind == RR_EXTRACT_COOKIE && p->step < pos &&
                  strlen(p->expr) == (size_t)(eq - s) && !memcmp(p->expr, s, (size_t)(eq - s));
        }
        if (!jar && eq && eq > s && (size_t)(eq - s) < 200) {
            char key[210];
            snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
            discover(b, pos, key, NULL, eq + 1, (size_t)(e - eq - 1));
        }
        if (!jar || b->t->no_corr) {
            if (!first)
                rr_buf_adds(out, "; ");
            subst_produced(b, s, (size_t)(e - s), pos, out);
            first = false;
        }
        s = semi ? semi + 1 : end;
        while (s < end && *s == ' ')
            s++;
    }
}

static void json_producers(struct build *b, json_t *v, struct rr_buf *path, const char *key,
                           uint32_t pos, const struct cap *c, int depth)
{
    if (depth > 16)
        return;
    size_t mark = path->len;
    const char *k;
    json_t *c2;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, c2)
        {
            path_push_key(path, k);
            json_producers(b, c2, path, k, pos, c, depth + 1);
            path->len = mark;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c2)
        {
            rr_buf_printf(path, "[%zu]", i);
            json_producers(b, c2, path, key, pos, c, depth + 1);
            path->len = mark;
        }
    } else if (json_is_string(v) || json_is_integer(v)) {
        struct rr_buf val;
        rr_buf_init(&val);
        json_leaf_text(v, &val);
        /* a value the request itself sent is an echo, not something handed out */
        bool echo = val.len &&
                    ((c->req_body.len && memmem(c->req_body.p, c->req_body.len, val.p, val.len)) ||
                     memmem(c->target, strlen(c->target), val.p, val.len));
        if (val.len >= MIN_TOKEN && !echo && !memchr(val.p, ' ', val.len))
            add_produced(b, (const char *)val.p, val.len, key ? key : "value", RR_EXTRACT_JSON,
                         rr_buf_cstr(path), pos);
        rr_buf_fini(&val);
    }
}

/* What the response of step pos hands out: cookies, Location, JSON values, rule extractors. */
static void producers(struct build *b, uint32_t pos, const struct cap *c)
{
    const struct rr_transform_rules *r = b->t->rules;
    json_t *j = NULL;
    bool json = false;
    for (size_t i = 0; i < c->n_resp; i++) {
        const char *n = c->resp[i].name, *v = c->resp[i].value;
        if (!strcasecmp(n, "set-cookie")) {
            const char *eq = strchr(v, '='), *semi = strchr(v, ';');
            if (eq && (!semi || eq < semi)) {
                char *name = rr_xstrndup(v, (size_t)(eq - v));
                add_produced(b, eq + 1, (size_t)((semi ? semi : v + strlen(v)) - eq - 1), name,
                             RR_EXTRACT_COOKIE, name, pos);
                free(name);
            }
        } else if (!strcasecmp(n, "location") && strlen(v) >= 2) {
            add_produced(b, v, strlen(v), "location", RR_EXTRACT_HEADER, "Location", pos);
        } else if (!strcasecmp(n, "content-type") && strstr(v, "json")) {
            json = true;
        }
    }
    if (c->resp_body.len && (json || r->n_correlate))
        j = json_loadb((const char *)c->resp_body.p, c->resp_body.len, 0, NULL);
    if (j && json) {
        struct rr_buf path;
        rr_buf_init(&path);
        rr_buf_addc(&path, '$');
        json_producers(b, j, &path, NULL, pos, c, 0);
        rr_buf_fini(&path);
    }
    for (size_t i = 0; i < r->n_correlate; i++) {
        const struct tx_correlate *k = &r->correlate[i];
        struct rr_buf val;
        rr_buf_init(&val);
        if (k->kind == RR_EXTRACT_JSON && j) {
            json_t *v = json_at(j, k->expr);
            if (v)
                json_leaf_text(v, &val);
        } else if (k->kind == RR_EXTRACT_HEADER || k->kind == RR_EXTRACT_COOKIE) {
            for (size_t h = 0; h < c->n_resp && !val.len; h++) {
                const char *n = c->resp[h].name, *v = c->resp[h].value;
                if (k->kind == RR_EXTRACT_HEADER && !strcasecmp(n, k->expr)) {
                    rr_buf_adds(&val, v);
                } else if (k->kind == RR_EXTRACT_COOKIE && !strcasecmp(n, "set-cookie") &&
                           !strncmp(v, k->expr, strlen(k->expr)) && v[strlen(k->expr)] == '=') {
                    const char *s = v + strlen(k->expr) + 1, *semi = strchr(s, ';');
                    rr_buf_add(&val, s, semi ? (size_t)(semi - s) : strlen(s));
                }
            }
        } else if (k->kind == RR_EXTRACT_REGEX && c->resp_body.len) {
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *re =
                pcre2_compile((PCRE2_SPTR)k->expr, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
            if (re) {
                pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
                int n = pcre2_match(re, c->resp_body.p, c->resp_body.len, 0, 0, md, NULL);
                if (n > 0) {
                    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                    int g = n > 1 ? 1 : 0;
                    rr_buf_add(&val, c->resp_body.p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
                }
                pcre2_match_data_free(md);
                pcre2_code_free(re);
            }
        }
        if (val.len) {
            /* a rule's value is correlated whatever its length: put it first in line */
            add_produced(b, (const char *)val.p, val.len, k->var, k->kind, k->expr, pos);
        }
        rr_buf_fini(&val);
    }
    if (j)
        json_decref(j);
}

static void add_check(struct rr_plan_step *s, const struct rr_plan_check *c)
{
    s->checks = rr_xrealloc(s->checks, (s->n_checks + 1) * sizeof(*s->checks));
    struct rr_plan_check *d = &s->checks[s->n_checks++];
    *d = *c;
    d->expr = c->expr ? rr_xstrdup(c->expr) : NULL;
    d->value = c->value ? rr_xstrdup(c->value) : NULL;
    d->message = c->message ? rr_xstrdup(c->message) : NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_fval(const void *a, const void *b)
{
    const struct fval *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Quantiles of a step's recorded waits: THINK_Q of them from the minimum to the maximum,
 * interpolated over the sorted sample; none when fewer than two waits or all equal. */
static void think_quantiles(const struct thinkq *q, struct rr_plan_step *s)
{
    if (q->seen < 2 || q->min == q->max || !q->n_res)
        return;
    uint64_t *v = rr_xmalloc(q->n_res * sizeof(uint64_t));
    memcpy(v, q->res, q->n_res * sizeof(uint64_t));
    qsort(v, q->n_res, sizeof(uint64_t), cmp_u64);
    s->think_q_us = rr_xmalloc(THINK_Q * sizeof(uint64_t));
    s->n_think_q = THINK_Q;
    for (unsigned i = 0; i < THINK_Q; i++) {
        double pos = (double)i / (THINK_Q - 1) * (double)(q->n_res - 1);
        size_t lo = (size_t)pos;
        size_t hi = lo + 1 < q->n_res ? lo + 1 : lo;
        double fr = pos - (double)lo;
        uint64_t x = (uint64_t)((double)v[lo] + fr * ((double)v[hi] - (double)v[lo]) + 0.5);
        if (x < q->min)
            x = q->min;
        if (x > q->max)
            x = q->max;
        if (i && x < s->think_q_us[i - 1])
            x = s->think_q_us[i - 1];
        s->think_q_us[i] = x;
    }
    /* the ends are exact over every wait, not only the sample */
    s->think_q_us[0] = q->min;
    s->think_q_us[THINK_Q - 1] = q->max;
    free(v);
}

static void build_flow(struct tx *t, struct rr_plan *plan, uint32_t fi, struct rr_plan_flow *out,
                       struct strset *all_extract, uint32_t weight, unsigned number)
{
    struct flow *f = &t->flows[fi];
    const struct rr_transform_rules *r = t->rules;
    struct build b;
    memset(&b, 0, sizeof(b));
    b.t = t;
    b.f = f;
    b.plan = plan;
    b.n = f->n;
    b.steps = rr_xcalloc(f->n + 1, sizeof(*b.steps));
    b.all_extract = all_extract;

    for (uint32_t k = 0; k < f->n; k++) {
        const struct cap *c = &f->caps[k];
        const struct stepdef *sd = &t->steps[f->seq[k]];
        struct rr_plan_step *s = &b.steps[k];
        s->name = rr_xstrdup(sd->name);
        s->method = rr_xstrdup(c->method ? c->method : sd->method);
        s->target = build_target(&b, k, c->target ? c->target : "/");
        s->headers = rr_xcalloc(c->n_req + 1, sizeof(*s->headers));
        for (size_t h = 0; h < c->n_req; h++) {
            if (skip_req_header(c->req[h].name))
                continue;
            struct rr_buf v;
            rr_buf_init(&v);
            if (!strcasecmp(c->req[h].name, "cookie")) {
                build_cookie(&b, k, c->req[h].value, &v);
            } else {
                if (!skip_discover(c->req[h].name) && !strchr(c->req[h].value, ' '))
                    discover(&b, k, c->req[h].name, NULL, c->req[h].value, strlen(c->req[h].value));
                subst_produced(&b, c->req[h].value, strlen(c->req[h].value), k, &v);
            }
            if (!v.len && !strcasecmp(c->req[h].name, "cookie")) {
                rr_buf_fini(&v);
                continue;
            }
            s->headers[s->n_headers].name = rr_xstrdup(c->req[h].name);
            s->headers[s->n_headers].value = rr_xstrdup(rr_buf_cstr(&v));
            s->n_headers++;
            rr_buf_fini(&v);
        }
        build_body(&b, k, c, s);
        s->think_us = f->count ? f->think_sum[k] / f->count : 0;
        think_quantiles(&f->tq[k], s);
        s->exchange_id = c->id;
        if (c->status) {
            struct rr_plan_check st = {RR_CHECK_STATUS,
                                       c->status / 100 * 100,
                                       c->status / 100 * 100 + 99,
                                       NULL,
                                       NULL,
                                       0,
                                       NULL};
            add_check(s, &st);
        }
        size_t plen, qlen;
        const char *path, *query;
        split_target(c->target, strlen(c->target), &path, &plen, &query, &qlen);
        for (size_t i = 0; i < r->n_checks; i++)
            if (tx_glob(r->checks[i].glob, path, plen))
                add_check(s, &r->checks[i].check);
        producers(&b, k, c);
    }

    /* on_start: up to a login-like POST near the start; on_stop: a logout-like tail; at
     * least one step stays in the loop */
    uint32_t n_start = 0, n_stop = 0;
    for (uint32_t k = 0; k < b.n && k < 6; k++)
        if (!strcasecmp(b.steps[k].method, "POST") && name_has(b.steps[k].name, login_words))
            n_start = k + 1;
    for (uint32_t k = b.n; k > n_start; k--) {
        if (name_has(b.steps[k - 1].name, logout_words))
            n_stop = b.n - (k - 1);
        else
            break;
    }
    if (n_start + n_stop >= b.n || f->role != ROLE_FLOW) {
        n_start = 0;
        n_stop = 0;
    }
    out->weight = weight;
    out->n_on_start = n_start;
    out->n_steps = b.n - n_start - n_stop;
    out->n_on_stop = n_stop;
    out->on_start = n_start ? rr_xcalloc(n_start, sizeof(*out->on_start)) : NULL;
    out->steps = rr_xcalloc(out->n_steps + 1, sizeof(*out->steps));
    out->on_stop = n_stop ? rr_xcalloc(n_stop, sizeof(*out->on_stop)) : NULL;
    if (n_start)
        memcpy(out->on_start, b.steps, n_start * sizeof(*b.steps));
    memcpy(out->steps, b.steps + n_start, out->n_steps * sizeof(*b.steps));
    if (n_stop)
        memcpy(out->on_stop, b.steps + n_start + out->n_steps, n_stop * sizeof(*b.steps));
    /* the flow's name: its loop steps */
    struct rr_buf nm;
    rr_buf_init(&nm);
    rr_buf_printf(&nm, "F%u", number);
    for (size_t k = 0; k < out->n_steps && nm.len < 70; k++)
        rr_buf_printf(&nm, "%s%s", k ? " > " : ": ", out->steps[k].name);
    (void)rr_buf_cstr(&nm);
    out->name = (char *)rr_buf_take(&nm, &(size_t){0});
    /* pools a per-user setup step draws from are drawn once per user */
    for (uint32_t k = 0; k < n_start; k++) {
        const struct rr_plan_step *s = &out->on_start[k];
        for (size_t p = 0; p < plan->n_pools; p++) {
            char needle[300];
            snprintf(needle, sizeof(needle), "${%s}", plan->pools[p].name);
            bool used = strstr(s->target, needle) != NULL;
            for (size_t h = 0; h < s->n_headers && !used; h++)
                used = strstr(s->headers[h].value, needle) != NULL;
            used = used || (s->body && memmem(s->body, s->body_len, needle, strlen(needle)));
            if (used)
                plan->pools[p].scope = RR_POOL_PER_USER;
        }
    }
    for (size_t i = 0; i < b.n_prod; i++) {
        free(b.prod[i].value);
        free(b.prod[i].var);
        free(b.prod[i].expr);
        free(b.prod[i].used_var);
    }
    free(b.prod);
    free(b.steps);
    strset_fini(&b.flow_vars);
    strset_fini(&b.sess_vals);
    strset_fini(&b.sess_valvars);
}

static uint32_t gcd32(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

static void tx_fini(struct tx *t)
{
    while (t->tail != NIL)
        sess_free(t, t->tail);
    free(t->os);
    map_fini(&t->conn_sess);
    map_fini(&t->ident);
    map_fini(&t->anon_head);
    map_fini(&t->client_sess);
    map_fini(&t->step_idx);
    map_fini(&t->flow_idx);
    map_fini(&t->seen_fields);
    for (size_t i = 0; i < t->n_steps; i++) {
        free(t->steps[i].method);
        free(t->steps[i].name);
    }
    free(t->steps);
    strset_fini(&t->statics);
    free(t->static_counts);
    strset_fini(&t->hosts);
    free(t->host_counts);
    strset_fini(&t->capped);
    rr_buf_fini(&t->tmp);
    rr_buf_fini(&t->body);
    for (size_t i = 0; i < t->n_flows; i++) {
        struct flow *f = &t->flows[i];
        for (uint32_t k = 0; k < f->n; k++) {
            for (size_t j = 0; j < f->fields[k].n; j++) {
                struct field *fd = &f->fields[k].f[j];
                free(fd->key);
                for (size_t v = 0; v < fd->n; v++)
                    free(fd->vals[v].v);
                free(fd->vals);
                map_fini(&fd->idx);
            }
            free(f->fields[k].f);
            cap_fini(&f->caps[k]);
            free(f->tq[k].res);
        }
        free(f->seq);
        free(f->fields);
        free(f->caps);
        free(f->think_sum);
        free(f->tq);
    }
    free(t->flows);
}

void rr_transform_stats_init(struct rr_transform_stats *st)
{
    memset(st, 0, sizeof(*st));
    rr_buf_init(&st->statics);
}

void rr_transform_stats_fini(struct rr_transform_stats *st)
{
    rr_buf_fini(&st->statics);
}

static struct tx *flow_sort_ctx;

static int cmp_flow_first(const void *a, const void *b)
{
    const struct flow *x = &flow_sort_ctx->flows[*(const uint32_t *)a],
                      *y = &flow_sort_ctx->flows[*(const uint32_t *)b];
    return x->rep_id < y->rep_id ? -1 : x->rep_id > y->rep_id;
}

/* Whether every step of the flow's representative matches one of the rules. */
static bool all_steps_match(const struct flow *f, const struct tx_name_rule *rules, size_t n)
{
    if (!n)
        return false;
    for (uint32_t k = 0; k < f->n; k++) {
        const struct cap *c = &f->caps[k];
        const char *path, *query;
        size_t plen, qlen;
        split_target(c->target, c->target ? strlen(c->target) : 0, &path, &plen, &query, &qlen);
        bool m = false;
        for (size_t i = 0; i < n && !m; i++)
            m = (!rules[i].method || (c->method && !strcasecmp(rules[i].method, c->method))) &&
                tx_glob(rules[i].glob, path, plen);
        if (!m)
            return false;
    }
    return true;
}

/* Test-level steps: a session kind forced by a rule, or seen once and wholly before (after)
 * every other session, runs once per test instead of being a flow. */
static void assign_roles(struct tx *t)
{
    const struct rr_transform_rules *r = t->rules;
    size_t regular = 0;
    for (size_t i = 0; i < t->n_flows; i++) {
        struct flow *f = &t->flows[i];
        if (all_steps_match(f, r->before, r->n_before))
            f->role = ROLE_BEFORE;
        else if (all_steps_match(f, r->after, r->n_after))
            f->role = ROLE_AFTER;
        else if (!r->no_before && f->count == 1 && t->min1.id == f->rep_id && t->min2.id &&
                 f->rep_last < t->min2.t)
            f->role = ROLE_BEFORE;
        else if (!r->no_after && f->count == 1 && t->max1.id == f->rep_id && t->max2.id &&
                 f->rep_first > t->max2.t)
            f->role = ROLE_AFTER;
        regular += f->role == ROLE_FLOW;
    }
    /* a plan needs a flow: with none left, nothing is test-level */
    if (!regular)
        for (size_t i = 0; i < t->n_flows; i++)
            t->flows[i].role = ROLE_FLOW;
}

static void append_steps(struct rr_plan_step **list, size_t *n, struct rr_plan_flow *fl)
{
    *list = rr_xrealloc(*list, (*n + fl->n_steps + 1) * sizeof(**list));
    memcpy(*list + *n, fl->steps, fl->n_steps * sizeof(**list));
    *n += fl->n_steps;
    free(fl->steps);
    free(fl->name);
    free(fl->on_start);
    free(fl->on_stop);
}

int rr_transform_run(struct rr_store *s, const struct rr_transform_opts *o, struct rr_plan **out,
                     struct rr_transform_stats *st, char *why, size_t whylen)
{
    struct tx t;
    struct rr_plan *plan = NULL;
    struct strset all_extract = {0};
    uint32_t *order = NULL;
    int rc;

    memset(&t, 0, sizeof(t));
    *out = NULL;
    t.s = s;
    t.st = st;
    t.why = why;
    t.whylen = whylen;
    t.defaults.wait.scale = 1.0;
    t.rules = o && o->rules ? o->rules : &t.defaults;
    t.no_corr = (o && o->no_correlation) || t.rules->no_correlation;
    t.free_os = t.head = t.tail = NIL;
    if (t.rules->session == TXS_CLIENT)
        t.horizon = t.rules->gap_us ? t.rules->gap_us : 30000000;
    else
        t.horizon = t.rules->idle_us ? t.rules->idle_us : IDLE_US;
    if (t.horizon < ANON_GAP_US)
        t.horizon = ANON_GAP_US;
    rr_buf_init(&t.tmp);
    rr_buf_init(&t.body);
    rr_buf_reset(&st->statics);

    rc = rr_store_exchange_foreach(s, 0, walk_cb, &t);
    if (rc == 0 && t.last_id)
        rc = rr_store_exchange_foreach(s, t.last_id, last_cb, &t);
    if (rc == 0)
        rc = close_all(&t); /* only when the last exchange vanished under the walk */
    if (rc) {
        snprintf(why, whylen, "reading exchanges: %s",
                 rr_store_errmsg(s) ? rr_store_errmsg(s) : rr_strerror(rc));
        goto out;
    }
    st->peak_open = t.peak_open_x;
    for (size_t i = 0; i < t.statics.n; i++)
        rr_buf_printf(&st->statics, "%llu %s\n", (unsigned long long)t.static_counts[i],
                      t.statics.v[i]);
    if (!st->kept) {
        snprintf(why, whylen, "no exchange left to replay (%llu read, %llu static, %llu filtered)",
                 (unsigned long long)st->exchanges, (unsigned long long)st->dropped_static,
                 (unsigned long long)st->dropped_rule);
        rc = RR_ENOTFOUND;
        goto out;
    }
    /* pool values in the order they were first sent, whatever order the sessions closed in */
    for (size_t i = 0; i < t.n_flows; i++)
        for (uint32_t k = 0; k < t.flows[i].n; k++)
            for (size_t j = 0; j < t.flows[i].fields[k].n; j++) {
                struct field *fd = &t.flows[i].fields[k].f[j];
                qsort(fd->vals, fd->n, sizeof(*fd->vals), cmp_fval);
                map_fini(&fd->idx);
            }
    /* flows in the order of their first session */
    order = rr_xmalloc((t.n_flows + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < t.n_flows; i++)
        order[i] = (uint32_t)i;
    flow_sort_ctx = &t;
    qsort(order, t.n_flows, sizeof(uint32_t), cmp_flow_first);
    assign_roles(&t);

    plan = rr_xcalloc(1, sizeof(*plan));
    size_t best = 0;
    for (size_t i = 1; i < t.hosts.n; i++)
        if (t.host_counts[i] > t.host_counts[best])
            best = i;
    plan->host = t.hosts.n ? rr_xstrdup(t.hosts.v[best]) : NULL;
    plan->wait.kind = RR_WAIT_RECORDED;
    plan->wait.scale = 1.0;
    if (t.rules->has_wait)
        plan->wait = t.rules->wait;
    uint32_t g = 0;
    for (size_t i = 0; i < t.n_flows; i++)
        if (t.flows[i].role == ROLE_FLOW)
            g = gcd32(t.flows[i].count, g);
    plan->flows = rr_xcalloc(t.n_flows + 1, sizeof(*plan->flows));
    for (size_t i = 0; i < t.n_flows; i++) {
        const struct flow *f = &t.flows[order[i]];
        if (f->role == ROLE_FLOW) {
            build_flow(&t, plan, order[i], &plan->flows[plan->n_flows], &all_extract,
                       f->count / (g ? g : 1), (unsigned)plan->n_flows + 1);
            plan->n_flows++;
            continue;
        }
        struct rr_plan_flow tmp;
        memset(&tmp, 0, sizeof(tmp));
        build_flow(&t, plan, order[i], &tmp, &all_extract, 1, 0);
        if (f->role == ROLE_BEFORE)
            append_steps(&plan->before, &plan->n_before, &tmp);
        else
            append_steps(&plan->after, &plan->n_after, &tmp);
    }
    st->flows = plan->n_flows;
    st->before = plan->n_before;
    st->after = plan->n_after;
    /* rule pools: a CSV file, a mode, a scope */
    for (size_t i = 0; i < t.rules->n_pools; i++) {
        const struct tx_pool_rule *pr = &t.rules->pools[i];
        int pi = pool_index(plan, pr->name);
        if (pi < 0) {
            if (!pr->csv)
                continue; /* nothing to override, nothing to read */
            plan->pools = rr_xrealloc(plan->pools, (plan->n_pools + 1) * sizeof(*plan->pools));
            pi = (int)plan->n_pools++;
            memset(&plan->pools[pi], 0, sizeof(plan->pools[pi]));
            plan->pools[pi].name = rr_xstrdup(pr->name);
            st->pools++;
        }
        struct rr_plan_pool *pl = &plan->pools[pi];
        if (pr->csv) {
            for (size_t v = 0; v < pl->n_values; v++)
                free(pl->values[v]);
            free(pl->values);
            pl->values = NULL;
            pl->n_values = 0;
            free(pl->csv_path);
            pl->csv_path = rr_xstrdup(pr->csv);
            pl->csv_column = pr->column;
        }
        if (pr->mode >= 0)
            pl->mode = (enum rr_pool_mode)pr->mode;
        if (pr->scope >= 0)
            pl->scope = (enum rr_pool_scope)pr->scope;
    }
    rc = rr_plan_validate(plan, why, whylen);
    if (rc)
        goto out;
    *out = plan;
    plan = NULL;
out:
    rr_plan_free(&plan);
    strset_fini(&all_extract);
    free(order);
    tx_fini(&t);
    return rc;
}

void rr_transform_summary(const struct rr_plan *p, const struct rr_transform_stats *st,
                          struct rr_buf *out)
{
    rr_buf_printf(out,
                  "exchanges: %llu read, %llu kept, %llu static assets dropped, %llu filtered\n",
                  (unsigned long long)st->exchanges, (unsigned long long)st->kept,
                  (unsigned long long)st->dropped_static, (unsigned long long)st->dropped_rule);
    rr_buf_printf(out, "sessions: %llu\n", (unsigned long long)st->sessions);
    rr_buf_printf(out, "host: %s\n", p->host ? p->host : "(none)");
    rr_buf_printf(out, "flows: %zu\n", p->n_flows);
    for (size_t i = 0; i < p->n_flows; i++) {
        const struct rr_plan_flow *f = &p->flows[i];
        rr_buf_printf(out, "  weight %-4u %s  (%zu on_start, %zu steps, %zu on_stop)\n", f->weight,
                      f->name, f->n_on_start, f->n_steps, f->n_on_stop);
        const struct rr_plan_step *lists[3] = {f->on_start, f->steps, f->on_stop};
        size_t ns[3] = {f->n_on_start, f->n_steps, f->n_on_stop};
        for (int l = 0; l < 3; l++)
            for (size_t k = 0; k < ns[l]; k++)
                for (size_t e = 0; e < lists[l][k].n_extracts; e++) {
                    static const char *const kn[] = {"json", "header", "cookie", "regex"};
                    const struct rr_plan_extract *x = &lists[l][k].extracts[e];
                    rr_buf_printf(out, "    extract ${%s} = %s %s from %s %s\n", x->var,
                                  kn[x->kind], x->expr, lists[l][k].method, lists[l][k].name);
                }
    }
    const struct rr_plan_step *tl[2] = {p->before, p->after};
    size_t ntl[2] = {p->n_before, p->n_after};
    for (int l = 0; l < 2; l++) {
        if (!ntl[l])
            continue;
        rr_buf_printf(out, "%s (once per test):", l ? "after" : "before");
        for (size_t k = 0; k < ntl[l]; k++)
            rr_buf_printf(out, "%s%s %s", k ? ", " : " ", tl[l][k].method, tl[l][k].name);
        rr_buf_addc(out, '\n');
    }
    rr_buf_printf(out, "extractors: %llu\n", (unsigned long long)st->extractors);
    rr_buf_printf(out, "pools: %zu\n", p->n_pools);
    for (size_t i = 0; i < p->n_pools; i++) {
        static const char *const mn[] = {"random", "round-robin", "unique"};
        const struct rr_plan_pool *pl = &p->pools[i];
        if (pl->csv_path)
            rr_buf_printf(out, "  ${%s}: %s, csv %s column %u\n", pl->name, mn[pl->mode],
                          pl->csv_path, pl->csv_column);
        else
            rr_buf_printf(out, "  ${%s}: %s, %zu values\n", pl->name, mn[pl->mode], pl->n_values);
    }
    if (st->capped_pools)
        rr_buf_printf(out,
                      "  %llu pool(s) from fields with more than %d distinct values per step: "
                      "only the first %d were kept\n",
                      (unsigned long long)st->capped_pools, MAX_FIELD_VALUES, MAX_FIELD_VALUES);
    if (st->statics.len) {
        rr_buf_printf(out, "static assets dropped (keep them with the rule \"keep statics\"):\n");
        const char *s = (const char *)st->statics.p, *end = s + st->statics.len;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            rr_buf_adds(out, "  ");
            rr_buf_add(out, s, (size_t)(nl - s) + 1);
            s = nl + 1;
        }
    }
}
