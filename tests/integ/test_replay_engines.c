/* test_replay_engines.c -- Both engines against a real origin: bytes sent, load models,
 * stop rules and faults. The origin is tests/integ/replay_server.py on 127.0.0.1 port 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rr/plan.h"
#include "rr/replayer.h"
#include "rr/util.h"

static enum rr_replay_engine engine;

struct server {
    pid_t pid;
    unsigned port;
    char log[256];
    char url[64];
};

static const char *tls_cert, *tls_key;

/* A failed assertion leaves its test early: the server it started is stopped by the next
 * server_start or at exit, never left behind. */
static pid_t live_server;

static void kill_leftover(void)
{
    if (live_server > 0) {
        kill(live_server, SIGTERM);
        waitpid(live_server, NULL, 0);
        live_server = 0;
    }
}

static void server_start(struct server *s)
{
    kill_leftover();
    int fds[2];
    char script[512];
    const char *src = getenv("RR_SOURCE_ROOT");
    snprintf(script, sizeof(script), "%s/tests/integ/replay_server.py", src ? src : ".");
    snprintf(s->log, sizeof(s->log), "/tmp/rr-replay-test-%d-%ld.log", (int)getpid(),
             (long)rr_now_mono_us());
    unlink(s->log);
    assert_int_equal(pipe(fds), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    live_server = s->pid;
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        if (tls_cert)
            execlp("python3", "python3", script, "--log", s->log, "--max-seconds", "60", "--tls",
                   tls_cert, tls_key, (char *)NULL);
        else
            execlp("python3", "python3", script, "--log", s->log, "--max-seconds", "60",
                   (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "PORT %u", &s->port), 1);
    fclose(f);
    snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%u", tls_cert ? "https" : "http", s->port);
}

static void server_stop(struct server *s)
{
    live_server = 0;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

/* Returns the logged requests (raw bytes) as an array of strings; caller frees. */
static size_t server_requests(struct server *s, char ***out, double **times)
{
    FILE *f = fopen(s->log, "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    *out = NULL;
    if (times)
        *times = NULL;
    if (!f)
        return 0;
    while (getline(&line, &cap, f) > 0) {
        /* {"t": 12.5, "raw": "..."}: decode the JSON string by hand (\r \n \" \\ \uXXXX) */
        char *t = strstr(line, "\"t\": "), *r = strstr(line, "\"raw\": \"");
        if (!r)
            continue;
        struct rr_buf b;
        rr_buf_init(&b);
        for (char *p = r + 8; *p && *p != '"'; p++) {
            if (*p == '\\') {
                p++;
                if (*p == 'r')
                    rr_buf_addc(&b, '\r');
                else if (*p == 'n')
                    rr_buf_addc(&b, '\n');
                else if (*p == 't')
                    rr_buf_addc(&b, '\t');
                else if (*p == 'u') {
                    rr_buf_addc(&b, (uint8_t)strtol((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16));
                    p += 4;
                } else
                    rr_buf_addc(&b, (uint8_t)*p);
            } else
                rr_buf_addc(&b, (uint8_t)*p);
        }
        *out = realloc(*out, (n + 1) * sizeof(char *));
        (*out)[n] = strdup(rr_buf_cstr(&b));
        if (times) {
            *times = realloc(*times, (n + 1) * sizeof(double));
            (*times)[n] = t ? atof(t + 5) : 0;
        }
        n++;
        rr_buf_fini(&b);
    }
    free(line);
    fclose(f);
    unlink(s->log);
    return n;
}

static void free_requests(char **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i]);
    free(r);
}

/* ---------------------------------------------------------------- events */

struct events {
    pthread_mutex_t mu;
    size_t n, n_fail;
    char first_error[512];
    char contexts[8][256];
    size_t n_ctx;
    char names[16][64];
    uint64_t lengths[16];
    int statuses[16];
    size_t n_rec;
};

static void on_request(const struct rr_replay_request *q, void *ud)
{
    struct events *e = ud;
    pthread_mutex_lock(&e->mu);
    e->n++;
    if (q->exception) {
        if (!e->n_fail)
            snprintf(e->first_error, sizeof(e->first_error), "%s", q->exception);
        e->n_fail++;
    }
    if (e->n_ctx < 8)
        snprintf(e->contexts[e->n_ctx++], sizeof(e->contexts[0]), "%s", q->context);
    if (e->n_rec < 16) {
        snprintf(e->names[e->n_rec], sizeof(e->names[0]), "%s", q->name);
        e->lengths[e->n_rec] = q->response_length;
        e->statuses[e->n_rec++] = q->status;
    }
    pthread_mutex_unlock(&e->mu);
}

/* Runs to the end; returns the wall time in seconds. */
static double run(const struct rr_plan *plan, struct rr_replay_opts *o, struct events *ev,
                  struct rr_replay_counts *c)
{
    struct rr_replay *r = NULL;
    struct rr_replay_callbacks cb = {0};
    char why[512];
    if (ev) {
        memset(ev, 0, sizeof(*ev));
        pthread_mutex_init(&ev->mu, NULL);
        cb.request = on_request;
        cb.ud = ev;
    }
    o->engine = engine;
    int rc = rr_replay_new(&r, plan, NULL, o, &cb, why, sizeof(why));
    if (rc)
        fail_msg("rr_replay_new: %s", why);
    uint64_t t0 = rr_now_mono_us();
    assert_int_equal(rr_replay_start(r), 0);
    while (rr_replay_wait(r, 100000) == -ETIMEDOUT)
        assert_true(rr_now_mono_us() - t0 < 20000000); /* never hang */
    double secs = (double)(rr_now_mono_us() - t0) / 1e6;
    rr_replay_counts(r, c);
    assert_string_equal(rr_replay_engine_name(r), engine == RR_ENGINE_NATIVE ? "native"
                                                  : engine == RR_ENGINE_H2   ? "h2"
                                                                             : "curl");
    rr_replay_free(&r);
    return secs;
}

/* A one-flow plan built in C; steps are filled by each test. */
struct tplan {
    struct rr_plan plan;
    struct rr_plan_flow flow;
    struct rr_plan_step steps[4];
    char host[64];
};

static void tplan_init(struct tplan *t, const char *host, size_t n_steps)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->host, sizeof(t->host), "%s", host);
    t->plan.host = t->host;
    t->plan.wait.kind = RR_WAIT_NONE;
    t->plan.wait.scale = 1;
    t->plan.n_flows = 1;
    t->plan.flows = &t->flow;
    t->flow.name = "f";
    t->flow.weight = 1;
    t->flow.steps = t->steps;
    t->flow.n_steps = n_steps;
    for (size_t i = 0; i < n_steps; i++) {
        t->steps[i].method = "GET";
        t->steps[i].target = "/";
    }
}

/* ---------------------------------------------------------------- tests */

static void test_fidelity(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    char **reqs;
    char expect[1024];
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 3);
    /* pool + hop-by-hop and length headers that must be recomputed */
    static char *users[] = {"alice"};
    static struct rr_plan_pool pool = {.name = "user", .n_values = 1, .values = users};
    t.plan.n_pools = 1;
    t.plan.pools = &pool;
    static struct rr_plan_header h0[] = {{"X-Test", "a"},
                                         {"Connection", "keep-alive"},
                                         {"Content-Length", "999"},
                                         {"Content-Type", "text/plain"}};
    t.steps[0] = (struct rr_plan_step){.name = "echo",
                                       .method = "POST",
                                       .target = "/echo",
                                       .n_headers = 4,
                                       .headers = h0,
                                       .body = (uint8_t *)"hello ${user}",
                                       .body_len = 13};
    static struct rr_plan_extract x1[] = {{"token", RR_EXTRACT_JSON, "$.token"},
                                          {"sid", RR_EXTRACT_COOKIE, "sid"}};
    t.steps[1] = (struct rr_plan_step){
        .name = "login", .method = "GET", .target = "/login", .n_extracts = 2, .extracts = x1};
    static struct rr_plan_header h2[] = {{"Authorization", "Bearer ${token}"}};
    static struct rr_plan_check k2[] = {
        {.kind = RR_CHECK_JSON_EQ, .expr = "$.items[0].id", .value = "7"},
        {.kind = RR_CHECK_BODY_CONTAINS, .value = "abc123"}};
    t.steps[2] = (struct rr_plan_step){.name = "/json?t=[token]",
                                       .method = "GET",
                                       .target = "/json?t=${token}&s=${sid}",
                                       .n_headers = 1,
                                       .headers = h2,
                                       .n_checks = 2,
                                       .checks = k2};
    rr_replay_opts_init(&o);
    o.users = 1;
    o.iterations = 1;
    o.spawn_rate = 100;
    run(&t.plan, &o, &ev, &c);
    server_stop(&s);
    size_t n = server_requests(&s, &reqs, NULL);
    assert_int_equal(c.requests, 3);
    if (c.failures)
        fail_msg("unexpected failure: %s", ev.first_error);
    assert_int_equal(n, 3);
    snprintf(expect, sizeof(expect),
             "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nX-Test: a\r\n"
             "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello alice",
             s.port);
    assert_string_equal(reqs[0], expect);
    snprintf(expect, sizeof(expect), "GET /login HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", s.port);
    assert_string_equal(reqs[1], expect);
    /* the cookie from /login comes back from the jar */
    snprintf(expect, sizeof(expect),
             "GET /json?t=tok-42&s=S1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
             "Authorization: Bearer tok-42\r\nCookie: sid=S1\r\n\r\n",
             s.port);
    assert_string_equal(reqs[2], expect);
    assert_non_null(strstr(ev.contexts[2], "token=tok-42"));
    free_requests(reqs, n);
}

static void test_spawn_and_stop(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct rr_replay *r = NULL;
    char why[256];
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 1);
    t.plan.wait.kind = RR_WAIT_CONSTANT;
    t.plan.wait.a = 0.05;
    rr_replay_opts_init(&o);
    o.users = 20;
    o.spawn_rate = 40; /* 20 users in 0.5 s */
    o.run_time_us = 1000000;
    o.threads = 2;
    o.engine = engine;
    assert_int_equal(rr_replay_new(&r, &t.plan, NULL, &o, NULL, why, sizeof(why)), 0);
    uint64_t t0 = rr_now_mono_us();
    assert_int_equal(rr_replay_start(r), 0);
    usleep(280000);
    rr_replay_counts(r, &c);
    /* 0.28 s at 40/s: about 11 (published every 250 ms, so 8 to 13; slack for slow builds) */
    if (c.users < 4 || c.users > 14)
        fail_msg("%u users after 0.28 s", c.users);
    usleep(450000);
    rr_replay_counts(r, &c);
    assert_int_equal(c.users, 20);
    while (rr_replay_wait(r, 100000) == -ETIMEDOUT)
        assert_true(rr_now_mono_us() - t0 < 5000000);
    double secs = (double)(rr_now_mono_us() - t0) / 1e6;
    rr_replay_counts(r, &c);
    rr_replay_free(&r);
    server_stop(&s);
    char **reqs;
    free_requests(reqs, server_requests(&s, &reqs, NULL));
    assert_true(secs >= 0.95 && secs < 1.4);
    assert_int_equal(c.failures, 0);
    assert_true(c.requests > 150);
    assert_int_equal(c.users, 0);
}

static void test_stop_timeout(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 2);
    t.steps[0].target = "/delay?ms=400";
    t.steps[1].target = "/";
    rr_replay_opts_init(&o);
    o.users = 3;
    o.spawn_rate = 1000;
    o.run_time_us = 500000;
    o.stop_timeout_us = 2000000;
    double secs = run(&t.plan, &o, &ev, &c);
    /* started at 0, 0.4 s, so the second iteration's delay finishes at ~0.8 s */
    if (secs < 0.75 || secs > 1.5)
        fail_msg("graceful stop after %.2f s", secs);
    assert_int_equal(c.failures, 0);
    assert_int_equal(c.iterations, 6);
    /* without a stop timeout the run ends at -t, abandoning what is in flight */
    o.stop_timeout_us = 0;
    secs = run(&t.plan, &o, &ev, &c);
    if (secs < 0.45 || secs > 0.9)
        fail_msg("immediate stop after %.2f s", secs);
    server_stop(&s);
    char **reqs;
    free_requests(reqs, server_requests(&s, &reqs, NULL));
}

static void test_iterations(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 2);
    rr_replay_opts_init(&o);
    o.users = 3;
    o.spawn_rate = 1000;
    o.iterations = 7;
    o.threads = 2;
    run(&t.plan, &o, NULL, &c);
    server_stop(&s);
    char **reqs;
    size_t n = server_requests(&s, &reqs, NULL);
    free_requests(reqs, n);
    assert_int_equal(c.iterations, 7);
    assert_int_equal(c.requests, 14);
    assert_int_equal(n, 14);
}

static void test_rate(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    double *times;
    char **reqs;
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 1);
    rr_replay_opts_init(&o);
    o.mode = RR_REPLAY_RATE;
    o.rate = 200;
    o.arrival = RR_ARRIVAL_FIXED;
    o.users = 50;
    o.run_time_us = 2000000;
    o.stop_timeout_us = 500000;
    run(&t.plan, &o, NULL, &c);
    server_stop(&s);
    size_t n = server_requests(&s, &reqs, &times);
    assert_int_equal(c.failures, 0);
    assert_int_equal(c.unserved, 0);
    /* 400 arrivals in 2 s, within 2 % */
    assert_in_range(n, 392, 408);
    /* and the rate the server saw over the middle of the run: within 5 %, as the server's
     * own timestamps (python, on a shared machine) jitter by milliseconds. The slope of a
     * least-squares line through every arrival, so one late timestamp at either end of the
     * window cannot move it as it moved the rate of first-to-last. */
    double si = 0, st = 0, sii = 0, sit = 0, m = (double)(n - 40);
    for (size_t i = 20; i < n - 20; i++) {
        si += (double)i;
        st += times[i] - times[20];
        sii += (double)i * (double)i;
        sit += (double)i * (times[i] - times[20]);
    }
    double rate = (m * sii - si * si) / (m * sit - si * st);
    if (rate < 190 || rate > 210)
        fail_msg("rate %.1f/s", rate);
    free(times);
    free_requests(reqs, n);

    /* more arrivals than free users: the starts that could not be served are counted, and
     * the requests that were served are timed from their intended start */
    server_start(&s);
    tplan_init(&t, s.url, 1);
    t.steps[0].target = "/delay?ms=200";
    rr_replay_opts_init(&o);
    o.mode = RR_REPLAY_RATE;
    o.rate = 50;
    o.arrival = RR_ARRIVAL_FIXED;
    o.users = 2;
    o.run_time_us = 600000;
    o.stop_timeout_us = 500000;
    run(&t.plan, &o, NULL, &c);
    server_stop(&s);
    free_requests(reqs, server_requests(&s, &reqs, NULL));
    /* 30 arrivals, 2 users busy 0.2 s each: about 6 served */
    assert_in_range(c.requests, 4, 9);
    assert_true(c.unserved >= 20 && c.unserved + c.requests >= 28);
}

/* A closed port: every request fails with the refusal, and the run ends on time. */
static void check_closed_port(bool http2)
{
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    char url[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    snprintf(url, sizeof(url), "%s://127.0.0.1:%u", tls_cert ? "https" : "http", ntohs(a.sin_port));
    tplan_init(&t, url, 1);
    t.plan.wait.kind = RR_WAIT_CONSTANT;
    t.plan.wait.a = 0.01;
    rr_replay_opts_init(&o);
    o.users = 2;
    o.spawn_rate = 1000;
    o.run_time_us = 300000;
    o.http2 = http2;
    double secs = run(&t.plan, &o, &ev, &c);
    assert_true(secs < 0.6);
    assert_true(c.failures > 5 && c.failures == c.requests);
    assert_string_equal(ev.first_error, "ConnectionRefusedError(111, 'Connection refused')");
}

static void stop_server(void *p)
{
    server_stop(p);
}

/* The server (stopped by stop(ctx)) killed 0.3 s into a 0.8 s run: failures, and the run still
 * ends on time. */
static void check_killed_mid_run(const char *url, enum rr_replay_engine eng, bool http2,
                                 void (*stop)(void *), void *ctx)
{
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct rr_replay *r = NULL;
    char why[256];
    tplan_init(&t, url, 1);
    t.plan.wait.kind = RR_WAIT_CONSTANT;
    t.plan.wait.a = 0.01;
    rr_replay_opts_init(&o);
    o.users = 4;
    o.spawn_rate = 1000;
    o.run_time_us = 800000;
    o.http2 = http2;
    o.engine = eng;
    assert_int_equal(rr_replay_new(&r, &t.plan, NULL, &o, NULL, why, sizeof(why)), 0);
    uint64_t t0 = rr_now_mono_us();
    assert_int_equal(rr_replay_start(r), 0);
    usleep(300000);
    stop(ctx);
    while (rr_replay_wait(r, 100000) == -ETIMEDOUT)
        assert_true(rr_now_mono_us() - t0 < 5000000);
    double secs = (double)(rr_now_mono_us() - t0) / 1e6;
    rr_replay_counts(r, &c);
    rr_replay_free(&r);
    assert_true(secs < 1.2);
    assert_true(c.requests > c.failures && c.failures > 0);
}

static void test_faults(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;

    check_closed_port(false);
    double secs;

    /* a response slower than --timeout, and a 500 */
    server_start(&s);
    tplan_init(&t, s.url, 2);
    t.steps[0].target = "/delay?ms=3000";
    t.steps[0].name = "slow";
    t.steps[1].target = "/status/500";
    t.steps[1].name = "/status/500";
    rr_replay_opts_init(&o);
    o.users = 1;
    o.spawn_rate = 10;
    o.iterations = 1;
    o.timeout_us = 300000;
    secs = run(&t.plan, &o, &ev, &c);
    assert_true(secs < 0.8);
    assert_int_equal(c.requests, 1); /* the failed step interrupted the iteration */
    char expect[256];
    snprintf(expect, sizeof(expect),
             "ReadTimeout(\"%sConnectionPool(host='127.0.0.1', port=%u): Read timed out. "
             "(read timeout=0.3)\")",
             tls_cert ? "HTTPS" : "HTTP", s.port);
    assert_string_equal(ev.first_error, expect);
    t.steps[0].target = "/";
    run(&t.plan, &o, &ev, &c);
    assert_int_equal(c.requests, 2);
    assert_int_equal(c.failures, 1);
    assert_string_equal(
        ev.first_error,
        "HTTPError('500 Server Error: INTERNAL SERVER ERROR for url: /status/500')");

    /* the server killed mid-run: failures, and the run still ends on time */
    check_killed_mid_run(s.url, engine, false, stop_server, &s);
    char **reqs;
    free_requests(reqs, server_requests(&s, &reqs, NULL));
}

static void test_target_safety(void **state)
{
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    struct server s;
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 1);
    t.steps[0].target = "http://example.com/x";
    rr_replay_opts_init(&o);
    o.users = 1;
    o.iterations = 1;
    o.spawn_rate = 10;
    run(&t.plan, &o, &ev, &c);
    server_stop(&s);
    char **reqs;
    size_t n = server_requests(&s, &reqs, NULL);
    free_requests(reqs, n);
    assert_int_equal(n, 0); /* nothing sent anywhere */
    assert_int_equal(c.failures, 1);
    assert_non_null(strstr(ev.first_error, "--allow-host"));
}

/* chunked and close-delimited bodies, a connection closed by the server, HEAD */
static void test_framing(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    char **reqs;
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 4);
    static struct rr_plan_check k0[] = {{.kind = RR_CHECK_BODY_CONTAINS, .value = "abcdef"}};
    static struct rr_plan_check k1[] = {{.kind = RR_CHECK_BODY_CONTAINS, .value = "until-eof"}};
    t.steps[0] =
        (struct rr_plan_step){.method = "GET", .target = "/chunked", .n_checks = 1, .checks = k0};
    t.steps[1] =
        (struct rr_plan_step){.method = "GET", .target = "/eof", .n_checks = 1, .checks = k1};
    t.steps[2] = (struct rr_plan_step){.method = "GET", .target = "/close"};
    t.steps[3] = (struct rr_plan_step){.method = "HEAD", .target = "/"};
    rr_replay_opts_init(&o);
    o.users = 1;
    o.iterations = 2;
    o.spawn_rate = 10;
    o.timeout_us = 2000000;
    run(&t.plan, &o, &ev, &c);
    server_stop(&s);
    size_t n = server_requests(&s, &reqs, NULL);
    free_requests(reqs, n);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 8);
    assert_int_equal(n, 8);
}

static void test_before_after(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    char **reqs;
    (void)state;

    server_start(&s);
    tplan_init(&t, s.url, 1);
    t.steps[0].target = "/?step";
    struct rr_plan_step before = {.method = "GET", .target = "/?before"};
    struct rr_plan_step after = {.method = "GET", .target = "/?after"};
    t.plan.n_before = t.plan.n_after = 1;
    t.plan.before = &before;
    t.plan.after = &after;
    rr_replay_opts_init(&o);
    o.users = 2;
    o.spawn_rate = 100;
    o.iterations = 3;
    run(&t.plan, &o, NULL, &c);
    server_stop(&s);
    size_t n = server_requests(&s, &reqs, NULL);
    assert_int_equal(n, 5);
    assert_int_equal(c.requests, 5);
    assert_non_null(strstr(reqs[0], "GET /?before "));
    assert_non_null(strstr(reqs[1], "GET /?step "));
    assert_non_null(strstr(reqs[4], "GET /?after "));
    free_requests(reqs, n);
}

/* A self-signed certificate for 127.0.0.1, made once per run (removed at exit); false when
 * openssl cannot make one. */
static char cert_path[64], key_path[64];

static void cert_remove(void)
{
    unlink(cert_path);
    unlink(key_path);
}

static bool cert_make(void)
{
    static int made; /* 1 made, -1 failed */
    char cmd[512];
    if (made)
        return made > 0;
    snprintf(cert_path, sizeof(cert_path), "/tmp/rr-tls-%d.crt", (int)getpid());
    snprintf(key_path, sizeof(key_path), "/tmp/rr-tls-%d.key", (int)getpid());
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 "
             "-keyout %s -out %s >/dev/null 2>&1",
             key_path, cert_path);
    made = system(cmd) == 0 ? 1 : -1;
    if (made > 0)
        atexit(cert_remove);
    return made > 0;
}

/* https through both HTTP/1.1 engines (auto picks native), self-signed certificate made here */
static void test_https(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    char cmd[512], **reqs;
    (void)state;
    if (!cert_make())
        skip();
    static const enum rr_replay_engine engs[] = {RR_ENGINE_NATIVE, RR_ENGINE_CURL};
    for (size_t k = 0; k < 2; k++) {
        tls_cert = cert_path;
        tls_key = key_path;
        server_start(&s);
        tls_cert = tls_key = NULL;
        tplan_init(&t, s.url, 2);
        t.steps[1].target = "/json";
        rr_replay_opts_init(&o);
        o.users = 1;
        o.iterations = 2;
        o.spawn_rate = 10;
        engine = RR_ENGINE_AUTO;
        struct rr_replay *r = NULL;
        char why[256];
        assert_int_equal(rr_replay_new(&r, &t.plan, NULL, &o, NULL, why, sizeof(why)), 0);
        assert_string_equal(rr_replay_engine_name(r), "native");
        rr_replay_free(&r);
        engine = engs[k];
        run(&t.plan, &o, &ev, &c);
        server_stop(&s);
        size_t n = server_requests(&s, &reqs, NULL);
        if (c.failures)
            fail_msg("%s", ev.first_error);
        assert_int_equal(n, 4);
        snprintf(cmd, sizeof(cmd), "GET /json HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", s.port);
        assert_string_equal(reqs[1], cmd);
        free_requests(reqs, n);
    }
    /* HTTP/2 over TLS is curl's only */
    struct rr_replay *r = NULL;
    char why[256];
    o.engine = RR_ENGINE_NATIVE;
    o.http2 = 1;
    assert_int_equal(rr_replay_new(&r, &t.plan, NULL, &o, NULL, why, sizeof(why)), RR_EUSAGE);
    assert_non_null(strstr(why, "--engine curl"));

    /* https:// to a plain-http server that never answers the ClientHello: the handshake ends
     * at --timeout */
    server_start(&s);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", s.port);
    tplan_init(&t, url, 1);
    rr_replay_opts_init(&o);
    o.users = 1;
    o.spawn_rate = 1000;
    o.iterations = 1;
    o.timeout_us = 200000;
    engine = RR_ENGINE_NATIVE;
    double secs = run(&t.plan, &o, &ev, &c);
    server_stop(&s);
    free_requests(reqs, server_requests(&s, &reqs, NULL));
    assert_true(secs < 0.6);
    assert_int_equal(c.failures, 1);
    snprintf(cmd, sizeof(cmd),
             "ReadTimeout(\"HTTPSConnectionPool(host='127.0.0.1', port=%u): Read timed out. "
             "(read timeout=0.2)\")",
             s.port);
    assert_string_equal(ev.first_error, cmd);
}

/* ---------------------------------------------------------------- the demo target (h2c) */

struct demo {
    pid_t pid;
    unsigned h1, h2;
    char portf[128], logf[128];
};

/* Starts samples/demo_target on ephemeral HTTP/1.1 and h2c ports, logging requests; false
 * when it is not built. */
static bool demo_start(struct demo *d)
{
    char exe[512];
    const char *b = getenv("RR_BUILD_ROOT");
    snprintf(exe, sizeof(exe), "%s/samples/demo_target", b ? b : "build");
    if (access(exe, X_OK))
        return false;
    kill_leftover();
    memset(d, 0, sizeof(*d));
    snprintf(d->portf, sizeof(d->portf), "/tmp/rr-h2c-%d.port", (int)getpid());
    snprintf(d->logf, sizeof(d->logf), "/tmp/rr-h2c-%d.log", (int)getpid());
    unlink(d->portf);
    unlink(d->logf);
    d->pid = fork();
    assert_true(d->pid >= 0);
    if (d->pid == 0) {
        execl(exe, exe, "--port", "0", "--h2-port", "0", "--port-file", d->portf, "--log", d->logf,
              (char *)NULL);
        _exit(127);
    }
    live_server = d->pid;
    for (int i = 0; i < 300 && d->h2 == 0; i++) {
        FILE *f = fopen(d->portf, "r");
        if (f) {
            if (fscanf(f, "http=%u h2c=%u", &d->h1, &d->h2) != 2)
                d->h2 = 0;
            fclose(f);
        }
        if (!d->h2)
            usleep(10000);
    }
    assert_true(d->h2 > 0);
    return true;
}

static void demo_stop(struct demo *d)
{
    live_server = 0;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    unlink(d->portf);
}

/* The request log: lines (caller frees with free_requests) and the number of distinct
 * connections they came on. */
static size_t demo_log(struct demo *d, char ***out, size_t *n_conns)
{
    FILE *f = fopen(d->logf, "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    long conns[4096];
    size_t nc = 0;
    *out = NULL;
    if (!f) {
        *n_conns = 0;
        return 0;
    }
    while (getline(&line, &cap, f) > 0) {
        *out = realloc(*out, (n + 1) * sizeof(char *));
        (*out)[n++] = strdup(line);
        const char *c = strstr(line, "\"conn\":");
        if (!c)
            continue;
        long id = atol(c + 7);
        bool seen = false;
        for (size_t i = 0; i < nc && !seen; i++)
            seen = conns[i] == id;
        if (!seen && nc < 4096)
            conns[nc++] = id;
    }
    free(line);
    fclose(f);
    unlink(d->logf);
    *n_conns = nc;
    return n;
}

/* HTTP/2 cleartext (prior knowledge) through the curl engine and the h2 engine */
static void test_h2c(void **state)
{
    struct demo d;
    char url[64], **lines;
    size_t n_conns;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;
    if (!demo_start(&d))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", d.h2);
    tplan_init(&t, url, 2);
    t.steps[0].target = "/static/style.css";
    t.steps[1].target = "/favicon.ico";
    rr_replay_opts_init(&o);
    o.users = 1;
    o.iterations = 3;
    o.spawn_rate = 10;
    o.http2 = 1;
    run(&t.plan, &o, &ev, &c);
    demo_stop(&d);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 6);
    size_t n = demo_log(&d, &lines, &n_conns);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_non_null(strstr(lines[i], "\"version\":\"HTTP/2"));
    /* the h2 engine keeps the user's one connection; curl 7.88 cannot reuse h2c ones */
    if (engine == RR_ENGINE_H2)
        assert_int_equal(n_conns, 1);
    free_requests(lines, n);
}

/* The same session over HTTP/1.1 (native) and h2c (h2): correlation of the login token, the
 * session cookie from the jar, JSON checks, a gzip body counted decoded, a 500 as a failure. */
static void test_demo_session(void **state)
{
    struct demo d;
    char url[64], **lines;
    size_t n_conns;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;
    if (!demo_start(&d))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", engine == RR_ENGINE_H2 ? d.h2 : d.h1);
    tplan_init(&t, url, 4);
    static struct rr_plan_header h0[] = {{"Content-Type", "application/json"},
                                         {"Connection", "keep-alive"},
                                         {"Content-Length", "1"}};
    static struct rr_plan_extract x0[] = {{"token", RR_EXTRACT_JSON, "$.token"},
                                          {"sess", RR_EXTRACT_COOKIE, "session"}};
    t.steps[0] =
        (struct rr_plan_step){.name = "login",
                              .method = "POST",
                              .target = "/login",
                              .n_headers = 3,
                              .headers = h0,
                              .body = (uint8_t *)"{\"user\": \"ann\", \"password\": \"pw\"}",
                              .body_len = 33,
                              .n_extracts = 2,
                              .extracts = x0};
    static struct rr_plan_header h1[] = {{"Authorization", "Bearer ${token}"},
                                         {"X-Session", "${sess}"}};
    static struct rr_plan_check k1[] = {
        {.kind = RR_CHECK_JSON_EQ, .expr = "$.page", .value = "2"},
        {.kind = RR_CHECK_STATUS, .status_lo = 200, .status_hi = 200}};
    t.steps[1] = (struct rr_plan_step){.name = "items",
                                       .method = "GET",
                                       .target = "/api/items?page=2",
                                       .n_headers = 2,
                                       .headers = h1,
                                       .n_checks = 2,
                                       .checks = k1};
    t.steps[2] = (struct rr_plan_step){.name = "gzip", .method = "GET", .target = "/gzip"};
    t.steps[3] =
        (struct rr_plan_step){.name = "/status/500", .method = "GET", .target = "/status/500"};
    rr_replay_opts_init(&o);
    o.users = 1;
    o.iterations = 2;
    o.spawn_rate = 10;
    o.http2 = engine == RR_ENGINE_H2;
    run(&t.plan, &o, &ev, &c);
    demo_stop(&d);
    if (c.requests != 8)
        fail_msg("%zu requests: %s", (size_t)c.requests, ev.first_error);
    assert_int_equal(c.failures, 2);
    assert_string_equal(
        ev.first_error,
        "HTTPError('500 Server Error: Internal Server Error for url: /status/500')");
    assert_string_equal(ev.names[2], "gzip");
    assert_int_equal(ev.statuses[2], 200);
    /* the decoded size, as Locust counts it, though no extractor keeps this body */
    assert_int_equal(ev.lengths[2], sizeof("{\"gzipped\":true,\"method\":\"GET\",\"message\":"
                                           "\"this body was compressed with gzip by the demo "
                                           "target\"}") - 1);
    assert_non_null(strstr(ev.contexts[1], "token="));
    size_t n = demo_log(&d, &lines, &n_conns);
    assert_int_equal(n, 8);
    assert_int_equal(n_conns, 1);
    /* the login body with its recomputed length; hop-by-hop headers dropped */
    if (engine == RR_ENGINE_H2) {
        assert_non_null(strstr(lines[0], "\"version\":\"HTTP/2\""));
        assert_non_null(strstr(lines[0], "[\"content-length\",\"33\"]"));
        assert_non_null(strstr(lines[0], "[\"content-type\",\"application/json\"]"));
        assert_null(strstr(lines[0], "onnection"));
        assert_non_null(strstr(lines[1], "[\"cookie\",\"session="));
        assert_non_null(strstr(lines[1], "[\"authorization\",\"Bearer "));
    } else {
        assert_non_null(strstr(lines[1], "[\"Cookie\",\"session="));
    }
    assert_non_null(strstr(lines[0], "\"body\":\"{\\\"user\\\": \\\"ann\\\""));
    /* the cookie the jar sends is the one the extractor saw */
    const char *ck = strstr(lines[1], "ookie\",\"session="), *xs = strstr(lines[1], "ession\",\"");
    assert_non_null(ck);
    assert_non_null(xs);
    assert_memory_equal(ck + strlen("ookie\",\"session="), xs + strlen("ession\",\""), 32);
    free_requests(lines, n);
}

/* Few users, many requests: one connection per user (h2), as many TCP connections as users */
static void test_h2_reuse(void **state)
{
    struct demo d;
    char url[64], **lines;
    size_t n_conns;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;
    if (!demo_start(&d))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", d.h2);
    tplan_init(&t, url, 2);
    t.steps[1].method = "HEAD"; /* content-length without a body must end the stream */
    t.steps[1].target = "/static/app.js";
    rr_replay_opts_init(&o);
    o.users = 3;
    o.iterations = 150;
    o.spawn_rate = 1000;
    o.threads = 2;
    o.http2 = 1;
    run(&t.plan, &o, &ev, &c);
    demo_stop(&d);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 300);
    size_t n = demo_log(&d, &lines, &n_conns);
    assert_int_equal(n, 300);
    assert_int_equal(n_conns, 3);
    size_t n_head = 0;
    for (size_t i = 0; i < n; i++)
        n_head += strstr(lines[i], "\"method\":\"HEAD\"") != NULL;
    assert_int_equal(n_head, 150);
    free_requests(lines, n);
}

/* A request body larger than the server's stream window (64 KiB at the demo target's
 * nghttp2 defaults): the rest goes out as the window opens. */
static void test_h2_big_body(void **state)
{
    struct demo d;
    char url[64], **lines;
    size_t n_conns;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;
    if (!demo_start(&d))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", d.h2);
    size_t len = 300000;
    char *body = malloc(len + 1);
    assert_non_null(body);
    int k = snprintf(body, len, "{\"customer\": \"100123\", \"pad\": \"");
    memset(body + k, 'x', len - (size_t)k - 2);
    memcpy(body + len - 2, "\"}", 2);
    body[len] = 0;
    tplan_init(&t, url, 1);
    static struct rr_plan_header h[] = {{"Content-Type", "application/json"}};
    static struct rr_plan_check k0[] = {
        {.kind = RR_CHECK_JSON_EQ, .expr = "$.retCode", .value = "000000"}};
    t.steps[0] = (struct rr_plan_step){.method = "POST",
                                       .target = "/api/lookup",
                                       .n_headers = 1,
                                       .headers = h,
                                       .body = (uint8_t *)body,
                                       .body_len = len,
                                       .n_checks = 1,
                                       .checks = k0};
    rr_replay_opts_init(&o);
    o.users = 1;
    o.iterations = 3;
    o.spawn_rate = 10;
    o.http2 = 1;
    o.timeout_us = 5000000;
    run(&t.plan, &o, &ev, &c);
    demo_stop(&d);
    free(body);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 3);
    size_t n = demo_log(&d, &lines, &n_conns);
    assert_int_equal(n, 3);
    assert_int_equal(n_conns, 1);
    assert_non_null(strstr(lines[2], "[\"content-length\",\"300000\"]"));
    free_requests(lines, n);
}

/* Faults on h2c: a closed port, a response slower than --timeout (the connection survives
 * it), the server killed mid-run (failures, and the run ends on time). */
static void stop_demo(void *p)
{
    demo_stop(p);
}

static void test_h2_faults(void **state)
{
    struct demo d;
    char url[64], **lines;
    size_t n_conns;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;

    check_closed_port(true);
    double secs;

    if (!demo_start(&d))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", d.h2);
    tplan_init(&t, url, 1);
    t.steps[0].target = "/delay/3000";
    t.steps[0].name = "slow";
    t.plan.wait.kind = RR_WAIT_NONE;
    rr_replay_opts_init(&o);
    o.users = 1;
    o.spawn_rate = 10;
    o.iterations = 1;
    o.timeout_us = 300000;
    o.http2 = 1;
    /* before and after steps on the same user: the second request goes on the connection
     * whose stream timed out */
    struct rr_plan_step after = {.method = "GET", .target = "/favicon.ico"};
    t.plan.n_after = 1;
    t.plan.after = &after;
    secs = run(&t.plan, &o, &ev, &c);
    assert_true(secs < 0.8);
    assert_int_equal(c.requests, 2);
    assert_int_equal(c.failures, 1);
    char expect[256];
    snprintf(expect, sizeof(expect),
             "ReadTimeout(\"HTTPConnectionPool(host='127.0.0.1', port=%u): Read timed out. "
             "(read timeout=0.3)\")",
             d.h2);
    assert_string_equal(ev.first_error, expect);
    t.plan.n_after = 0;

    /* the server killed mid-run */
    check_killed_mid_run(url, RR_ENGINE_H2, true, stop_demo, &d);
    free_requests(lines, demo_log(&d, &lines, &n_conns));
}

/* Starts nginx with the config file conf (prefix dir) as live_server and waits until it
 * accepts on a; false (nothing left running) when it does not come up within 2 s. */
static bool nginx_start(const char *conf, const char *dir, const struct sockaddr_in *a)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 2);
        execlp("nginx", "nginx", "-c", conf, "-p", dir, (char *)NULL);
        execl("/usr/sbin/nginx", "nginx", "-c", conf, "-p", dir, (char *)NULL);
        _exit(127);
    }
    live_server = pid;
    bool up = false;
    for (int i = 0; i < 200 && !up; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        up = connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0;
        close(fd);
        if (!up)
            usleep(10000);
    }
    if (!up)
        kill_leftover();
    return up;
}

/* nginx h2c (prior knowledge) closing each connection after 5 requests with GOAWAY: the user
 * reopens transparently, no request fails, no connection carries more than 5. Then a stream
 * nginx resets (`return 444`): a failure that names the reset, and the connection stays. */
static void test_h2_nginx(void **state)
{
    char dir[128], conf[256], path[300], url[64];
    (void)state;
    if (access("/usr/sbin/nginx", X_OK))
        skip();
    kill_leftover();
    snprintf(dir, sizeof(dir), "/tmp/rr-h2-nginx-%d", (int)getpid());
    snprintf(path, sizeof(path), "rm -rf %s && mkdir -p %s/tmp", dir, dir);
    assert_int_equal(system(path), 0);
    /* nginx cannot report an ephemeral port: take one the kernel just handed out */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    unsigned port = ntohs(a.sin_port);
    snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/error.log warn;\n"
            "events { worker_connections 64; }\n"
            "http { log_format c '$connection $server_protocol $request';\n"
            "  access_log %s/access.log c; keepalive_requests 5; keepalive_timeout 1s;\n"
            "  client_body_temp_path %s/tmp/b; proxy_temp_path %s/tmp/p;\n"
            "  fastcgi_temp_path %s/tmp/f; uwsgi_temp_path %s/tmp/u; scgi_temp_path %s/tmp/s;\n"
            "  server { listen 127.0.0.1:%u http2; location = /reset { return 444; }\n"
            "    location / { default_type text/plain; return 200 \"hello\\n\"; } } }\n",
            dir, dir, dir, dir, dir, dir, dir, dir, port);
    fclose(f);
    if (!nginx_start(conf, dir, &a))
        skip(); /* nginx could not start here (port taken meanwhile, or no permission) */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    tplan_init(&t, url, 2);
    t.steps[1].target = "/second";
    rr_replay_opts_init(&o);
    o.users = 2;
    o.iterations = 10;
    o.spawn_rate = 100;
    o.http2 = 1;
    run(&t.plan, &o, &ev, &c);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 20);
    tplan_init(&t, url, 1);
    t.steps[0].target = "/reset";
    o.users = 1;
    o.iterations = 3;
    run(&t.plan, &o, &ev, &c);
    assert_int_equal(c.requests, 3);
    assert_int_equal(c.failures, 3);
    assert_string_equal(ev.first_error,
                        "StreamReset('HTTP/2 stream reset by the server: PROTOCOL_ERROR')");
    /* a user thinking longer than keepalive_timeout finds its connection closed (GOAWAY):
     * the next request opens a new one and does not fail */
    tplan_init(&t, url, 1);
    t.steps[0].target = "/idle";
    t.plan.wait.kind = RR_WAIT_CONSTANT;
    t.plan.wait.a = 1.3;
    o.iterations = 2;
    run(&t.plan, &o, &ev, &c);
    kill_leftover();
    if (c.failures)
        fail_msg("after the idle close: %s", ev.first_error);
    assert_int_equal(c.requests, 2);
    snprintf(path, sizeof(path), "%s/access.log", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    long conns[64] = {0}, counts[64] = {0};
    size_t nc = 0, n = 0;
    char line[512];
    while (n < 20 && fgets(line, sizeof(line), f)) {
        assert_non_null(strstr(line, " HTTP/2.0 GET /"));
        long id = atol(line);
        size_t k = 0;
        while (k < nc && conns[k] != id)
            k++;
        if (k == nc && nc < 64)
            conns[nc++] = id;
        counts[k]++;
        n++;
    }
    size_t n_reset = 0;
    long reset_conn = -1;
    while (n_reset < 3 && fgets(line, sizeof(line), f)) {
        assert_non_null(strstr(line, " HTTP/2.0 GET /reset "));
        assert_true(reset_conn < 0 || reset_conn == atol(line));
        reset_conn = atol(line);
        n_reset++;
    }
    assert_int_equal(n_reset, 3);
    long idle_conn[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        assert_non_null(fgets(line, sizeof(line), f));
        assert_non_null(strstr(line, " HTTP/2.0 GET /idle "));
        idle_conn[i] = atol(line);
    }
    assert_true(idle_conn[0] != idle_conn[1]);
    fclose(f);
    assert_int_equal(n, 20);
    /* 20 requests at 5 per connection by 2 users: 4 connections, 5 at most if uneven */
    assert_in_range(nc, 4, 5);
    for (size_t k = 0; k < nc; k++)
        assert_true(counts[k] <= 5);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    assert_int_equal(system(path), 0);
}

/* Engine choice: --http2 with http:// picks h2 (auto and native); https is native's (HTTP/1.1)
 * or curl's (--http2, ALPN h2) */
static void test_h2_select(void **state)
{
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay *r = NULL;
    char why[256];
    (void)state;
    static const struct {
        const char *url;
        enum rr_replay_engine e;
        int http2;
        const char *want;
    } cases[] = {
        {"http://127.0.0.1:9", RR_ENGINE_AUTO, 1, "h2"},
        {"http://127.0.0.1:9", RR_ENGINE_NATIVE, 1, "h2"},
        {"http://127.0.0.1:9", RR_ENGINE_H2, 0, "h2"},
        {"http://127.0.0.1:9", RR_ENGINE_CURL, 1, "curl"},
        {"http://127.0.0.1:9", RR_ENGINE_AUTO, 0, "native"},
        {"https://127.0.0.1:9", RR_ENGINE_AUTO, 1, "curl"},
        {"https://127.0.0.1:9", RR_ENGINE_AUTO, 0, "native"},
        {"https://127.0.0.1:9", RR_ENGINE_NATIVE, 0, "native"},
        {"https://127.0.0.1:9", RR_ENGINE_NATIVE, 1, NULL},
        {"https://127.0.0.1:9", RR_ENGINE_H2, 1, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tplan_init(&t, cases[i].url, 1);
        rr_replay_opts_init(&o);
        o.engine = cases[i].e;
        o.http2 = cases[i].http2;
        int rc = rr_replay_new(&r, &t.plan, NULL, &o, NULL, why, sizeof(why));
        if (!cases[i].want) {
            assert_int_equal(rc, RR_EUSAGE);
            assert_non_null(strstr(why, "--engine curl"));
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(rr_replay_engine_name(r), cases[i].want);
        rr_replay_free(&r);
    }
}

/* h2c through the curl engine with 3 users at once: on libcurl 7.88 a transfer must neither
 * reuse an h2c connection nor join another user's one in flight (both fail there). */
static void test_h2c_users(void **state)
{
    struct demo d;
    char url[64], **lines;
    size_t n_conns;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;
    if (!demo_start(&d))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", d.h2);
    tplan_init(&t, url, 2);
    t.steps[0].target = "/static/style.css";
    t.steps[1].target = "/favicon.ico";
    rr_replay_opts_init(&o);
    o.users = 3;
    o.iterations = 6;
    o.spawn_rate = 1000;
    o.http2 = 1;
    run(&t.plan, &o, &ev, &c);
    demo_stop(&d);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 12);
    size_t n = demo_log(&d, &lines, &n_conns);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++)
        assert_non_null(strstr(lines[i], "\"version\":\"HTTP/2"));
    free_requests(lines, n);
}

/* A gzip response (the demo target's /gzip): extractors and checks read the decoded JSON, the
 * size counted is the decoded length (Locust's response_length), and the request carries the
 * recorded Accept-Encoding and no other. Native and curl engines. */
static void test_gzip(void **state)
{
    static const char json[] = "{\"gzipped\":true,\"method\":\"GET\",\"message\":\"this body was "
                               "compressed with gzip by the demo target\"}";
    struct demo d;
    char url[64], **lines;
    size_t n_conns;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    struct rr_plan_header ae = {"Accept-Encoding", "gzip, deflate"};
    struct rr_plan_extract ex[2] = {{"gz", RR_EXTRACT_JSON, "$.gzipped"},
                                    {"meth", RR_EXTRACT_REGEX, "\"method\":\"([A-Z]+)\""}};
    struct rr_plan_check ck = {.kind = RR_CHECK_JSON_EQ,
                               .expr = "$.message",
                               .value = "this body was compressed with gzip by the demo target"};
    (void)state;
    if (!demo_start(&d))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", d.h1);
    tplan_init(&t, url, 2);
    t.steps[0].name = "/gzip";
    t.steps[0].target = "/gzip";
    t.steps[0].n_headers = 1;
    t.steps[0].headers = &ae;
    t.steps[0].n_extracts = 2;
    t.steps[0].extracts = ex;
    t.steps[0].n_checks = 1;
    t.steps[0].checks = &ck;
    t.steps[1].target = "/static/style.css?g=${gz}&m=${meth}";
    rr_replay_opts_init(&o);
    o.users = 1;
    o.iterations = 2;
    o.spawn_rate = 10;
    run(&t.plan, &o, &ev, &c);
    demo_stop(&d);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 4);
    assert_int_equal(ev.lengths[0], sizeof(json) - 1);
    assert_int_equal(ev.lengths[2], sizeof(json) - 1);
    size_t n = demo_log(&d, &lines, &n_conns);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0) {
            int k = 0;
            assert_non_null(strstr(lines[i], "[\"Accept-Encoding\",\"gzip, deflate\"]"));
            for (char *a = strstr(lines[i], "Accept-Encoding"); a;
                 a = strstr(a + 1, "Accept-Encoding"))
                k++;
            assert_int_equal(k, 1); /* sent once, as recorded */
        } else {
            assert_non_null(strstr(lines[i], "\"target\":\"/static/style.css?g=true&m=GET\""));
        }
    }
    free_requests(lines, n);
}

/* HTTP/2 over TLS (ALPN) through the curl engine, against nginx when it is installed: unlike
 * h2c on libcurl 7.88, connections are reused (2 users, 20 requests, at most 2 connections).
 * nginx cannot report an ephemeral port, so a free one is found by binding port 0 first. */
static void test_h2_tls(void **state)
{
    char dir[64], path[128], conf[2048], cmd[512], line[256];
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    (void)state;
    if (system("command -v nginx >/dev/null 2>&1") != 0)
        skip();
    snprintf(dir, sizeof(dir), "/tmp/rr-h2tls-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
             "-days 1 -keyout %s/k.pem -out %s/c.pem >/dev/null 2>&1",
             dir, dir, dir);
    if (system(cmd) != 0)
        skip();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    unsigned port = ntohs(a.sin_port);
    snprintf(conf, sizeof(conf),
             "daemon off; worker_processes 1; pid %s/n.pid; error_log %s/e.log warn;\n"
             "events { worker_connections 64; }\n"
             "http { log_format c '$connection $server_protocol $status';\n"
             "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
             "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
             "  server { listen 127.0.0.1:%u ssl http2; ssl_certificate %s/c.pem;\n"
             "    ssl_certificate_key %s/k.pem; access_log %s/a.log c;\n"
             "    location / { return 200 \"hello\\n\"; } } }\n",
             dir, dir, dir, dir, dir, dir, dir, port, dir, dir, dir);
    snprintf(path, sizeof(path), "%s/n.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(conf, f);
    fclose(f);
    if (!nginx_start(path, dir, &a))
        skip(); /* the port was taken in between, or nginx lacks ssl/http2 */
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    tplan_init(&t, url, 1);
    rr_replay_opts_init(&o);
    o.users = 2;
    o.iterations = 20;
    o.spawn_rate = 1000;
    o.http2 = 1;
    engine = RR_ENGINE_CURL;
    run(&t.plan, &o, &ev, &c);
    kill_leftover();
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 20);
    snprintf(path, sizeof(path), "%s/a.log", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    long conns[2] = {-1, -1}, cn;
    int n = 0, k = 0;
    while (fgets(line, sizeof(line), f)) {
        assert_non_null(strstr(line, " HTTP/2.0 200"));
        cn = atol(line);
        if (cn != conns[0] && cn != conns[1]) {
            assert_true(k < 2); /* a third connection: no reuse */
            conns[k++] = cn;
        }
        n++;
    }
    fclose(f);
    assert_int_equal(n, 20);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void kill_nginx(void *p)
{
    (void)p;
    kill_leftover();
}

/* HTTP/1.1 over TLS through the native engine against nginx (keepalive_requests 5): 2 users,
 * 20 requests on 4 or 5 connections of at most 5 requests each, reconnects resuming the TLS
 * session the worker kept; https:// to nginx's plain port fails the handshake with an SSLError;
 * then nginx killed mid-run. */
static void test_native_tls_nginx(void **state)
{
    char dir[64], path[128], conf[2048], cmd[512], line[256], url[64];
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    (void)state;
    if (system("command -v nginx >/dev/null 2>&1") != 0 || !cert_make())
        skip();
    kill_leftover();
    snprintf(dir, sizeof(dir), "/tmp/rr-ntls-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
    struct sockaddr_in a2 = a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), fd2 = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0 && fd2 >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(bind(fd2, (struct sockaddr *)&a2, sizeof(a2)), 0);
    assert_int_equal(getsockname(fd2, (struct sockaddr *)&a2, &alen), 0);
    close(fd);
    close(fd2);
    unsigned port = ntohs(a.sin_port), plain = ntohs(a2.sin_port);
    snprintf(conf, sizeof(conf),
             "daemon off; worker_processes 1; pid %s/n.pid; error_log %s/e.log warn;\n"
             "events { worker_connections 64; }\n"
             "http { log_format c '$connection $server_protocol $ssl_session_reused $request';\n"
             "  server { listen 127.0.0.1:%u; access_log off; return 200; }\n"
             "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
             "  uwsgi_temp_path %s; scgi_temp_path %s; keepalive_requests 5;\n"
             "  server { listen 127.0.0.1:%u ssl; ssl_certificate %s;\n"
             "    ssl_certificate_key %s; access_log %s/a.log c;\n"
             "    location / { return 200 \"hello\\n\"; } } }\n",
             dir, dir, plain, dir, dir, dir, dir, dir, port, cert_path, key_path, dir);
    snprintf(path, sizeof(path), "%s/n.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(conf, f);
    fclose(f);
    if (!nginx_start(path, dir, &a))
        skip(); /* the port was taken in between, or nginx lacks ssl */
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    tplan_init(&t, url, 1);
    rr_replay_opts_init(&o);
    o.users = 2;
    o.iterations = 20;
    o.spawn_rate = 1000;
    engine = RR_ENGINE_NATIVE;
    run(&t.plan, &o, &ev, &c);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 20);
    /* https:// to the plain port: nginx answers the ClientHello with a 400, every request
     * fails with the TLS error, and the run ends on time */
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", plain);
    tplan_init(&t, url, 1);
    t.plan.wait.kind = RR_WAIT_CONSTANT;
    t.plan.wait.a = 0.01;
    rr_replay_opts_init(&o);
    o.users = 2;
    o.spawn_rate = 1000;
    o.run_time_us = 300000;
    double secs = run(&t.plan, &o, &ev, &c);
    assert_true(secs < 0.6);
    assert_true(c.failures > 5 && c.failures == c.requests);
    if (strncmp(ev.first_error, "SSLError(1, '[SSL: ", 19) != 0)
        fail_msg("%s", ev.first_error);
    /* killed mid-run: failures, and the run ends on time */
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    check_killed_mid_run(url, RR_ENGINE_NATIVE, false, kill_nginx, NULL);
    snprintf(path, sizeof(path), "%s/a.log", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    long conns[64] = {0}, counts[64] = {0};
    size_t nc = 0, n = 0, n_resumed = 0;
    while (n < 20 && fgets(line, sizeof(line), f)) {
        assert_non_null(strstr(line, " HTTP/1.1 "));
        long id = atol(line);
        size_t k = 0;
        while (k < nc && conns[k] != id)
            k++;
        if (k == nc) {
            assert_true(nc < 64);
            conns[nc++] = id;
            n_resumed += strstr(line, " HTTP/1.1 r ") != NULL;
        }
        counts[k]++;
        n++;
    }
    fclose(f);
    assert_int_equal(n, 20);
    assert_in_range(nc, 4, 5);
    for (size_t k = 0; k < nc; k++)
        assert_true(counts[k] <= 5);
    /* the first connection of each worker is a full handshake; the later ones resume */
    assert_true(n_resumed >= 1);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int use_native(void **state)
{
    (void)state;
    engine = RR_ENGINE_NATIVE;
    return 0;
}

static int use_h2(void **state)
{
    (void)state;
    engine = RR_ENGINE_H2;
    return 0;
}

static int use_curl(void **state)
{
    (void)state;
    engine = RR_ENGINE_CURL;
    return 0;
}

/* The native engine over https: the python server speaks TLS with a certificate made here */
static int use_native_tls(void **state)
{
    (void)state;
    engine = RR_ENGINE_NATIVE;
    if (!cert_make())
        return -1;
    tls_cert = cert_path;
    tls_key = key_path;
    return 0;
}

static int no_tls(void **state)
{
    (void)state;
    tls_cert = tls_key = NULL;
    return 0;
}

#define BOTH(fn) cmocka_unit_test_setup(fn, use_native), cmocka_unit_test_setup(fn, use_curl)
#define TLS(fn)  cmocka_unit_test_setup_teardown(fn, use_native_tls, no_tls)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_fidelity),
        BOTH(test_spawn_and_stop),
        BOTH(test_stop_timeout),
        BOTH(test_iterations),
        BOTH(test_rate),
        BOTH(test_faults),
        BOTH(test_target_safety),
        BOTH(test_before_after),
        BOTH(test_framing),
        cmocka_unit_test(test_https),
        TLS(test_fidelity),
        TLS(test_faults),
        TLS(test_framing),
        cmocka_unit_test(test_native_tls_nginx),
        cmocka_unit_test_setup(test_h2c, use_curl),
        cmocka_unit_test_setup(test_h2c, use_h2),
        cmocka_unit_test_setup(test_h2c_users, use_curl),
        BOTH(test_gzip),
        cmocka_unit_test(test_h2_tls),
        cmocka_unit_test_setup(test_demo_session, use_native),
        cmocka_unit_test_setup(test_demo_session, use_h2),
        cmocka_unit_test_setup(test_h2_reuse, use_h2),
        cmocka_unit_test_setup(test_h2_big_body, use_h2),
        cmocka_unit_test_setup(test_h2_faults, use_h2),
        cmocka_unit_test_setup(test_h2_nginx, use_h2),
        cmocka_unit_test(test_h2_select),
    };
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_leftover);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
