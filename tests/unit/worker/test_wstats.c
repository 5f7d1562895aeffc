/* test_wstats.c -- The stats payload a worker sends: Locust's keys, buckets, error hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rr/stats.h"
#include "wk_int.h"

static void test_sha256(void **state)
{
    char out[65];
    char buf[200];
    (void)state;
    rr_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    rr_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    memset(buf, 'a', sizeof(buf)); /* several blocks, and a tail that needs a second one */
    rr_sha256_hex(buf, sizeof(buf), out);
    assert_string_equal(out, "c2a908d98f5df987ade41b5fce213067efbcc21ef2240212a41e54b5e7c28ae5");
}

static void test_pyrepr(void **state)
{
    (void)state;
    char *r = wk_pyrepr("it's \"q\"\n");
    assert_string_equal(r, "'it\\'s \"q\"\\n'");
    free(r);
    r = wk_pyrepr("it's");
    assert_string_equal(r, "\"it's\"");
    free(r);
    r = wk_pyrepr("HTTPError('500 Server Error')");
    assert_string_equal(r, "\"HTTPError('500 Server Error')\"");
    free(r);
}

static void test_error_key(void **state)
{
    char key[65];
    (void)state;
    /* the key a Python 2.12 worker sent for this error (a real capture, spec 8.5) */
    rr_wstats_error_key("GET", "/api", "CatchResponseError('bad payload')", key);
    assert_string_equal(key, "64d5363a5b76bb481b8029ca85327fd4890eaf3b0b36fbb3c9dc7818c34417aa");
    rr_wstats_error_key("GET", "/x", "it's \"q\"\n", key);
    assert_string_equal(key, "d2689405a43e0a9fc7826c46c16a5b46541180ced5abff065a5a113784a7bbb2");
}

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    fail_msg("no key %s", key);
    return NULL;
}

static uint64_t count_at(const msgpack_object *map, int64_t key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        int64_t v = k->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)k->via.u64 : k->via.i64;
        if (v == key)
            return map->via.map.ptr[i].val.via.u64;
    }
    return 0;
}

static void test_payload(void **state)
{
    (void)state;
    struct rr_wstats *a = rr_wstats_new(), *b = rr_wstats_new();
    uint64_t t0 = 1795734841500000ull; /* .5 s into a second */
    rr_wstats_reset(a, t0);
    rr_wstats_reset(b, t0);
    rr_wstats_record(a, "GET", "/a", 105.0, 10, NULL, t0);           /* ties go to even: 100 */
    rr_wstats_record(a, "GET", "/a", 115.0, 10, NULL, t0 + 1000000); /* 120 */
    rr_wstats_record(a, "GET", "/a", 99.5, 10, "HTTPError('x')", t0 + 1000000); /* 100 */
    rr_wstats_record(b, "POST", "/b", 1234.0, 0, "HTTPError('x')", t0);         /* 1200 */
    rr_wstats_record(b, "GET", "/a", -1, 0, NULL, t0);                          /* none */
    rr_wstats_merge(a, b);
    assert_int_equal(rr_wstats_requests(a), 5);
    assert_int_equal(rr_wstats_failures(a), 2);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    wk_pack_stats(&pk, a);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);

    const msgpack_object *stats = get(&u.data, "stats");
    assert_int_equal(stats->via.array.size, 2);
    const msgpack_object *e = &stats->via.array.ptr[0];
    assert_int_equal(e->via.map.size, 14);
    /* StatsEntryDict's order */
    static const char *const keys[] = {"name",
                                       "method",
                                       "last_request_timestamp",
                                       "start_time",
                                       "num_requests",
                                       "num_none_requests",
                                       "num_failures",
                                       "total_response_time",
                                       "max_response_time",
                                       "min_response_time",
                                       "total_content_length",
                                       "response_times",
                                       "num_reqs_per_sec",
                                       "num_fail_per_sec"};
    for (int i = 0; i < 14; i++) {
        const msgpack_object *k = &e->via.map.ptr[i].key;
        assert_int_equal(k->type, MSGPACK_OBJECT_STR);
        assert_int_equal(k->via.str.size, strlen(keys[i]));
        assert_memory_equal(k->via.str.ptr, keys[i], strlen(keys[i]));
    }
    assert_memory_equal(get(e, "name")->via.str.ptr, "/a", 2);
    assert_int_equal(get(e, "num_requests")->via.u64, 4);
    assert_int_equal(get(e, "num_none_requests")->via.u64, 1);
    assert_int_equal(get(e, "num_failures")->via.u64, 1);
    assert_true(get(e, "total_response_time")->via.f64 == 319.5);
    assert_true(get(e, "min_response_time")->via.f64 == 99.5);
    assert_true(get(e, "max_response_time")->via.f64 == 115.0);
    assert_int_equal(get(e, "total_content_length")->via.u64, 30);
    const msgpack_object *rt = get(e, "response_times");
    assert_int_equal(rt->via.map.size, 2);
    assert_int_equal(count_at(rt, 100), 2);
    assert_int_equal(count_at(rt, 120), 1);
    const msgpack_object *rps = get(e, "num_reqs_per_sec");
    assert_int_equal(count_at(rps, 1795734841), 2);
    assert_int_equal(count_at(rps, 1795734842), 2);
    assert_int_equal(count_at(get(e, "num_fail_per_sec"), 1795734842), 1);
    assert_true(get(e, "start_time")->via.f64 == 1795734841.5);
    assert_true(get(e, "last_request_timestamp")->via.f64 == 1795734842.5);

    const msgpack_object *tot = get(&u.data, "stats_total");
    assert_memory_equal(get(tot, "name")->via.str.ptr, "Aggregated", 10);
    assert_int_equal(get(tot, "method")->via.str.size, 0);
    assert_int_equal(get(tot, "num_requests")->via.u64, 5);
    assert_int_equal(count_at(get(tot, "response_times"), 1200), 1);

    const msgpack_object *errs = get(&u.data, "errors");
    assert_int_equal(errs->via.map.size, 2);
    const msgpack_object *e0 = &errs->via.map.ptr[0].val;
    assert_int_equal(errs->via.map.ptr[0].key.via.str.size, 64);
    assert_int_equal(get(e0, "occurrences")->via.u64, 1);
    assert_memory_equal(get(e0, "error")->via.str.ptr, "HTTPError('x')", 14);

    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);

    /* after a reset only the total is sent, with no timestamp and no min */
    rr_wstats_reset(a, t0 + 3000000);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    wk_pack_stats(&pk, a);
    msgpack_unpacked_init(&u);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(get(&u.data, "stats")->via.array.size, 0);
    tot = get(&u.data, "stats_total");
    assert_int_equal(get(tot, "last_request_timestamp")->type, MSGPACK_OBJECT_NIL);
    assert_int_equal(get(tot, "min_response_time")->type, MSGPACK_OBJECT_NIL);
    assert_int_equal(get(&u.data, "errors")->via.map.size, 0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    rr_wstats_free(&a);
    rr_wstats_free(&b);
    assert_null(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_pyrepr),
        cmocka_unit_test(test_error_key),
        cmocka_unit_test(test_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
