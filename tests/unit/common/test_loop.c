/* test_loop.c -- The epoll loop: timer order, re-arming, stop, watchers, stale events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "rr/loop.h"

struct tt {
    struct rr_timer t;
    struct rr_loop *l;
    int id;
    int *order;
    int *n;
};

static void tt_fire(struct rr_timer *t)
{
    struct tt *x = (struct tt *)t;
    x->order[(*x->n)++] = x->id;
}

static void test_timer_order(void **state)
{
    struct rr_loop *l = NULL;
    struct tt ts[50];
    int order[50], n = 0;
    (void)state;
    assert_int_equal(rr_loop_new(&l), 0);
    uint64_t now = rr_loop_now(l);
    /* Due times in a scrambled order; ids equal the expected rank. */
    for (int i = 0; i < 50; i++) {
        int rank = (i * 17) % 50;
        ts[i].id = rank;
        ts[i].order = order;
        ts[i].n = &n;
        rr_timer_init(&ts[i].t, tt_fire);
        rr_timer_start(l, &ts[i].t, now + 1000 + (uint64_t)rank * 10);
    }
    /* Stop one and re-arm another later. */
    rr_timer_stop(l, &ts[3].t);
    assert_false(rr_timer_is_active(&ts[3].t));
    assert_int_equal(rr_loop_timer_count(l), 49);
    while (rr_loop_timer_count(l))
        assert_true(rr_loop_run_once(l, 1000) >= 0);
    assert_int_equal(n, 49);
    for (int i = 1; i < n; i++)
        assert_true(order[i - 1] < order[i]);
    assert_true(rr_loop_now(l) >= now + 1000 + 49 * 10);
    rr_loop_free(&l);
    assert_null(l);
}

struct rearm {
    struct rr_timer t;
    struct rr_loop *l;
    int count;
};

static void rearm_fire(struct rr_timer *t)
{
    struct rearm *r = (struct rearm *)t;
    r->count++;
    rr_timer_start(r->l, t, rr_loop_now(r->l)); /* always due: must not starve the loop */
}

static void test_rearm_bounded(void **state)
{
    struct rr_loop *l = NULL;
    struct rearm r = {0};
    (void)state;
    assert_int_equal(rr_loop_new(&l), 0);
    r.l = l;
    rr_timer_init(&r.t, rearm_fire);
    rr_timer_start(l, &r.t, rr_loop_now(l));
    assert_true(rr_loop_run_once(l, 0) >= 0);
    assert_true(r.count >= 1 && r.count <= 4);
    rr_loop_free(&l);
}

struct pipe_io {
    struct rr_io io;
    struct rr_loop *l;
    int reads;
    struct rr_io *other; /* stopped from this callback */
};

static void pipe_cb(struct rr_io *io, unsigned ev)
{
    struct pipe_io *p = (struct pipe_io *)io;
    char buf[16];
    assert_true(ev & RR_IO_READ);
    p->reads++;
    assert_true(read(io->fd, buf, sizeof(buf)) > 0);
    if (p->other)
        rr_io_stop(p->l, p->other);
}

static void test_io_and_stale(void **state)
{
    struct rr_loop *l = NULL;
    int a[2], b[2];
    struct pipe_io pa = {0}, pb = {0};
    (void)state;
    assert_int_equal(rr_loop_new(&l), 0);
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    rr_io_init(&pa.io);
    rr_io_init(&pb.io);
    pa.l = pb.l = l;
    /* Each stops the other: in one batch only the first one dispatched may run. */
    pa.other = &pb.io;
    pb.other = &pa.io;
    assert_int_equal(rr_io_start(l, &pa.io, a[0], RR_IO_READ, pipe_cb), 0);
    assert_int_equal(rr_io_start(l, &pb.io, b[0], RR_IO_READ, pipe_cb), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "y", 1), 1);
    assert_int_equal(rr_loop_run_once(l, 1000000), 2);
    assert_int_equal(pa.reads + pb.reads, 1);
    rr_io_stop(l, &pa.io);
    rr_io_stop(l, &pb.io);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    rr_loop_free(&l);
}

static void stop_fire(struct rr_timer *t)
{
    struct rearm *r = (struct rearm *)t;
    r->count++;
    rr_loop_stop(r->l);
}

static void test_run_stop(void **state)
{
    struct rr_loop *l = NULL;
    struct rearm r = {0};
    (void)state;
    assert_int_equal(rr_loop_new(&l), 0);
    r.l = l;
    rr_timer_init(&r.t, stop_fire);
    rr_timer_start(l, &r.t, rr_loop_now(l) + 2000);
    assert_int_equal(rr_loop_run(l), 0);
    assert_int_equal(r.count, 1);
    rr_loop_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_rearm_bounded),
        cmocka_unit_test(test_io_and_stale),
        cmocka_unit_test(test_run_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
