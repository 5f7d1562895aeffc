/* test_store.c -- The LMDB store: round trips through a real file, body dedup, meta, plan,
 * runs, counts, batching, map growth, bad files, and a writer killed with SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "rr/store.h"
#include "rr/util.h"

static char dir[64];

static int setup(void **state)
{
    strcpy(dir, "/tmp/rr_test_store.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp(const char *name)
{
    static char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static struct rr_store *open_store(const char *path, int readonly, int create)
{
    struct rr_store_opts o = {.path = path, .readonly = readonly, .create = create};
    struct rr_store *s = NULL;
    char why[256];
    int rc = rr_store_open(&s, &o, why, sizeof(why));
    if (rc)
        fprintf(stderr, "open %s: %s (%s)\n", path, why, rr_strerror(rc));
    assert_int_equal(rc, 0);
    return s;
}

static struct rr_view V(const char *s) {
    return rr_view_of(s, strlen(s));
}

static void
make_exchange(struct rr_exchange *x, uint64_t conn, unsigned i)
{
    static char target[64];
    static struct rr_header h[2];
    memset(x, 0, sizeof(*x));
    snprintf(target, sizeof(target), "/api/items/%u?q=%u", i, i * 7);
    x->conn_id = conn;
    x->version = 11;
    x->t_req_start_us = 1764200000000000ull + i * 1000;
    x->t_req_end_us = x->t_req_start_us + 10;
    x->t_resp_start_us = x->t_req_start_us + 500;
    x->t_resp_end_us = x->t_req_start_us + 900;
    x->method = V(i % 3 ? "GET" : "POST");
    x->scheme = V("http");
    x->authority = V("127.0.0.1:8080");
    x->target = V(target);
    h[0] = (struct rr_header){V("Host"), V("127.0.0.1:8080")};
    h[1] = (struct rr_header){V("Accept"), V("*/*")};
    x->req_headers = h;
    x->n_req_headers = 2;
    x->status = 200;
    x->reason = V("OK");
    x->resp_headers = h + 1;
    x->n_resp_headers = 1;
}

struct collect {
    uint64_t n;
    uint64_t last_id;
    uint64_t stop_at;
};

static int collect_fn(const struct rr_exchange *x, void *ud)
{
    struct collect *c = ud;
    assert_true(x->id > c->last_id);
    c->last_id = x->id;
    c->n++;
    return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static void create_put_reopen(void **state)
{
    const char *path = tmp("a.db");
    struct rr_store *s = open_store(path, 0, 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    struct rr_conn c = {.proto = RR_PROTO_H1,
                        .ip_version = 4,
                        .client_port = 1234,
                        .server_port = 80,
                        .t_first_us = 5,
                        .t_last_us = 9};
    assert_int_equal(rr_store_conn_put(s, &c), 0);
    assert_int_equal(c.id, 1);

    const char *body = "{\"user\":\"alice\",\"password\":\"secret\"}";
    char big[10000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 7);
    for (unsigned i = 0; i < 50; i++) {
        struct rr_exchange x;
        make_exchange(&x, c.id, i);
        x.resp_wire_len = sizeof(big);
        assert_int_equal(rr_store_exchange_put(s, &x, body, strlen(body), big, sizeof(big)), 0);
        assert_int_equal(x.id, i + 1);
        assert_int_equal(x.req_body.len, strlen(body));
        assert_int_equal(x.resp_body.len, sizeof(big));
    }
    /* no body at all */
    struct rr_exchange x;
    make_exchange(&x, c.id, 99);
    assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, NULL, 0), 0);
    assert_int_equal(x.req_body.len, 0);
    assert_int_equal(x.id, 51);

    assert_int_equal(rr_store_meta_put(s, "recorded_by", "test", 4), 0);
    assert_int_equal(rr_store_close(&s), 0);
    assert_null(s);

    s = open_store(path, 1, 0);
    struct rr_store_counts n;
    assert_int_equal(rr_store_counts(s, &n), 0);
    assert_int_equal(n.exchanges, 51);
    assert_int_equal(n.conns, 1);
    assert_int_equal(n.bodies, 2); /* deduplicated */
    assert_int_equal(n.body_bytes, strlen(body) + sizeof(big));
    assert_int_equal(n.runs, 0);
    assert_false(n.has_plan);

    struct collect col = {0};
    assert_int_equal(rr_store_exchange_foreach(s, 0, collect_fn, &col), 0);
    assert_int_equal(col.n, 51);
    col = (struct collect){.last_id = 0};
    assert_int_equal(rr_store_exchange_foreach(s, 40, collect_fn, &col), 0);
    assert_int_equal(col.n, 12);
    col = (struct collect){.stop_at = 3};
    assert_int_equal(rr_store_exchange_foreach(s, 0, collect_fn, &col), 7);
    assert_int_equal(col.n, 3);

    struct rr_conn d;
    assert_int_equal(rr_store_conn_get(s, 1, &d), 0);
    assert_int_equal(d.id, 1);
    assert_int_equal(d.client_port, 1234);
    assert_int_equal(rr_store_conn_get(s, 2, &d), RR_ENOTFOUND);

    struct rr_buf b;
    rr_buf_init(&b);
    struct rr_body_ref ref;
    struct rr_exchange first;
    make_exchange(&first, 1, 0);
    assert_int_equal(rr_store_meta_get(s, "recorded_by", &b), 0);
    assert_true(rr_view_eqs(rr_view_of(b.p, b.len), "test"));
    rr_buf_reset(&b);
    assert_int_equal(rr_store_meta_get(s, "schema", &b), 0);
    assert_true(rr_view_eqs(rr_view_of(b.p, b.len), "1"));
    rr_buf_reset(&b);
    assert_int_equal(rr_store_meta_get(s, "nope", &b), RR_ENOTFOUND);

    /* bodies come back byte for byte */
    ref.len = sizeof(big);
    ref.hash[0] = rr_hash64(big, sizeof(big), 0x626f6479);
    ref.hash[1] = rr_hash64(big, sizeof(big), 0x68617368);
    assert_int_equal(rr_store_body_get(s, &ref, &b), 0);
    assert_int_equal(b.len, sizeof(big));
    assert_memory_equal(b.p, big, sizeof(big));
    rr_buf_reset(&b);
    ref.hash[1]++;
    assert_int_equal(rr_store_body_get(s, &ref, &b), RR_ENOTFOUND);
    ref.len = 0;
    assert_int_equal(rr_store_body_get(s, &ref, &b), 0);
    assert_int_equal(b.len, 0);

    /* writing through a read-only handle */
    assert_int_equal(rr_store_meta_put(s, "k", "v", 1), -EROFS);
    rr_buf_fini(&b);
    assert_int_equal(rr_store_close(&s), 0);

    /* reopened for writing, numbering continues */
    s = open_store(path, 0, 0);
    make_exchange(&x, 1, 1);
    assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, big, sizeof(big)), 0);
    assert_int_equal(x.id, 52);
    c.id = 0;
    assert_int_equal(rr_store_conn_put(s, &c), 0);
    assert_int_equal(c.id, 2);
    assert_int_equal(rr_store_counts(s, &n), 0);
    assert_int_equal(n.bodies, 2);
    assert_int_equal(rr_store_close(&s), 0);
}

struct body_check {
    struct rr_store *s;
    unsigned n;
};

/* Bodies may be read from inside the exchange walk (the transform does). */
static int body_check_fn(const struct rr_exchange *x, void *ud)
{
    struct body_check *bc = ud;
    struct rr_buf b;
    char want[64];
    rr_buf_init(&b);
    assert_int_equal(rr_store_body_get(bc->s, &x->resp_body, &b), 0);
    int n =
        snprintf(want, sizeof(want), "body of %.*s", (int)x->target.len, (const char *)x->target.p);
    assert_int_equal(b.len, (size_t)n);
    assert_memory_equal(b.p, want, (size_t)n);
    rr_buf_fini(&b);
    bc->n++;
    return 0;
}

static void bodies_in_walk(void **state)
{
    struct rr_store *s = open_store(tmp("b.db"), 0, 1);
    for (unsigned i = 0; i < 20; i++) {
        struct rr_exchange x;
        char body[64];
        make_exchange(&x, 1, i);
        int n = snprintf(body, sizeof(body), "body of %.*s", (int)x.target.len,
                         (const char *)x.target.p);
        assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, body, (size_t)n), 0);
    }
    struct body_check bc = {s, 0};
    assert_int_equal(rr_store_exchange_foreach(s, 0, body_check_fn, &bc), 0);
    assert_int_equal(bc.n, 20);
    assert_int_equal(rr_store_close(&s), 0);
}

static void body_cap(void **state)
{
    struct rr_store_opts o = {.path = tmp("cap.db"), .create = 1, .max_body = 100};
    struct rr_store *s = NULL;
    assert_int_equal(rr_store_open(&s, &o, NULL, 0), 0);
    char big[1000];
    memset(big, 'x', sizeof(big));
    struct rr_exchange x;
    make_exchange(&x, 1, 1);
    assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, big, sizeof(big)), 0);
    assert_true(x.flags & RR_XF_BODY_CAPPED);
    assert_int_equal(x.resp_body.len, 100);
    struct rr_buf b;
    rr_buf_init(&b);
    assert_int_equal(rr_store_body_get(s, &x.resp_body, &b), 0);
    assert_int_equal(b.len, 100);
    rr_buf_fini(&b);
    assert_int_equal(rr_store_close(&s), 0);
}

static int meta_fn(const char *key, struct rr_view val, void *ud)
{
    int *n = ud;
    (*n)++;
    assert_true(strlen(key) > 0);
    return 0;
}

static int run_fn(uint64_t id, struct rr_view doc, void *ud)
{
    uint64_t *n = ud;
    assert_int_equal(id, ++*n);
    return 0;
}

static void meta_plan_runs(void **state)
{
    struct rr_store *s = open_store(tmp("m.db"), 0, 1);
    struct rr_buf b;
    rr_buf_init(&b);
    assert_int_equal(rr_store_meta_put(s, "source", "pcap:x.pcap", 11), 0);
    assert_int_equal(rr_store_meta_put(s, "source", "pcap:y.pcap", 11), 0);
    assert_int_equal(rr_store_meta_get(s, "source", &b), 0);
    assert_true(rr_view_eqs(rr_view_of(b.p, b.len), "pcap:y.pcap"));
    int n = 0;
    assert_int_equal(rr_store_meta_foreach(s, meta_fn, &n), 0);
    assert_int_equal(n, 2); /* schema, source */

    rr_buf_reset(&b);
    assert_int_equal(rr_store_plan_get(s, &b), RR_ENOTFOUND);
    assert_int_equal(rr_store_plan_put(s, "flow a\n", 7), 0);
    assert_int_equal(rr_store_plan_get(s, &b), 0);
    assert_int_equal(b.len, 7);
    struct rr_store_counts c;
    assert_int_equal(rr_store_counts(s, &c), 0);
    assert_true(c.has_plan);
    assert_int_equal(rr_store_plan_del(s), 0);
    assert_int_equal(rr_store_plan_del(s), 0); /* deleting nothing is fine */
    rr_buf_reset(&b);
    assert_int_equal(rr_store_plan_get(s, &b), RR_ENOTFOUND);

    uint64_t id = 0;
    assert_int_equal(rr_store_run_add(s, "{\"a\":1}", 7, &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(rr_store_run_add(s, "{\"a\":2}", 7, &id), 0);
    assert_int_equal(id, 2);
    assert_int_equal(rr_store_close(&s), 0);

    s = open_store(tmp("m.db"), 0, 0);
    assert_int_equal(rr_store_run_add(s, "{}", 2, &id), 0);
    assert_int_equal(id, 3);
    rr_buf_reset(&b);
    assert_int_equal(rr_store_run_get(s, 2, &b), 0);
    assert_true(rr_view_eqs(rr_view_of(b.p, b.len), "{\"a\":2}"));
    assert_int_equal(rr_store_run_get(s, 9, &b), RR_ENOTFOUND);
    uint64_t runs = 0;
    assert_int_equal(rr_store_run_foreach(s, run_fn, &runs), 0);
    assert_int_equal(runs, 3);
    assert_int_equal(rr_store_counts(s, &c), 0);
    assert_int_equal(c.runs, 3);
    assert_false(c.has_plan);
    rr_buf_fini(&b);
    assert_int_equal(rr_store_close(&s), 0);
}

/* A map far too small for what is written grows instead of failing. */
static void map_growth(void **state)
{
    struct rr_store_opts o = {
        .path = tmp("grow.db"), .create = 1, .map_size = 64 * 1024, .batch_count = 500};
    struct rr_store *s = NULL;
    assert_int_equal(rr_store_open(&s, &o, NULL, 0), 0);
    uint8_t body[4096];
    uint64_t rng = 1;
    for (unsigned i = 0; i < 2000; i++) {
        for (size_t j = 0; j < sizeof(body); j += 8) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            memcpy(body + j, &rng, 8); /* incompressible and distinct */
        }
        struct rr_exchange x;
        make_exchange(&x, 1, i);
        assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, body, sizeof(body)), 0);
    }
    assert_int_equal(rr_store_close(&s), 0);
    struct stat st;
    assert_int_equal(stat(tmp("grow.db"), &st), 0);
    assert_true(st.st_size > 8 * 1024 * 1024);
    s = open_store(tmp("grow.db"), 1, 0);
    struct rr_store_counts c;
    assert_int_equal(rr_store_counts(s, &c), 0);
    assert_int_equal(c.exchanges, 2000);
    assert_int_equal(c.bodies, 2000);
    assert_int_equal(c.body_bytes, 2000 * sizeof(body));
    assert_int_equal(rr_store_close(&s), 0);
}

/* Batches commit by count and by time, and reads see uncommitted puts. */
static void batching(void **state)
{
    const char *path = tmp("batch.db");
    struct rr_store_opts o = {.path = path, .create = 1, .batch_count = 10, .batch_ms = 50};
    struct rr_store *w = NULL, *r = NULL;
    assert_int_equal(rr_store_open(&w, &o, NULL, 0), 0);
    r = open_store(path, 1, 0);
    struct rr_store_counts c;
    struct rr_exchange x;
    for (unsigned i = 0; i < 9; i++) {
        make_exchange(&x, 1, i);
        assert_int_equal(rr_store_exchange_put(w, &x, NULL, 0, NULL, 0), 0);
    }
    assert_int_equal(rr_store_counts(r, &c), 0);
    assert_int_equal(c.exchanges, 0); /* batch still open */
    make_exchange(&x, 1, 9);
    assert_int_equal(rr_store_exchange_put(w, &x, NULL, 0, NULL, 0), 0);
    assert_int_equal(rr_store_counts(r, &c), 0);
    assert_int_equal(c.exchanges, 10); /* committed by count */

    make_exchange(&x, 1, 10);
    assert_int_equal(rr_store_exchange_put(w, &x, NULL, 0, NULL, 0), 0);
    assert_int_equal(rr_store_tick(w), 0);
    assert_int_equal(rr_store_counts(r, &c), 0);
    assert_int_equal(c.exchanges, 10);
    usleep(60 * 1000);
    assert_int_equal(rr_store_tick(w), 0);
    assert_int_equal(rr_store_counts(r, &c), 0);
    assert_int_equal(c.exchanges, 11); /* committed by time */

    make_exchange(&x, 1, 11);
    assert_int_equal(rr_store_exchange_put(w, &x, NULL, 0, NULL, 0), 0);
    assert_int_equal(rr_store_counts(w, &c), 0);
    assert_int_equal(c.exchanges, 12); /* the writer sees its own puts */
    assert_int_equal(rr_store_close(&r), 0);
    assert_int_equal(rr_store_close(&w), 0);
}

static void expect_open_error(const char *path, int readonly, int want, const char *why_part)
{
    struct rr_store_opts o = {.path = path, .readonly = readonly};
    struct rr_store *s = (struct rr_store *)1;
    char why[256];
    int rc = rr_store_open(&s, &o, why, sizeof(why));
    if (rc != want || !strstr(why, why_part))
        fprintf(stderr, "%s: got %d '%s'\n", path, rc, why);
    assert_int_equal(rc, want);
    assert_null(s);
    assert_non_null(strstr(why, why_part));
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void bad_files(void **state)
{
    expect_open_error(tmp("missing.db"), 1, -ENOENT, "no such file");
    expect_open_error(tmp("missing.db"), 0, -ENOENT, "no such file");
    assert_int_equal(access(tmp("missing.db"), F_OK), -1); /* not created */

    write_file(tmp("text.db"), "hello\nworld\n", 12);
    expect_open_error(tmp("text.db"), 1, RR_ENOTSTORE, "a text file");
    expect_open_error(tmp("text.db"), 0, RR_ENOTSTORE, "a text file");
    write_file(tmp("empty.db"), "", 0);
    expect_open_error(tmp("empty.db"), 1, RR_ENOTSTORE, "empty file");
    static const uint8_t pcap[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0};
    write_file(tmp("x.pcap"), pcap, sizeof(pcap));
    expect_open_error(tmp("x.pcap"), 1, RR_ENOTSTORE, "pcap capture");
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    write_file(tmp("junk.db"), junk, sizeof(junk));
    expect_open_error(tmp("junk.db"), 1, RR_ENOTSTORE, "not an LMDB file");
    expect_open_error(dir, 1, -EISDIR, "directory");

    struct rr_store_opts o = {.path = tmp("nodir/x.db"), .create = 1};
    struct rr_store *s = NULL;
    char why[256];
    assert_int_equal(rr_store_open(&s, &o, why, sizeof(why)), -ENOENT);
    assert_non_null(strstr(why, "directory does not exist"));
}

static void truncated_store(void **state)
{
    const char *path = tmp("trunc.db");
    struct rr_store *s = open_store(path, 0, 1);
    char body[3000];
    for (unsigned i = 0; i < 200; i++) {
        struct rr_exchange x;
        make_exchange(&x, 1, i);
        memset(body, (int)i, sizeof(body));
        assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, body, sizeof(body)), 0);
    }
    assert_int_equal(rr_store_close(&s), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    for (off_t size = st.st_size / 2; size > 0; size /= 3) {
        assert_int_equal(truncate(path, size), 0);
        struct rr_store_opts o = {.path = path, .readonly = 1};
        char why[256];
        assert_int_not_equal(rr_store_open(&s, &o, why, sizeof(why)), 0);
        assert_null(s);
        assert_true(strstr(why, "truncated") || strstr(why, "not an rrload store"));
    }
}

static void foreign_lmdb_and_newer_schema(void **state)
{
    /* a newer schema */
    const char *path = tmp("new.db");
    struct rr_store *s = open_store(path, 0, 1);
    assert_int_equal(rr_store_meta_put(s, "schema", "99", 2), 0);
    assert_int_equal(rr_store_close(&s), 0);
    expect_open_error(path, 1, RR_EVERSION, "newer rrload");
    expect_open_error(path, 0, RR_EVERSION, "newer rrload");

    s = open_store(tmp("bad.db"), 0, 1);
    assert_int_equal(rr_store_meta_put(s, "schema", "x1", 2), 0);
    assert_int_equal(rr_store_close(&s), 0);
    expect_open_error(tmp("bad.db"), 1, RR_ECORRUPT, "schema version");
}

/* The child writes batches of 50 and reports each committed total through a pipe; it is
 * killed mid-writing. Every total it reported must be in the file. */
static void sigkill_mid_write(void **state)
{
    const char *path = tmp("kill.db");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        struct rr_store_opts o = {.path = path,
                                  .create = 1,
                                  .batch_count = 1000000,
                                  .batch_ms = 1000000,
                                  .map_size = 256 * 1024};
        struct rr_store *s = NULL;
        if (rr_store_open(&s, &o, NULL, 0))
            _exit(3);
        char body[2000];
        for (uint32_t i = 0;; i++) {
            struct rr_exchange x;
            make_exchange(&x, 1, i);
            memset(body, (int)(i & 0xff), sizeof(body));
            snprintf(body, sizeof(body), "%u", i);
            if (rr_store_exchange_put(s, &x, NULL, 0, body, sizeof(body)))
                _exit(4);
            if ((i + 1) % 50 == 0) {
                if (rr_store_flush(s))
                    _exit(5);
                if (write(fds[1], &i, sizeof(i)) != sizeof(i))
                    _exit(6);
            }
        }
    }
    close(fds[1]);
    uint32_t last = 0, v;
    int got = 0;
    uint64_t t0 = rr_now_mono_us();
    /* Let it commit a good number of batches (and grow its tiny map), then kill it. */
    while (got < 40 && rr_now_mono_us() - t0 < 10000000 &&
           read(fds[0], &v, sizeof(v)) == sizeof(v)) {
        last = v;
        got++;
    }
    kill(pid, SIGKILL);
    while (read(fds[0], &v, sizeof(v)) == sizeof(v))
        last = v; /* reported before the kill landed */
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_true(got > 0);

    struct rr_store *s = open_store(path, 1, 0);
    struct rr_store_counts c;
    assert_int_equal(rr_store_counts(s, &c), 0);
    assert_true(c.exchanges >= (uint64_t)last + 1);
    assert_int_equal(c.exchanges % 50, 0); /* whole batches only */
    struct collect col = {0};
    assert_int_equal(rr_store_exchange_foreach(s, 0, collect_fn, &col), 0);
    assert_int_equal(col.n, c.exchanges);
    assert_int_equal(rr_store_close(&s), 0);
    /* and it is still writable */
    s = open_store(path, 0, 0);
    struct rr_exchange x;
    make_exchange(&x, 1, 0);
    assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, NULL, 0), 0);
    assert_int_equal(x.id, c.exchanges + 1);
    assert_int_equal(rr_store_close(&s), 0);
}

struct grow_walk {
    struct rr_store *s;
    const char *path;
    unsigned n;
};

/* Writes enough from another process that the file outgrows the reader's map. */
static void grow_from_child(const char *path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rr_store_opts o = {.path = path};
        struct rr_store *w = NULL;
        static uint8_t body[8192];
        uint64_t rng = 7;
        if (rr_store_open(&w, &o, NULL, 0))
            _exit(1);
        for (unsigned i = 0; i < 1500; i++) {
            for (size_t j = 0; j < sizeof(body); j += 8) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                memcpy(body + j, &rng, 8);
            }
            struct rr_exchange x;
            make_exchange(&x, 1, i);
            if (rr_store_exchange_put(w, &x, NULL, 0, body, sizeof(body)))
                _exit(2);
        }
        _exit(rr_store_close(&w) ? 3 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int grow_walk_fn(const struct rr_exchange *x, void *ud)
{
    struct grow_walk *g = ud;
    struct rr_buf b;
    if (g->n++ == 0)
        grow_from_child(g->path);
    rr_buf_init(&b);
    assert_int_equal(rr_store_body_get(g->s, &x->resp_body, &b), 0);
    assert_int_equal(b.len, x->resp_body.len);
    rr_buf_fini(&b);
    return 0;
}

/* A reader walking (and reading bodies inside the walk) while another process makes the file
 * far larger than the reader's map: the walk finishes on its snapshot, the next walk sees it
 * all. */
static void reader_while_writer_grows(void **state)
{
    const char *path = tmp("concurrent.db");
    struct rr_store *s = open_store(path, 0, 1);
    for (unsigned i = 0; i < 5; i++) {
        struct rr_exchange x;
        make_exchange(&x, 1, i);
        assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, "abc", 3), 0);
    }
    assert_int_equal(rr_store_close(&s), 0);

    s = open_store(path, 1, 0);
    struct grow_walk g = {s, path, 0};
    assert_int_equal(rr_store_exchange_foreach(s, 0, grow_walk_fn, &g), 0);
    assert_int_equal(g.n, 5);
    struct rr_store_counts c;
    assert_int_equal(rr_store_counts(s, &c), 0);
    assert_int_equal(c.exchanges, 1505);
    g.n = 1; /* no second child */
    assert_int_equal(rr_store_exchange_foreach(s, 0, grow_walk_fn, &g), 0);
    assert_int_equal(g.n, 1 + 1505);
    assert_int_equal(rr_store_close(&s), 0);
}

static int die_in_walk(const struct rr_exchange *x, void *ud)
{
    kill(getpid(), SIGKILL); /* dies holding a reader slot */
    return 0;
}

/* Readers killed inside a read transaction leave their slots taken. With every slot taken,
 * the next reader gets MDB_READERS_FULL, clears the dead ones and goes on. */
static void readers_full(void **state)
{
    const char *path = tmp("readers.db");
    struct rr_store *s = open_store(path, 0, 1);
    for (unsigned i = 0; i < 3; i++) {
        struct rr_exchange x;
        make_exchange(&x, 1, i);
        assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, NULL, 0), 0);
    }
    assert_int_equal(rr_store_close(&s), 0);

    /* This environment creates the lock file with a 4-slot reader table (others size theirs
     * from the file) and stays open so nobody re-creates it. */
    char lock[160];
    snprintf(lock, sizeof(lock), "%s-lock", path);
    assert_int_equal(unlink(lock), 0);
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxreaders(env, 4), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOTLS, 0600), 0);
    for (int i = 0; i < 4; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct rr_store_opts o = {.path = path, .readonly = 1};
            if (rr_store_open(&s, &o, NULL, 0) == 0 &&
                rr_store_exchange_foreach(s, 0, die_in_walk, NULL) == 0)
                _exit(2);
            _exit(1);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
    }
    MDB_txn *t = NULL;
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), MDB_READERS_FULL);

    /* A store in another process (one process must not open an environment twice). */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rr_store_opts o = {.path = path, .readonly = 1};
        struct rr_store_counts c;
        if (rr_store_open(&s, &o, NULL, 0) != 0)
            _exit(10);
        if (rr_store_counts(s, &c) != 0 || c.exchanges != 3)
            _exit(11);
        _exit(rr_store_close(&s) == 0 ? 0 : 12);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    mdb_env_close(env);
}

/* Under ASan, its memcmp interceptor reports LMDB's wild reads on garbage pages before they
 * fault, i.e. before the store's guard can turn them into RR_ECORRUPT: let them fault. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "intercept_memcmp=0";
}

static int count_x(const struct rr_exchange *x, void *ud)
{
    (*(unsigned *)ud)++;
    return 0;
}

static int count_meta(const char *key, struct rr_view val, void *ud)
{
    (*(unsigned *)ud)++;
    return 0;
}

/* Every page of a store overwritten with garbage in turn: opening and reading give errors,
 * never a crash, and a handle that met an unreadable page refuses everything after. */
static void damaged_pages(void **state)
{
    const char *path = tmp("pages.db");
    struct rr_store *s = open_store(path, 0, 1);
    char body[600];
    for (unsigned i = 0; i < 300; i++) {
        struct rr_exchange x;
        make_exchange(&x, 1, i);
        snprintf(body, sizeof(body), "%u %0500u", i, i);
        assert_int_equal(rr_store_exchange_put(s, &x, NULL, 0, body, strlen(body)), 0);
    }
    assert_int_equal(rr_store_close(&s), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t base[1 << 20];
    size_t size = fread(base, 1, sizeof(base), f);
    fclose(f);
    assert_true(size > 16 * 4096 && size < sizeof(base));

    unsigned failed_open = 0, failed_read = 0, poisoned = 0;
    uint64_t rng = 42;
    for (size_t page = 2; page < size / 4096; page++) {
        static uint8_t data[1 << 20];
        memcpy(data, base, size);
        for (size_t i = 0; i < 4096; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            data[page * 4096 + i] = (uint8_t)(rng >> 56);
        }
        write_file(path, data, size);
        struct rr_store_opts o = {.path = path, .readonly = 1};
        char why[256];
        int rc = rr_store_open(&s, &o, why, sizeof(why));
        if (rc) {
            assert_null(s);
            assert_true(why[0] != 0);
            failed_open++;
            continue;
        }
        unsigned n = 0;
        struct rr_store_counts c;
        int r1 = rr_store_exchange_foreach(s, 0, count_x, &n);
        int r2 = rr_store_counts(s, &c);
        int r3 = rr_store_meta_foreach(s, count_meta, &n);
        if (r1 || r2 || r3) {
            failed_read++;
            assert_non_null(rr_store_errmsg(s));
        }
        const char *msg = rr_store_errmsg(s);
        if (msg && strstr(msg, "unreadable")) {
            poisoned++;
            assert_int_equal(rr_store_counts(s, &c), RR_ECORRUPT);
        }
        assert_int_equal(rr_store_close(&s), 0);
    }
    fprintf(stderr, "# damaged pages: %u refused at open, %u at read, %u faults caught\n",
            failed_open, failed_read, poisoned);
    assert_true(failed_open + failed_read > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_put_reopen),
        cmocka_unit_test(bodies_in_walk),
        cmocka_unit_test(body_cap),
        cmocka_unit_test(meta_plan_runs),
        cmocka_unit_test(map_growth),
        cmocka_unit_test(batching),
        cmocka_unit_test(bad_files),
        cmocka_unit_test(truncated_store),
        cmocka_unit_test(foreign_lmdb_and_newer_schema),
        cmocka_unit_test(sigkill_mid_write),
        cmocka_unit_test(reader_while_writer_grows),
        cmocka_unit_test(readers_full),
        cmocka_unit_test(damaged_pages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
