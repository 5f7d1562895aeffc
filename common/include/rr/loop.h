/* loop.h -- A small Linux epoll event loop with min-heap timers.
 *
 * One loop belongs to one thread. Watchers (struct rr_io) and timers (struct rr_timer) are
 * embedded in their owners, so arming them never allocates once the heap has grown. Time is
 * CLOCK_MONOTONIC microseconds, read once per iteration and cached (rr_loop_now), so callbacks
 * of one iteration agree on "now" and a busy loop does not pay a clock read per event.
 *
 * An object whose watcher may still have an event pending in the current batch must not be
 * freed inside a callback: stop the watcher, and free the object from the before_poll hook,
 * which runs when no event of the batch is left. Events of a watcher stopped during a batch
 * are dropped for the rest of that batch, so reusing a struct rr_io for a new fd is safe. */
#ifndef RR_LOOP_H
#define RR_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"

struct rr_loop;
struct rr_io;
struct rr_timer;

enum {
    RR_IO_READ = 1,
    RR_IO_WRITE = 2,
    RR_IO_ERROR = 4
};

typedef void rr_io_fn(struct rr_io *io, unsigned events);
typedef void rr_timer_fn(struct rr_timer *t);
typedef void rr_loop_fn(struct rr_loop *l, void *data);

/* A file-descriptor watcher; the fields are private. */
struct rr_io {
    int fd;
    unsigned events;
    rr_io_fn *fn;
    uint64_t _stopped; /* batch in which it was stopped */
};

/* A timer; the fields are private. */
struct rr_timer {
    uint64_t _due;
    uint64_t _seq; /* orders timers due at the same microsecond by start order */
    size_t _idx;   /* position in the heap + 1; 0: not armed */
    rr_timer_fn *_fn;
};

int rr_loop_new(struct rr_loop **out) RR_WUR;
/* NULL-safe; sets *l = NULL. Watchers and timers still armed are forgotten. */
void rr_loop_free(struct rr_loop **l);

/* Cached monotonic time in microseconds, updated before each poll and after it returns. */
uint64_t rr_loop_now(const struct rr_loop *l);
/* Reads the clock now and refreshes the cache; returns the new value. */
uint64_t rr_loop_update_time(struct rr_loop *l);

/* Starts (or changes the events of) a watcher on fd; events is a mask of RR_IO_READ and
 * RR_IO_WRITE. Errors and hang-ups are always reported (RR_IO_ERROR, with READ set so a read
 * sees them). Returns 0 or a negated errno from epoll_ctl. */
int rr_io_start(struct rr_loop *l, struct rr_io *io, int fd, unsigned events, rr_io_fn *fn) RR_WUR;
/* Stops watching; does not close the fd. NULL-safe for an io that was never started
 * (fd < 0). Call before close(fd). */
void rr_io_stop(struct rr_loop *l, struct rr_io *io);
/* Initialises an io as not started. */
void rr_io_init(struct rr_io *io);

void rr_timer_init(struct rr_timer *t, rr_timer_fn *fn);
/* Arms t to fire at the absolute monotonic time due_us (re-arms it if already armed). */
void rr_timer_start(struct rr_loop *l, struct rr_timer *t, uint64_t due_us);
void rr_timer_stop(struct rr_loop *l, struct rr_timer *t);
static inline int rr_timer_is_active(const struct rr_timer *t)
{
    return t->_idx != 0;
}
size_t rr_loop_timer_count(const struct rr_loop *l);

/* The hook runs once per iteration, before the loop blocks: deferred frees, batched work. */
void rr_loop_set_before_poll(struct rr_loop *l, rr_loop_fn *fn, void *data);

/* Runs one iteration: expired timers (at most a bounded number of rounds, so a timer that
 * re-arms itself at "now" cannot starve I/O), the before_poll hook, then one epoll_wait of at
 * most max_wait_us (or until the next timer; -1: no limit besides timers). Returns the number
 * of events handled or a negated errno. */
int rr_loop_run_once(struct rr_loop *l, int64_t max_wait_us);
/* Runs until rr_loop_stop() is called (from a callback or, via rr_loop_wake, another thread). */
int rr_loop_run(struct rr_loop *l);
/* Asks rr_loop_run to return after the current iteration. Thread-safe. */
void rr_loop_stop(struct rr_loop *l);
/* Wakes a loop blocked in epoll_wait from another thread. Thread-safe. */
void rr_loop_wake(struct rr_loop *l);

#endif
