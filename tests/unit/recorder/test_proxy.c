/* test_proxy.c -- The recording proxy between a real client (libcurl) and a real upstream
 * on 127.0.0.1: every request reaches the upstream unchanged, every answer reaches the
 * client, and the store holds each exchange with its bodies. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <nghttp2/nghttp2.h>

#include "proxy_hostrw.h"
#include "rr/buf.h"
#include "rr/proxy.h"
#include "rr/store.h"
#include "rr/text.h"

/* ---------- the upstream: HTTP/1.1 keep-alive and h2c prior knowledge ---------- */

struct upstream {
    int lfd;
    uint16_t port;
    pthread_t th;
    volatile int stop;
    int requests; /* requests answered */
};

/* The body the upstream answers for a request: it names the path and echoes the body length. */
static size_t answer(const char *path, size_t req_len, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "path=%s req=%zu", path, req_len);
}

static void serve_h2(struct upstream *u, int fd, struct rr_buf *in, const char *up_path,
                     const uint8_t *settings, size_t slen);
static void serve_h1(struct upstream *u, int fd, struct rr_buf *in)
{
    char buf[65536];
    for (;;) {
        uint8_t *end = memmem(in->p, in->len, "\r\n\r\n", 4);
        if (!end) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n <= 0)
                return;
            rr_buf_add(in, buf, (size_t)n);
            continue;
        }
        size_t hlen = (size_t)(end - in->p) + 4;
        char path[256] = "";
        size_t clen = 0;
        const char *cl = memmem(in->p, hlen, "Content-Length: ", 16);
        if (cl)
            clen = strtoul(cl + 16, NULL, 10);
        sscanf((const char *)in->p, "%*s %255s", path);
        while (in->len < hlen + clen) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n <= 0)
                return;
            rr_buf_add(in, buf, (size_t)n);
        }
        /* Upgrade: h2c (nghttp -u): 101, then HTTP/2 with this request as stream 1. */
        char hb[4096];
        size_t hbl = hlen < sizeof(hb) - 1 ? hlen : sizeof(hb) - 1;
        memcpy(hb, in->p, hbl);
        hb[hbl] = 0;
        const char *hs = strcasestr(hb, "\r\nHTTP2-Settings:");
        if (strcasestr(hb, "\r\nUpgrade: h2c") && hs) {
            /* the HTTP2-Settings header: base64url without padding */
            struct rr_buf set;
            hs += 17;
            while (*hs == ' ')
                hs++;
            rr_buf_init(&set);
            int brc = rr_base64_decode(hs, strcspn(hs, "\r"), &set);
            static const char sw[] =
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
            if (brc || set.len > 256 ||
                write(fd, sw, sizeof(sw) - 1) != (ssize_t)(sizeof(sw) - 1)) {
                rr_buf_fini(&set);
                return;
            }
            rr_buf_consume(in, hlen + clen);
            serve_h2(u, fd, in, path, set.len ? set.p : (const uint8_t *)"", set.len);
            rr_buf_fini(&set);
            return;
        }
        char body[512], head[256];
        size_t bl = answer(path, clen, body, sizeof(body));
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nX-Up: 1\r\n\r\n", bl);
        if (write(fd, head, (size_t)hl) != hl || write(fd, body, bl) != (ssize_t)bl)
            return;
        u->requests++;
        rr_buf_consume(in, hlen + clen);
    }
}

struct h2s {
    int fd;
    struct upstream *u;
    char path[64][256];
    size_t req_len[64];
    char body[64][512];
    size_t body_len[64], body_off[64];
};

static ssize_t h2_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
                       nghttp2_data_source *src, void *ud)
{
    struct h2s *h = ud;
    int i = (id / 2) % 64;
    size_t k = h->body_len[i] - h->body_off[i];
    if (k > len)
        k = len;
    memcpy(buf, h->body[i] + h->body_off[i], k);
    h->body_off[i] += k;
    if (h->body_off[i] == h->body_len[i])
        *fl |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)k;
}

static int h2_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *n, size_t nl,
                     const uint8_t *v, size_t vl, uint8_t flags, void *ud)
{
    struct h2s *h = ud;
    int i = (f->hd.stream_id / 2) % 64;
    if (nl == 5 && memcmp(n, ":path", 5) == 0 && vl < 256) {
        memcpy(h->path[i], v, vl);
        h->path[i][vl] = 0;
        h->req_len[i] = 0;
    }
    return 0;
}

static int h2_data(nghttp2_session *s, uint8_t fl, int32_t id, const uint8_t *p, size_t n, void *ud)
{
    struct h2s *h = ud;
    h->req_len[(id / 2) % 64] += n;
    return 0;
}

static void h2_answer(nghttp2_session *s, struct h2s *h, int32_t id)
{
    int i = (id / 2) % 64;
    char path[256];
    memcpy(path, h->path[i], sizeof(path));
    h->body_len[i] = answer(path, h->req_len[i], h->body[i], sizeof(h->body[i]));
    h->body_off[i] = 0;
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
                       {(uint8_t *)"x-up", (uint8_t *)"2", 4, 1, 0}};
    nghttp2_data_provider dp = {.source.ptr = NULL, .read_callback = h2_read};
    nghttp2_submit_response(s, id, nv, 2, &dp);
    h->u->requests++;
}

static int h2_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        h2_answer(s, ud, f->hd.stream_id);
    return 0;
}

/* up_path: the connection was upgraded from HTTP/1.1 (its request, for stream 1, asked
 * for up_path with these settings). */
static void serve_h2(struct upstream *u, int fd, struct rr_buf *in, const char *up_path,
                     const uint8_t *settings, size_t slen)
{
    static struct h2s h;
    nghttp2_session_callbacks *cb;
    nghttp2_session *s;
    uint8_t buf[65536];
    const uint8_t *out;
    ssize_t n;

    memset(&h, 0, sizeof(h));
    h.fd = fd;
    h.u = u;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_frame);
    nghttp2_session_server_new(&s, cb, &h);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s, 0, NULL, 0);
    if (up_path) {
        if (nghttp2_session_upgrade2(s, settings, slen, 0, NULL) != 0)
            goto out;
        snprintf(h.path[0], sizeof(h.path[0]), "%s", up_path);
        h2_answer(s, &h, 1);
    }
    if (in->len && nghttp2_session_mem_recv(s, in->p, in->len) < 0)
        goto out;
    for (;;) {
        while ((n = nghttp2_session_mem_send(s, &out)) > 0)
            if (write(fd, out, (size_t)n) != n)
                goto out;
        n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        ssize_t r = nghttp2_session_mem_recv(s, buf, (size_t)n);
        if (r < 0) {
            fprintf(stderr, "# upstream h2: %s\n", nghttp2_strerror((int)r));
            break;
        }
    }
out:
    nghttp2_session_del(s);
}

static void *upstream_main(void *arg)
{
    struct upstream *u = arg;
    while (!u->stop) {
        int fd = accept(u->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        /* The listener's accept timeout is inherited: a connection waits as long as needed. */
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        struct rr_buf in;
        rr_buf_init(&in);
        char buf[64];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            rr_buf_add(&in, buf, (size_t)n);
            if (n >= 3 && memcmp(buf, "PRI", 3) == 0)
                serve_h2(u, fd, &in, NULL, NULL, 0);
            else
                serve_h1(u, fd, &in);
        }
        rr_buf_fini(&in);
        close(fd);
    }
    return NULL;
}

static void upstream_start(struct upstream *u)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    memset(u, 0, sizeof(*u));
    u->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(u->lfd >= 0);
    assert_int_equal(bind(u->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(u->lfd, 16), 0);
    assert_int_equal(getsockname(u->lfd, (struct sockaddr *)&a, &al), 0);
    u->port = ntohs(a.sin_port);
    struct timeval tv = {0, 200000};
    setsockopt(u->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(pthread_create(&u->th, NULL, upstream_main, u), 0);
}

static void upstream_stop(struct upstream *u)
{
    u->stop = 1;
    pthread_join(u->th, NULL);
    close(u->lfd);
}

/* ---------- the proxy in a thread ---------- */

struct px {
    struct rr_proxy_opts o;
    struct rr_proxy_stats st;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint16_t port;
    volatile sig_atomic_t stop;
    int rc;
    char why[256];
    char listen[32], up[64];
};

static void on_listen(void *ud, uint16_t port)
{
    struct px *p = ud;
    pthread_mutex_lock(&p->mu);
    p->port = port;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *proxy_main(void *arg)
{
    struct px *p = arg;
    p->rc = rr_proxy_run(&p->o, &p->st, p->why, sizeof(p->why));
    on_listen(p, p->port ? p->port : 1); /* wake the waiter if it failed early */
    return NULL;
}

static void proxy_start(struct px *p, struct rr_store *s, uint16_t up_port)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    snprintf(p->listen, sizeof(p->listen), "127.0.0.1:0");
    snprintf(p->up, sizeof(p->up), "http://127.0.0.1:%u", up_port);
    p->o.listen = p->listen;
    p->o.upstream = p->up;
    p->o.store = s;
    p->o.stop = &p->stop;
    p->o.duration_ms = 30000; /* a bound, should the test hang */
    p->o.on_listen = on_listen;
    p->o.ud = p;
    assert_int_equal(pthread_create(&p->th, NULL, proxy_main, p), 0);
    pthread_mutex_lock(&p->mu);
    while (!p->port)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    assert_int_equal(p->rc, 0);
}

static void proxy_stop(struct px *p)
{
    p->stop = 1;
    pthread_join(p->th, NULL);
    if (p->rc)
        fail_msg("proxy: %s", p->why);
}

/* ---------- client ---------- */

static size_t to_buf(char *p, size_t sz, size_t n, void *ud)
{
    rr_buf_add(ud, p, sz * n);
    return sz * n;
}

/* nghttp (nghttp2's client) sends n GETs as concurrent streams of one h2c connection. */
static void run_nghttp(uint16_t port, int n)
{
    struct rr_buf cmd;
    rr_buf_init(&cmd);
    rr_buf_printf(&cmd, "nghttp -n -t 10");
    for (int i = 0; i < n; i++)
        rr_buf_printf(&cmd, " http://127.0.0.1:%u/item/%d?x=%d", port, i, i * 2);
    int rc = system(rr_buf_cstr(&cmd));
    rr_buf_fini(&cmd);
    assert_int_equal(rc, 0);
}

/* libcurl sends n requests on one keep-alive connection (GETs, and POSTs with bodies every
 * third). */
static void run_client(uint16_t port, int n)
{
    CURL *c = curl_easy_init();
    struct rr_buf body;
    char url[128], post[4096], want[512];

    assert_non_null(c);
    rr_buf_init(&body);
    memset(post, 'p', sizeof(post));
    for (int i = 0; i < n; i++) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/item/%d?x=%d", port, i, i * 2);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        if (i % 3 == 2) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(100 * i));
        } else {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        }
        rr_buf_reset(&body);
        CURLcode rc = curl_easy_perform(c);
        if (rc != CURLE_OK)
            fail_msg("request %d: %s", i, curl_easy_strerror(rc));
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 200);
        char path[64];
        snprintf(path, sizeof(path), "/item/%d?x=%d", i, i * 2);
        size_t wl = answer(path, i % 3 == 2 ? (size_t)(100 * i) : 0, want, sizeof(want));
        assert_int_equal(body.len, wl);
        assert_memory_equal(body.p, want, wl);
    }
    curl_easy_cleanup(c);
    rr_buf_fini(&body);
}

/* ---------- checks on the store ---------- */

struct seen {
    struct rr_store *s;
    int posts;
    int n;
    int bad;
    uint64_t conn_id;
    int version;
};

static int check_x(const struct rr_exchange *x, void *ud)
{
    struct seen *sn = ud;
    char want_target[64], want_body[512];
    struct rr_buf b;
    int i = sn->n++;

    snprintf(want_target, sizeof(want_target), "/item/%d?x=%d", i, i * 2);
    if (!rr_view_eqs(x->target, want_target) || x->status != 200 || x->flags != 0 ||
        x->version != sn->version) {
        fprintf(stderr, "# exchange %d: target %.*s status %u flags %x version %u\n", i,
                (int)x->target.len, x->target.p, x->status, x->flags, x->version);
        sn->bad++;
        return 0;
    }
    if (i == 0)
        sn->conn_id = x->conn_id;
    else if (x->conn_id != sn->conn_id)
        sn->bad++; /* one client connection, one recorded connection */
    size_t want_req = sn->posts && i % 3 == 2 ? (size_t)(100 * i) : 0;
    if (x->req_body.len != want_req)
        sn->bad++;
    size_t wl = answer(want_target, want_req, want_body, sizeof(want_body));
    rr_buf_init(&b);
    if (rr_store_body_get(sn->s, &x->resp_body, &b) || b.len != wl ||
        memcmp(b.p, want_body, wl) != 0)
        sn->bad++;
    rr_buf_fini(&b);
    if (!(x->t_req_start_us && x->t_req_start_us <= x->t_resp_end_us))
        sn->bad++;
    return 0;
}

static void check_store(struct rr_store *s, int n, int version)
{
    struct seen sn = {.s = s, .version = version, .posts = version != 20};
    assert_int_equal(rr_store_flush(s), 0);
    assert_int_equal(rr_store_exchange_foreach(s, 0, check_x, &sn), 0);
    assert_int_equal(sn.n, n);
    assert_int_equal(sn.bad, 0);
}

struct up_seen {
    struct rr_store *s;
    int n101, n200, bad;
    uint32_t last_stream;
};

static int up_x(const struct rr_exchange *x, void *ud)
{
    struct up_seen *sn = ud;
    char want[512];
    struct rr_buf b;
    if (x->status == 101) {
        sn->n101++;
        return 0;
    }
    if (x->status != 200 || x->version != 20 || x->flags != 0) {
        fprintf(stderr, "# upgraded: status %u version %u flags %x stream %u\n", x->status,
                x->version, x->flags, x->h2_stream);
        sn->bad++;
        return 0;
    }
    int i = sn->n200++;
    char target[64];
    snprintf(target, sizeof(target), "/item/%d?x=%d", i, i * 2);
    /* Stream 1 is the upgraded request; nghttp numbers the others past its priority
     * placeholders, in the order given. */
    int id_ok = i == 0 ? x->h2_stream == 1 : x->h2_stream > sn->last_stream;
    sn->last_stream = x->h2_stream;
    if (!rr_view_eqs(x->target, target) || !id_ok) {
        fprintf(stderr, "# upgraded %d: stream %u target %.*s\n", i, x->h2_stream,
                (int)x->target.len, x->target.p);
        sn->bad++;
    }
    size_t wl = answer(target, 0, want, sizeof(want));
    rr_buf_init(&b);
    if (rr_store_body_get(sn->s, &x->resp_body, &b) || b.len != wl || memcmp(b.p, want, wl))
        sn->bad++;
    rr_buf_fini(&b);
    return 0;
}

static struct rr_store *open_store(char *path, size_t cap)
{
    static int k;
    struct rr_store *s = NULL;
    const char *b = getenv("RR_BUILD_ROOT");
    snprintf(path, cap, "%s/proxy-test-%d-%d.db", b ? b : "/tmp", (int)getpid(), k++);
    struct rr_store_opts o = {.path = path, .create = 1};
    assert_int_equal(rr_store_open(&s, &o, NULL, 0), 0);
    return s;
}

static void drop_store(struct rr_store **s, const char *path)
{
    char lock[600];
    assert_int_equal(rr_store_close(s), 0);
    snprintf(lock, sizeof(lock), "%s-lock", path);
    unlink(path);
    unlink(lock);
}

static void run_case(int h2)
{
    struct upstream u;
    static struct px p;
    char path[512];
    struct rr_store *s = open_store(path, sizeof(path));

    upstream_start(&u);
    proxy_start(&p, s, u.port);
    if (h2)
        run_nghttp(p.port, 12);
    else
        run_client(p.port, 12);
    proxy_stop(&p);
    upstream_stop(&u);
    assert_int_equal(u.requests, 12);
    assert_int_equal(p.st.conns, 1);
    assert_int_equal(p.st.exchanges, 12);
    check_store(s, 12, h2 ? 20 : 11);
    drop_store(&s, path);
}

/* nghttp -u: an HTTP/1.1 request with Upgrade: h2c, then HTTP/2 on the same connection. */
static void test_h2c_upgrade(void **state)
{
    struct upstream u;
    static struct px p;
    char path[512];
    struct rr_store *s;

    if (system("nghttp --version >/dev/null 2>&1") != 0)
        skip();
    s = open_store(path, sizeof(path));
    upstream_start(&u);
    proxy_start(&p, s, u.port);
    struct rr_buf cmd;
    rr_buf_init(&cmd);
    rr_buf_printf(&cmd, "nghttp -u -n -t 10");
    for (int i = 0; i < 4; i++)
        rr_buf_printf(&cmd, " http://127.0.0.1:%u/item/%d?x=%d", p.port, i, i * 2);
    assert_int_equal(system(rr_buf_cstr(&cmd)), 0);
    rr_buf_fini(&cmd);
    proxy_stop(&p);
    upstream_stop(&u);
    assert_int_equal(u.requests, 4);
    /* The upgrade request is its own HTTP/1.1 exchange (101) and stream 1 of the HTTP/2 one. */
    struct up_seen sn = {.s = s};
    assert_int_equal(rr_store_flush(s), 0);
    assert_int_equal(rr_store_exchange_foreach(s, 0, up_x, &sn), 0);
    assert_int_equal(sn.n101, 1);
    assert_int_equal(sn.n200, 4);
    assert_int_equal(sn.bad, 0);
    drop_store(&s, path);
}

static void test_h1(void **state)
{
    run_case(0);
}

static void test_h2c(void **state)
{
    if (system("nghttp --version >/dev/null 2>&1") != 0)
        skip(); /* Debian package nghttp2-client */
    run_case(1);
}

/* An upstream that refuses: the client's connection is closed and counted, nothing stored,
 * and the proxy keeps running. */
static void test_upstream_down(void **state)
{
    static struct px p;
    char path[512];
    struct rr_store *s = open_store(path, sizeof(path));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* A port that was free a moment ago: nothing listens there. */
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    proxy_start(&p, s, ntohs(a.sin_port));
    CURL *c = curl_easy_init();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", p.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    proxy_stop(&p);
    assert_int_equal(p.st.refused, 1);
    assert_int_equal(p.st.exchanges, 0);
    drop_store(&s, path);
}

static void test_bad_options(void **state)
{
    struct rr_proxy_opts o = {.listen = "127.0.0.1:0", .upstream = "ftp://x.test"};
    char why[256];
    assert_int_equal(rr_proxy_check(&o, why, sizeof(why)), RR_EUSAGE);
    assert_non_null(strstr(why, "expected http:// or https://"));
    o.upstream = "https://127.0.0.1";
    assert_int_equal(rr_proxy_check(&o, why, sizeof(why)), 0);
    o.host_header = 7;
    assert_int_equal(rr_proxy_check(&o, why, sizeof(why)), RR_EUSAGE);
    o.host_header = RR_PROXY_HOST_KEEP;
    o.upstream = "http://127.0.0.1:80/prefix";
    assert_int_equal(rr_proxy_check(&o, why, sizeof(why)), RR_EUSAGE);
    o.upstream = "http://127.0.0.1:8080";
    o.listen = "nope:x";
    assert_int_equal(rr_proxy_check(&o, why, sizeof(why)), RR_EUSAGE);
    assert_non_null(strstr(why, "[HOST:]PORT"));
    o.listen = "[::1]:0";
    assert_int_equal(rr_proxy_check(&o, why, sizeof(why)), 0);
    o.listen = "0";
    assert_int_equal(rr_proxy_check(&o, why, sizeof(why)), 0);
}

/* Host rewriting gives the same bytes however the stream is split: pipelined requests, a
 * body that looks like a request, chunked with extensions and trailers, and what follows
 * an Upgrade is left alone. */
static void test_hostrw(void **state)
{
    static const char in[] =
        "\r\nGET /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Host: keep\r\n\r\n"
        "POST /b HTTP/1.1\r\nhost:x\r\nContent-Length: 32\r\n\r\n"
        "GET /no HTTP/1.1\r\nHost: y\r\n\r\n"
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHOST: z\r\n\r\n"
        "5;ext=1\r\nHost:\r\n1b\r\nGET / HTTP/1.1\r\nHost: q\r\n\r\n\r\n0\r\nT: Host: t\r\n\r\n"
        "GET /up HTTP/1.1\r\nHost: u\r\nUpgrade: websocket\r\n\r\n"
        "GET /after HTTP/1.1\r\nHost: v\r\n\r\n";
    static const char want[] =
        "\r\nGET /a HTTP/1.1\r\nHost: up.test:443\r\nX-Host: keep\r\n\r\n"
        "POST /b HTTP/1.1\r\nHost: up.test:443\r\nContent-Length: 32\r\n\r\n"
        "GET /no HTTP/1.1\r\nHost: y\r\n\r\n"
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: up.test:443\r\n\r\n"
        "5;ext=1\r\nHost:\r\n1b\r\nGET / HTTP/1.1\r\nHost: q\r\n\r\n\r\n0\r\nT: Host: t\r\n\r\n"
        "GET /up HTTP/1.1\r\nHost: up.test:443\r\nUpgrade: websocket\r\n\r\n"
        "GET /after HTTP/1.1\r\nHost: v\r\n\r\n";
    size_t n = sizeof(in) - 1;
    (void)state;
    for (size_t step = 1; step <= n; step = step < 8 ? step + 1 : step * 3) {
        struct rr_hostrw w;
        struct rr_buf out;
        rr_hostrw_init(&w, "up.test:443");
        rr_buf_init(&out);
        for (size_t at = 0; at < n; at += step)
            rr_hostrw_feed(&w, (const uint8_t *)in + at, at + step < n ? step : n - at, &out);
        assert_int_equal(out.len, sizeof(want) - 1);
        assert_memory_equal(out.p, want, out.len);
        assert_int_equal(w.rewritten, 4);
        rr_buf_fini(&out);
        rr_hostrw_fini(&w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),   cmocka_unit_test(test_h1),
        cmocka_unit_test(test_h2c),           cmocka_unit_test(test_h2c_upgrade),
        cmocka_unit_test(test_upstream_down), cmocka_unit_test(test_hostrw),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
