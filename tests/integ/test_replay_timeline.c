/* test_replay_timeline.c -- Timeline mode: recorded exchanges replayed at their recorded
 * offsets (scaled by --speed), one connection per recorded connection, in both engines. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rr/replayer.h"
#include "rr/store.h"
#include "rr/util.h"

static enum rr_replay_engine engine;

struct server {
    pid_t pid;
    unsigned port;
    char log[256];
    char url[64];
};

static void server_start(struct server *s)
{
    int fds[2];
    char script[512];
    const char *src = getenv("RR_SOURCE_ROOT");
    snprintf(script, sizeof(script), "%s/tests/integ/replay_server.py", src ? src : ".");
    snprintf(s->log, sizeof(s->log), "/tmp/rr-tl-test-%d-%ld.log", (int)getpid(),
             (long)rr_now_mono_us());
    unlink(s->log);
    assert_int_equal(pipe(fds), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execlp("python3", "python3", script, "--log", s->log, "--max-seconds", "60", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "PORT %u", &s->port), 1);
    fclose(f);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
}

static void server_stop(struct server *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
}

/* The logged requests: their target (the second word) and arrival time. */
static size_t server_log(struct server *s, char targets[][64], double *times, size_t max)
{
    FILE *f = fopen(s->log, "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return 0;
    while (n < max && getline(&line, &cap, f) > 0) {
        char *t = strstr(line, "\"t\": "), *r = strstr(line, "\"raw\": \"");
        if (!t || !r)
            continue;
        times[n] = atof(t + 5);
        sscanf(r + 8, "%*s %63s", targets[n]);
        n++;
    }
    free(line);
    fclose(f);
    unlink(s->log);
    return n;
}

/* Two recorded connections: A at 0, 80, 200 ms; B at 40, 150 ms (offsets from the first). */
static const struct {
    int conn;
    unsigned ms;
    const char *target;
} recorded[] = {
    {1, 0, "/a1"}, {2, 40, "/b1"}, {1, 80, "/a2"}, {2, 150, "/b2"}, {1, 200, "/a3"},
};

static void make_store(const char *path)
{
    struct rr_store *st = NULL;
    struct rr_store_opts so = {.path = path, .create = 1};
    char why[256];
    uint64_t t0 = 1700000000000000ull;
    unlink(path);
    assert_int_equal(rr_store_open(&st, &so, why, sizeof(why)), 0);
    for (int c = 1; c <= 2; c++) {
        struct rr_conn conn = {.id = (uint64_t)c,
                               .proto = RR_PROTO_H1,
                               .ip_version = 4,
                               .client_port = (uint16_t)(40000 + c),
                               .server_port = 80,
                               .t_first_us = t0};
        assert_int_equal(rr_store_conn_put(st, &conn), 0);
    }
    for (size_t i = 0; i < sizeof(recorded) / sizeof(recorded[0]); i++) {
        struct rr_header h[] = {{rr_view_of("Host", 4), rr_view_of("rec.example", 11)},
                                {rr_view_of("X-Rec", 5), rr_view_of("1", 1)}};
        struct rr_exchange x = {0};
        x.conn_id = (uint64_t)recorded[i].conn;
        x.version = 11;
        x.t_req_start_us = t0 + recorded[i].ms * 1000ull;
        x.t_req_end_us = x.t_req_start_us + 10;
        x.t_resp_start_us = x.t_req_start_us + 500;
        x.t_resp_end_us = x.t_req_start_us + 600;
        x.method = rr_view_of("GET", 3);
        x.scheme = rr_view_of("http", 4);
        x.authority = rr_view_of("rec.example", 11);
        x.target = rr_view_of(recorded[i].target, strlen(recorded[i].target));
        x.n_req_headers = 2;
        x.req_headers = h;
        x.status = 200;
        assert_int_equal(rr_store_exchange_put(st, &x, NULL, 0, "hello\n", 6), 0);
    }
    assert_int_equal(rr_store_close(&st), 0);
}

static void replay_at(double speed)
{
    char path[128], why[256], targets[16][64];
    double times[16];
    struct server s;
    struct rr_store *st = NULL;
    struct rr_store_opts so = {.readonly = 1};
    struct rr_replay *r = NULL;
    struct rr_replay_opts o;
    struct rr_replay_counts c;

    snprintf(path, sizeof(path), "/tmp/rr-tl-%d.db", (int)getpid());
    make_store(path);
    server_start(&s);
    so.path = path;
    assert_int_equal(rr_store_open(&st, &so, why, sizeof(why)), 0);
    rr_replay_opts_init(&o);
    o.mode = RR_REPLAY_TIMELINE;
    o.speed = speed;
    o.host = s.url;
    o.engine = engine;
    if (rr_replay_new(&r, NULL, st, &o, NULL, why, sizeof(why)))
        fail_msg("rr_replay_new: %s", why);
    rr_store_close(&st);
    uint64_t t0 = rr_now_mono_us();
    assert_int_equal(rr_replay_start(r), 0);
    while (rr_replay_wait(r, 100000) == -ETIMEDOUT)
        assert_true(rr_now_mono_us() - t0 < 5000000);
    rr_replay_counts(r, &c);
    rr_replay_free(&r);
    server_stop(&s);
    unlink(path);
    assert_int_equal(c.requests, 5);
    assert_int_equal(c.failures, 0);
    size_t n = server_log(&s, targets, times, 16);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(targets[i], recorded[i].target); /* recorded order */
        double want_ms = recorded[i].ms / speed;
        double got_ms = (times[i] - times[0]) * 1000.0;
        if (got_ms < want_ms - 2.0 || got_ms > want_ms + 2.0)
            fail_msg("%s at %.2f ms, recorded %.2f ms (speed %g)", targets[i], got_ms, want_ms,
                     speed);
    }
}

static void test_speed_1(void **state)
{
    (void)state;
    replay_at(1);
}

static void test_speed_10(void **state)
{
    (void)state;
    replay_at(10);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_speed_1, use_native),
        cmocka_unit_test_setup(test_speed_10, use_native),
        cmocka_unit_test_setup(test_speed_1, use_curl),
        cmocka_unit_test_setup(test_speed_10, use_curl),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
