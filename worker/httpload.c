/* SPDX-License-Identifier: MIT */
/* httpload.c -- Users that loop over a list of GET URLs: a load source for rrload worker
 * without a replay plan, and a plain check that a master and its workers agree.
 *
 * One thread and one libcurl handle (kept-alive connection) per user, as a Locust HttpUser
 * with its session. Requests are recorded as HttpUser records them: named by path and query,
 * failed on transport errors and on statuses 400-599 with requests' HTTPError text. Recording
 * takes a mutex; the worker's collect moves the delta out under the same mutex. */
#define RR_LOG_MODULE "worker"
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/log.h"
#include "rr/util.h"
#include "wk_int.h"

struct hl_user {
    struct rr_httpload *h;
    pthread_t thread;
    atomic_int stop, done;
    unsigned seq; /* where this user starts in the URL list */
};

struct hl_class {
    char *name;
    struct hl_user **u;
    size_t n, cap;
};

struct rr_httpload {
    char **urls; /* as given: absolute, or a path joined to host */
    size_t nurls;
    char *host; /* the master's --host when it sent one */
    pthread_mutex_t lock;
    struct rr_wstats *stats;
    struct hl_class *cls;
    size_t ncls;
    atomic_int abort; /* abandon transfers in flight */
    unsigned seq;
};

struct hl_req {
    uint64_t body;
    char reason[128];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    ((struct hl_req *)ud)->body += sz * n;
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct hl_req *r = ud;
    size_t len = sz * n;
    /* the status line of the last response (redirects are followed): "HTTP/1.1 500 Reason" */
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        const char *sp2 = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - p)) : NULL;
        size_t rl = 0;
        if (sp2) {
            const char *e = p + len;
            while (e > sp2 + 1 && (e[-1] == '\r' || e[-1] == '\n'))
                e--;
            rl = (size_t)(e - (sp2 + 1));
            if (rl >= sizeof(r->reason))
                rl = sizeof(r->reason) - 1;
            memcpy(r->reason, sp2 + 1, rl);
        }
        r->reason[rl] = '\0';
    }
    return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&((struct hl_user *)ud)->h->abort) ? 1 : 0;
}

/* The name HttpUser gives a request: the path and query of its URL. */
static const char *url_name(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return url;
    p = strchr(p + 3, '/');
    return p ? p : "/";
}

static char *error_text(CURLcode cc, long status, const char *reason, const char *url,
                        const char *curl_msg)
{
    char msg[2400];
    if (cc == CURLE_OK) {
        if (status < 400 || status >= 600)
            return NULL;
        snprintf(msg, sizeof(msg), "%ld %s Error: %s for url: %s", status,
                 status < 500 ? "Client" : "Server", reason, url);
        char *r = wk_pyrepr(msg);
        size_t n = strlen(r) + 16;
        char *out = rr_xmalloc(n);
        snprintf(out, n, "HTTPError(%s)", r);
        free(r);
        return out;
    }
    if (cc == CURLE_COULDNT_CONNECT)
        return rr_xstrdup("ConnectionRefusedError(111, 'Connection refused')");
    char *r = wk_pyrepr(curl_msg);
    size_t n = strlen(r) + 24;
    char *out = rr_xmalloc(n);
    snprintf(out, n, "ConnectionError(%s)", r);
    free(r);
    return out;
}

static void *user_main(void *arg)
{
    struct hl_user *u = arg;
    struct rr_httpload *h = u->h;
    CURL *c = curl_easy_init();
    char url[2048];
    char cerr[CURL_ERROR_SIZE];
    struct hl_req req;
    if (!c)
        goto out;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &req);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &req);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, u);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "rrload-worker");
    for (unsigned i = u->seq; !atomic_load(&u->stop); i++) {
        const char *src = h->urls[i % h->nurls];
        if (src[0] == '/')
            snprintf(url, sizeof(url), "%s%s", h->host ? h->host : "http://127.0.0.1", src);
        else
            snprintf(url, sizeof(url), "%s", src);
        memset(&req, 0, sizeof(req));
        cerr[0] = '\0';
        curl_easy_setopt(c, CURLOPT_URL, url);
        CURLcode cc = curl_easy_perform(c);
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            break;
        long status = 0;
        curl_off_t us = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
        char *err =
            error_text(cc, status, req.reason, url, cerr[0] ? cerr : curl_easy_strerror(cc));
        pthread_mutex_lock(&h->lock);
        rr_wstats_record(h->stats, "GET", url_name(url), (double)us / 1000.0,
                         cc == CURLE_OK ? req.body : 0, err, rr_now_real_us());
        pthread_mutex_unlock(&h->lock);
        free(err);
        if (cc != CURLE_OK) {
            /* a refused connection fails at once: do not spin on it */
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
out:
    if (c)
        curl_easy_cleanup(c);
    atomic_store(&u->done, 1);
    return NULL;
}

static void join_users(struct rr_httpload *h, struct hl_user **us, size_t n, uint64_t timeout_us)
{
    uint64_t deadline = rr_now_mono_us() + timeout_us;
    for (size_t i = 0; i < n; i++)
        atomic_store(&us[i]->stop, 1);
    for (;;) {
        size_t busy = 0;
        for (size_t i = 0; i < n; i++)
            busy += !atomic_load(&us[i]->done);
        if (!busy || rr_now_mono_us() >= deadline)
            break;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&h->abort, 1);
    for (size_t i = 0; i < n; i++) {
        pthread_join(us[i]->thread, NULL);
        free(us[i]);
    }
    atomic_store(&h->abort, 0);
}

static struct hl_class *find_class(struct rr_httpload *h, const char *name)
{
    for (size_t i = 0; i < h->ncls; i++)
        if (strcmp(h->cls[i].name, name) == 0)
            return &h->cls[i];
    h->cls = rr_xrealloc(h->cls, (h->ncls + 1) * sizeof(*h->cls));
    struct hl_class *c = &h->cls[h->ncls++];
    memset(c, 0, sizeof(*c));
    c->name = rr_xstrdup(name);
    return c;
}

static int hl_spawn(void *ud, const char *const *classes, const unsigned *counts, size_t n,
                    const char *host, unsigned *running)
{
    struct rr_httpload *h = ud;
    int rc = 0;
    if (host) {
        /* only between requests: every user is joined or not yet started when it changes */
        size_t total = 0;
        for (size_t i = 0; i < h->ncls; i++)
            total += h->cls[i].n;
        if (!total || !h->host || strcmp(host, h->host) != 0) {
            if (total)
                rr_log(RR_LOG_WARN, "the master changed the host to %s while users run", host);
            else {
                free(h->host);
                h->host = rr_xstrdup(host);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct hl_class *c = find_class(h, classes[i]);
        if (c->n > counts[i]) {
            join_users(h, c->u + counts[i], c->n - counts[i], 60000000);
            c->n = counts[i];
        }
        while (c->n < counts[i]) {
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 8;
                c->u = rr_xrealloc(c->u, c->cap * sizeof(*c->u));
            }
            struct hl_user *u = rr_xcalloc(1, sizeof(*u));
            u->h = h;
            u->seq = h->seq++;
            if (pthread_create(&u->thread, NULL, user_main, u) != 0) {
                free(u);
                rc = -EAGAIN;
                break;
            }
            c->u[c->n++] = u;
        }
        running[i] = (unsigned)c->n;
    }
    return rc;
}

static void hl_stop(void *ud, uint64_t timeout_us)
{
    struct rr_httpload *h = ud;
    for (size_t i = 0; i < h->ncls; i++) {
        join_users(h, h->cls[i].u, h->cls[i].n, timeout_us);
        h->cls[i].n = 0;
    }
}

static void hl_collect(void *ud, struct rr_wstats *dst)
{
    struct rr_httpload *h = ud;
    pthread_mutex_lock(&h->lock);
    rr_wstats_merge(dst, h->stats);
    rr_wstats_reset(h->stats, rr_now_real_us());
    pthread_mutex_unlock(&h->lock);
}

int rr_httpload_new(struct rr_httpload **out, const char *const *urls, size_t n)
{
    if (!n)
        return RR_EUSAGE;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct rr_httpload *h = rr_xcalloc(1, sizeof(*h));
    h->urls = rr_xcalloc(n, sizeof(*h->urls));
    for (size_t i = 0; i < n; i++)
        h->urls[i] = rr_xstrdup(urls[i]);
    h->nurls = n;
    pthread_mutex_init(&h->lock, NULL);
    h->stats = rr_wstats_new();
    *out = h;
    return 0;
}

void rr_httpload_free(struct rr_httpload **hp)
{
    struct rr_httpload *h = *hp;
    if (!h)
        return;
    hl_stop(h, 0);
    for (size_t i = 0; i < h->ncls; i++) {
        free(h->cls[i].name);
        free(h->cls[i].u);
    }
    free(h->cls);
    for (size_t i = 0; i < h->nurls; i++)
        free(h->urls[i]);
    free(h->urls);
    free(h->host);
    rr_wstats_free(&h->stats);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *hp = NULL;
}

void rr_httpload_set_host(struct rr_httpload *h, const char *host)
{
    free(h->host);
    h->host = rr_xstrdup(host);
}

void rr_httpload_bind(struct rr_httpload *h, struct rr_worker_load *load)
{
    load->spawn = hl_spawn;
    load->stop = hl_stop;
    load->collect = hl_collect;
    load->ud = h;
}
