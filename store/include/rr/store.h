/* store.h -- Recorded sessions, plans and runs in one LMDB file.
 *
 * One store is one file (MDB_NOSUBDIR), created mode 0600 because recordings hold secrets.
 * Named databases: meta, conns, exchanges, bodies, plan, runs. Keys are big-endian, so
 * exchanges iterate in capture order. Bodies are zlib-compressed and stored once per content.
 *
 * Writes go into an open batch that is committed every batch_count records or batch_ms
 * milliseconds, and by rr_store_flush()/rr_store_close(): a crash loses at most the open
 * batch and never corrupts the file. A full map is grown, never reported as an error.
 *
 * A store handle belongs to one thread. Views handed to callbacks are valid only during
 * the callback.
 *
 * LMDB trusts its pages, so a damaged file can make it fault. The first open installs
 * process-wide SIGBUS/SIGSEGV handlers that turn a fault inside the store's own LMDB calls
 * into RR_ECORRUPT (the handle is then unusable); a fault anywhere else goes on to the
 * handler installed before (docs/store.md, "Damaged pages"). */
#ifndef RR_STORE_H
#define RR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"
#include "rr/err.h"
#include "rr/exchange.h"

#define RR_STORE_SCHEMA 1

struct rr_store;

struct rr_store_opts {
    const char *path;
    int readonly;         /* open for reading; the file must exist */
    int create;           /* create the file when missing (ignored when readonly) */
    uint64_t map_size;    /* initial map size; 0: 64 MiB. Grows on demand. */
    unsigned batch_count; /* records per write batch; 0: 4096 */
    unsigned batch_ms;    /* longest time a batch stays open; 0: 200 */
    uint64_t max_body;    /* bodies longer than this keep only their head; 0: 64 MiB */
};

/* Opens or creates a store. On failure returns an rr code and, when why is not NULL, writes
 * a short description of the problem (without the file name) into why. Codes:
 * -ENOENT missing file, RR_ENOTSTORE not an rrload store, RR_EVERSION newer schema,
 * RR_ECORRUPT damaged metadata, or another negated errno. */
int rr_store_open(struct rr_store **out, const struct rr_store_opts *opts, char *why,
                  size_t whylen) RR_WUR;
/* Commits the open batch and closes. NULL-safe; sets *s = NULL. */
int rr_store_close(struct rr_store **s);
/* Commits the open batch now; when it returns 0, every put before it is on disk. -EBUSY
 * from inside a walk's callback (the batch stays queued). */
int rr_store_flush(struct rr_store *s) RR_WUR;
const char *rr_store_path(const struct rr_store *s);
/* Commits the open batch if it is older than batch_ms. Batches are otherwise committed only
 * by the puts that fill them, so a writer that goes idle calls this from its loop. */
int rr_store_tick(struct rr_store *s) RR_WUR;
/* Describes the last failure of s beyond its code (e.g. "exchange 17: damaged record"), or
 * NULL. Valid until the next call on s. */
const char *rr_store_errmsg(const struct rr_store *s);

/* --- recording --- */

/* Stores a connection; assigns c->id when it is 0. Putting the same id again replaces it. */
int rr_store_conn_put(struct rr_store *s, struct rr_conn *c) RR_WUR;
/* Stores an exchange and its bodies; fills x->req_body and x->resp_body from the given
 * bytes (NULL/0 for none) and assigns x->id when it is 0. */
int rr_store_exchange_put(struct rr_store *s, struct rr_exchange *x, const void *req_body,
                          size_t req_len, const void *resp_body, size_t resp_len) RR_WUR;

/* --- reading --- */

typedef int rr_store_exchange_fn(const struct rr_exchange *x, void *ud);
typedef int rr_store_conn_fn(const struct rr_conn *c, void *ud);

/* Calls fn for every exchange in capture order (id >= from_id). A non-zero return from fn
 * stops the walk and is returned. RR_ECORRUPT for a record that fails validation. */
int rr_store_exchange_foreach(struct rr_store *s, uint64_t from_id, rr_store_exchange_fn *fn,
                              void *ud) RR_WUR;
/* Calls fn once with exchange id; RR_ENOTFOUND when there is none. From inside a walk's
 * callback it reads the walk's snapshot (a reader that revisits exchanges by id while
 * walking pays one lookup, no second transaction). */
int rr_store_exchange_get(struct rr_store *s, uint64_t id, rr_store_exchange_fn *fn,
                          void *ud) RR_WUR;
int rr_store_conn_foreach(struct rr_store *s, rr_store_conn_fn *fn, void *ud) RR_WUR;
int rr_store_conn_get(struct rr_store *s, uint64_t id, struct rr_conn *out) RR_WUR;
/* Appends the decompressed body to out. RR_ENOTFOUND when it is not stored. */
int rr_store_body_get(struct rr_store *s, const struct rr_body_ref *ref, struct rr_buf *out) RR_WUR;

struct rr_store_counts {
    uint64_t exchanges;
    uint64_t conns;
    uint64_t bodies;
    uint64_t body_bytes; /* uncompressed bytes of distinct bodies */
    uint64_t runs;
    int has_plan;
};
int rr_store_counts(struct rr_store *s, struct rr_store_counts *out) RR_WUR;

/* --- meta: small named values (text) such as "recorded_by", "source", capture stats --- */

int rr_store_meta_put(struct rr_store *s, const char *key, const void *val, size_t len) RR_WUR;
/* Appends the value to out; RR_ENOTFOUND if missing. */
int rr_store_meta_get(struct rr_store *s, const char *key, struct rr_buf *out) RR_WUR;
typedef int rr_store_meta_fn(const char *key, struct rr_view val, void *ud);
int rr_store_meta_foreach(struct rr_store *s, rr_store_meta_fn *fn, void *ud) RR_WUR;

/* --- the plan (text, see rr/plan.h) and the runs (JSON documents) --- */

int rr_store_plan_put(struct rr_store *s, const void *text, size_t len) RR_WUR;
int rr_store_plan_get(struct rr_store *s, struct rr_buf *out) RR_WUR; /* RR_ENOTFOUND */
int rr_store_plan_del(struct rr_store *s) RR_WUR;
/* Appends a run record; *out_id gets its number (1, 2, ...). */
int rr_store_run_add(struct rr_store *s, const void *doc, size_t len, uint64_t *out_id) RR_WUR;
int rr_store_run_get(struct rr_store *s, uint64_t id, struct rr_buf *out) RR_WUR;
typedef int rr_store_run_fn(uint64_t id, struct rr_view doc, void *ud);
int rr_store_run_foreach(struct rr_store *s, rr_store_run_fn *fn, void *ud) RR_WUR;

/* --- codec (exposed for tests and fuzzing) --- */

/* Encodes x (ids are not part of the value). */
void rr_exchange_encode(const struct rr_exchange *x, struct rr_buf *out);
/* Decodes a value into x. Views point into data; header arrays are placed in scratch, which
 * must not be touched while x is in use. RR_ECORRUPT on any inconsistency, RR_EVERSION for a
 * newer record version. */
int rr_exchange_decode(const void *data, size_t len, struct rr_exchange *x,
                       struct rr_buf *scratch) RR_WUR;
void rr_conn_encode(const struct rr_conn *c, struct rr_buf *out);
int rr_conn_decode(const void *data, size_t len, struct rr_conn *c) RR_WUR;

#endif
