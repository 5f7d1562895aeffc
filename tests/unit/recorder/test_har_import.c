/* test_har_import.c -- HAR import into a real store: a hand-written HAR checked field by
 * field, bad HARs, and the browser exports of the shared corpus. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "rr/buf.h"
#include "rr/har.h"
#include "rr/store.h"

static char tmpdir[256];
static int db_count;

static struct rr_store *new_store(char *path, size_t cap)
{
    struct rr_store *s = NULL;
    snprintf(path, cap, "%s/s%d.db", tmpdir, db_count++);
    struct rr_store_opts o = {.path = path, .create = 1};
    assert_int_equal(rr_store_open(&s, &o, NULL, 0), 0);
    return s;
}

static void drop_store(const char *path)
{
    char lock[600];
    snprintf(lock, sizeof(lock), "%s-lock", path);
    unlink(path);
    unlink(lock);
}

static char *data_path(const char *name)
{
    static char p[1024];
    const char *root = getenv("RR_SOURCE_ROOT");
    snprintf(p, sizeof(p), "%s/tests/data/har/%s", root ? root : ".", name);
    return p;
}

struct seen {
    struct rr_store *s;
    struct rr_exchange x[64];
    char method[64][16], target[64][128], authority[64][64];
    struct rr_buf req[64], resp[64];
    size_t nreq_h[64];
    int has_pseudo[64];
    char ctype[64][64];
    size_t n;
};

static void cp(char *d, size_t cap, struct rr_view v)
{
    size_t k = v.len < cap - 1 ? v.len : cap - 1;
    memcpy(d, v.p, k);
    d[k] = 0;
}

static int collect(const struct rr_exchange *x, void *ud)
{
    struct seen *sn = ud;
    if (sn->n >= 64)
        return 0;
    size_t i = sn->n++;
    sn->x[i] = *x;
    cp(sn->method[i], 16, x->method);
    cp(sn->target[i], 128, x->target);
    cp(sn->authority[i], 64, x->authority);
    sn->nreq_h[i] = x->n_req_headers;
    for (size_t k = 0; k < x->n_req_headers; k++)
        if (x->req_headers[k].name.len && x->req_headers[k].name.p[0] == ':')
            sn->has_pseudo[i] = 1;
    cp(sn->ctype[i], 64, rr_exchange_header(x->req_headers, x->n_req_headers, "content-type"));
    rr_buf_init(&sn->req[i]);
    rr_buf_init(&sn->resp[i]);
    if (x->req_body.len)
        assert_int_equal(rr_store_body_get(sn->s, &x->req_body, &sn->req[i]), 0);
    if (x->resp_body.len)
        assert_int_equal(rr_store_body_get(sn->s, &x->resp_body, &sn->resp[i]), 0);
    return 0;
}

static void seen_fini(struct seen *sn)
{
    for (size_t i = 0; i < sn->n; i++) {
        rr_buf_fini(&sn->req[i]);
        rr_buf_fini(&sn->resp[i]);
    }
}

static int count_conn(const struct rr_conn *c, void *ud)
{
    struct rr_conn *out = ud;
    out[out[0].id == 0 ? 0 : (out[1].id == 0 ? 1 : 2)] = *c;
    return 0;
}

static void test_small(void **state)
{
    char path[512];
    struct rr_store *s = new_store(path, sizeof(path));
    struct rr_har_stats st;
    char why[256];
    static struct seen sn;

    assert_int_equal(rr_har_import(s, data_path("small.har"), &st, why, sizeof(why)), 0);
    assert_int_equal(st.entries, 6);
    assert_int_equal(st.exchanges, 4);
    assert_int_equal(st.skipped, 2); /* the data: URL, the one from the memory cache */
    assert_int_equal(st.conns, 3);
    assert_int_equal(rr_store_flush(s), 0);

    memset(&sn, 0, sizeof(sn));
    sn.s = s;
    assert_int_equal(rr_store_exchange_foreach(s, 0, collect, &sn), 0);
    assert_int_equal(sn.n, 4);

    /* 1: GET with a Host header, a query and a fragment that never went on the wire. */
    assert_string_equal(sn.method[0], "GET");
    assert_string_equal(sn.target[0], "/products?page=2");
    assert_string_equal(sn.authority[0], "shop.test:8080");
    assert_int_equal(sn.x[0].version, 11);
    assert_int_equal(sn.x[0].status, 200);
    assert_int_equal(sn.x[0].resp_wire_len, 40);
    assert_true(sn.x[0].flags & RR_XF_DECODED);
    assert_int_equal(sn.resp[0].len, 13);
    assert_memory_equal(sn.resp[0].p, "<p>hello</p>\n", 13);
    /* 2026-11-27T10:00:00Z, then blocked 1 ms + connect 2 ms, send 0.5, wait 10, receive 3 */
    uint64_t t0 = 1795773600ull * 1000000ull;
    assert_int_equal(sn.x[0].t_req_start_us, t0 + 3000);
    assert_int_equal(sn.x[0].t_req_end_us, t0 + 3500);
    assert_int_equal(sn.x[0].t_resp_start_us, t0 + 13500);
    assert_int_equal(sn.x[0].t_resp_end_us, t0 + 16500);

    /* 2: POST with a JSON body on the same connection; the time had a +01:00 offset. */
    assert_string_equal(sn.method[1], "POST");
    assert_string_equal(sn.target[1], "/cart");
    assert_int_equal(sn.x[1].status, 201);
    assert_int_equal(sn.x[1].conn_id, sn.x[0].conn_id);
    assert_int_equal(sn.x[1].t_req_start_us, t0 + 1250000);
    assert_int_equal(sn.req[1].len, 21);
    assert_memory_equal(sn.req[1].p, "{\"sku\":\"A-1\",\"qty\":2}", 21);
    assert_int_equal(sn.x[1].flags & RR_XF_INCOMPLETE, 0);

    /* 3: HTTP/2 with pseudo headers (left out), a form from params, a base64 body. */
    assert_int_equal(sn.x[2].version, 20);
    assert_false(sn.has_pseudo[2]);
    assert_int_equal(sn.nreq_h[2], 1);
    assert_string_equal(sn.ctype[2], "application/x-www-form-urlencoded");
    assert_string_equal(sn.authority[2], "api.test");
    assert_string_equal(sn.target[2], "/login");
    assert_int_equal(sn.req[2].len, 21);
    assert_memory_equal(sn.req[2].p, "user=ann+lee&pw=a%26b", 21);
    assert_int_equal(sn.resp[2].len, 256);
    for (int i = 0; i < 256; i++)
        assert_int_equal(sn.resp[2].p[i], i);
    assert_int_not_equal(sn.x[2].conn_id, sn.x[0].conn_id);

    /* 4: blocked in the browser: no response. */
    assert_int_equal(sn.x[3].status, 0);
    assert_true(sn.x[3].flags & RR_XF_NO_RESPONSE);

    struct rr_conn c[3];
    memset(c, 0, sizeof(c));
    assert_int_equal(rr_store_conn_foreach(s, count_conn, c), 0);
    assert_int_equal(c[0].server_port, 8080);
    assert_int_equal(c[0].ip_version, 4);
    assert_memory_equal(c[0].server_ip, "\x7f\x00\x00\x01", 4);
    assert_int_equal(c[0].t_first_us, t0);
    assert_true(c[0].t_last_us >= t0 + 1250000);
    assert_int_equal(c[1].proto, RR_PROTO_H2);
    assert_int_equal(c[1].server_port, 443);
    seen_fini(&sn);
    assert_int_equal(rr_store_close(&s), 0);
    drop_store(path);
}

static void test_bad(void **state)
{
    char path[512];
    struct rr_store *s = new_store(path, sizeof(path));
    char why[256];

    assert_int_equal(rr_har_import(s, data_path("bad-json.har"), NULL, why, sizeof(why)),
                     RR_EPARSE);
    assert_non_null(strstr(why, "line 3 column"));
    assert_int_equal(rr_har_import(s, data_path("bad-missing-url.har"), NULL, why, sizeof(why)),
                     RR_EPARSE);
    assert_string_equal(why, "entry 1: missing request.url");
    int rc = rr_har_import(s, data_path("no-such-file.har"), NULL, why, sizeof(why));
    assert_true(rc < 0 && rc != RR_EPARSE);
    assert_non_null(strstr(why, "cannot open"));
    /* A UTF-8 byte order mark (Fiddler, Charles) is not an error. */
    struct rr_har_stats st;
    assert_int_equal(rr_har_import(s, data_path("bom.har"), &st, why, sizeof(why)), 0);
    assert_int_equal(st.exchanges, 4);
    assert_int_equal(rr_store_close(&s), 0);
    drop_store(path);
}

/* Every HAR in the corpus imports whole: one exchange per HTTP entry. */
static void test_corpus(void **state)
{
    const char *shared = getenv("RR_SHARED");
    char dir[1024], file[2048], path[512];
    int done = 0;

    if (!shared)
        skip();
    for (int pass = 0; pass < 2; pass++) {
        snprintf(dir, sizeof(dir), "%s/corpus/%s", shared, pass ? "generated" : "public/har");
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 4, ".har") != 0)
                continue;
            snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
            json_error_t jerr;
            json_t *root = json_load_file(file, 0, &jerr);
            assert_non_null(root);
            size_t n = json_array_size(json_object_get(json_object_get(root, "log"), "entries"));
            json_decref(root);

            struct rr_store *s = new_store(path, sizeof(path));
            struct rr_har_stats st;
            char why[256] = "";
            int rc = rr_har_import(s, file, &st, why, sizeof(why));
            if (rc)
                fail_msg("%s: %s", file, why);
            assert_int_equal(st.entries, n);
            assert_int_equal(st.exchanges + st.skipped, n);
            struct rr_store_counts cnt;
            assert_int_equal(rr_store_counts(s, &cnt), 0);
            assert_int_equal(cnt.exchanges, st.exchanges);
            assert_int_equal(cnt.conns, st.conns);
            printf("# %s: %llu exchanges, %llu connections, %llu skipped\n", e->d_name,
                   (unsigned long long)st.exchanges, (unsigned long long)st.conns,
                   (unsigned long long)st.skipped);
            assert_int_equal(rr_store_close(&s), 0);
            drop_store(path);
            done++;
        }
        if (d)
            closedir(d);
    }
    if (!done)
        skip();
}

/* The browser's own HAR of a page load names the same requests as the capture's oracle. */
static void test_chromium_vs_oracle(void **state)
{
    const char *shared = getenv("RR_SHARED");
    char har[1024], oracle[1024], path[512];
    static struct seen sn;

    if (!shared)
        skip();
    snprintf(har, sizeof(har), "%s/corpus/generated/chromium-page-load.har", shared);
    snprintf(oracle, sizeof(oracle), "%s/corpus/generated/chromium-page-load.oracle.json", shared);
    if (access(har, R_OK) || access(oracle, R_OK))
        skip();
    struct rr_store *s = new_store(path, sizeof(path));
    char why[256];
    assert_int_equal(rr_har_import(s, har, NULL, why, sizeof(why)), 0);
    memset(&sn, 0, sizeof(sn));
    sn.s = s;
    assert_int_equal(rr_store_exchange_foreach(s, 0, collect, &sn), 0);
    json_error_t jerr;
    json_t *o = json_load_file(oracle, 0, &jerr);
    assert_non_null(o);
    size_t matched = 0;
    for (size_t i = 0; i < sn.n; i++) {
        for (size_t k = 0; k < json_array_size(o); k++) {
            json_t *x = json_array_get(o, k);
            const char *m = json_string_value(json_object_get(x, "method"));
            const char *u = json_string_value(json_object_get(x, "uri"));
            json_t *stj = json_object_get(x, "status");
            if (m && u && strcmp(m, sn.method[i]) == 0 && strcmp(u, sn.target[i]) == 0 &&
                json_is_integer(stj) && json_integer_value(stj) == sn.x[i].status) {
                matched++;
                break;
            }
        }
    }
    json_decref(o);
    printf("# chromium-page-load.har: %zu of %zu entries found in the oracle\n", matched, sn.n);
    assert_true(sn.n > 0);
    assert_int_equal(matched, sn.n);
    seen_fini(&sn);
    assert_int_equal(rr_store_close(&s), 0);
    drop_store(path);
}

static int setup(void **state)
{
    const char *b = getenv("RR_BUILD_ROOT");
    snprintf(tmpdir, sizeof(tmpdir), "%s/har-test-XXXXXX", b ? b : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_chromium_vs_oracle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
