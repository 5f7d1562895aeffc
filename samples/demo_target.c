/* demo_target.c -- a small stateful HTTP API that rrload records and replays against.
 *
 * It behaves like a real service on purpose: logins hand out fresh random tokens that later
 * requests must carry (so a replay needs correlation), lookups answer per customer number (so a
 * replay needs data pools), and it speaks HTTP/1.x with keep-alive and pipelining as well as
 * HTTP/2 cleartext with prior knowledge. Every request it receives can be logged as one JSON
 * line so tests can compare what a replay sent with what was recorded.
 *
 * One epoll loop per thread, each with its own SO_REUSEPORT listeners; the token table and the
 * log are the only shared state. docs/demo_target.md describes routes, flags and the log. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <llhttp.h>
#include <nghttp2/nghttp2.h>
#include <zlib.h>

#define MAX_HEAD_BYTES  (64 * 1024)
#define MAX_BODY_BYTES  (1024 * 1024)
#define MAX_DELAY_MS    60000
#define MAX_TOKENS      200000 /* oldest sessions are forgotten beyond this */
#define MAX_CART        1000
#define MAX_PENDING_OUT (8 * 1024 * 1024)
#define N_ITEMS         50
#define PAGE_SIZE       10
#define CUSTOMER_MIN    100000
#define CUSTOMER_MAX    100999

/* ------------------------------------------------------------------ small helpers */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "demo_target: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "demo_target: out of memory\n");
        abort();
    }
    return p;
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_add(struct sbuf *b, const void *p, size_t n)
{
    sb_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void sb_adds(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_addf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_free(struct sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Parse a decimal number that fills the whole of [s, s+n); false on anything else. */
static bool parse_num(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ request / response model */

struct hdr {
    uint32_t no, nl, vo, vl; /* offsets into struct req.hbuf, which may move */
};

struct req {
    struct sbuf hbuf; /* header names and values */
    struct hdr *h;
    size_t nh, caph;
    struct sbuf method, target, body;
    int vmajor, vminor; /* 2.0 for h2 */
    bool head;
    uint64_t conn_id;
    int32_t stream_id;
};

struct rhdr {
    const char *name;
    char *value; /* owned */
};

struct resp {
    int status;
    const char *ctype;
    struct sbuf body;
    const void *sbody; /* static body, used instead of .body when set */
    size_t sbody_len;
    struct rhdr x[4];
    int nx;
    bool chunked;
    uint32_t delay_ms;
};

static void req_reset(struct req *r)
{
    r->hbuf.len = 0;
    r->nh = 0;
    r->method.len = r->target.len = r->body.len = 0;
    r->head = false;
}

static void req_free(struct req *r)
{
    sb_free(&r->hbuf);
    sb_free(&r->method);
    sb_free(&r->target);
    sb_free(&r->body);
    free(r->h);
    r->h = NULL;
    r->nh = r->caph = 0;
}

static struct hdr *req_new_hdr(struct req *r)
{
    if (r->nh == r->caph) {
        r->caph = r->caph ? r->caph * 2 : 16;
        r->h = xrealloc(r->h, r->caph * sizeof(*r->h));
    }
    struct hdr *h = &r->h[r->nh++];
    h->no = h->vo = (uint32_t)r->hbuf.len;
    h->nl = h->vl = 0;
    return h;
}

static const char *req_hdr(const struct req *r, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nh; i++) {
        const struct hdr *h = &r->h[i];
        if (h->nl == n && strncasecmp(r->hbuf.p + h->no, name, n) == 0) {
            *len = h->vl;
            return r->hbuf.p + h->vo;
        }
    }
    return NULL;
}

static void resp_free(struct resp *rs)
{
    sb_free(&rs->body);
    for (int i = 0; i < rs->nx; i++)
        free(rs->x[i].value);
    rs->nx = 0;
}

static void resp_hdr(struct resp *rs, const char *name, const char *value)
{
    if (rs->nx < (int)(sizeof(rs->x) / sizeof(rs->x[0]))) {
        rs->x[rs->nx].name = name;
        rs->x[rs->nx].value = strdup(value);
        if (!rs->x[rs->nx].value)
            abort();
        rs->nx++;
    }
}

static const char *resp_body(const struct resp *rs, size_t *len)
{
    if (rs->sbody) {
        *len = rs->sbody_len;
        return rs->sbody;
    }
    *len = rs->body.len;
    return rs->body.p;
}

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

static bool status_has_body(int status)
{
    return !(status == 204 || status == 304 || (status >= 100 && status < 200));
}

/* ------------------------------------------------------------------ static content */

static const char INDEX_HTML[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>rrload demo shop</title>\n"
    "<link rel=\"stylesheet\" href=\"/static/style.css\"><link rel=\"icon\" "
    "href=\"/favicon.ico\">\n</head><body><h1>rrload demo shop</h1>\n"
    "<p>POST /login, then browse /api/items with the token.</p>\n"
    "<script src=\"/static/app.js\"></script></body></html>\n";

static const char APP_JS[] =
    "// demo shop client\n"
    "async function login(user, password) {\n"
    "  const r = await fetch('/login', {method: 'POST', headers: {'Content-Type': "
    "'application/json'},\n"
    "    body: JSON.stringify({user, password})});\n"
    "  return (await r.json()).token;\n}\n"
    "async function items(token, page) {\n"
    "  const r = await fetch('/api/items?page=' + page, {headers: {Authorization: 'Bearer ' + "
    "token}});\n"
    "  return r.json();\n}\n";

static const char STYLE_CSS[] = "body { font-family: sans-serif; margin: 2em; }\n"
                                "h1 { color: #2a5db0; }\n"
                                "p { max-width: 40em; }\n";

/* A valid 1x1 32-bit ICO: directory, BITMAPINFOHEADER (height doubled for the AND mask),
 * one BGRA pixel and a padded AND-mask row. */
static const unsigned char FAVICON[] = {
    0,  0, 1, 0, 1, 0, /* ICONDIR: reserved, type 1, count 1 */
    1,  1, 0, 0, 1, 0, 32, 0,    48,   0,    0,    0, 22, 0, 0,  0, /* entry: 1x1, 32bpp, 48 bytes
                                                                       at 22 */
    40, 0, 0, 0, 1, 0, 0,  0,    2,    0,    0,    0, 1,  0, 32, 0, /* BITMAPINFOHEADER */
    0,  0, 0, 0, 8, 0, 0,  0,    0,    0,    0,    0, 0,  0, 0,  0, 0,
    0,  0, 0, 0, 0, 0, 0,  0xb0, 0x5d, 0x2a, 0xff, /* pixel */
    0,  0, 0, 0,                                   /* AND mask row */
};

static const char *ITEM_NAMES[] = {"apple", "banana", "cherry",   "date", "elderberry",
                                   "fig",   "grape",  "honeydew", "kiwi", "lemon"};

static unsigned char *g_gzip_body;
static size_t g_gzip_len;

static int make_gzip(void)
{
    static const char json[] = "{\"gzipped\":true,\"method\":\"GET\",\"message\":\"this body was "
                               "compressed with gzip by the demo target\"}";
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&zs, sizeof(json) - 1) + 32;
    g_gzip_body = xmalloc(cap);
    zs.next_in = (Bytef *)json;
    zs.avail_in = sizeof(json) - 1;
    zs.next_out = g_gzip_body;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    g_gzip_len = zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* ------------------------------------------------------------------ sessions (shared) */

struct sess {
    char token[33];
    char cookie[33];
    int cart[MAX_CART];
    int ncart;
    char csrf[33];              /* the token of the last form page handed out; "" once used */
    struct sess *hnext;         /* hash chain */
    struct sess *older, *newer; /* age list, for forgetting the oldest */
};

#define SESS_BUCKETS 65536
static struct sess *g_sess[SESS_BUCKETS];
static struct sess *g_oldest, *g_newest;
static size_t g_nsess;
static pthread_mutex_t g_sess_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash_tok(const char *t, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)t[i]) * 16777619u;
    return h % SESS_BUCKETS;
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(raw + got, nbytes - got, 0);
        if (r < 0 && errno != EINTR)
            abort();
        if (r > 0)
            got += (size_t)r;
    }
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", raw[i]);
}

static struct sess **sess_slot(const char *tok, size_t n)
{
    struct sess **pp = &g_sess[hash_tok(tok, n)];
    while (*pp && !(strlen((*pp)->token) == n && memcmp((*pp)->token, tok, n) == 0))
        pp = &(*pp)->hnext;
    return pp;
}

static void sess_unlink(struct sess **pp)
{
    struct sess *s = *pp;
    *pp = s->hnext;
    if (s->older)
        s->older->newer = s->newer;
    else
        g_oldest = s->newer;
    if (s->newer)
        s->newer->older = s->older;
    else
        g_newest = s->older;
    g_nsess--;
    free(s);
}

/* Caller holds g_sess_mu. */
static void sess_create(char *tok_out, char *cookie_out)
{
    struct sess *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    random_hex(s->token, 16);
    random_hex(s->cookie, 16);
    if (g_nsess >= MAX_TOKENS)
        sess_unlink(sess_slot(g_oldest->token, strlen(g_oldest->token)));
    struct sess **pp = &g_sess[hash_tok(s->token, strlen(s->token))];
    s->hnext = *pp;
    *pp = s;
    s->older = g_newest;
    if (g_newest)
        g_newest->newer = s;
    else
        g_oldest = s;
    g_newest = s;
    g_nsess++;
    memcpy(tok_out, s->token, 33);
    memcpy(cookie_out, s->cookie, 33);
}

/* ------------------------------------------------------------------ routes */

static void json_body(struct resp *rs, int status, json_t *j)
{
    rs->status = status;
    rs->ctype = "application/json";
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s) {
        sb_adds(&rs->body, s);
        free(s);
    }
}

static void json_error(struct resp *rs, int status, const char *msg)
{
    json_body(rs, status, json_pack("{s:s,s:i}", "error", msg, "status", status));
    if (status == 401)
        resp_hdr(rs, "WWW-Authenticate", "Bearer realm=\"demo\"");
}

static void static_body(struct resp *rs, const char *ctype, const void *p, size_t n)
{
    rs->status = 200;
    rs->ctype = ctype;
    rs->sbody = p;
    rs->sbody_len = n;
}

static json_t *item_json(int id)
{
    return json_pack("{s:i,s:o,s:i,s:i}", "id", id, "name",
                     json_sprintf("%s-%c", ITEM_NAMES[(id - 1) % 10], 'a' + (id - 1) / 10),
                     "price_cents", 100 + (id * 37) % 900, "stock", (id * 7) % 20);
}

static json_t *parse_json_body(const struct req *r)
{
    if (r->body.len == 0)
        return NULL;
    return json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, NULL);
}

/* Returns the session for the request's bearer token with g_sess_mu held, or NULL (not held). */
static struct sess *auth(const struct req *r)
{
    size_t n;
    const char *v = req_hdr(r, "authorization", &n);
    if (!v || n < 8 || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    n -= 7;
    while (n && *v == ' ') {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 32)
        return NULL;
    pthread_mutex_lock(&g_sess_mu);
    struct sess *s = *sess_slot(v, n);
    if (!s)
        pthread_mutex_unlock(&g_sess_mu);
    return s;
}

static bool method_is(const struct req *r, const char *m)
{
    return strlen(m) == r->method.len && memcmp(r->method.p, m, r->method.len) == 0;
}

static void method_not_allowed(struct resp *rs, const char *allow)
{
    json_error(rs, 405, "method not allowed");
    resp_hdr(rs, "Allow", allow);
}

static void route_login(const struct req *r, struct resp *rs)
{
    json_t *j = parse_json_body(r);
    json_t *u = j ? json_object_get(j, "user") : NULL;
    json_t *p = j ? json_object_get(j, "password") : NULL;
    if (!json_is_string(u) || !json_is_string(p) || json_string_length(u) == 0) {
        json_decref(j);
        json_error(rs, 400, "expected JSON {\"user\": string, \"password\": string}");
        return;
    }
    if (json_string_length(p) == 0 || strcmp(json_string_value(p), "wrong") == 0) {
        json_decref(j);
        json_error(rs, 401, "bad credentials");
        return;
    }
    char tok[33], cookie[33], hv[96];
    pthread_mutex_lock(&g_sess_mu);
    sess_create(tok, cookie);
    pthread_mutex_unlock(&g_sess_mu);
    json_body(
        rs, 200,
        json_pack("{s:s,s:s,s:i}", "token", tok, "user", json_string_value(u), "expires_in", 3600));
    json_decref(j);
    snprintf(hv, sizeof(hv), "session=%s; Path=/; HttpOnly", cookie);
    resp_hdr(rs, "Set-Cookie", hv);
    resp_hdr(rs, "Cache-Control", "no-store");
}

static void route_items(const struct req *r, const char *path, size_t plen, const char *query,
                        size_t qlen, struct resp *rs)
{
    struct sess *s = auth(r);
    if (!s) {
        json_error(rs, 401, "missing or unknown bearer token");
        return;
    }
    pthread_mutex_unlock(&g_sess_mu);
    if (!method_is(r, "GET") && !method_is(r, "HEAD")) {
        method_not_allowed(rs, "GET, HEAD");
        return;
    }
    if (plen == strlen("/api/items")) {
        uint64_t page = 1;
        /* page=N anywhere in the query; other parameters are ignored */
        for (size_t i = 0; i < qlen;) {
            size_t e = i;
            while (e < qlen && query[e] != '&')
                e++;
            if (e - i > 5 && memcmp(query + i, "page=", 5) == 0 &&
                !parse_num(query + i + 5, e - i - 5, 1000000, &page)) {
                json_error(rs, 400, "page must be a positive integer");
                return;
            }
            i = e + 1;
        }
        if (page == 0) {
            json_error(rs, 400, "page must be a positive integer");
            return;
        }
        int pages = (N_ITEMS + PAGE_SIZE - 1) / PAGE_SIZE;
        json_t *arr = json_array();
        for (int id = (int)(page - 1) * PAGE_SIZE + 1;
             page <= (uint64_t)pages && id <= (int)page * PAGE_SIZE && id <= N_ITEMS; id++)
            json_array_append_new(arr, item_json(id));
        json_t *next = page < (uint64_t)pages ? json_integer((json_int_t)page + 1) : json_null();
        json_body(rs, 200,
                  json_pack("{s:I,s:i,s:i,s:o,s:o}", "page", (json_int_t)page, "pages", pages,
                            "total", N_ITEMS, "items", arr, "next", next));
        return;
    }
    uint64_t id;
    if (!parse_num(path + 11, plen - 11, 1000000, &id) || id < 1 || id > N_ITEMS) {
        json_error(rs, 404, "no such item");
        return;
    }
    json_t *it = item_json((int)id);
    json_object_set_new(
        it, "description",
        json_sprintf("Fresh %s, item %d of the demo shop.", ITEM_NAMES[(id - 1) % 10], (int)id));
    json_body(rs, 200, it);
}

static void route_cart(const struct req *r, struct resp *rs)
{
    bool post = method_is(r, "POST");
    if (!post && !method_is(r, "GET") && !method_is(r, "HEAD")) {
        method_not_allowed(rs, "GET, HEAD, POST");
        return;
    }
    json_t *j = NULL;
    json_int_t item = 0;
    if (post) {
        j = parse_json_body(r);
        json_t *it = j ? json_object_get(j, "item") : NULL;
        if (json_is_string(it)) {
            uint64_t v;
            const char *sv = json_string_value(it);
            if (parse_num(sv, strlen(sv), 1000000, &v))
                item = (json_int_t)v;
        } else if (json_is_integer(it)) {
            item = json_integer_value(it);
        }
        json_decref(j);
    }
    struct sess *s = auth(r);
    if (!s) {
        json_error(rs, 401, "missing or unknown bearer token");
        return;
    }
    if (post && (item < 1 || item > N_ITEMS)) {
        pthread_mutex_unlock(&g_sess_mu);
        json_error(rs, item == 0 ? 400 : 404,
                   item == 0 ? "expected JSON {\"item\": id}" : "no such item");
        return;
    }
    if (post && s->ncart >= MAX_CART) {
        pthread_mutex_unlock(&g_sess_mu);
        json_error(rs, 409, "cart is full");
        return;
    }
    if (post)
        s->cart[s->ncart++] = (int)item;
    json_t *arr = json_array();
    long total = 0;
    for (int i = 0; i < s->ncart; i++) {
        json_array_append_new(arr, json_integer(s->cart[i]));
        total += 100 + (s->cart[i] * 37) % 900;
    }
    int n = s->ncart;
    pthread_mutex_unlock(&g_sess_mu);
    json_body(rs, post ? 201 : 200,
              json_pack("{s:o,s:i,s:i}", "items", arr, "count", n, "total_cents", (int)total));
}

static void route_logout(const struct req *r, struct resp *rs)
{
    if (!method_is(r, "POST")) {
        method_not_allowed(rs, "POST");
        return;
    }
    struct sess *s = auth(r);
    if (!s) {
        json_error(rs, 401, "missing or unknown bearer token");
        return;
    }
    sess_unlink(sess_slot(s->token, strlen(s->token)));
    pthread_mutex_unlock(&g_sess_mu);
    json_body(rs, 200, json_pack("{s:b}", "ok", 1));
    resp_hdr(rs, "Set-Cookie", "session=; Path=/; Max-Age=0; HttpOnly");
}

/* Test-level setup and teardown, as a load test's fixture calls them once: seed reports what
 * the shop holds; reset ends every session (every token stops working). */
static void route_admin(const struct req *r, bool reset, struct resp *rs)
{
    if (!method_is(r, "POST")) {
        method_not_allowed(rs, "POST");
        return;
    }
    pthread_mutex_lock(&g_sess_mu);
    size_t n = g_nsess;
    for (size_t i = 0; reset && i < SESS_BUCKETS; i++)
        while (g_sess[i])
            sess_unlink(&g_sess[i]);
    pthread_mutex_unlock(&g_sess_mu);
    json_body(rs, 200,
              json_pack("{s:b,s:s,s:I,s:i}", "ok", 1, "action", reset ? "reset" : "seed",
                        "sessions", (json_int_t)n, "items", N_ITEMS));
}

static void route_lookup(const struct req *r, struct resp *rs)
{
    if (!method_is(r, "POST")) {
        method_not_allowed(rs, "POST");
        return;
    }
    json_t *j = parse_json_body(r);
    json_t *c = j ? json_object_get(j, "customer") : NULL;
    char num[32];
    if (json_is_string(c) && json_string_length(c) > 0 && json_string_length(c) < sizeof(num)) {
        snprintf(num, sizeof(num), "%s", json_string_value(c));
    } else if (json_is_integer(c) && json_integer_value(c) >= 0) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(c));
    } else {
        json_decref(j);
        json_body(rs, 400,
                  json_pack("{s:s,s:s}", "retCode", "100400", "message",
                            "expected JSON {\"customer\": \"NNNNNN\"}"));
        return;
    }
    json_decref(j);
    uint64_t v;
    if (parse_num(num, strlen(num), UINT64_MAX / 10, &v) && v >= CUSTOMER_MIN &&
        v <= CUSTOMER_MAX) {
        json_body(rs, 200,
                  json_pack("{s:s,s:s,s:s++,s:i,s:s}", "retCode", "000000", "customer", num, "name",
                            "Customer ", num, "", "balance_cents", (int)((v * 7919) % 100000),
                            "tier", (v % 3 == 0) ? "gold" : "basic"));
    } else {
        json_body(rs, 200,
                  json_pack("{s:s,s:s,s:s}", "retCode", "100404", "customer", num, "message",
                            "unknown customer"));
    }
}

/* An HTML form with a hidden one-time CSRF token, as server-rendered sites have: GET hands
 * out a fresh token tied to the session, POST must send it back (form field csrf_token or
 * header X-CSRF-Token), once. */
static void route_form(const struct req *r, struct resp *rs)
{
    bool post = method_is(r, "POST");
    if (!post && !method_is(r, "GET") && !method_is(r, "HEAD")) {
        method_not_allowed(rs, "GET, HEAD, POST");
        return;
    }
    struct sess *s = auth(r);
    if (!s) {
        json_error(rs, 401, "missing or unknown bearer token");
        return;
    }
    rs->ctype = "text/html; charset=utf-8";
    if (!post) {
        random_hex(s->csrf, 16);
        sb_addf(&rs->body,
                "<!doctype html>\n<html><head><title>Account</title>\n"
                "<meta name=\"csrf-token\" content=\"%s\"></head>\n<body>\n"
                "<form method=\"post\" action=\"/account/form\">\n"
                "  <input type=\"hidden\" name=\"csrf_token\" value=\"%s\">\n"
                "  <input type=\"text\" name=\"nickname\" value=\"\">\n"
                "  <button type=\"submit\">Save</button>\n</form>\n</body></html>\n",
                s->csrf, s->csrf);
        pthread_mutex_unlock(&g_sess_mu);
        resp_hdr(rs, "Cache-Control", "no-store");
        return;
    }
    /* csrf_token=VALUE anywhere in the form */
    const char *b = r->body.p ? r->body.p : "";
    size_t n = r->body.len, vl = 0;
    const char *v = NULL;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && b[e] != '&')
            e++;
        if (e - i > 11 && memcmp(b + i, "csrf_token=", 11) == 0) {
            v = b + i + 11;
            vl = e - i - 11;
        }
        i = e + 1;
    }
    /* or in an X-CSRF-Token header, as pages that post by script send it */
    if (!v)
        v = req_hdr(r, "x-csrf-token", &vl);
    bool good = v && s->csrf[0] && vl == strlen(s->csrf) && memcmp(v, s->csrf, vl) == 0;
    if (good)
        s->csrf[0] = 0;
    pthread_mutex_unlock(&g_sess_mu);
    rs->status = good ? 200 : 403;
    sb_adds(&rs->body, good ? "<!doctype html>\n<p>Saved.</p>\n" : "bad csrf token\n");
    if (!good)
        rs->ctype = "text/plain";
}

/* The routing table, shared by HTTP/1 and HTTP/2. */
static void route(const struct req *r, struct resp *rs)
{
    const char *t = r->target.p ? r->target.p : "";
    size_t tl = r->target.len;
    const char *q = memchr(t, '?', tl);
    size_t plen = q ? (size_t)(q - t) : tl;
    const char *query = q ? q + 1 : "";
    size_t qlen = q ? tl - plen - 1 : 0;
    bool get = method_is(r, "GET") || method_is(r, "HEAD");

#define PATH_IS(s)  (plen == sizeof(s) - 1 && memcmp(t, s, plen) == 0)
#define PATH_HAS(s) (plen >= sizeof(s) - 1 && memcmp(t, s, sizeof(s) - 1) == 0)
    rs->status = 200;
    if (PATH_IS("/")) {
        if (!get) {
            method_not_allowed(rs, "GET, HEAD");
            return;
        }
        static_body(rs, "text/html; charset=utf-8", INDEX_HTML, sizeof(INDEX_HTML) - 1);
    } else if (PATH_IS("/static/app.js")) {
        if (!get) {
            method_not_allowed(rs, "GET, HEAD");
            return;
        }
        static_body(rs, "application/javascript", APP_JS, sizeof(APP_JS) - 1);
        resp_hdr(rs, "Cache-Control", "max-age=3600");
    } else if (PATH_IS("/static/style.css")) {
        if (!get) {
            method_not_allowed(rs, "GET, HEAD");
            return;
        }
        static_body(rs, "text/css", STYLE_CSS, sizeof(STYLE_CSS) - 1);
        resp_hdr(rs, "Cache-Control", "max-age=3600");
    } else if (PATH_IS("/favicon.ico")) {
        if (!get) {
            method_not_allowed(rs, "GET, HEAD");
            return;
        }
        static_body(rs, "image/x-icon", FAVICON, sizeof(FAVICON));
    } else if (PATH_IS("/login")) {
        if (!method_is(r, "POST")) {
            method_not_allowed(rs, "POST");
            return;
        }
        route_login(r, rs);
    } else if (PATH_IS("/api/items") || PATH_HAS("/api/items/")) {
        route_items(r, t, plen, query, qlen, rs);
    } else if (PATH_IS("/api/cart")) {
        route_cart(r, rs);
    } else if (PATH_IS("/api/logout")) {
        route_logout(r, rs);
    } else if (PATH_IS("/api/admin/seed") || PATH_IS("/api/admin/reset")) {
        route_admin(r, PATH_IS("/api/admin/reset"), rs);
    } else if (PATH_IS("/api/lookup")) {
        route_lookup(r, rs);
    } else if (PATH_IS("/account/form")) {
        route_form(r, rs);
    } else if (PATH_HAS("/delay/")) {
        uint64_t ms;
        if (!parse_num(t + 7, plen - 7, MAX_DELAY_MS, &ms)) {
            json_error(rs, 400, "delay must be 0..60000 milliseconds");
            return;
        }
        json_body(rs, 200, json_pack("{s:I}", "delay_ms", (json_int_t)ms));
        rs->delay_ms = (uint32_t)ms;
    } else if (PATH_HAS("/status/")) {
        uint64_t code;
        if (!parse_num(t + 8, plen - 8, 599, &code) || code < 200) {
            json_error(rs, 400, "status must be 200..599");
            return;
        }
        if (status_has_body((int)code))
            json_body(rs, (int)code, json_pack("{s:i}", "status", (int)code));
        rs->status = (int)code;
        if (code >= 300 && code < 400 && code != 304)
            resp_hdr(rs, "Location", "/");
    } else if (PATH_IS("/gzip")) {
        if (!get) {
            method_not_allowed(rs, "GET, HEAD");
            return;
        }
        static_body(rs, "application/json", g_gzip_body, g_gzip_len);
        resp_hdr(rs, "Content-Encoding", "gzip");
        resp_hdr(rs, "Vary", "Accept-Encoding");
    } else if (PATH_IS("/chunked")) {
        if (!get) {
            method_not_allowed(rs, "GET, HEAD");
            return;
        }
        rs->ctype = "application/x-ndjson";
        for (int i = 0; i < 5; i++)
            sb_addf(&rs->body, "{\"chunk\":%d,\"of\":5}\n", i + 1);
        rs->chunked = true;
    } else {
        json_error(rs, 404, "no such route");
    }
#undef PATH_IS
#undef PATH_HAS
}

/* ------------------------------------------------------------------ request log (shared) */

static FILE *g_log;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool g_log_dirty;

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k >= n)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* A JSON string for arbitrary bytes: invalid UTF-8 bytes become U+FFFD. */
static json_t *lossy_string(const char *p, size_t n)
{
    if (utf8_valid((const unsigned char *)p, n))
        return json_stringn_nocheck(p, n);
    struct sbuf b = {0};
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        while (k <= 4 && i + k <= n && !utf8_valid((const unsigned char *)p + i, k))
            k++;
        if (k <= 4 && i + k <= n) {
            sb_add(&b, p + i, k);
            i += k;
        } else {
            sb_add(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    json_t *s = json_stringn_nocheck(b.p ? b.p : "", b.len);
    sb_free(&b);
    return s;
}

static json_t *base64(const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct sbuf b = {0};
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char o[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        sb_add(&b, o, 4);
    }
    json_t *s = json_stringn_nocheck(b.p ? b.p : "", b.len);
    sb_free(&b);
    return s;
}

static void log_request(const struct req *r)
{
    if (!g_log)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char ver[16];
    if (r->vmajor == 2)
        snprintf(ver, sizeof(ver), "HTTP/2");
    else
        snprintf(ver, sizeof(ver), "HTTP/%d.%d", r->vmajor, r->vminor);
    json_t *hs = json_array();
    for (size_t i = 0; i < r->nh; i++) {
        const struct hdr *h = &r->h[i];
        json_array_append_new(hs, json_pack("[o,o]", lossy_string(r->hbuf.p + h->no, h->nl),
                                            lossy_string(r->hbuf.p + h->vo, h->vl)));
    }
    json_t *o =
        json_pack("{s:f,s:I,s:o,s:o,s:s,s:o,s:o}", "time",
                  (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, "conn", (json_int_t)r->conn_id,
                  "method", lossy_string(r->method.p ? r->method.p : "", r->method.len), "target",
                  lossy_string(r->target.p ? r->target.p : "", r->target.len), "version", ver,
                  "headers", hs, "body", lossy_string(r->body.p ? r->body.p : "", r->body.len));
    if (r->vmajor == 2)
        json_object_set_new(o, "stream", json_integer(r->stream_id));
    if (!utf8_valid((const unsigned char *)r->body.p, r->body.len))
        json_object_set_new(o, "body_b64", base64((const unsigned char *)r->body.p, r->body.len));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line)
        return;
    pthread_mutex_lock(&g_log_mu);
    fputs(line, g_log);
    fputc('\n', g_log);
    pthread_mutex_unlock(&g_log_mu);
    atomic_store(&g_log_dirty, true);
    free(line);
}

static void log_flush(void)
{
    if (g_log && atomic_exchange(&g_log_dirty, false)) {
        pthread_mutex_lock(&g_log_mu);
        fflush(g_log);
        pthread_mutex_unlock(&g_log_mu);
    }
}

/* ------------------------------------------------------------------ event loop */

enum ev_kind {
    EV_LISTEN,
    EV_CONN,
    EV_WAKE
};

struct ev {
    enum ev_kind kind;
};

struct listener {
    struct ev ev;
    int fd;
    bool h2;
};

struct loop;

/* HTTP/1 responses wait here, in request order, while an earlier one is delayed. */
struct slot {
    struct sbuf out;
    bool ready, close_after;
    struct slot *next;
};

struct h2stream {
    struct req req;
    struct resp resp;
    size_t off;
    bool responded, body_too_big;
};

struct conn {
    struct ev ev;
    int fd;
    uint64_t id;
    bool h2, closed, stop_parsing, close_after_write, eof;
    uint32_t evmask;   /* what epoll watches now */
    int npending;      /* delayed responses still waiting for their timer */
    size_t slot_bytes; /* HTTP/1 responses queued behind a delayed one */
    struct loop *loop;
    struct sbuf wbuf;
    size_t woff;
    /* HTTP/1 */
    llhttp_t parser;
    struct req req;
    bool last_was_value, head_too_big, body_too_big;
    struct slot *slots, *slots_tail;
    /* HTTP/2 */
    nghttp2_session *ng;
    struct conn *next_dead;
    struct conn *prev, *next; /* all connections of the loop, freed at exit */
};

struct timer {
    uint64_t due;
    struct conn *c;
    struct slot *slot;  /* HTTP/1 */
    int32_t stream_id;  /* HTTP/2 */
    struct timer *next; /* sorted by due */
};

struct loop {
    int ep;
    int wake_fd;
    struct listener lh, l2;
    struct timer *timers;
    struct conn *dead;
    struct conn *conns;
    pthread_t th;
};

static atomic_uint_fast64_t g_conn_ids;
static atomic_bool g_stop;
static llhttp_settings_t g_h1_settings;
static nghttp2_session_callbacks *g_ng_cbs;

static void conn_close(struct conn *c);
static void conn_flush(struct conn *c);

static void timer_add(struct loop *l, struct timer *t)
{
    struct timer **pp = &l->timers;
    while (*pp && (*pp)->due <= t->due)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
}

static void timers_drop_conn(struct loop *l, struct conn *c)
{
    for (struct timer **pp = &l->timers; *pp;) {
        if ((*pp)->c == c) {
            struct timer *t = *pp;
            *pp = t->next;
            free(t);
        } else {
            pp = &(*pp)->next;
        }
    }
}

/* Reading stops at the peer's EOF (level-triggered epoll would report it forever) and while
 * a client that does not read has too much output queued. */
static void conn_update_events(struct conn *c)
{
    size_t queued = c->wbuf.len - c->woff;
    uint32_t ev = 0;
    if (!c->eof && queued + c->slot_bytes < MAX_PENDING_OUT)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (queued)
        ev |= EPOLLOUT;
    if (ev == c->evmask)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(c->loop->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->evmask = ev;
}

static void conn_write(struct conn *c)
{
    while (c->woff < c->wbuf.len) {
        ssize_t n = send(c->fd, c->wbuf.p + c->woff, c->wbuf.len - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            conn_close(c);
            return;
        }
    }
    if (c->woff == c->wbuf.len) {
        c->woff = c->wbuf.len = 0;
        if (c->close_after_write && c->npending == 0 && !c->slots) {
            conn_close(c);
            return;
        }
    } else if (c->woff > 65536) {
        memmove(c->wbuf.p, c->wbuf.p + c->woff, c->wbuf.len - c->woff);
        c->wbuf.len -= c->woff;
        c->woff = 0;
    }
    conn_update_events(c);
}

/* ---- HTTP/1 */

static __thread char t_date[64];
static __thread time_t t_date_sec;

static const char *http_date(void)
{
    time_t now = time(NULL);
    if (now != t_date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(t_date, sizeof(t_date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        t_date_sec = now;
    }
    return t_date;
}

static void h1_serialize(struct sbuf *out, const struct req *r, const struct resp *rs,
                         bool keep_alive)
{
    size_t blen;
    const char *body = resp_body(rs, &blen);
    bool has_body = status_has_body(rs->status);
    bool chunked = rs->chunked && r->vminor >= 1 && has_body;
    sb_addf(out, "HTTP/1.1 %d %s\r\nServer: rrload-demo\r\nDate: %s\r\n", rs->status,
            reason(rs->status), http_date());
    if (rs->ctype && has_body)
        sb_addf(out, "Content-Type: %s\r\n", rs->ctype);
    for (int i = 0; i < rs->nx; i++)
        sb_addf(out, "%s: %s\r\n", rs->x[i].name, rs->x[i].value);
    if (chunked)
        sb_adds(out, "Transfer-Encoding: chunked\r\n");
    else if (has_body)
        sb_addf(out, "Content-Length: %zu\r\n", blen);
    if (!keep_alive)
        sb_adds(out, "Connection: close\r\n");
    else if (r->vminor == 0)
        sb_adds(out, "Connection: keep-alive\r\n");
    sb_adds(out, "\r\n");
    if (r->head || !has_body)
        return;
    if (!chunked) {
        sb_add(out, body, blen);
        return;
    }
    /* one chunk per line, so clients really see several chunks */
    for (size_t i = 0; i < blen;) {
        const char *nl = memchr(body + i, '\n', blen - i);
        size_t n = nl ? (size_t)(nl - (body + i)) + 1 : blen - i;
        sb_addf(out, "%zx\r\n", n);
        sb_add(out, body + i, n);
        sb_adds(out, "\r\n");
        i += n;
    }
    sb_adds(out, "0\r\n\r\n");
}

static void h1_queue(struct conn *c, struct sbuf *resp_bytes, uint32_t delay_ms, bool close_after)
{
    if (!c->slots && delay_ms == 0) {
        sb_add(&c->wbuf, resp_bytes->p, resp_bytes->len);
        if (close_after)
            c->close_after_write = true;
        return;
    }
    struct slot *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->out = *resp_bytes;
    c->slot_bytes += s->out.len;
    *resp_bytes = (struct sbuf){0};
    s->ready = delay_ms == 0;
    s->close_after = close_after;
    if (c->slots_tail)
        c->slots_tail->next = s;
    else
        c->slots = s;
    c->slots_tail = s;
    if (delay_ms) {
        struct timer *t = calloc(1, sizeof(*t));
        if (!t)
            abort();
        t->due = now_ms() + delay_ms;
        t->c = c;
        t->slot = s;
        c->npending++;
        timer_add(c->loop, t);
    }
}

/* Move the ready prefix of the slot queue to the write buffer. */
static void h1_drain_slots(struct conn *c)
{
    while (c->slots && c->slots->ready) {
        struct slot *s = c->slots;
        sb_add(&c->wbuf, s->out.p, s->out.len);
        c->slot_bytes -= s->out.len;
        if (s->close_after)
            c->close_after_write = true;
        c->slots = s->next;
        if (!c->slots)
            c->slots_tail = NULL;
        sb_free(&s->out);
        free(s);
    }
}

static void h1_simple_error(struct conn *c, int status, const char *msg)
{
    struct sbuf out = {0};
    sb_addf(&out,
            "HTTP/1.1 %d %s\r\nServer: rrload-demo\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n{\"error\":\"%s\"}",
            status, reason(status), strlen(msg) + 12, msg);
    h1_queue(c, &out, 0, true);
    sb_free(&out);
    c->stop_parsing = true;
}

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;
    req_reset(&c->req);
    c->last_was_value = false;
    c->head_too_big = c->body_too_big = false;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->req.target.len + n > MAX_HEAD_BYTES) {
        c->head_too_big = true;
        return 0;
    }
    sb_add(&c->req.target, at, n);
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->req.method.len + n < 64)
        sb_add(&c->req.method, at, n);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    struct req *r = &c->req;
    if (r->hbuf.len + n > MAX_HEAD_BYTES || r->nh > 1000) {
        c->head_too_big = true;
        return 0;
    }
    if (r->nh == 0 || c->last_was_value)
        req_new_hdr(r);
    c->last_was_value = false;
    struct hdr *h = &r->h[r->nh - 1];
    sb_add(&r->hbuf, at, n);
    h->nl += (uint32_t)n;
    h->vo = (uint32_t)r->hbuf.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    struct req *r = &c->req;
    if (r->nh == 0 || r->hbuf.len + n > MAX_HEAD_BYTES) {
        c->head_too_big = true;
        return 0;
    }
    c->last_was_value = true;
    sb_add(&r->hbuf, at, n);
    r->h[r->nh - 1].vl += (uint32_t)n;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    size_t n;
    const char *v = req_hdr(&c->req, "expect", &n);
    if (v && n == 12 && strncasecmp(v, "100-continue", 12) == 0 && p->http_minor >= 1 &&
        !c->slots && !c->head_too_big)
        sb_adds(&c->wbuf, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->req.body.len + n > MAX_BODY_BYTES) {
        c->body_too_big = true;
        return 0;
    }
    sb_add(&c->req.body, at, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    struct req *r = &c->req;
    if (c->stop_parsing)
        return 0;
    r->vmajor = p->http_major;
    r->vminor = p->http_minor;
    r->head = p->method == HTTP_HEAD;
    r->conn_id = c->id;
    r->stream_id = 0;
    if (c->head_too_big) {
        h1_simple_error(c, 431, "request head too large");
        return HPE_PAUSED;
    }
    log_request(r);
    if (c->body_too_big) {
        h1_simple_error(c, 413, "request body too large");
        return HPE_PAUSED;
    }
    struct resp rs = {0};
    route(r, &rs);
    bool keep = llhttp_should_keep_alive(p);
    struct sbuf out = {0};
    h1_serialize(&out, r, &rs, keep);
    h1_queue(c, &out, rs.delay_ms, !keep);
    sb_free(&out);
    resp_free(&rs);
    if (!keep) {
        c->stop_parsing = true;
        return HPE_PAUSED;
    }
    return 0;
}

static void h1_feed(struct conn *c, const char *data, size_t n)
{
    while (n && !c->stop_parsing) {
        llhttp_errno_t e = llhttp_execute(&c->parser, data, n);
        if (e == HPE_OK)
            return;
        if (c->stop_parsing)
            return;
        if (e == HPE_PAUSED_UPGRADE) {
            /* We answered the request itself; the upgrade is not taken. */
            const char *pos = llhttp_get_error_pos(&c->parser);
            llhttp_resume_after_upgrade(&c->parser);
            size_t used = (size_t)(pos - data);
            data += used;
            n -= used;
            continue;
        }
        h1_simple_error(c, 400, "malformed request");
        return;
    }
}

/* ---- HTTP/2 */

static int h2_submit(struct conn *c, int32_t sid, struct h2stream *st);

static ssize_t h2_read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct h2stream *st = src->ptr;
    size_t blen;
    const char *body = resp_body(&st->resp, &blen);
    size_t n = blen - st->off;
    if (n > len)
        n = len;
    if (n)
        memcpy(buf, body + st->off, n);
    st->off += n;
    if (st->off == blen)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int h2_submit(struct conn *c, int32_t sid, struct h2stream *st)
{
    struct resp *rs = &st->resp;
    nghttp2_nv nv[12];
    size_t nnv = 0;
    char status[8], clen[24];
    size_t blen;
    resp_body(rs, &blen);
    bool has_body = status_has_body(rs->status);
#define NV(n, v)                                                                                   \
    nv[nnv++] = (nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v),                 \
                             NGHTTP2_NV_FLAG_NO_COPY_NAME}
    snprintf(status, sizeof(status), "%d", rs->status);
    NV(":status", status);
    NV("server", "rrload-demo");
    NV("date", http_date());
    if (rs->ctype && has_body)
        NV("content-type", rs->ctype);
    char lname[4][32];
    for (int i = 0; i < rs->nx; i++) {
        size_t k = 0;
        for (; rs->x[i].name[k] && k < sizeof(lname[i]) - 1; k++)
            lname[i][k] = (char)(rs->x[i].name[k] | 0x20);
        lname[i][k] = 0;
        nv[nnv++] = (nghttp2_nv){(uint8_t *)lname[i], (uint8_t *)rs->x[i].value, k,
                                 strlen(rs->x[i].value), NGHTTP2_NV_FLAG_NONE};
    }
    if (has_body && !rs->chunked) {
        snprintf(clen, sizeof(clen), "%zu", blen);
        NV("content-length", clen);
    }
#undef NV
    st->responded = true;
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = h2_read_body};
    bool send_body = has_body && !st->req.head && blen > 0;
    return nghttp2_submit_response(c->ng, sid, nv, nnv, send_body ? &prd : NULL);
}

static int h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2stream *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
    return 0;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    struct h2stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct req *r = &st->req;
    if (r->hbuf.len + nl + vl > MAX_HEAD_BYTES)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    struct hdr *h = req_new_hdr(r);
    sb_add(&r->hbuf, name, nl);
    h->nl = (uint32_t)nl;
    h->vo = (uint32_t)r->hbuf.len;
    sb_add(&r->hbuf, value, vl);
    h->vl = (uint32_t)vl;
    if (nl == 7 && memcmp(name, ":method", 7) == 0) {
        r->method.len = 0;
        sb_add(&r->method, value, vl);
    } else if (nl == 5 && memcmp(name, ":path", 5) == 0) {
        r->target.len = 0;
        sb_add(&r->target, value, vl);
    }
    return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                      size_t len, void *ud)
{
    struct h2stream *st = nghttp2_session_get_stream_user_data(s, sid);
    if (!st)
        return 0;
    /* Keep reading (flow control goes on) but drop the rest: the answer is 413, as on HTTP/1. */
    if (st->body_too_big || st->req.body.len + len > MAX_BODY_BYTES) {
        st->body_too_big = true;
        return 0;
    }
    sb_add(&st->req.body, data, len);
    return 0;
}

static int h2_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct conn *c = ud;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct h2stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st || st->responded)
        return 0;
    struct req *r = &st->req;
    r->vmajor = 2;
    r->vminor = 0;
    r->head = method_is(r, "HEAD");
    r->conn_id = c->id;
    r->stream_id = f->hd.stream_id;
    log_request(r);
    if (st->body_too_big)
        json_error(&st->resp, 413, "request body too large");
    else
        route(r, &st->resp);
    if (st->resp.delay_ms) {
        struct timer *t = calloc(1, sizeof(*t));
        if (!t)
            abort();
        t->due = now_ms() + st->resp.delay_ms;
        t->c = c;
        t->stream_id = f->hd.stream_id;
        c->npending++;
        timer_add(c->loop, t);
        st->responded = true; /* pending */
        return 0;
    }
    return h2_submit(c, f->hd.stream_id, st) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int h2_on_stream_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
    struct h2stream *st = nghttp2_session_get_stream_user_data(s, sid);
    if (st) {
        nghttp2_session_set_stream_user_data(s, sid, NULL);
        req_free(&st->req);
        resp_free(&st->resp);
        free(st);
    }
    return 0;
}

static void h2_pump(struct conn *c)
{
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->ng, &data);
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (n == 0)
            break;
        sb_add(&c->wbuf, data, (size_t)n);
    }
    if (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng))
        c->close_after_write = true;
}

static int h2_setup_callbacks(void)
{
    if (nghttp2_session_callbacks_new(&g_ng_cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(g_ng_cbs, h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(g_ng_cbs, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g_ng_cbs, h2_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g_ng_cbs, h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(g_ng_cbs, h2_on_stream_close);
    return 0;
}

/* ---- connections */

static void conn_new(struct loop *l, int fd, bool h2)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->ev.kind = EV_CONN;
    c->fd = fd;
    c->id = atomic_fetch_add(&g_conn_ids, 1) + 1;
    c->h2 = h2;
    c->loop = l;
    if (h2) {
        nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 256}};
        if (nghttp2_session_server_new(&c->ng, g_ng_cbs, c) != 0 ||
            nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 1) != 0) {
            if (c->ng)
                nghttp2_session_del(c->ng);
            close(fd);
            free(c);
            return;
        }
    } else {
        llhttp_init(&c->parser, HTTP_REQUEST, &g_h1_settings);
        c->parser.data = c;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->evmask = EPOLLIN | EPOLLRDHUP;
    struct epoll_event e = {.events = c->evmask, .data.ptr = c};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        if (c->ng)
            nghttp2_session_del(c->ng);
        close(fd);
        free(c);
        return;
    }
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    if (h2) {
        h2_pump(c);
        conn_write(c);
    }
}

/* Freed at the end of the event batch: later events of the batch may still point here. */
static void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    epoll_ctl(c->loop->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    timers_drop_conn(c->loop, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->loop->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next_dead = c->loop->dead;
    c->loop->dead = c;
}

static void conn_free(struct conn *c)
{
    if (c->ng)
        nghttp2_session_del(c->ng); /* runs on_stream_close for open streams */
    req_free(&c->req);
    while (c->slots) {
        struct slot *s = c->slots;
        c->slots = s->next;
        sb_free(&s->out);
        free(s);
    }
    sb_free(&c->wbuf);
    free(c);
}

static void conn_flush(struct conn *c)
{
    if (c->closed)
        return;
    if (c->h2)
        h2_pump(c);
    else
        h1_drain_slots(c);
    if (!c->closed)
        conn_write(c);
}

static void conn_readable(struct conn *c)
{
    char buf[16384];
    for (int rounds = 0; rounds < 4; rounds++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == 0) {
            /* Peer finished sending: answer what is queued and delayed, then close. */
            c->eof = true;
            c->close_after_write = true;
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c);
            break;
        }
        if (c->h2) {
            ssize_t r = nghttp2_session_mem_recv(c->ng, (const uint8_t *)buf, (size_t)n);
            if (r < 0) {
                h2_pump(c); /* a GOAWAY, if nghttp2 queued one */
                c->close_after_write = true;
                break;
            }
        } else if (!c->stop_parsing) {
            h1_feed(c, buf, (size_t)n);
        }
        if (c->wbuf.len - c->woff + c->slot_bytes > MAX_PENDING_OUT)
            break; /* the client is not reading: conn_update_events stops reading */
        if ((size_t)n < sizeof(buf))
            break;
    }
    conn_flush(c);
}

static void fire_timers(struct loop *l)
{
    uint64_t now = now_ms();
    while (l->timers && l->timers->due <= now) {
        struct timer *t = l->timers;
        l->timers = t->next;
        struct conn *c = t->c;
        c->npending--;
        if (c->h2) {
            struct h2stream *st = nghttp2_session_get_stream_user_data(c->ng, t->stream_id);
            if (st && h2_submit(c, t->stream_id, st) != 0)
                conn_close(c);
        } else {
            t->slot->ready = true;
        }
        free(t);
        conn_flush(c);
    }
}

static void accept_all(struct loop *l, struct listener *ls)
{
    for (;;) {
        int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or out of fds: try again on the next event */
        }
        conn_new(l, fd, ls->h2);
    }
}

static void *loop_run(void *arg)
{
    struct loop *l = arg;
    struct epoll_event evs[128];
    while (!atomic_load(&g_stop)) {
        int timeout = -1;
        if (l->timers) {
            uint64_t now = now_ms();
            timeout = l->timers->due > now ? (int)(l->timers->due - now) : 0;
        }
        int n = epoll_wait(l->ep, evs, 128, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct ev *ev = evs[i].data.ptr;
            if (ev->kind == EV_LISTEN) {
                accept_all(l, (struct listener *)ev);
            } else if (ev->kind == EV_WAKE) {
                continue;
            } else {
                struct conn *c = (struct conn *)ev;
                if (c->closed)
                    continue;
                if (c->eof && (evs[i].events & (EPOLLHUP | EPOLLERR))) {
                    conn_close(c); /* gone both ways: nothing queued can be delivered */
                    continue;
                }
                if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    conn_readable(c);
                if (!c->closed && (evs[i].events & EPOLLOUT))
                    conn_write(c);
            }
        }
        fire_timers(l);
        while (l->dead) {
            struct conn *c = l->dead;
            l->dead = c->next_dead;
            conn_free(c);
        }
        log_flush();
    }
    while (l->conns)
        conn_close(l->conns);
    while (l->dead) {
        struct conn *c = l->dead;
        l->dead = c->next_dead;
        conn_free(c);
    }
    return NULL;
}

/* ------------------------------------------------------------------ setup */

static int listen_on(const struct sockaddr_storage *ss, socklen_t sl, int port, int *actual)
{
    struct sockaddr_storage a = *ss;
    if (a.ss_family == AF_INET)
        ((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)port);
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sl) != 0 || listen(fd, 1024) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    getsockname(fd, (struct sockaddr *)&got, &gl);
    *actual = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                             : ((struct sockaddr_in6 *)&got)->sin6_port);
    return fd;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: demo_target [--port N] [--h2-port N] [--bind ADDR] [--any] [--log FILE]\n"
               "                   [--threads N] [--port-file FILE]\n"
               "  --port N        HTTP/1.x port (default 8080; 0 picks a free one)\n"
               "  --h2-port N     also serve HTTP/2 cleartext, prior knowledge, on port N\n"
               "  --bind ADDR     address to bind (default 127.0.0.1; loopback only unless "
               "--any)\n"
               "  --log FILE      append one JSON line per request received\n"
               "  --threads N     event loops, each on its own SO_REUSEPORT socket (default 1)\n"
               "  --port-file F   write \"http=PORT h2c=PORT\" to F once listening\n");
}

static bool arg_num(const char *flag, const char *v, uint64_t max, uint64_t *out)
{
    if (!v || !parse_num(v, strlen(v), max, out)) {
        fprintf(stderr, "demo_target: %s expects a number 0..%" PRIu64 ", got '%s'\n", flag, max,
                v ? v : "");
        return false;
    }
    return true;
}

static void on_signal(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    uint64_t port = 8080, h2port = 0, threads = 1;
    bool want_h2 = false, any = false;
    const char *bind_addr = "127.0.0.1", *log_path = NULL, *port_file = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--port")) {
            if (!arg_num(a, v, 65535, &port))
                return 2;
            i++;
        } else if (!strcmp(a, "--h2-port")) {
            if (!arg_num(a, v, 65535, &h2port))
                return 2;
            want_h2 = true;
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (!arg_num(a, v, 64, &threads) || threads == 0) {
                fprintf(stderr, "demo_target: --threads expects 1..64\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--bind") && v) {
            bind_addr = v;
            i++;
        } else if (!strcmp(a, "--log") && v) {
            log_path = v;
            i++;
        } else if (!strcmp(a, "--port-file") && v) {
            port_file = v;
            i++;
        } else if (!strcmp(a, "--any")) {
            any = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "demo_target: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    bool loopback;
    if (inet_pton(AF_INET, bind_addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        sl = sizeof(struct sockaddr_in);
        loopback = (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, bind_addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        sl = sizeof(struct sockaddr_in6);
        loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    } else {
        fprintf(stderr, "demo_target: --bind expects an IPv4 or IPv6 address, got '%s'\n",
                bind_addr);
        return 2;
    }
    if (!loopback && !any) {
        fprintf(stderr, "demo_target: refusing to bind non-loopback address %s without --any\n",
                bind_addr);
        return 2;
    }

    if (log_path) {
        g_log = fopen(log_path, "a");
        if (!g_log) {
            fprintf(stderr, "demo_target: cannot open log %s: %s\n", log_path, strerror(errno));
            return 1;
        }
        setvbuf(g_log, NULL, _IOFBF, 1 << 16);
    }
    if (make_gzip() != 0 || h2_setup_callbacks() != 0) {
        fprintf(stderr, "demo_target: cannot initialise zlib or nghttp2\n");
        return 1;
    }
    llhttp_settings_init(&g_h1_settings);
    g_h1_settings.on_message_begin = on_message_begin;
    g_h1_settings.on_url = on_url;
    g_h1_settings.on_method = on_method;
    g_h1_settings.on_header_field = on_header_field;
    g_h1_settings.on_header_value = on_header_value;
    g_h1_settings.on_headers_complete = on_headers_complete;
    g_h1_settings.on_body = on_body;
    g_h1_settings.on_message_complete = on_message_complete;

    /* Signals go to this thread only, through sigwait, so the loops never see EINTR surprises. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    struct loop *loops = calloc(threads, sizeof(*loops));
    if (!loops)
        abort();
    int http_port = (int)port, h2_port = (int)h2port;
    for (uint64_t t = 0; t < threads; t++) {
        struct loop *l = &loops[t];
        int got;
        l->lh = (struct listener){.ev.kind = EV_LISTEN, .fd = -1};
        l->l2 = (struct listener){.ev.kind = EV_LISTEN, .fd = -1, .h2 = true};
        l->lh.fd = listen_on(&ss, sl, http_port, &got);
        if (l->lh.fd < 0) {
            fprintf(stderr, "demo_target: cannot listen on %s port %d: %s\n", bind_addr, http_port,
                    strerror(-l->lh.fd));
            return 1;
        }
        http_port = got;
        if (want_h2) {
            l->l2.fd = listen_on(&ss, sl, h2_port, &got);
            if (l->l2.fd < 0) {
                fprintf(stderr, "demo_target: cannot listen on %s port %d: %s\n", bind_addr,
                        h2_port, strerror(-l->l2.fd));
                return 1;
            }
            h2_port = got;
        }
        l->ep = epoll_create1(EPOLL_CLOEXEC);
        l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (l->ep < 0 || l->wake_fd < 0) {
            fprintf(stderr, "demo_target: epoll/eventfd: %s\n", strerror(errno));
            return 1;
        }
        static struct ev wake_ev = {EV_WAKE};
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->lh};
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lh.fd, &e);
        if (want_h2) {
            e.data.ptr = &l->l2;
            epoll_ctl(l->ep, EPOLL_CTL_ADD, l->l2.fd, &e);
        }
        e.data.ptr = &wake_ev;
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &e);
    }

    if (port_file) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "http=%d h2c=%d\n", http_port, want_h2 ? h2_port : 0) < 0 ||
            fclose(f) != 0 || rename(tmp, port_file) != 0) {
            fprintf(stderr, "demo_target: cannot write port file %s: %s\n", port_file,
                    strerror(errno));
            return 1;
        }
    }
    fprintf(stderr, "demo_target: listening on %s http=%d h2c=%d threads=%" PRIu64 "\n", bind_addr,
            http_port, want_h2 ? h2_port : 0, threads);

    for (uint64_t t = 0; t < threads; t++) {
        if (pthread_create(&loops[t].th, NULL, loop_run, &loops[t]) != 0) {
            fprintf(stderr, "demo_target: cannot start thread\n");
            return 1;
        }
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    atomic_store(&g_stop, true);
    for (uint64_t t = 0; t < threads; t++) {
        uint64_t one = 1;
        if (write(loops[t].wake_fd, &one, sizeof(one)) < 0)
            perror("demo_target: wake");
    }
    for (uint64_t t = 0; t < threads; t++) {
        pthread_join(loops[t].th, NULL);
        close(loops[t].lh.fd);
        if (loops[t].l2.fd >= 0)
            close(loops[t].l2.fd);
        close(loops[t].ep);
        close(loops[t].wake_fd);
    }
    if (g_log) {
        fflush(g_log);
        fclose(g_log);
    }
    free(loops);
    free(g_gzip_body);
    nghttp2_session_callbacks_del(g_ng_cbs);
    fprintf(stderr, "demo_target: stopped by signal %d\n", sig);
    return 0;
}
