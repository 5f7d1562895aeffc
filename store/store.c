/* store.c -- The LMDB store: one file, six named databases, batched writes.
 *
 * Writes are queued in memory (struct op, bytes in one buffer) and applied in one write
 * transaction per batch, so the recorder pays one commit (one fsync) per batch_count records
 * or batch_ms milliseconds. Reads commit the open batch first, so they see every put.
 * docs/store.md gives the key formats and the guarantees. */
#define RR_LOG_MODULE "store"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rr/log.h"
#include "rr/store.h"
#include "rr/util.h"
#include "store_int.h"

enum {
    DB_META,
    DB_CONNS,
    DB_EXCHANGES,
    DB_BODIES,
    DB_PLAN,
    DB_RUNS,
    DB_N
};
static const char *const db_names[DB_N] = {"meta", "conns", "exchanges", "bodies", "plan", "runs"};

enum {
    OP_PUT,
    OP_PUT_ONCE,
    OP_DEL
};

struct op {
    uint8_t db;
    uint8_t kind;
    size_t koff, klen, voff, vlen; /* into rr_store.bytes */
};

/* Bodies already queued or stored by this handle, so a repeated body is neither compressed
 * nor queued again. Open addressing over the body keys; slot len 0 means empty. */
struct seen {
    struct rr_body_ref *slot;
    size_t cap, n;
};

struct rr_store {
    MDB_env *env;
    MDB_dbi dbi[DB_N];
    char *path;
    int readonly;
    unsigned batch_count;
    uint64_t batch_us;
    uint64_t max_body;

    struct op *ops;
    size_t n_ops, cap_ops;
    struct rr_buf bytes;
    uint64_t batch_start_us;
    int sticky;    /* a batch could not be committed: later writes fail with this */
    int readers;   /* depth of read_begin calls (callbacks may nest) */
    MDB_txn *rtxn; /* the read transaction they all share */

    /* Transactions and cursors open right now, innermost last, so that a fault inside LMDB
     * (see "Damaged pages" below) can release them. */
    MDB_txn *txns[16];
    MDB_cursor *curs[16];
    unsigned n_txns, n_curs;
    int poisoned; /* a page fault hit this handle: every later call fails */

    uint64_t next_xid, next_cid, next_run;
    struct seen seen;
    struct rr_buf enc, z;
    char msg[200];
};

#define DEFAULT_MAP   (64ull << 20)
#define DEFAULT_COUNT 4096u
#define DEFAULT_MS    200u
#define DEFAULT_BODY  (64ull << 20)
#define BATCH_BYTES   (64u << 20) /* a batch holding this much is committed regardless */
#define PLAN_KEY      "plan"

static int from_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return RR_ENOTFOUND;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_BAD_TXN:
    case MDB_BAD_VALSIZE:
        return RR_ECORRUPT;
    case MDB_INVALID:
    case MDB_INCOMPATIBLE:
        return RR_ENOTSTORE;
    case MDB_VERSION_MISMATCH:
        return RR_EVERSION;
    case MDB_MAP_FULL:
        return -ENOSPC;
    case MDB_READERS_FULL:
        return -EAGAIN;
    default:
        return rc > 0 ? -rc : RR_ELIB;
    }
}

static void set_msg(struct rr_store *s, const char *fmt, ...) RR_PRINTF(2, 3);
static void set_msg(struct rr_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    va_end(ap);
}

const char *rr_store_errmsg(const struct rr_store *s)
{
    return s && s->msg[0] ? s->msg : NULL;
}

const char *rr_store_path(const struct rr_store *s)
{
    return s->path;
}

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void body_key(const struct rr_body_ref *ref, uint8_t key[24])
{
    be64(key, ref->hash[0]);
    be64(key + 8, ref->hash[1]);
    be64(key + 16, ref->len);
}

/* --- Damaged pages ---
 *
 * LMDB keeps no checksums and trusts its pages: a file whose B-tree pages were overwritten
 * makes it read outside the file (SIGBUS) or follow garbage pointers (SIGSEGV). open()
 * catches truncation up front; for the rest, every LMDB call (and our reading of the values
 * it hands out) runs under a guard: a fault there jumps back to the guarded entry point,
 * which releases the handle's transactions, poisons it and returns RR_ECORRUPT. Callbacks
 * run unguarded, so their own bugs still crash as they should. A fault outside a guard goes
 * to the handler that was installed before ours. */
static __thread sigjmp_buf *guard_jb;
static struct sigaction old_bus, old_segv;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_fault_signal(int sig, siginfo_t *si, void *uc)
{
    sigjmp_buf *jb = guard_jb;
    if (jb) {
        guard_jb = NULL;
        siglongjmp(*jb, 1);
    }
    /* Not ours: put the previous handler back; returning re-runs the faulting instruction. */
    sigaction(sig, sig == SIGBUS ? &old_bus : &old_segv, NULL);
}

/* Installs the fault handler unless it is the current one. Called at every open, not once:
 * a test harness or the embedding program may install its own handlers after ours. */
static void guard_install(void)
{
    struct sigaction sa, cur_bus, cur_segv;
    pthread_mutex_lock(&guard_lock);
    sigaction(SIGBUS, NULL, &cur_bus);
    sigaction(SIGSEGV, NULL, &cur_segv);
    if ((cur_bus.sa_flags & SA_SIGINFO) && cur_bus.sa_sigaction == on_fault_signal &&
        (cur_segv.sa_flags & SA_SIGINFO) && cur_segv.sa_sigaction == on_fault_signal) {
        pthread_mutex_unlock(&guard_lock);
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER; /* no mask to restore on the jump */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
    sigaction(SIGSEGV, &sa, &old_segv);
    pthread_mutex_unlock(&guard_lock);
}

/* LMDB's own consistency assertions fail on some damaged pages; it calls this, then abort().
 * Under a guard, the jump back makes that an RR_ECORRUPT like a fault. */
static void on_lmdb_assert(MDB_env *env, const char *msg)
{
    sigjmp_buf *jb = guard_jb;
    if (jb) {
        guard_jb = NULL;
        siglongjmp(*jb, 1);
    }
}

static int on_fault(struct rr_store *s)
{
    while (s->n_curs)
        mdb_cursor_close(s->curs[--s->n_curs]);
    while (s->n_txns)
        mdb_txn_abort(s->txns[--s->n_txns]);
    s->readers = 0;
    s->rtxn = NULL;
    s->poisoned = 1;
    s->sticky = RR_ECORRUPT;
    set_msg(s, "damaged store: a database page is unreadable");
    return RR_ECORRUPT;
}

/* The whole body of a guarded function: returns call's result, or RR_ECORRUPT after a fault. */
#define GUARDED(s, call)                                                                           \
    do {                                                                                           \
        sigjmp_buf jb_;                                                                            \
        sigjmp_buf *prev_ = guard_jb;                                                              \
        if (sigsetjmp(jb_, 0)) {                                                                   \
            guard_jb = prev_;                                                                      \
            return on_fault(s);                                                                    \
        }                                                                                          \
        guard_jb = &jb_;                                                                           \
        int rc_ = (call);                                                                          \
        guard_jb = prev_;                                                                          \
        if (rc_ == RR_ECORRUPT && !(s)->msg[0])                                                    \
            set_msg((s), "damaged store: LMDB found a corrupted page");                            \
        return rc_;                                                                                \
    } while (0)

/* Calls out of the store (a walk's callback) without the guard. */
#define UNGUARDED(expr)                                                                            \
    do {                                                                                           \
        sigjmp_buf *saved_ = guard_jb;                                                             \
        guard_jb = NULL;                                                                           \
        expr;                                                                                      \
        guard_jb = saved_;                                                                         \
    } while (0)

static int txn_push(struct rr_store *s, MDB_txn *t)
{
    if (s->n_txns == sizeof(s->txns) / sizeof(s->txns[0])) {
        mdb_txn_abort(t);
        return -EBUSY; /* nesting this deep is a caller bug */
    }
    s->txns[s->n_txns++] = t;
    return 0;
}

static void txn_pop(struct rr_store *s, MDB_txn *t)
{
    if (s->poisoned)
        return;
    RR_ASSERT(s->n_txns && s->txns[s->n_txns - 1] == t);
    s->n_txns--;
}

static int cursor_open(struct rr_store *s, MDB_txn *t, MDB_dbi dbi, MDB_cursor **c)
{
    int rc = mdb_cursor_open(t, dbi, c);
    if (rc)
        return from_mdb(rc);
    if (s->n_curs == sizeof(s->curs) / sizeof(s->curs[0])) {
        mdb_cursor_close(*c);
        *c = NULL;
        return -EBUSY;
    }
    s->curs[s->n_curs++] = *c;
    return 0;
}

static void cursor_close(struct rr_store *s, MDB_cursor *c)
{
    if (s->poisoned || !c)
        return;
    RR_ASSERT(s->n_curs && s->curs[s->n_curs - 1] == c);
    s->n_curs--;
    mdb_cursor_close(c);
}

/* Reads the last byte of a value while guarded: the file only grows, so if its last byte is
 * in the file, all of it is, and the callback can read it safely. */
static void touch(const MDB_val *v)
{
    if (v->mv_size) {
        volatile const uint8_t *p = (const uint8_t *)v->mv_data + v->mv_size - 1;
        (void)*p;
    }
}

/* --- the seen-bodies set --- */

static int seen_add(struct seen *t, const struct rr_body_ref *ref)
{
    if ((t->n + 1) * 2 > t->cap) {
        struct seen g = {rr_xcalloc(t->cap ? t->cap * 2 : 1024, sizeof(*g.slot)), 0, 0};
        g.cap = t->cap ? t->cap * 2 : 1024;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i].len)
                (void)seen_add(&g, &t->slot[i]);
        free(t->slot);
        *t = g;
    }
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)ref->hash[0] & mask;; i = (i + 1) & mask) {
        struct rr_body_ref *e = &t->slot[i];
        if (!e->len) {
            *e = *ref;
            t->n++;
            return 1;
        }
        if (e->len == ref->len && e->hash[0] == ref->hash[0] && e->hash[1] == ref->hash[1])
            return 0;
    }
}

/* --- the write batch --- */

static struct op *op_new(struct rr_store *s, int db, int kind, const void *k, size_t klen)
{
    if (s->n_ops == s->cap_ops) {
        s->cap_ops = s->cap_ops ? s->cap_ops * 2 : 256;
        s->ops = rr_xrealloc(s->ops, s->cap_ops * sizeof(*s->ops));
    }
    if (s->n_ops == 0)
        s->batch_start_us = rr_now_mono_us();
    struct op *o = &s->ops[s->n_ops++];
    o->db = (uint8_t)db;
    o->kind = (uint8_t)kind;
    o->koff = s->bytes.len;
    o->klen = klen;
    rr_buf_add(&s->bytes, k, klen);
    o->voff = s->bytes.len;
    o->vlen = 0;
    return o;
}

static void queue(struct rr_store *s, int db, int kind, const void *k, size_t klen, const void *v,
                  size_t vlen)
{
    struct op *o = op_new(s, db, kind, k, klen);
    rr_buf_add(&s->bytes, v, vlen);
    o->vlen = vlen;
}

/* Doubles the map. Only legal with no transaction open in this process. */
static int grow(struct rr_store *s)
{
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    uint64_t next = (uint64_t)info.me_mapsize * 2;
    if (next < info.me_mapsize || next > (1ull << 46))
        return -ENOSPC;
    rr_log(RR_LOG_DEBUG, "growing the map of %s to %" PRIu64 " bytes", s->path, next);
    return from_mdb(mdb_env_set_mapsize(s->env, (size_t)next));
}

/* Starts a transaction, absorbing the conditions that a retry fixes: another process grew
 * the map, or dead processes hold every reader slot. */
static int txn_begin(struct rr_store *s, unsigned flags, MDB_txn **out)
{
    int rc = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        rc = mdb_txn_begin(s->env, NULL, flags, out);
        if (rc == MDB_MAP_RESIZED && s->readers == 0) {
            mdb_env_set_mapsize(s->env, 0);
            continue;
        }
        if (rc == MDB_READERS_FULL) {
            int dead = 0;
            mdb_reader_check(s->env, &dead);
            if (dead == 0)
                usleep(1000u << attempt);
            continue;
        }
        break;
    }
    return from_mdb(rc);
}

static int apply(struct rr_store *s, MDB_txn *t)
{
    for (size_t i = 0; i < s->n_ops; i++) {
        const struct op *o = &s->ops[i];
        MDB_val k = {o->klen, s->bytes.p + o->koff};
        MDB_val v = {o->vlen, s->bytes.p + o->voff};
        int rc;
        if (o->kind == OP_DEL) {
            rc = mdb_del(t, s->dbi[o->db], &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        } else {
            rc = mdb_put(t, s->dbi[o->db], &k, &v, o->kind == OP_PUT_ONCE ? MDB_NOOVERWRITE : 0);
            if (rc == MDB_KEYEXIST && o->kind == OP_PUT_ONCE)
                rc = 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Commits the batch. A full map is doubled and the whole batch retried, so MDB_MAP_FULL
 * never reaches the caller. With a read transaction open (a put from inside a foreach
 * callback) the map cannot be resized: the batch then stays queued for the next commit. */
static int commit_inner(struct rr_store *s)
{
    int rc = 0;
    if (s->sticky)
        return s->sticky;
    if (s->n_ops == 0)
        return 0;
    for (int attempt = 0; attempt < 64; attempt++) {
        MDB_txn *t = NULL;
        rc = txn_begin(s, 0, &t);
        if (!rc)
            rc = txn_push(s, t);
        if (rc)
            break;
        int mrc = apply(s, t);
        if (mrc == 0)
            mrc = mdb_txn_commit(t);
        else
            mdb_txn_abort(t);
        txn_pop(s, t);
        if (mrc == MDB_MAP_FULL || mrc == MDB_TXN_FULL) {
            if (s->readers > 0)
                return 0;
            if (mrc == MDB_TXN_FULL) {
                rc = RR_ELIB; /* LMDB's dirty-page cap; batches are far below it */
                break;
            }
            rc = grow(s);
            if (rc)
                break;
            continue;
        }
        rc = from_mdb(mrc);
        break;
    }
    if (rc) {
        set_msg(s, "cannot write: %s", rr_strerror(rc));
        s->sticky = rc;
        return rc;
    }
    s->n_ops = 0;
    rr_buf_reset(&s->bytes);
    /* Keep the memory of an ordinary batch, give back that of an oversized one. */
    if (s->bytes.cap > 4 * (size_t)BATCH_BYTES)
        rr_buf_fini(&s->bytes);
    return 0;
}

static int commit(struct rr_store *s)
{
    GUARDED(s, commit_inner(s));
}

static int maybe_commit(struct rr_store *s)
{
    if (s->n_ops >= s->batch_count || s->bytes.len >= BATCH_BYTES ||
        rr_now_mono_us() - s->batch_start_us >= s->batch_us)
        return commit(s);
    return 0;
}

int rr_store_flush(struct rr_store *s)
{
    if (s->readonly)
        return 0;
    int rc = commit(s);
    if (rc == 0 && s->n_ops)
        return -EBUSY; /* a read transaction is open: see commit() */
    return rc;
}

int rr_store_tick(struct rr_store *s)
{
    if (s->readonly || s->n_ops == 0)
        return 0;
    return maybe_commit(s);
}

static int writable(struct rr_store *s)
{
    if (s->poisoned)
        return RR_ECORRUPT;
    if (s->readonly)
        return -EROFS;
    return s->sticky;
}

/* --- reading --- */

/* A read from inside a walk's callback shares the walk's transaction: it sees the same
 * snapshot, takes no second reader slot, and cannot meet MDB_MAP_RESIZED (which, with the
 * walk's transaction open, could not be handled) when another process grew the file. */
static int read_begin(struct rr_store *s, MDB_txn **t)
{
    if (s->poisoned)
        return RR_ECORRUPT;
    if (s->readers > 0) {
        *t = s->rtxn;
        s->readers++;
        return 0;
    }
    if (!s->readonly) {
        int rc = commit(s);
        if (rc)
            return rc;
    }
    int rc = txn_begin(s, MDB_RDONLY, t);
    if (rc == 0)
        rc = txn_push(s, *t);
    if (rc == 0) {
        s->rtxn = *t;
        s->readers = 1;
    }
    return rc;
}

static void read_end(struct rr_store *s, MDB_txn *t)
{
    if (s->poisoned || --s->readers > 0)
        return;
    txn_pop(s, t);
    mdb_txn_abort(t);
    s->rtxn = NULL;
}

static int get_one_inner(struct rr_store *s, int db, const void *k, size_t klen, struct rr_buf *out)
{
    MDB_txn *t = NULL;
    int rc = read_begin(s, &t);
    if (rc)
        return rc;
    MDB_val key = {klen, (void *)k}, val;
    rc = from_mdb(mdb_get(t, s->dbi[db], &key, &val));
    if (rc == 0)
        rr_buf_add(out, val.mv_data, val.mv_size);
    read_end(s, t);
    return rc;
}

static int get_one(struct rr_store *s, int db, const void *k, size_t klen, struct rr_buf *out)
{
    GUARDED(s, get_one_inner(s, db, k, klen, out));
}

/* Walks db from key `from`, giving each u64 key and value to fn. */
typedef int walk_fn(struct rr_store *s, uint64_t id, MDB_val *v, void *ud);

static int walk_inner(struct rr_store *s, int db, uint64_t from, walk_fn *fn, void *ud)
{
    MDB_txn *t = NULL;
    MDB_cursor *c = NULL;
    uint8_t kb[8];
    int rc = read_begin(s, &t);
    if (rc)
        return rc;
    rc = cursor_open(s, t, s->dbi[db], &c);
    if (rc)
        goto out;
    be64(kb, from);
    MDB_val k = {8, kb}, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == 0) {
        if (k.mv_size != 8) {
            set_msg(s, "damaged %s database: a key of %zu bytes", db_names[db], k.mv_size);
            rc = RR_ECORRUPT;
            goto out;
        }
        rc = fn(s, get_be64(k.mv_data), &v, ud);
        if (s->poisoned)
            return RR_ECORRUPT; /* the callback's own read faulted: all is released */
        if (rc)
            goto out;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (mrc != MDB_NOTFOUND)
        rc = from_mdb(mrc);
out:
    cursor_close(s, c);
    read_end(s, t);
    return rc;
}

static int walk_ids(struct rr_store *s, int db, uint64_t from, walk_fn *fn, void *ud)
{
    GUARDED(s, walk_inner(s, db, from, fn, ud));
}

/* --- open / close --- */

/* What the first bytes of a file that is not an LMDB file say it is. */
static const char *sniff_kind(const uint8_t *p, size_t n)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *what;
    } kinds[] = {
        {"\xd4\xc3\xb2\xa1", 4, "a pcap capture"},
        {"\xa1\xb2\xc3\xd4", 4, "a pcap capture"},
        {"\x4d\x3c\xb2\xa1", 4, "a pcap capture"},
        {"\xa1\xb2\x3c\x4d", 4, "a pcap capture"},
        {"\x0a\x0d\x0d\x0a", 4, "a pcapng capture"},
        {"SQLite format 3", 15, "an SQLite database"},
        {"\x1f\x8b", 2, "a gzip file"},
        {"PK\x03\x04", 4, "a zip file"},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (n >= kinds[i].len && memcmp(p, kinds[i].magic, kinds[i].len) == 0)
            return kinds[i].what;
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t' || (p[i] >= 0x20 && p[i] != 0x7f))
            text++;
    if (n && text == n)
        return n && (p[0] == '{' || p[0] == '[') ? "a JSON or text file" : "a text file";
    return NULL;
}

/* LMDB's meta page, as laid out on 64-bit Linux (lmdb/mdb.c MDB_meta after a 16-byte page
 * header): what open needs to refuse a file LMDB would map and then fault on (a truncated
 * store raises SIGBUS on first access, not an error). */
#define LMDB_MAGIC   0xBEEFC0DEu
#define META_OFF     16
#define META_PSIZE   (META_OFF + 24)  /* mm_dbs[FREE_DBI].md_pad */
#define META_LAST_PG (META_OFF + 120) /* mm_last_pg */
#define META_TXNID   (META_OFF + 128) /* mm_txnid */
#define META_END     (META_OFF + 136)

static uint32_t ne32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t ne64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Checks that path holds an LMDB environment that fits in the file. size 0 is left to the
 * caller (an empty file may be turned into a store when creating). */
static int check_file(int fd, uint64_t size, char *why, size_t whylen)
{
    uint8_t head[512];
    ssize_t n = pread(fd, head, sizeof(head), 0);
    if (n < 0)
        return -errno;
    const char *kind = sniff_kind(head, (size_t)n);
    if ((size_t)n < META_END || ne32(head + META_OFF) != LMDB_MAGIC) {
        if (kind)
            snprintf(why, whylen, "not an rrload store (it looks like %s)", kind);
        else if ((size_t)n < META_END)
            snprintf(why, whylen, "not an rrload store (only %zd bytes, too short for one)", n);
        else
            snprintf(why, whylen, "not an rrload store (not an LMDB file)");
        return RR_ENOTSTORE;
    }
    uint32_t psize = ne32(head + META_PSIZE);
    if (psize < 512 || psize > 65536 || (psize & (psize - 1))) {
        snprintf(why, whylen, "damaged store: bad page size %" PRIu32 " in the header", psize);
        return RR_ECORRUPT;
    }
    uint64_t last_pg = ne64(head + META_LAST_PG);
    uint64_t txnid = ne64(head + META_TXNID);
    uint8_t m1[META_END];
    if (size < 2ull * psize || pread(fd, m1, sizeof(m1), psize) != (ssize_t)sizeof(m1)) {
        snprintf(why, whylen, "truncated store: %" PRIu64 " bytes, less than its two header pages",
                 size);
        return RR_ECORRUPT;
    }
    if (ne32(m1 + META_OFF) == LMDB_MAGIC && ne64(m1 + META_TXNID) > txnid)
        last_pg = ne64(m1 + META_LAST_PG);
    if (last_pg > (UINT64_MAX / psize) - 1 || (last_pg + 1) * psize > size) {
        snprintf(why, whylen, "truncated store: %" PRIu64 " bytes, its header says %" PRIu64, size,
                 (last_pg + 1) * (uint64_t)psize);
        return RR_ECORRUPT;
    }
    return 0;
}

static int read_schema(struct rr_store *s, MDB_txn *t, char *why, size_t whylen)
{
    MDB_val k = {6, (void *)"schema"}, v;
    int rc = mdb_get(t, s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        snprintf(why, whylen, "not an rrload store (no schema version in its meta database)");
        return RR_ENOTSTORE;
    }
    if (rc)
        return from_mdb(rc);
    uint64_t ver = 0;
    size_t i = 0;
    const char *p = v.mv_data;
    for (; i < v.mv_size && i < 10 && p[i] >= '0' && p[i] <= '9'; i++)
        ver = ver * 10 + (uint64_t)(p[i] - '0');
    if (i == 0 || i != v.mv_size || ver == 0) {
        snprintf(why, whylen, "damaged store: bad schema version '%.*s'",
                 (int)(v.mv_size < 20 ? v.mv_size : 20), p);
        return RR_ECORRUPT;
    }
    if (ver > RR_STORE_SCHEMA) {
        snprintf(why, whylen,
                 "written by a newer rrload (store schema %" PRIu64 "; this rrload reads up to %d)",
                 ver, RR_STORE_SCHEMA);
        return RR_EVERSION;
    }
    return 0;
}

static int last_id(struct rr_store *s, MDB_txn *t, MDB_dbi dbi, uint64_t *out)
{
    MDB_cursor *c;
    MDB_val k, v;
    *out = 0;
    int rc = cursor_open(s, t, dbi, &c);
    if (rc)
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        *out = get_be64(k.mv_data);
    else if (rc == 0)
        rc = MDB_CORRUPTED;
    cursor_close(s, c);
    return rc == MDB_NOTFOUND ? 0 : from_mdb(rc);
}

/* Opens the named databases; a writable open of a fresh environment makes it a store. */
static int open_dbs_inner(struct rr_store *s, char *why, size_t whylen)
{
    MDB_txn *t = NULL;
    int rc = txn_begin(s, s->readonly ? MDB_RDONLY : 0, &t);
    if (!rc)
        rc = txn_push(s, t);
    if (rc)
        return rc;
    int mrc = mdb_dbi_open(t, db_names[DB_META], 0, &s->dbi[DB_META]);
    if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
        MDB_dbi main;
        MDB_stat st = {0};
        if (mrc == MDB_NOTFOUND && mdb_dbi_open(t, NULL, 0, &main) == 0)
            mdb_stat(t, main, &st);
        if (s->readonly || mrc != MDB_NOTFOUND || st.ms_entries != 0) {
            snprintf(why, whylen, "%s",
                     st.ms_entries == 0 && mrc == MDB_NOTFOUND
                         ? "not an rrload store (an empty LMDB file)"
                         : "not an rrload store (an LMDB file without rrload's databases)");
            rc = RR_ENOTSTORE;
            goto out;
        }
        mrc = 0;
        for (int i = 0; i < DB_N && !mrc; i++)
            mrc = mdb_dbi_open(t, db_names[i], MDB_CREATE, &s->dbi[i]);
        char ver[16];
        int vn = snprintf(ver, sizeof(ver), "%d", RR_STORE_SCHEMA);
        MDB_val k = {6, (void *)"schema"}, v = {(size_t)vn, ver};
        if (!mrc)
            mrc = mdb_put(t, s->dbi[DB_META], &k, &v, 0);
        rc = from_mdb(mrc);
        if (rc)
            goto out;
    } else if (mrc) {
        rc = from_mdb(mrc);
        goto out;
    }
    rc = read_schema(s, t, why, whylen);
    if (rc)
        goto out;
    for (int i = 1; i < DB_N; i++) {
        mrc = mdb_dbi_open(t, db_names[i], s->readonly ? 0 : MDB_CREATE, &s->dbi[i]);
        if (mrc) {
            snprintf(why, whylen, "damaged store: its %s database is %s", db_names[i],
                     mrc == MDB_NOTFOUND ? "missing" : "unreadable");
            rc = RR_ECORRUPT;
            goto out;
        }
    }
    rc = last_id(s, t, s->dbi[DB_EXCHANGES], &s->next_xid);
    if (!rc)
        rc = last_id(s, t, s->dbi[DB_CONNS], &s->next_cid);
    if (!rc)
        rc = last_id(s, t, s->dbi[DB_RUNS], &s->next_run);
    if (rc) {
        snprintf(why, whylen, "damaged store: a key that is not a record number");
        goto out;
    }
    s->next_xid++;
    s->next_cid++;
    s->next_run++;
    /* Handles opened in a transaction survive only its commit, also when read-only. */
    rc = from_mdb(mdb_txn_commit(t));
    txn_pop(s, t);
    t = NULL;
out:
    if (t) {
        txn_pop(s, t);
        mdb_txn_abort(t);
    }
    return rc;
}

static int open_dbs(struct rr_store *s, char *why, size_t whylen)
{
    GUARDED(s, open_dbs_inner(s, why, whylen));
}

static int env_open(struct rr_store *s, const struct rr_store_opts *o, uint64_t file_size,
                    unsigned extra)
{
    int rc = mdb_env_create(&s->env);
    if (rc)
        return rc;
    mdb_env_set_maxdbs(s->env, DB_N + 2);
    mdb_env_set_assert(s->env, on_lmdb_assert);
    /* A reader maps just the file rather than the size its header asks for: a damaged header
     * cannot make it map gigabytes, and another process growing the store is picked up by
     * MDB_MAP_RESIZED (txn_begin). */
    if (!s->readonly)
        mdb_env_set_mapsize(s->env, (size_t)(o->map_size ? o->map_size : DEFAULT_MAP));
    else
        mdb_env_set_mapsize(s->env, (size_t)file_size);
    unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | extra | (s->readonly ? MDB_RDONLY : 0);
    rc = mdb_env_open(s->env, s->path, flags, 0600);
    if (rc) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    return rc;
}

int rr_store_open(struct rr_store **out, const struct rr_store_opts *opts, char *why, size_t whylen)
{
    struct rr_store *s = NULL;
    char dummy[1];
    int fd = -1, rc;
    struct stat st;

    *out = NULL;
    if (!why || whylen == 0) {
        why = dummy;
        whylen = sizeof(dummy);
    }
    why[0] = 0;
    if (!opts || !opts->path || !opts->path[0]) {
        snprintf(why, whylen, "no file name");
        return -EINVAL;
    }
    int readonly = opts->readonly != 0;
    int create = !readonly && opts->create;
    int st_ok = stat(opts->path, &st) == 0;
    if (!st_ok) {
        rc = -errno;
        if (rc != -ENOENT || !create) {
            snprintf(why, whylen, "%s", rc == -ENOENT ? "no such file" : strerror(-rc));
            return rc;
        }
    } else if (S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "is a directory, not an rrload store");
        return -EISDIR;
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file");
        return RR_ENOTSTORE;
    } else if (st.st_size == 0 && !create) {
        snprintf(why, whylen, "not an rrload store (an empty file)");
        return RR_ENOTSTORE;
    } else if (st.st_size > 0) {
        fd = open(opts->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            snprintf(why, whylen, "%s", strerror(-rc));
            return rc;
        }
        rc = check_file(fd, (uint64_t)st.st_size, why, whylen);
        close(fd);
        if (rc)
            return rc;
    }

    guard_install();
    s = rr_xcalloc(1, sizeof(*s));
    s->path = rr_xstrdup(opts->path);
    s->readonly = readonly;
    s->batch_count = opts->batch_count ? opts->batch_count : DEFAULT_COUNT;
    s->batch_us = (uint64_t)(opts->batch_ms ? opts->batch_ms : DEFAULT_MS) * 1000;
    s->max_body = opts->max_body ? opts->max_body : DEFAULT_BODY;
    rr_buf_init(&s->bytes);
    rr_buf_init(&s->enc);
    rr_buf_init(&s->z);

    uint64_t fsize = st_ok ? (uint64_t)st.st_size : 0;
    int mrc = env_open(s, opts, fsize, 0);
    /* A reader in a directory it cannot write (no lock file possible) still gets to read. */
    if (readonly && (mrc == EACCES || mrc == EROFS))
        mrc = env_open(s, opts, fsize, MDB_NOLOCK);
    if (mrc) {
        rc = from_mdb(mrc);
        if (mrc == MDB_INVALID)
            snprintf(why, whylen, "not an rrload store (not an LMDB file)");
        else if (mrc == MDB_VERSION_MISMATCH)
            snprintf(why, whylen, "made by an incompatible LMDB version");
        else if (mrc == ENOENT && !st_ok)
            snprintf(why, whylen, "cannot create it: its directory does not exist");
        else if (mrc == EACCES)
            snprintf(why, whylen, "permission denied");
        else
            snprintf(why, whylen, "%s", rr_strerror(rc));
        goto fail;
    }
    if (!readonly) {
        int dead = 0;
        mdb_reader_check(s->env, &dead); /* slots of killed processes */
    }
    rc = open_dbs(s, why, whylen);
    if (rc) {
        if (!why[0])
            snprintf(why, whylen, "%s", s->msg[0] ? s->msg : rr_strerror(rc));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->env)
        mdb_env_close(s->env);
    rr_buf_fini(&s->bytes);
    rr_buf_fini(&s->enc);
    rr_buf_fini(&s->z);
    free(s->path);
    free(s);
    return rc;
}

int rr_store_close(struct rr_store **sp)
{
    struct rr_store *s = sp ? *sp : NULL;
    if (!s)
        return 0;
    *sp = NULL;
    int rc = s->readonly ? 0 : commit(s);
    mdb_env_close(s->env);
    free(s->ops);
    free(s->seen.slot);
    rr_buf_fini(&s->bytes);
    rr_buf_fini(&s->enc);
    rr_buf_fini(&s->z);
    free(s->path);
    free(s);
    return rc;
}

/* --- recording --- */

int rr_store_conn_put(struct rr_store *s, struct rr_conn *c)
{
    int rc = writable(s);
    if (rc)
        return rc;
    if (c->id == 0)
        c->id = s->next_cid++;
    else if (c->id >= s->next_cid)
        s->next_cid = c->id + 1;
    uint8_t k[8];
    be64(k, c->id);
    rr_buf_reset(&s->enc);
    rr_conn_encode(c, &s->enc);
    queue(s, DB_CONNS, OP_PUT, k, 8, s->enc.p, s->enc.len);
    return maybe_commit(s);
}

/* Value of a bodies record: one byte saying how the rest is stored, then the bytes. */
enum {
    BODY_RAW = 0,
    BODY_ZLIB = 1
};

static void body_put(struct rr_store *s, const void *p, size_t len, struct rr_body_ref *ref)
{
    rr_store__body_ref(p, len, ref);
    if (len == 0 || !seen_add(&s->seen, ref))
        return;
    uint8_t key[24];
    body_key(ref, key);
    uLongf zlen = compressBound((uLong)len);
    rr_buf_reset(&s->z);
    rr_buf_reserve(&s->z, 1 + zlen);
    int zrc = len >= 64 ? compress2(s->z.p + 1, &zlen, p, (uLong)len, 1) : Z_BUF_ERROR;
    if (zrc == Z_OK && zlen < len) {
        s->z.p[0] = BODY_ZLIB;
        queue(s, DB_BODIES, OP_PUT_ONCE, key, 24, s->z.p, 1 + zlen);
        if (s->z.cap > (16u << 20))
            rr_buf_fini(&s->z); /* one huge body should not pin its buffer for the session */
    } else {
        struct op *o = op_new(s, DB_BODIES, OP_PUT_ONCE, key, 24);
        rr_buf_addc(&s->bytes, BODY_RAW);
        rr_buf_add(&s->bytes, p, len);
        o->vlen = 1 + len;
    }
}

int rr_store_exchange_put(struct rr_store *s, struct rr_exchange *x, const void *req_body,
                          size_t req_len, const void *resp_body, size_t resp_len)
{
    int rc = writable(s);
    if (rc)
        return rc;
    if (!req_body)
        req_len = 0;
    if (!resp_body)
        resp_len = 0;
    if (req_len > s->max_body || resp_len > s->max_body) {
        x->flags |= RR_XF_BODY_CAPPED;
        req_len = req_len > s->max_body ? (size_t)s->max_body : req_len;
        resp_len = resp_len > s->max_body ? (size_t)s->max_body : resp_len;
    }
    body_put(s, req_body, req_len, &x->req_body);
    body_put(s, resp_body, resp_len, &x->resp_body);
    if (x->id == 0)
        x->id = s->next_xid++;
    else if (x->id >= s->next_xid)
        s->next_xid = x->id + 1;
    uint8_t k[8];
    be64(k, x->id);
    rr_buf_reset(&s->enc);
    rr_exchange_encode(x, &s->enc);
    queue(s, DB_EXCHANGES, OP_PUT, k, 8, s->enc.p, s->enc.len);
    return maybe_commit(s);
}

/* --- reading --- */

struct xwalk {
    rr_store_exchange_fn *fn;
    void *ud;
    struct rr_buf scratch;
};

/* Names the record that failed to decode, for rr_store_errmsg(). */
static void record_error(struct rr_store *s, const char *what, uint64_t id, const MDB_val *v,
                         int rc)
{
    if (rc == RR_EVERSION)
        set_msg(s,
                "%s %" PRIu64 ": written by a newer rrload (record version %u; this rrload "
                "reads up to %d)",
                what, id, ((const uint8_t *)v->mv_data)[1], RR_REC_VERSION);
    else
        set_msg(s, "%s %" PRIu64 ": damaged record", what, id);
}

static int xwalk_one(struct rr_store *s, uint64_t id, MDB_val *v, void *ud)
{
    struct xwalk *w = ud;
    struct rr_exchange x;
    int rc = rr_exchange_decode(v->mv_data, v->mv_size, &x, &w->scratch);
    if (rc) {
        record_error(s, "exchange", id, v, rc);
        return rc;
    }
    x.id = id;
    UNGUARDED(rc = w->fn(&x, w->ud));
    return rc;
}

int rr_store_exchange_foreach(struct rr_store *s, uint64_t from_id, rr_store_exchange_fn *fn,
                              void *ud)
{
    struct xwalk w = {fn, ud, {0}};
    rr_buf_init(&w.scratch);
    int rc = walk_ids(s, DB_EXCHANGES, from_id, xwalk_one, &w);
    rr_buf_fini(&w.scratch);
    return rc;
}

static int xget_inner(struct rr_store *s, uint64_t id, struct xwalk *w)
{
    MDB_txn *t = NULL;
    uint8_t kb[8];
    int rc = read_begin(s, &t);
    if (rc)
        return rc;
    be64(kb, id);
    MDB_val k = {8, kb}, v;
    rc = from_mdb(mdb_get(t, s->dbi[DB_EXCHANGES], &k, &v));
    if (rc == 0) {
        rc = xwalk_one(s, id, &v, w);
        if (s->poisoned)
            return RR_ECORRUPT; /* the callback's own read faulted: all is released */
    }
    read_end(s, t);
    return rc;
}

static int xget(struct rr_store *s, uint64_t id, struct xwalk *w)
{
    GUARDED(s, xget_inner(s, id, w));
}

int rr_store_exchange_get(struct rr_store *s, uint64_t id, rr_store_exchange_fn *fn, void *ud)
{
    struct xwalk w = {fn, ud, {0}};
    rr_buf_init(&w.scratch);
    int rc = xget(s, id, &w);
    rr_buf_fini(&w.scratch);
    return rc;
}

struct cwalk {
    rr_store_conn_fn *fn;
    void *ud;
};

static int cwalk_one(struct rr_store *s, uint64_t id, MDB_val *v, void *ud)
{
    struct cwalk *w = ud;
    struct rr_conn c;
    int rc = rr_conn_decode(v->mv_data, v->mv_size, &c);
    if (rc) {
        record_error(s, "connection", id, v, rc);
        return rc;
    }
    c.id = id;
    UNGUARDED(rc = w->fn(&c, w->ud));
    return rc;
}

int rr_store_conn_foreach(struct rr_store *s, rr_store_conn_fn *fn, void *ud)
{
    struct cwalk w = {fn, ud};
    return walk_ids(s, DB_CONNS, 0, cwalk_one, &w);
}

int rr_store_conn_get(struct rr_store *s, uint64_t id, struct rr_conn *out)
{
    struct rr_buf b;
    uint8_t k[8];
    rr_buf_init(&b);
    be64(k, id);
    int rc = get_one(s, DB_CONNS, k, 8, &b);
    if (rc == 0) {
        rc = rr_conn_decode(b.p, b.len, out);
        if (rc)
            set_msg(s, "connection %" PRIu64 ": damaged record", id);
        out->id = id;
    }
    rr_buf_fini(&b);
    return rc;
}

static int body_get(struct rr_store *s, const struct rr_body_ref *ref, struct rr_buf *out)
{
    if (ref->len == 0)
        return 0;
    if (ref->len > SIZE_MAX / 2)
        return RR_ECORRUPT;
    MDB_txn *t = NULL;
    uint8_t key[24];
    body_key(ref, key);
    int rc = read_begin(s, &t);
    if (rc)
        return rc;
    MDB_val k = {24, key}, v;
    rc = from_mdb(mdb_get(t, s->dbi[DB_BODIES], &k, &v));
    if (rc)
        goto out;
    const uint8_t *p = v.mv_data;
    size_t start = out->len, len = (size_t)ref->len;
    rc = RR_ECORRUPT;
    if (v.mv_size < 1)
        goto out;
    if (p[0] == BODY_RAW) {
        if (v.mv_size - 1 != len)
            goto out;
        rr_buf_add(out, p + 1, len);
    } else if (p[0] == BODY_ZLIB) {
        rr_buf_reserve(out, len);
        uLongf dlen = (uLongf)len;
        if (uncompress(out->p + start, &dlen, p + 1, (uLong)(v.mv_size - 1)) != Z_OK || dlen != len)
            goto out;
        out->len += len;
    } else {
        goto out;
    }
    struct rr_body_ref got;
    rr_store__body_ref(out->p + start, len, &got);
    if (got.hash[0] != ref->hash[0] || got.hash[1] != ref->hash[1]) {
        out->len = start;
        goto out;
    }
    rc = 0;
out:
    if (rc == RR_ECORRUPT)
        set_msg(s, "damaged body record (%" PRIu64 " bytes)", ref->len);
    read_end(s, t);
    return rc;
}

int rr_store_body_get(struct rr_store *s, const struct rr_body_ref *ref, struct rr_buf *out)
{
    GUARDED(s, body_get(s, ref, out));
}

static int count_bodies(struct rr_store *s, MDB_txn *t, MDB_dbi dbi, uint64_t *bytes)
{
    MDB_cursor *c;
    MDB_val k, v;
    *bytes = 0;
    int rc = cursor_open(s, t, dbi, &c);
    if (rc)
        return rc;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
        if (k.mv_size == 24)
            *bytes += get_be64((const uint8_t *)k.mv_data + 16);
    cursor_close(s, c);
    return rc == MDB_NOTFOUND ? 0 : from_mdb(rc);
}

static int counts(struct rr_store *s, struct rr_store_counts *out)
{
    MDB_txn *t = NULL;
    MDB_stat st;
    memset(out, 0, sizeof(*out));
    int rc = read_begin(s, &t);
    if (rc)
        return rc;
    uint64_t *dst[DB_N] = {NULL, &out->conns, &out->exchanges, &out->bodies, NULL, &out->runs};
    for (int i = 0; i < DB_N && !rc; i++) {
        rc = from_mdb(mdb_stat(t, s->dbi[i], &st));
        if (!rc && dst[i])
            *dst[i] = st.ms_entries;
        if (!rc && i == DB_PLAN)
            out->has_plan = st.ms_entries > 0;
    }
    if (!rc)
        rc = count_bodies(s, t, s->dbi[DB_BODIES], &out->body_bytes);
    read_end(s, t);
    return rc;
}

int rr_store_counts(struct rr_store *s, struct rr_store_counts *out)
{
    GUARDED(s, counts(s, out));
}

/* --- meta, plan, runs --- */

int rr_store_meta_put(struct rr_store *s, const char *key, const void *val, size_t len)
{
    int rc = writable(s);
    if (rc)
        return rc;
    size_t kl = strlen(key);
    if (kl == 0 || kl > 255)
        return -EINVAL;
    queue(s, DB_META, OP_PUT, key, kl, val, len);
    return maybe_commit(s);
}

int rr_store_meta_get(struct rr_store *s, const char *key, struct rr_buf *out)
{
    size_t kl = strlen(key);
    if (kl == 0 || kl > 255)
        return RR_ENOTFOUND;
    return get_one(s, DB_META, key, kl, out);
}

static int meta_foreach(struct rr_store *s, rr_store_meta_fn *fn, void *ud)
{
    MDB_txn *t = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    char key[256];
    int rc = read_begin(s, &t);
    if (rc)
        return rc;
    rc = cursor_open(s, t, s->dbi[DB_META], &c);
    int mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        if (k.mv_size == 0 || k.mv_size >= sizeof(key) || memchr(k.mv_data, 0, k.mv_size)) {
            set_msg(s, "damaged meta database: a bad key");
            rc = RR_ECORRUPT;
            break;
        }
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        touch(&v);
        UNGUARDED(rc = fn(key, rr_view_of(v.mv_data, v.mv_size), ud));
        if (s->poisoned)
            return RR_ECORRUPT;
        if (rc)
            break;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (!rc && mrc != MDB_NOTFOUND)
        rc = from_mdb(mrc);
    cursor_close(s, c);
    read_end(s, t);
    return rc;
}

int rr_store_meta_foreach(struct rr_store *s, rr_store_meta_fn *fn, void *ud)
{
    GUARDED(s, meta_foreach(s, fn, ud));
}

int rr_store_plan_put(struct rr_store *s, const void *text, size_t len)
{
    int rc = writable(s);
    if (rc)
        return rc;
    queue(s, DB_PLAN, OP_PUT, PLAN_KEY, strlen(PLAN_KEY), text, len);
    return maybe_commit(s);
}

int rr_store_plan_get(struct rr_store *s, struct rr_buf *out)
{
    return get_one(s, DB_PLAN, PLAN_KEY, strlen(PLAN_KEY), out);
}

int rr_store_plan_del(struct rr_store *s)
{
    int rc = writable(s);
    if (rc)
        return rc;
    queue(s, DB_PLAN, OP_DEL, PLAN_KEY, strlen(PLAN_KEY), NULL, 0);
    return maybe_commit(s);
}

int rr_store_run_add(struct rr_store *s, const void *doc, size_t len, uint64_t *out_id)
{
    int rc = writable(s);
    if (rc)
        return rc;
    uint64_t id = s->next_run++;
    uint8_t k[8];
    be64(k, id);
    queue(s, DB_RUNS, OP_PUT, k, 8, doc, len);
    if (out_id)
        *out_id = id;
    return maybe_commit(s);
}

int rr_store_run_get(struct rr_store *s, uint64_t id, struct rr_buf *out)
{
    uint8_t k[8];
    be64(k, id);
    return get_one(s, DB_RUNS, k, 8, out);
}

struct rwalk {
    rr_store_run_fn *fn;
    void *ud;
};

static int rwalk_one(struct rr_store *s, uint64_t id, MDB_val *v, void *ud)
{
    struct rwalk *w = ud;
    int rc;
    touch(v);
    UNGUARDED(rc = w->fn(id, rr_view_of(v->mv_data, v->mv_size), w->ud));
    return rc;
}

int rr_store_run_foreach(struct rr_store *s, rr_store_run_fn *fn, void *ud)
{
    struct rwalk w = {fn, ud};
    return walk_ids(s, DB_RUNS, 0, rwalk_one, &w);
}
