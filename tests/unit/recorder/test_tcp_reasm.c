/* test_tcp_reasm.c -- The TCP reassembler: order, wrap-around, overlaps, gaps, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp_reasm.h"

struct out {
    struct rr_buf data[2];
    uint64_t gaps[2];
    int ends, last_end;
};

static int on_data(void *ud, struct rr_tcp_conn *c, int side, const uint8_t *p, size_t n,
                   uint64_t ts)
{
    struct out *o = ud;
    rr_buf_add(&o->data[side], p, n);
    return 0;
}

static int on_gap(void *ud, struct rr_tcp_conn *c, int side, uint64_t n, uint64_t ts)
{
    struct out *o = ud;
    o->gaps[side] += n;
    rr_buf_adds(&o->data[side], "#");
    return 0;
}

static int on_end(void *ud, struct rr_tcp_conn *c, enum rr_tcp_end why, uint64_t ts)
{
    struct out *o = ud;
    o->ends++;
    o->last_end = why;
    return 0;
}

static const uint8_t cli[4] = {10, 0, 0, 1}, srv[4] = {10, 0, 0, 2};

struct fix {
    struct rr_tcp *t;
    struct out o;
    struct rr_rec_stats st;
    struct rr_rec_opts opt;
};

static void setup_fix(struct fix *f, size_t conn_cap, size_t max_conns)
{
    memset(f, 0, sizeof(*f));
    rr_rec_opts_default(&f->opt);
    if (conn_cap)
        f->opt.max_conn_buffered = conn_cap;
    if (max_conns)
        f->opt.max_conns = max_conns;
    f->opt.idle_us = 1000000;
    struct rr_tcp_cb cb = {on_data, on_gap, NULL, on_end, &f->o};
    rr_tcp_new(&f->t, &f->opt, &f->st, &cb);
}

static void teardown_fix(struct fix *f)
{
    rr_tcp_free(&f->t);
    rr_buf_fini(&f->o.data[0]);
    rr_buf_fini(&f->o.data[1]);
}

/* A segment from the client (dir 0) or the server (dir 1). */
static void seg(struct fix *f, int dir, uint16_t cport, uint32_t seq, uint32_t ack, uint8_t fl,
                const char *data, uint64_t ts)
{
    struct rr_tcp_pkt pk;
    memset(&pk, 0, sizeof(pk));
    pk.ipv = 4;
    pk.src = dir ? srv : cli;
    pk.dst = dir ? cli : srv;
    pk.sport = dir ? 80 : cport;
    pk.dport = dir ? cport : 80;
    pk.seq = seq;
    pk.ack = ack;
    pk.flags = fl;
    pk.payload = (const uint8_t *)data;
    pk.len = data ? strlen(data) : 0;
    pk.ts_us = ts;
    assert_int_equal(rr_tcp_feed(f->t, &pk), 0);
}

static void handshake(struct fix *f, uint16_t port, uint32_t cisn, uint32_t sisn)
{
    seg(f, 0, port, cisn, 0, RR_TCP_SYN, NULL, 1);
    seg(f, 1, port, sisn, cisn + 1, RR_TCP_SYN | RR_TCP_ACK, NULL, 2);
    seg(f, 0, port, cisn + 1, sisn + 1, RR_TCP_ACK, NULL, 3);
}

static void assert_data(struct fix *f, int side, const char *want)
{
    assert_int_equal(f->o.data[side].len, strlen(want));
    assert_memory_equal(f->o.data[side].p, want, strlen(want));
}

static void test_wrap(void **state)
{
    struct fix f;
    setup_fix(&f, 0, 0);
    uint32_t c = 0xfffffffau;
    handshake(&f, 1000, c, 7);
    seg(&f, 0, 1000, c + 1, 8, RR_TCP_ACK, "abcd", 4);
    seg(&f, 0, 1000, c + 5, 8, RR_TCP_ACK, "efgh", 5); /* crosses 2^32 */
    seg(&f, 0, 1000, c + 9, 8, RR_TCP_ACK, "ij", 6);
    assert_data(&f, 0, "abcdefghij");
    assert_int_equal(f.o.gaps[0], 0);
    teardown_fix(&f);
}

static void test_out_of_order(void **state)
{
    struct fix f;
    setup_fix(&f, 0, 0);
    handshake(&f, 1000, 100, 500);
    seg(&f, 0, 1000, 105, 501, RR_TCP_ACK, "world", 4);
    seg(&f, 0, 1000, 110, 501, RR_TCP_ACK, "!", 5);
    assert_int_equal(f.o.data[0].len, 0);
    seg(&f, 0, 1000, 101, 501, RR_TCP_ACK, "hell", 6);
    assert_data(&f, 0, "hellworld!");
    teardown_fix(&f);
}

static void test_retransmission_overlap(void **state)
{
    struct fix f;
    setup_fix(&f, 0, 0);
    handshake(&f, 1000, 100, 500);
    seg(&f, 0, 1000, 101, 501, RR_TCP_ACK, "abcdef", 4);
    seg(&f, 0, 1000, 101, 501, RR_TCP_ACK, "abcdef", 5); /* duplicate */
    seg(&f, 0, 1000, 104, 501, RR_TCP_ACK, "XYZghi", 6); /* overlap with other bytes */
    assert_data(&f, 0, "abcdefghi");                     /* the first copy wins */
    teardown_fix(&f);
}

static void test_gap_acked(void **state)
{
    struct fix f;
    setup_fix(&f, 0, 0);
    handshake(&f, 1000, 100, 500);
    seg(&f, 1, 1000, 501, 101, RR_TCP_ACK, "aaaa", 4);
    /* 505..514 never captured; the client acknowledges it, then more arrives. */
    seg(&f, 0, 1000, 101, 515, RR_TCP_ACK, NULL, 5);
    seg(&f, 1, 1000, 515, 101, RR_TCP_ACK, "bb", 6);
    assert_data(&f, 1, "aaaa#bb");
    assert_int_equal(f.o.gaps[1], 10);
    assert_int_equal(f.st.gaps, 1);
    teardown_fix(&f);
}

static void test_gap_at_end(void **state)
{
    struct fix f;
    setup_fix(&f, 0, 0);
    handshake(&f, 1000, 100, 500);
    seg(&f, 1, 1000, 501, 101, RR_TCP_ACK, "aaaa", 4);
    seg(&f, 1, 1000, 520, 101, RR_TCP_ACK, "zz", 5); /* held: not acknowledged yet */
    assert_data(&f, 1, "aaaa");
    assert_int_equal(rr_tcp_finish(f.t, 9), 0);
    assert_data(&f, 1, "aaaa#zz");
    assert_int_equal(f.o.gaps[1], 15);
    assert_int_equal(f.o.last_end, RR_TCP_END_FINISH);
    teardown_fix(&f);
}

static void test_fin_and_midstream(void **state)
{
    struct fix f;
    setup_fix(&f, 0, 0);
    /* No handshake: the capture starts mid-connection. */
    seg(&f, 0, 1000, 7000, 900, RR_TCP_ACK, "GET", 1);
    seg(&f, 1, 1000, 900, 7003, RR_TCP_ACK, "HTTP", 2);
    seg(&f, 0, 1000, 7003, 904, RR_TCP_ACK | RR_TCP_FIN, NULL, 3);
    assert_int_equal(f.o.ends, 0);
    seg(&f, 1, 1000, 904, 7004, RR_TCP_ACK | RR_TCP_FIN, NULL, 4);
    assert_int_equal(f.o.ends, 1);
    assert_int_equal(f.o.last_end, RR_TCP_END_FIN);
    assert_data(&f, 0, "GET");
    assert_data(&f, 1, "HTTP");
    teardown_fix(&f);
}

static void test_caps(void **state)
{
    struct fix f;
    setup_fix(&f, 8, 2);
    handshake(&f, 1000, 100, 500);
    seg(&f, 0, 1000, 111, 501, RR_TCP_ACK, "12345", 4);
    seg(&f, 0, 1000, 121, 501, RR_TCP_ACK, "67890", 5); /* over the per-direction cap */
    assert_true(f.st.ooo_forced_flushes >= 1);
    assert_true(rr_tcp_buffered(f.t) <= 8);
    handshake(&f, 1001, 100, 500);
    handshake(&f, 1002, 100, 500); /* a third connection: the oldest is evicted */
    assert_int_equal(rr_tcp_nconns(f.t), 2);
    assert_int_equal(f.st.conns_evicted_cap, 1);
    assert_int_equal(f.o.last_end, RR_TCP_END_CAP);
    teardown_fix(&f);
}

static void test_idle(void **state)
{
    struct fix f;
    setup_fix(&f, 0, 0);
    handshake(&f, 1000, 100, 500);
    seg(&f, 0, 1001, 1, 0, RR_TCP_SYN, NULL, 5000000); /* 5 s later (idle: 1 s) */
    assert_int_equal(f.st.conns_evicted_idle, 1);
    assert_int_equal(f.o.last_end, RR_TCP_END_IDLE);
    teardown_fix(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_retransmission_overlap),
        cmocka_unit_test(test_gap_acked),
        cmocka_unit_test(test_gap_at_end),
        cmocka_unit_test(test_fin_and_midstream),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
