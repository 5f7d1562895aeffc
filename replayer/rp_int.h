/* rp_int.h -- Replayer internals shared by its files: the compiled plan, workers, users and
 * the engine interface. Not on any other module's include path. */
#ifndef RR_RP_INT_H
#define RR_RP_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rr/buf.h"
#include "rr/loop.h"
#include "rr/plan.h"
#include "rr/replayer.h"
#include "rr/stats.h"

/* ---------------------------------------------------------------- templates (tmpl.c) */

struct rp_part {
    int var; /* -1: literal */
    const char *p;
    size_t len;
};

struct rp_tmpl {
    size_t n;
    struct rp_part *parts;
    bool is_static;
};

struct rp_val {
    char *p;
    size_t len;
};

/* Names known to templates: pools first (ids 0..n_pools-1), then extracted values. */
struct rp_vars {
    size_t n;
    char **names;
};

int rp__var_id(const struct rp_vars *v, const char *name, size_t len);
int rp__var_add(struct rp_vars *v, const char *name);
/* Compiles text into parts; RR_EPARSE naming the unknown ${name} in why. */
int rp__tmpl_compile(struct rp_tmpl *t, const void *text, size_t len, const struct rp_vars *vars,
                     char *why, size_t whylen) RR_WUR;
void rp__tmpl_expand(const struct rp_tmpl *t, const struct rp_val *vals, struct rr_buf *out);
void rp__tmpl_fini(struct rp_tmpl *t);

/* ---------------------------------------------------------------- compiled plan (compile.c) */

struct rp_header {
    const char *name;
    struct rp_tmpl value;
};

struct rp_extract {
    int var;
    enum rr_extract_kind kind;
    const char *expr;
    void *re; /* pcre2_code */
};

struct rp_step {
    const struct rr_plan_step *src; /* NULL for timeline steps */
    char *name;
    char *method;
    bool is_head;
    struct rp_tmpl target;
    size_t n_headers;
    struct rp_header *headers; /* hop-by-hop, Host and Content-Length removed */
    int cookie_hdr;            /* index of a Cookie header, -1: none */
    struct rp_tmpl body;
    bool is_static;
    uint8_t *wire; /* native engine: the whole request when static (no jar cookies) */
    size_t wire_len;
    size_t n_extracts;
    struct rp_extract *extracts;
    bool need_body, need_headers;
    bool has_status_check;
    uint64_t think_us;
    size_t n_think_q;           /* the recorded distribution of the wait (0 or >= 2)... */
    const uint64_t *think_q_us; /* ...borrowed from the plan, which outlives the run */
    uint64_t at_us;         /* timeline: offset from the first recorded request */
    int entry;              /* stats entry index (the same in every worker) */
    bool foreign;           /* absolute URL to an allowed other host: curl engine only */
    const char *bad_target; /* static target refused by the safety rule: its error */
    char **owned;           /* strings the step owns (timeline steps copy from the store) */
    size_t n_owned;
};

struct rp_flow {
    const char *name;
    unsigned weight;
    size_t n_on_start, n_steps, n_on_stop;
    struct rp_step *on_start, *steps, *on_stop;
    size_t n_pools;
    int *pools; /* pools referenced by the flow, drawn at user or iteration start */
};

struct rp_pool {
    const char *name;
    enum rr_pool_mode mode;
    enum rr_pool_scope scope;
    size_t n;
    char **values; /* borrowed from the plan, or owned (CSV) */
    char **owned;
    atomic_size_t next; /* unique and round-robin: the one shared mutable thing */
};

struct rp_tl_conn {
    size_t n;
    struct rp_step *steps; /* in recorded order, at_us set */
};

struct rp_plan {
    struct rp_vars vars;
    size_t n_pools;
    struct rp_pool *pools;
    size_t n_flows;
    struct rp_flow *flows;
    uint64_t total_weight;
    struct rr_plan_wait wait;
    struct rp_flow before, after;
    /* timeline mode */
    size_t n_tl;
    struct rp_tl_conn *tl;
};

struct rp_target {
    bool tls;
    char host[256];
    unsigned port;
    char authority[300]; /* Host header: host or host:port as given */
    char base[320];      /* scheme://authority */
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct rr_replay;
int rp__compile(struct rr_replay *r, const struct rr_plan *plan, char *why, size_t whylen) RR_WUR;
int rp__compile_timeline(struct rr_replay *r, struct rr_store *store, char *why,
                         size_t whylen) RR_WUR;
void rp__plan_fini(struct rp_plan *p);
void rp__step_fini(struct rp_step *s);
/* Builds the HTTP/1.1 request bytes of a step from its expanded parts. */
/* Checks an expanded target: 0 with the path to send (or url set for an allowed other host),
 * or an error text written into err. */
int rp__target_check(const struct rr_replay *r, struct rr_view target, struct rr_view *path,
                     bool *foreign, char *err, size_t errlen);
void rp__wire_build(const struct rr_replay *r, const char *method, struct rr_view target,
                    const struct rr_buf *hdrs, struct rr_view body, bool body_framing,
                    struct rr_buf *out);

/* ---------------------------------------------------------------- engines */

struct rp_worker;
struct rp_vu;
struct rp_conn;

/* A request ready to send; views valid until the response is delivered. */
struct rp_out {
    const char *method;
    bool is_head;
    struct rr_view wire; /* native: the whole HTTP/1.1 request */
    const char *url;     /* curl: full URL (NUL-terminated) */
    struct rr_view hdrs; /* curl: "Name: value\r\n" lines, Host excluded */
    struct rr_view body;
    bool need_body, need_headers;
    const void *key; /* the step, when its request is the same every time; else NULL */
};

/* A response (or error), delivered once per rp_out; views valid during the call only. */
struct rp_resp {
    int status;
    struct rr_view reason;
    size_t n_headers;
    const struct rr_view *headers; /* name, value, name, value... */
    struct rr_view body;           /* empty unless need_body */
    uint64_t body_len;
    bool body_decoded; /* Content-Encoding undone already (curl engine): body_len is decoded */
    const char *error; /* NULL: a response was received */
    uint64_t t_done_us;
};

struct rp_engine {
    const char *name;
    int (*worker_init)(struct rp_worker *w);
    void (*worker_fini)(struct rp_worker *w);
    struct rp_conn *(*conn_new)(struct rp_worker *w, struct rp_vu *vu);
    /* Sends; the response comes later through rp__vu_response. A non-zero return is an
     * error string reported by the caller (never a synchronous completion). */
    const char *(*send)(struct rp_conn *c, const struct rp_out *o);
    /* Frees what conns left behind; from the loop's before_poll hook. May be NULL. */
    void (*reap)(struct rp_worker *w);
    /* Opens the connection ahead of the first request (timeline mode). May be NULL. */
    void (*preconnect)(struct rp_conn *c);
    /* Abandons the request in flight, if any, without a callback. */
    void (*abort)(struct rp_conn *c);
    /* Closes and frees; never called from the conn's own callbacks. */
    void (*conn_free)(struct rp_conn *c);
};

extern const struct rp_engine rp__engine_native;
extern const struct rp_engine rp__engine_curl;
extern const struct rp_engine rp__engine_h2;

/* ---------------------------------------------------------------- users and workers */

enum rp_vu_state {
    VU_IDLE,
    VU_THINKING,
    VU_IN_FLIGHT,
    VU_DONE
};
enum rp_vu_phase {
    PH_ON_START,
    PH_STEPS,
    PH_ON_STOP,
    PH_END
};

struct rp_vu {
    struct rp_worker *w;
    unsigned id;
    enum rp_vu_state state;
    enum rp_vu_phase phase;
    bool started;  /* on_start ran (or is running) */
    bool stopping; /* finish this iteration, then on_stop */
    bool in_iteration;
    bool is_free; /* rate mode: waiting for an arrival */
    const struct rp_flow *flow;
    const struct rp_flow *next_flow; /* closed model: the flow after this one's on_stop */
    size_t idx;
    struct rr_timer timer; /* think time, pacing, spawn */
    uint64_t iter_start_us;
    uint64_t intended_us; /* rate mode: the arrival time the next request is measured from */
    uint64_t sent_us;
    const struct rp_step *cur;
    struct rp_conn *conn;
    struct rp_val *vals;
    struct rr_buf jar; /* "name=value; name=value" */
    struct rr_buf scratch, hdrs, url;
    struct rp_out out;
    /* timeline */
    const struct rp_tl_conn *tl;
    struct rp_vu *next_free;
};

struct rp_shard {
    pthread_mutex_t mu;
    struct rr_stats *stats; /* cumulative, merged from the worker's local shard */
    struct rr_replay_counts counts;
};

struct rp_worker {
    struct rr_replay *r;
    unsigned idx;
    pthread_t thread;
    struct rr_loop *loop;
    struct rr_stats *stats; /* local, merged into shard.stats on publish */
    struct rp_shard shard;
    struct rr_replay_counts counts;
    uint64_t rng;
    size_t n_vus;
    struct rp_vu *vus;
    unsigned users_target; /* users mode: this worker's share */
    unsigned spawned;
    unsigned live;
    double spawn_interval_us;
    double rate; /* rate mode: this worker's share per second */
    uint64_t next_arrival_us;
    struct rp_vu *free_vus;
    size_t rr_pool_next;
    struct rr_timer spawn_timer, stop_timer, publish_timer, hard_timer;
    const struct rp_flow *fixed_flow; /* the plan's before or after steps, run once */
    bool threaded;
    int phase; /* 0 running, 1 stopping (graceful), 2 done */
    bool stopped_spawning;
    atomic_int stop_req;  /* set by other threads: 1 graceful, 2 immediate */
    int *entries;         /* stats entry per step (index by step->entry) */
    int64_t *flow_credit; /* smooth weighted round robin over the flows (pick_flow) */
    void *engine_data;    /* curl: the multi handle and its state */
    struct rp_conn *zombies;
    char errbuf[512];
    void *match_data;     /* pcre2 match data */
    uint64_t real_off_us; /* Unix time = monotonic + real_off_us */
};

struct rr_replay {
    struct rr_replay_opts o;
    struct rr_replay_callbacks cb;
    const struct rp_engine *eng;
    struct rp_target target;
    struct rp_plan plan;
    char **allow;
    size_t n_allow;
    char timeout_err[400];
    bool spread_src; /* loopback target, many users: spread source addresses */
    size_t n_steps;  /* stats entries */
    struct rp_step **all_steps;
    unsigned n_workers; /* load workers, then the before and after workers when present */
    unsigned n_load;
    struct rp_worker *before_w, *after_w;
    struct rp_worker *workers;
    uint64_t start_mono_us;
    atomic_uint_fast64_t iter_budget; /* iterations started (when o.iterations) */
    atomic_int stop_all;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned running;
    bool started, ended, stop_cb_done;
};

/* vu.c */
void rp__vu_init(struct rp_worker *w, struct rp_vu *vu, unsigned id);
void rp__vu_fini(struct rp_vu *vu);
void rp__vu_spawn(struct rp_vu *vu);                        /* users mode */
void rp__vu_arrive(struct rp_vu *vu, uint64_t intended_us); /* rate mode: one iteration */
void rp__vu_timeline(struct rp_vu *vu, const struct rp_tl_conn *tl);
void rp__vu_stop(struct rp_vu *vu, bool graceful);
/* -t or SIGINT with no stop timeout: abandon the iteration, run on_stop (as Locust does when it
 * kills a user). */
void rp__vu_stop_now(struct rp_vu *vu);
void rp__vu_response(struct rp_vu *vu, const struct rp_resp *resp);

/* worker.c */
void *rp__worker_main(void *arg);
void rp__worker_vu_done(struct rp_worker *w, struct rp_vu *vu);
uint64_t rp__rand(struct rp_worker *w);
double rp__rand01(struct rp_worker *w);
/* The wait for a uniform u in [0, 1) under n >= 2 quantiles q (ascending, equally spaced in
 * probability): piecewise-linear between the two around u. */
uint64_t rp__think_draw(const uint64_t *q, size_t n, double u);

/* extract.c: values and checks on a response */
/* Returns 0 with the value in out, RR_ENOTFOUND, or RR_EPARSE. */
int rp__extract(const struct rp_extract *e, const struct rp_resp *resp, void *match_data,
                struct rr_buf *out);
/* Returns NULL when all checks pass, else the failure text written into buf. */
const char *rp__check(const struct rp_step *s, const struct rp_resp *resp, double ms, char *buf,
                      size_t buflen);
/* A JSON path lookup ($.a.b[0].c) over text; returns the value as text (strings unquoted). */
int rp__json_path(const char *json, size_t len, const char *path, struct rr_buf *out);
/* Jar: applies Set-Cookie values of a response. */
void rp__jar_update(struct rr_buf *jar, const struct rp_resp *resp);

/* Content-Encoding: true for the codings decoded before extraction (gzip, deflate). */
bool rp__ce_decodes(struct rr_view value);
/* A streaming gzip/zlib/raw-deflate decoder, reusable from one body to the next. */
struct rp_inflate {
    void *zs; /* z_stream, allocated on first use */
    int state;
    bool raw_tried;
};
void rp__inflate_start(struct rp_inflate *d);
/* Appends the decoded bytes to out (NULL: only counted into *n_out). 0, or RR_EPARSE for a
 * corrupt stream (sticky until the next start). */
int rp__inflate_feed(struct rp_inflate *d, const void *p, size_t len, struct rr_buf *out,
                     uint64_t *n_out);
/* The stream ended properly (its trailer was read). */
bool rp__inflate_done(const struct rp_inflate *d);
void rp__inflate_fini(struct rp_inflate *d);

/* The error of a body that does not decode, in Locust's (requests') words. */
#define RP_CE_ERROR                                                                               \
    "ContentDecodingError('Received response with content-encoding: gzip, but failed to decode " \
    "it.')"
/* The decoded size of a body an engine does not keep (no extractor or check reads it): Locust
 * counts the decoded length, so a gzip answer is inflated and counted, not kept. The headers
 * are the engines' layout: per header four offsets/lengths (name, value) into hb. */
struct rp_ce_count {
    struct rp_inflate inf;
    bool on, failed;
    uint64_t n;
};
void rp__ce_count_begin(struct rp_ce_count *cc, const struct rr_buf *hb, const size_t *hoff,
                        size_t n_hdr);
void rp__ce_count_feed(struct rp_ce_count *cc, const void *p, size_t len);

/* Opens a nonblocking TCP connection to the run's target for user vu_id (TCP_NODELAY; with
 * spread_src, from a 127.x.y.z source of its own, so many users on loopback do not run out of
 * ports). The connect is under way (or done) on return: the fd, or -errno. */
int rp__tcp_open(const struct rr_replay *r, unsigned vu_id);

/* A response as an engine collects it, the same in every engine: header bytes with four
 * offsets per header (name off, name len, value off, value len; views are built only at
 * delivery, as the bytes may move while headers arrive), the body when the step keeps it, and
 * its size (decoded when counted through a Content-Encoding). Code: rx.c. */
struct rp_rx {
    struct rr_buf hb;
    size_t *hoff;
    size_t n_hdr, cap_hdr;
    struct rr_view *hv;
    size_t hv_cap;
    struct rr_buf body;
    uint64_t body_len;
    struct rp_ce_count ce;
};
/* A new header's four slots, zeroed (an engine that gets headers in pieces fills them). */
size_t *rp__rx_header_new(struct rp_rx *x);
void rp__rx_header_add(struct rp_rx *x, const void *name, size_t nlen, const void *value,
                       size_t vlen);
/* Body bytes: kept when keep, else only counted (a gzip/deflate body by its decoded size). */
void rp__rx_body(struct rp_rx *x, bool keep, const void *p, size_t len);
/* Fills resp's headers, body and size; the error text when a counted body did not decode. */
const char *rp__rx_deliver(struct rp_rx *x, struct rp_resp *resp);
/* Forgets the headers (hb too: an engine's reason bytes there go with them) and the body. */
void rp__rx_reset(struct rp_rx *x);
void rp__rx_fini(struct rp_rx *x);

/* Locust-style texts */
const char *rp__err_errno(int err, char *buf, size_t len);

#endif
