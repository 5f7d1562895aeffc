/* proxy_hostrw.c -- Host header rewriting for the recording proxy (proxy_hostrw.h).
 *
 * Only request heads are held back (until their blank line); body bytes are passed on as
 * they come so that a large upload streams. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy_hostrw.h"

#define HEAD_MAX  (256u << 10)
#define LINE_MAX_ 1024u

enum {
    RW_HEAD,
    RW_BODY,
    RW_CHUNK_SIZE,
    RW_CHUNK_DATA,
    RW_TRAILER,
    RW_PASS
};

void rr_hostrw_init(struct rr_hostrw *w, const char *authority)
{
    memset(w, 0, sizeof(*w));
    w->authority = authority;
    rr_buf_init(&w->acc);
}

void rr_hostrw_fini(struct rr_hostrw *w)
{
    rr_buf_fini(&w->acc);
}

static int name_is(const uint8_t *l, size_t ll, const char *name)
{
    size_t n = strlen(name);
    return ll > n && l[n] == ':' && strncasecmp((const char *)l, name, n) == 0;
}

/* The value of header line l (after the colon, spaces trimmed). */
static struct rr_view value_of(const uint8_t *l, size_t ll)
{
    const uint8_t *v = memchr(l, ':', ll), *e = l + ll;
    v = v ? v + 1 : e;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return rr_view_of(v, (size_t)(e - v));
}

static int has_token(struct rr_view v, const char *tok)
{
    size_t n = strlen(tok);
    for (size_t i = 0; i + n <= v.len; i++)
        if (strncasecmp((const char *)v.p + i, tok, n) == 0)
            return 1;
    return 0;
}

/* Emits the complete head h[0..hl) (ending in its blank line) and picks the body state. */
static void emit_head(struct rr_hostrw *w, const uint8_t *h, size_t hl, struct rr_buf *out)
{
    const uint8_t *p = h, *e = h + hl;
    int first = 1, chunked = 0, pass = 0;
    uint64_t cl = 0;

    while (p < e) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
        const uint8_t *next = nl ? nl + 1 : e;
        size_t ll = (size_t)((nl ? nl : e) - p);
        if (ll && p[ll - 1] == '\r')
            ll--;
        if (first && ll == 0) {
            /* Blank lines before a request line are tolerated by servers: pass them on. */
            rr_buf_add(out, p, (size_t)(next - p));
            p = next;
            continue;
        }
        if (first) {
            first = 0;
            if ((ll >= 4 && memcmp(p, "PRI ", 4) == 0) ||
                (ll >= 8 && memcmp(p, "CONNECT ", 8) == 0))
                pass = 1;
        } else if (name_is(p, ll, "host")) {
            rr_buf_adds(out, "Host: ");
            rr_buf_adds(out, w->authority);
            rr_buf_adds(out, "\r\n");
            w->rewritten++;
            p = next;
            continue;
        } else if (name_is(p, ll, "content-length")) {
            struct rr_view v = value_of(p, ll);
            char tmp[24];
            size_t n = v.len < sizeof(tmp) - 1 ? v.len : sizeof(tmp) - 1;
            memcpy(tmp, v.p, n);
            tmp[n] = 0;
            cl = strtoull(tmp, NULL, 10);
        } else if (name_is(p, ll, "transfer-encoding")) {
            chunked = has_token(value_of(p, ll), "chunked");
        } else if (name_is(p, ll, "upgrade")) {
            /* After a 101 the bytes are another protocol; if the server declines, later
             * requests keep the client's Host (see docs/recorder-proxy.md). */
            pass = 1;
        }
        rr_buf_add(out, p, (size_t)(next - p));
        p = next;
    }
    if (pass)
        w->state = RW_PASS;
    else if (chunked)
        w->state = RW_CHUNK_SIZE;
    else if (cl > 0) {
        w->state = RW_BODY;
        w->left = cl;
    } else
        w->state = RW_HEAD;
}

/* Index just past the first blank line of a, or 0. */
static size_t head_end(const struct rr_buf *a)
{
    const uint8_t *p = a->p;
    int seen_text = 0;
    for (size_t i = 0; i < a->len; i++) {
        if (p[i] != '\n')
            continue;
        /* A line is blank when it holds nothing (or a lone CR) after the previous LF. */
        size_t start = i;
        while (start > 0 && p[start - 1] != '\n')
            start--;
        size_t ll = i - start;
        int blank = ll == 0 || (ll == 1 && p[start] == '\r');
        if (!blank)
            seen_text = 1;
        else if (seen_text)
            return i + 1;
    }
    return 0;
}

void rr_hostrw_feed(struct rr_hostrw *w, const uint8_t *p, size_t n, struct rr_buf *out)
{
    while (n > 0) {
        switch (w->state) {
        case RW_PASS:
            rr_buf_add(out, p, n);
            return;
        case RW_BODY:
        case RW_CHUNK_DATA: {
            size_t k = w->left < n ? (size_t)w->left : n;
            rr_buf_add(out, p, k);
            p += k;
            n -= k;
            w->left -= k;
            if (w->left == 0)
                w->state = w->state == RW_BODY ? RW_HEAD : RW_CHUNK_SIZE;
            break;
        }
        case RW_CHUNK_SIZE:
        case RW_TRAILER: {
            /* One line at a time: a chunk size, or a trailer line (the blank one ends it). */
            const uint8_t *nl = memchr(p, '\n', n);
            size_t k = nl ? (size_t)(nl - p) + 1 : n;
            rr_buf_add(&w->acc, p, k);
            rr_buf_add(out, p, k);
            p += k;
            n -= k;
            if (!nl) {
                if (w->acc.len > LINE_MAX_)
                    w->state = RW_PASS;
                break;
            }
            const char *l = (const char *)w->acc.p;
            if (w->state == RW_CHUNK_SIZE) {
                char tmp[32];
                size_t m = w->acc.len < sizeof(tmp) - 1 ? w->acc.len : sizeof(tmp) - 1;
                char *end;
                memcpy(tmp, l, m);
                tmp[m] = 0;
                unsigned long long sz = strtoull(tmp, &end, 16);
                if (end == tmp) {
                    w->state = RW_PASS;
                } else if (sz == 0) {
                    w->state = RW_TRAILER;
                } else {
                    w->state = RW_CHUNK_DATA;
                    w->left = sz + 2; /* the data and its CRLF */
                }
            } else if (w->acc.len <= 2 && (l[0] == '\n' || l[0] == '\r')) {
                w->state = RW_HEAD;
            }
            rr_buf_reset(&w->acc);
            break;
        }
        default: { /* RW_HEAD */
            size_t old = w->acc.len;
            rr_buf_add(&w->acc, p, n);
            size_t end = head_end(&w->acc);
            if (!end) {
                if (w->acc.len > HEAD_MAX) {
                    w->state = RW_PASS;
                    rr_buf_add(out, w->acc.p, w->acc.len);
                    rr_buf_reset(&w->acc);
                }
                return;
            }
            /* The bytes after the head were in this feed: take them back and go on. */
            size_t used = end - old;
            struct rr_buf head = w->acc;
            rr_buf_init(&w->acc);
            emit_head(w, head.p, end, out);
            rr_buf_fini(&head);
            p += used;
            n -= used;
            break;
        }
        }
    }
}
