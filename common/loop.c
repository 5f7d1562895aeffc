/* SPDX-License-Identifier: MIT */
/* loop.c -- A small Linux epoll event loop with min-heap timers.
 *
 * Timers live in a binary min-heap of pointers keyed by (due, seq); each timer knows its slot,
 * so stop and re-arm are O(log n). Expired timers run in at most RR_LOOP_TIMER_ROUNDS rounds
 * per iteration: a timer re-armed for "now" waits for the next iteration instead of starving
 * I/O (the h2o evloop rule). */
#define _GNU_SOURCE
#include "rr/loop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rr/util.h"

#define RR_LOOP_MAX_EVENTS   256
#define RR_LOOP_TIMER_ROUNDS 4

struct rr_loop {
    int epfd;
    int wakefd;
    uint64_t now;
    uint64_t batch; /* incremented for every epoll batch */
    uint64_t seq;
    struct rr_timer **heap;
    size_t n_heap, cap_heap;
    rr_loop_fn *before_poll;
    void *before_poll_data;
    atomic_int stop;
    bool have_pwait2;
    struct rr_io wake_io;
};

uint64_t rr_loop_now(const struct rr_loop *l)
{
    return l->now;
}

uint64_t rr_loop_update_time(struct rr_loop *l)
{
    l->now = rr_now_mono_us();
    return l->now;
}

static void wake_cb(struct rr_io *io, unsigned events)
{
    uint64_t v;
    (void)events;
    while (read(io->fd, &v, sizeof(v)) > 0)
        ;
}

int rr_loop_new(struct rr_loop **out)
{
    struct rr_loop *l = rr_xcalloc(1, sizeof(*l));
    int rc;

    *out = NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->wakefd < 0) {
        rc = -errno;
        goto fail;
    }
    rr_io_init(&l->wake_io);
    rc = rr_io_start(l, &l->wake_io, l->wakefd, RR_IO_READ, wake_cb);
    if (rc)
        goto fail;
    rr_loop_update_time(l);
    l->batch = 1;
    l->have_pwait2 = true;
    *out = l;
    return 0;
fail:
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free(l);
    return rc;
}

void rr_loop_free(struct rr_loop **pl)
{
    struct rr_loop *l = pl ? *pl : NULL;
    if (!l)
        return;
    for (size_t i = 0; i < l->n_heap; i++)
        l->heap[i]->_idx = 0;
    close(l->epfd);
    close(l->wakefd);
    free(l->heap);
    free(l);
    *pl = NULL;
}

/* ---------------------------------------------------------------- watchers */

void rr_io_init(struct rr_io *io)
{
    io->fd = -1;
    io->events = 0;
    io->fn = NULL;
    io->_stopped = 0;
}

int rr_io_start(struct rr_loop *l, struct rr_io *io, int fd, unsigned events, rr_io_fn *fn)
{
    struct epoll_event ev = {0};
    int op = io->fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (io->fd >= 0 && io->fd != fd)
        rr_io_stop(l, io);
    if (op == EPOLL_CTL_MOD && io->events == events) {
        io->fn = fn;
        return 0;
    }
    ev.events = (events & RR_IO_READ ? EPOLLIN : 0) | (events & RR_IO_WRITE ? EPOLLOUT : 0);
    ev.data.ptr = io;
    if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
        return -errno;
    io->fd = fd;
    io->events = events;
    io->fn = fn;
    /* _stopped stays: events of the old fd still queued in this batch must be dropped. */
    return 0;
}

void rr_io_stop(struct rr_loop *l, struct rr_io *io)
{
    if (io->fd < 0)
        return;
    /* ENOENT/EBADF when the fd was closed already: nothing left to stop. */
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
    io->events = 0;
    io->_stopped = l->batch;
}

/* ---------------------------------------------------------------- timers */

static bool earlier(const struct rr_timer *a, const struct rr_timer *b)
{
    return a->_due < b->_due || (a->_due == b->_due && a->_seq < b->_seq);
}

static void heap_set(struct rr_loop *l, size_t i, struct rr_timer *t)
{
    l->heap[i] = t;
    t->_idx = i + 1;
}

static void sift_up(struct rr_loop *l, size_t i)
{
    struct rr_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void sift_down(struct rr_loop *l, size_t i)
{
    struct rr_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n_heap)
            break;
        if (c + 1 < l->n_heap && earlier(l->heap[c + 1], l->heap[c]))
            c++;
        if (!earlier(l->heap[c], t))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

void rr_timer_init(struct rr_timer *t, rr_timer_fn *fn)
{
    memset(t, 0, sizeof(*t));
    t->_fn = fn;
}

void rr_timer_stop(struct rr_loop *l, struct rr_timer *t)
{
    if (!t->_idx)
        return;
    size_t i = t->_idx - 1;
    struct rr_timer *last = l->heap[--l->n_heap];
    t->_idx = 0;
    if (i == l->n_heap)
        return;
    heap_set(l, i, last);
    if (i > 0 && earlier(last, l->heap[(i - 1) / 2]))
        sift_up(l, i);
    else
        sift_down(l, i);
}

void rr_timer_start(struct rr_loop *l, struct rr_timer *t, uint64_t due_us)
{
    rr_timer_stop(l, t);
    if (l->n_heap == l->cap_heap) {
        l->cap_heap = l->cap_heap ? l->cap_heap * 2 : 64;
        l->heap = rr_xrealloc(l->heap, l->cap_heap * sizeof(*l->heap));
    }
    t->_due = due_us;
    t->_seq = l->seq++;
    heap_set(l, l->n_heap++, t);
    sift_up(l, l->n_heap - 1);
}

size_t rr_loop_timer_count(const struct rr_loop *l)
{
    return l->n_heap;
}

/* Runs the timers due by now; a timer armed during this round for a time <= now runs in the
 * next round (its seq is newer than the round's limit). */
static void run_timers(struct rr_loop *l)
{
    for (int round = 0; round < RR_LOOP_TIMER_ROUNDS && l->n_heap; round++) {
        uint64_t limit_seq = l->seq;
        bool ran = false;
        while (l->n_heap) {
            struct rr_timer *t = l->heap[0];
            if (t->_due > l->now || t->_seq >= limit_seq)
                break;
            rr_timer_stop(l, t);
            t->_fn(t);
            ran = true;
        }
        if (!ran)
            break;
        rr_loop_update_time(l);
    }
}

/* ---------------------------------------------------------------- running */

void rr_loop_set_before_poll(struct rr_loop *l, rr_loop_fn *fn, void *data)
{
    l->before_poll = fn;
    l->before_poll_data = data;
}

int rr_loop_run_once(struct rr_loop *l, int64_t max_wait_us)
{
    struct epoll_event evs[RR_LOOP_MAX_EVENTS];
    int64_t wait_us = max_wait_us;
    int timeout_ms, n;

    rr_loop_update_time(l);
    run_timers(l);
    if (l->before_poll)
        l->before_poll(l, l->before_poll_data);
    if (l->n_heap) {
        uint64_t due = l->heap[0]->_due;
        int64_t until = due > l->now ? (int64_t)(due - l->now) : 0;
        if (wait_us < 0 || until < wait_us)
            wait_us = until;
    }
    if (atomic_load_explicit(&l->stop, memory_order_relaxed))
        wait_us = 0;
    /* epoll_pwait2 waits to the microsecond (timers in timeline replays keep their gaps);
     * kernels before 5.11 lack it, then whole milliseconds rounded up, so a timer 300 us
     * away does not make us spin with 0 ms waits. */
    n = -1;
    errno = ENOSYS;
    if (l->have_pwait2) {
        struct timespec ts = {0};
        if (wait_us >= 0) {
            ts.tv_sec = (time_t)(wait_us / 1000000);
            ts.tv_nsec = (long)(wait_us % 1000000) * 1000;
        }
        n = epoll_pwait2(l->epfd, evs, RR_LOOP_MAX_EVENTS, wait_us < 0 ? NULL : &ts, NULL);
        if (n < 0 && errno == ENOSYS)
            l->have_pwait2 = false;
    }
    if (n < 0 && errno == ENOSYS) {
        timeout_ms = wait_us < 0 ? -1 : (int)((wait_us + 999) / 1000);
        n = epoll_wait(l->epfd, evs, RR_LOOP_MAX_EVENTS, timeout_ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    rr_loop_update_time(l);
    l->batch++;
    for (int i = 0; i < n; i++) {
        struct rr_io *io = evs[i].data.ptr;
        unsigned ev = 0;
        if (io->fd < 0 || io->_stopped == l->batch)
            continue;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            ev |= RR_IO_READ;
        if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            ev |= RR_IO_WRITE;
        if (evs[i].events & (EPOLLHUP | EPOLLERR))
            ev |= RR_IO_ERROR;
        io->fn(io, ev);
    }
    return n;
}

int rr_loop_run(struct rr_loop *l)
{
    while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
        int rc = rr_loop_run_once(l, -1);
        if (rc < 0)
            return rc;
    }
    atomic_store(&l->stop, 0);
    return 0;
}

void rr_loop_stop(struct rr_loop *l)
{
    atomic_store(&l->stop, 1);
    rr_loop_wake(l);
}

void rr_loop_wake(struct rr_loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wakefd, &one, sizeof(one));
    (void)r; /* EAGAIN: the counter is full, so the loop wakes anyway */
}
