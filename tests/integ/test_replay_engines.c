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
    uint64_t lengths[8]; /* response_length, in completion order */
    size_t n_ctx;
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
    if (e->n_ctx < 8) {
        e->lengths[e->n_ctx] = q->response_length;
        snprintf(e->contexts[e->n_ctx++], sizeof(e->contexts[0]), "%s", q->context);
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
    assert_string_equal(rr_replay_engine_name(r), engine == RR_ENGINE_NATIVE ? "native" : "curl");
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
     * own timestamps (python, on a shared machine) jitter by milliseconds */
    double span = times[n - 21] - times[20];
    double rate = (double)(n - 41) / span;
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

static void test_faults(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    char url[64];
    (void)state;

    /* a closed port */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(a.sin_port));
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
    assert_string_equal(ev.first_error, "ConnectionRefusedError(111, 'Connection refused')");

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
             "ReadTimeout(\"HTTPConnectionPool(host='127.0.0.1', port=%u): Read timed out. "
             "(read timeout=0.3)\")",
             s.port);
    assert_string_equal(ev.first_error, expect);
    t.steps[0].target = "/";
    run(&t.plan, &o, &ev, &c);
    assert_int_equal(c.requests, 2);
    assert_int_equal(c.failures, 1);
    assert_string_equal(
        ev.first_error,
        "HTTPError('500 Server Error: INTERNAL SERVER ERROR for url: /status/500')");

    /* the server killed mid-run: failures, and the run still ends on time */
    tplan_init(&t, s.url, 1);
    t.plan.wait.kind = RR_WAIT_CONSTANT;
    t.plan.wait.a = 0.01;
    rr_replay_opts_init(&o);
    o.users = 4;
    o.spawn_rate = 1000;
    o.run_time_us = 800000;
    o.engine = engine;
    struct rr_replay *r = NULL;
    char why[256];
    assert_int_equal(rr_replay_new(&r, &t.plan, NULL, &o, NULL, why, sizeof(why)), 0);
    uint64_t t0 = rr_now_mono_us();
    assert_int_equal(rr_replay_start(r), 0);
    usleep(300000);
    server_stop(&s);
    while (rr_replay_wait(r, 100000) == -ETIMEDOUT)
        assert_true(rr_now_mono_us() - t0 < 5000000);
    secs = (double)(rr_now_mono_us() - t0) / 1e6;
    rr_replay_counts(r, &c);
    rr_replay_free(&r);
    assert_true(secs < 1.2);
    assert_true(c.requests > c.failures && c.failures > 0);
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

/* https through the curl engine (auto picks it), self-signed certificate made here */
static void test_https(void **state)
{
    struct server s;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    char cmd[512], **reqs;
    (void)state;
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 "
             "-keyout /tmp/rr-tls-%d.key -out /tmp/rr-tls-%d.crt >/dev/null 2>&1",
             (int)getpid(), (int)getpid());
    if (system(cmd) != 0)
        skip();
    static char crt[64], key[64];
    snprintf(crt, sizeof(crt), "/tmp/rr-tls-%d.crt", (int)getpid());
    snprintf(key, sizeof(key), "/tmp/rr-tls-%d.key", (int)getpid());
    tls_cert = crt;
    tls_key = key;
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
    assert_string_equal(rr_replay_engine_name(r), "curl");
    rr_replay_free(&r);
    engine = RR_ENGINE_CURL;
    run(&t.plan, &o, &ev, &c);
    server_stop(&s);
    unlink(crt);
    unlink(key);
    size_t n = server_requests(&s, &reqs, NULL);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(n, 4);
    snprintf(cmd, sizeof(cmd), "GET /json HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", s.port);
    assert_string_equal(reqs[1], cmd);
    free_requests(reqs, n);
    /* the native engine refuses https */
    o.engine = RR_ENGINE_NATIVE;
    assert_int_equal(rr_replay_new(&r, &t.plan, NULL, &o, NULL, why, sizeof(why)), RR_EUSAGE);
    assert_non_null(strstr(why, "--engine curl"));
}

/* Starts samples/demo_target on ephemeral ports (HTTP/1.1 and h2c), logging requests to logf;
 * 0 with the ports, or -1 when it is not built. */
static int demo_start(pid_t *pid, unsigned *h1, unsigned *h2, char *logf, size_t loglen)
{
    char exe[512], portf[128];
    const char *b = getenv("RR_BUILD_ROOT");
    snprintf(exe, sizeof(exe), "%s/samples/demo_target", b ? b : "build");
    if (access(exe, X_OK))
        return -1;
    snprintf(portf, sizeof(portf), "/tmp/rr-demo-%d.port", (int)getpid());
    snprintf(logf, loglen, "/tmp/rr-demo-%d.log", (int)getpid());
    unlink(portf);
    unlink(logf);
    *h1 = *h2 = 0;
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        execl(exe, exe, "--port", "0", "--h2-port", "0", "--port-file", portf, "--log", logf,
              (char *)NULL);
        _exit(127);
    }
    live_server = *pid;
    for (int i = 0; i < 200 && *h2 == 0; i++) {
        FILE *f = fopen(portf, "r");
        if (f) {
            if (fscanf(f, "http=%u h2c=%u", h1, h2) != 2)
                *h2 = 0;
            fclose(f);
        }
        if (!*h2)
            usleep(10000);
    }
    unlink(portf);
    assert_true(*h2 > 0);
    return 0;
}

static void demo_stop(pid_t pid, const char *logf)
{
    live_server = 0;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(logf);
}

/* HTTP/2 cleartext (prior knowledge) through the curl engine, against the demo target */
static void test_h2c(void **state)
{
    char logf[128], url[64], line[4096];
    unsigned h1, h2;
    pid_t pid;
    struct tplan t;
    struct rr_replay_opts o;
    struct rr_replay_counts c;
    struct events ev;
    (void)state;
    if (demo_start(&pid, &h1, &h2, logf, sizeof(logf)))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", h2);
    tplan_init(&t, url, 2);
    t.steps[0].target = "/static/style.css";
    t.steps[1].target = "/favicon.ico";
    rr_replay_opts_init(&o);
    o.users = 3; /* at once: a transfer must not join another user's h2c connection */
    o.iterations = 6;
    o.spawn_rate = 1000;
    o.http2 = 1;
    run(&t.plan, &o, &ev, &c);
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 12);
    FILE *f = fopen(logf, "r");
    assert_non_null(f);
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        assert_non_null(strstr(line, "\"version\":\"HTTP/2"));
        n++;
    }
    fclose(f);
    assert_int_equal(n, 12);
    demo_stop(pid, logf);
}

/* A gzip response (the demo target's /gzip): extractors and checks read the decoded JSON, the
 * size counted is the decoded length (Locust's response_length), and the request carries the
 * recorded Accept-Encoding and no other. Both engines. */
static void test_gzip(void **state)
{
    static const char json[] = "{\"gzipped\":true,\"method\":\"GET\",\"message\":\"this body was "
                               "compressed with gzip by the demo target\"}";
    char logf[128], url[64], line[4096];
    unsigned h1, h2;
    pid_t pid;
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
    if (demo_start(&pid, &h1, &h2, logf, sizeof(logf)))
        skip();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", h1);
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
    if (c.failures)
        fail_msg("%s", ev.first_error);
    assert_int_equal(c.requests, 4);
    assert_int_equal(ev.lengths[0], sizeof(json) - 1);
    assert_int_equal(ev.lengths[2], sizeof(json) - 1);
    FILE *f = fopen(logf, "r");
    assert_non_null(f);
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (n % 2 == 0) {
            int k = 0;
            assert_non_null(strstr(line, "[\"Accept-Encoding\",\"gzip, deflate\"]"));
            for (char *a = strstr(line, "Accept-Encoding"); a; a = strstr(a + 1, "Accept-Encoding"))
                k++;
            assert_int_equal(k, 1); /* sent once, as recorded */
        } else {
            assert_non_null(strstr(line, "\"target\":\"/static/style.css?g=true&m=GET\""));
        }
        n++;
    }
    fclose(f);
    assert_int_equal(n, 4);
    demo_stop(pid, logf);
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
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 2);
        execlp("nginx", "nginx", "-c", path, "-p", dir, (char *)NULL);
        _exit(127);
    }
    live_server = pid;
    bool up = false;
    for (int i = 0; i < 200 && !up; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        up = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (!up)
            usleep(10000);
    }
    if (!up) {
        kill_leftover();
        skip(); /* the port was taken in between, or nginx lacks ssl/http2 */
    }
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

static int use_native(void **state)
{
    (void)state;
    engine = RR_ENGINE_NATIVE;
    return 0;
}

static int use_curl(void **state)
{
    (void)state;
    engine = RR_ENGINE_CURL;
    return 0;
}

#define BOTH(fn) cmocka_unit_test_setup(fn, use_native), cmocka_unit_test_setup(fn, use_curl)

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
        BOTH(test_gzip),
        cmocka_unit_test(test_https),
        cmocka_unit_test_setup(test_h2c, use_curl),
        cmocka_unit_test(test_h2_tls),
    };
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_leftover);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
