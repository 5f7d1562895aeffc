/* transform_bench.c -- Exchanges per second of rr_transform_run over a large synthetic store
 * of demo-like sessions (login with a fresh token, then API calls carrying it; three kinds
 * in the ratio 1:2:3), against a bare rr_store_exchange_foreach walk of the same store in
 * the same run: the walk is the floor every reader pays.
 *
 * usage: transform_bench DIR SESSIONS [CONCURRENT]
 * CONCURRENT sessions (default 1) run at once, their exchanges interleaved in the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rr/store.h"
#include "rr/transform.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, rr_strerror(rc));
    exit(1);
}

static uint64_t t_us = UINT64_C(1700000000000000);

static void put(struct rr_store *s, uint64_t conn, const char *method, const char *target,
                const char *body, uint16_t status, const char *resp, const char *const *rqh,
                const char *const *rsh)
{
    struct rr_exchange x = {0};
    struct rr_header rq[8], rs[8];
    size_t nq = 0, ns = 0;
    for (; rqh && rqh[0]; rqh += 2, nq++) {
        rq[nq].name = rr_view_of(rqh[0], strlen(rqh[0]));
        rq[nq].value = rr_view_of(rqh[1], strlen(rqh[1]));
    }
    for (; rsh && rsh[0]; rsh += 2, ns++) {
        rs[ns].name = rr_view_of(rsh[0], strlen(rsh[0]));
        rs[ns].value = rr_view_of(rsh[1], strlen(rsh[1]));
    }
    x.conn_id = conn;
    x.version = 11;
    x.t_req_start_us = t_us;
    x.t_req_end_us = t_us + 50;
    x.t_resp_start_us = t_us + 500;
    x.t_resp_end_us = t_us + 900;
    t_us += 20000;
    x.method = rr_view_of(method, strlen(method));
    x.scheme = rr_view_of("http", 4);
    x.authority = rr_view_of("127.0.0.1:8080", 14);
    x.target = rr_view_of(target, strlen(target));
    x.n_req_headers = nq;
    x.req_headers = rq;
    x.status = status;
    x.n_resp_headers = ns;
    x.resp_headers = rs;
    int rc =
        rr_store_exchange_put(s, &x, body, body ? strlen(body) : 0, resp, resp ? strlen(resp) : 0);
    if (rc)
        die("put", rc);
}

static uint64_t new_conn(struct rr_store *s, unsigned i)
{
    struct rr_conn c = {0};
    c.proto = RR_PROTO_H1;
    c.ip_version = 4;
    c.client_ip[0] = 10;
    c.client_ip[1] = (uint8_t)(i >> 16);
    c.client_ip[2] = (uint8_t)(i >> 8);
    c.client_ip[3] = (uint8_t)i;
    c.client_port = (uint16_t)(1024 + i % 60000);
    c.server_port = 8080;
    c.t_first_us = t_us;
    int rc = rr_store_conn_put(s, &c);
    if (rc)
        die("conn", rc);
    return c.id;
}

/* Exchange j of session i on connection conn; 0 when the session has no exchange j. */
static int session_step(struct rr_store *s, uint64_t conn, unsigned i, unsigned j)
{
    char tok[40], login[96], resp[128], auth[64], body[64], path[48];
    snprintf(tok, sizeof(tok), "%016llx%016llx", (unsigned long long)i * 0x9e3779b97f4a7c15u,
             (unsigned long long)i);
    snprintf(login, sizeof(login), "{\"user\": \"user%u\", \"password\": \"secret\"}", i % 500);
    snprintf(resp, sizeof(resp), "{\"token\":\"%s\",\"expires_in\":3600}", tok);
    snprintf(auth, sizeof(auth), "Bearer %s", tok);
    const char *const jh[] = {"Content-Type", "application/json", NULL};
    const char *const rq[] = {
        "Host", "127.0.0.1:8080", "Content-Type", "application/json", "User-Agent", "bench/1.0",
        NULL};
    const char *const ra[] = {"Host",       "127.0.0.1:8080", "Authorization",
                              auth,         "Content-Type",   "application/json",
                              "User-Agent", "bench/1.0",      NULL};
    unsigned kind = i % 6; /* 0: A, 1-2: B, 3-5: C */
    if (kind == 0) {
        if (j == 0)
            put(s, conn, "GET", "/", NULL, 200, "<html></html>", NULL, NULL);
        else if (j == 1)
            put(s, conn, "GET", "/static/app.js", NULL, 200, "x=1", NULL, NULL);
        else if (j == 2)
            put(s, conn, "POST", "/login", login, 200, resp, rq, jh);
        else if (j == 3)
            put(s, conn, "GET", "/api/items?page=1", NULL, 200, "{\"items\":[]}", ra, jh);
        else if (j == 4)
            put(s, conn, "POST", "/api/logout", NULL, 200, "{\"ok\":true}", ra, jh);
        return j <= 4;
    }
    if (kind <= 2) {
        if (j == 0) {
            put(s, conn, "POST", "/login", login, 200, resp, rq, jh);
        } else if (j == 1) {
            snprintf(path, sizeof(path), "/api/items/%u", 1 + i % 50);
            put(s, conn, "GET", path, NULL, 200, "{\"id\":1}", ra, jh);
        } else if (j == 2) {
            snprintf(body, sizeof(body), "{\"item\": %u}", 1 + i % 50);
            put(s, conn, "POST", "/api/cart", body, 201, "{\"count\":1}", ra, jh);
        } else if (j == 3) {
            put(s, conn, "GET", "/api/cart", NULL, 200, "{\"count\":1}", ra, jh);
        } else if (j == 4) {
            put(s, conn, "POST", "/api/logout", NULL, 200, "{\"ok\":true}", ra, jh);
        }
        return j <= 4;
    }
    if (j == 0) {
        put(s, conn, "POST", "/login", login, 200, resp, rq, jh);
    } else if (j == 1) {
        snprintf(body, sizeof(body), "{\"customer\": \"%u\"}", 100000 + i % 1000);
        put(s, conn, "POST", "/api/lookup", body, 200, "{\"retCode\":\"000000\"}", ra, jh);
    } else if (j == 2) {
        put(s, conn, "POST", "/api/logout", NULL, 200, "{\"ok\":true}", ra, jh);
    }
    return j <= 2;
}

/* Sessions first..first+k-1 at once, their exchanges interleaved as concurrent users' are. */
static void sessions(struct rr_store *s, unsigned first, unsigned k)
{
    uint64_t conns[1024];
    for (unsigned q = 0; q < k; q++)
        conns[q] = new_conn(s, first + q);
    for (unsigned j = 0;; j++) {
        int any = 0;
        for (unsigned q = 0; q < k; q++)
            any |= session_step(s, conns[q], first + q, j);
        if (!any)
            break;
    }
    t_us += 1000000;
}

static int count_cb(const struct rr_exchange *x, void *ud)
{
    (*(uint64_t *)ud) += x->status;
    return 0;
}

static long rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    char path[512], why[256];
    struct rr_store *s = NULL;
    struct rr_store_opts o = {0};
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: transform_bench DIR SESSIONS [CONCURRENT]\n");
        return 2;
    }
    unsigned n = (unsigned)atoi(argv[2]);
    unsigned conc = argc == 4 ? (unsigned)atoi(argv[3]) : 1;
    if (conc < 1 || conc > 1024) {
        fprintf(stderr, "CONCURRENT: 1 to 1024\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/bench.db", argv[1]);
    o.path = path;
    o.create = 1;
    o.batch_count = 65536;
    int rc = rr_store_open(&s, &o, why, sizeof(why));
    if (rc)
        die(why, rc);
    double t0 = now();
    for (unsigned i = 0; i < n; i += conc)
        sessions(s, i, n - i < conc ? n - i : conc);
    if ((rc = rr_store_flush(s)))
        die("flush", rc);
    struct rr_store_counts cnt;
    if ((rc = rr_store_counts(s, &cnt)))
        die("counts", rc);
    printf("store: %llu exchanges in %u sessions, %u at once, written in %.2f s\n",
           (unsigned long long)cnt.exchanges, n, conc, now() - t0);

    /* a first walk maps the store's pages in: they count in RSS but are the file, not the
     * transform's memory */
    uint64_t sum = 0;
    if ((rc = rr_store_exchange_foreach(s, 0, count_cb, &sum)))
        die("walk", rc);
    long rss0 = rss_kb();
    unsigned long long peak_open = 0;
    double best_walk = 1e9, best_tx = 1e9;
    for (int round = 0; round < 3; round++) {
        t0 = now();
        if ((rc = rr_store_exchange_foreach(s, 0, count_cb, &sum)))
            die("walk", rc);
        double w = now() - t0;
        best_walk = w < best_walk ? w : best_walk;

        struct rr_transform_stats st;
        struct rr_plan *p = NULL;
        rr_transform_stats_init(&st);
        t0 = now();
        rc = rr_transform_run(s, NULL, &p, &st, why, sizeof(why));
        double tt = now() - t0;
        if (rc)
            die(why, rc);
        best_tx = tt < best_tx ? tt : best_tx;
        if (round == 0)
            printf("plan: %zu flows (weights", p->n_flows);
        for (size_t i = 0; round == 0 && i < p->n_flows; i++)
            printf(" %u", p->flows[i].weight);
        if (round == 0)
            printf("), %zu pools, %llu sessions\n", p->n_pools, (unsigned long long)st.sessions);
        peak_open = st.peak_open;
        rr_plan_free(&p);
        rr_transform_stats_fini(&st);
    }
    double ex = (double)cnt.exchanges;
    printf("bare walk (rr_store_exchange_foreach): %.0f exchanges/s\n", ex / best_walk);
    printf("transform (rr_transform_run):          %.0f exchanges/s\n", ex / best_tx);
    printf("transform / walk: %.2f\n", best_walk / best_tx);
    printf("peak RSS growth over the runs: %ld KiB (peak RSS %ld KiB, store file included)\n",
           rss_kb() - rss0, rss_kb());
    printf("most exchanges held in open sessions at once: %llu\n", peak_open);
    rr_store_close(&s);
    return 0;
}
