/* SPDX-License-Identifier: MIT */
/* worker.c -- Locust's worker side of the master/worker protocol.
 *
 * One thread, one DEALER socket whose routing id is the node id (the master addresses replies
 * by it and matches it against the node_id inside every message), and a monitor socket that
 * tells when the TCP connection to the master drops: a Locust 2.12 master sends no heartbeats,
 * so a closed connection is the only sign that it is gone. Every message is one msgpack array
 * [type, data, node_id] with str strings, as Python's msgpack.dumps writes them. */
#define RR_LOG_MODULE "worker"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "rr/log.h"
#include "rr/util.h"
#include "wk_int.h"

enum wk_state {
    WK_READY,
    WK_SPAWNING,
    WK_RUNNING
};
static const char *const state_names[] = {"ready", "spawning", "running"};

struct wk {
    const struct rr_worker_opts *o;
    const struct rr_worker_load *load;
    void *ctx, *sock, *mon;
    unsigned gen; /* socket generation, names the monitor endpoint */
    char node_id[200];
    char endpoint[320];
    enum wk_state state;
    int acked;
    int joined; /* acked at least once: from then on a lost master ends the worker */
    unsigned ready_sent;
    uint64_t next_ready, next_hb, next_stats;
    double last_spawn_ts;
    double stop_timeout_s;
    uint64_t ready_at; /* after stop: when to send client_ready again (0: not pending) */
    char **classes;
    unsigned *running;
    size_t ncls;
    struct rr_wstats *delta;
    int connected;
    uint64_t down_since;     /* when the connection dropped, 0 while connected or before it */
    uint64_t last_master_hb; /* 0 until the master sent one */
    uint64_t cpu_ticks, cpu_at;
    uint64_t sent_requests, sent_failures; /* over the whole session */
};

void rr_worker_opts_init(struct rr_worker_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->master_port = 5557;
    o->connect_retries = 60;
    o->connect_interval_us = 5000000;
    o->heartbeat_interval_us = 1000000;
    o->stats_interval_us = 3000000;
    o->master_timeout_us = 60000000;
}

/* ---- node id, cpu and memory --------------------------------------------------------------- */

static void make_node_id(char *out, size_t len)
{
    char host[128] = "localhost";
    unsigned char rnd[16];
    if (gethostname(host, sizeof(host) - 1) != 0)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    /* the master takes the text before the first '_' as the host name */
    for (char *p = host; *p; p++)
        if (*p == '_')
            *p = '-';
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
        uint64_t a = rr_now_real_us() ^ ((uint64_t)getpid() << 32), b = rr_now_mono_us();
        memcpy(rnd, &a, 8);
        memcpy(rnd + 8, &b, 8);
    }
    if (f)
        fclose(f);
    int n = snprintf(out, len, "%s_", host);
    for (int i = 0; i < 16 && n + 2 < (int)len; i++, n += 2)
        snprintf(out + n, len - (size_t)n, "%02x", rnd[i]);
}

static uint64_t cpu_ticks(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name, which may hold spaces: state is field 3, utime 14 */
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

/* Percent of one CPU used since the previous call, as psutil's Process.cpu_percent. */
static double cpu_percent(struct wk *w)
{
    uint64_t now = rr_now_mono_us(), t = cpu_ticks();
    double pct = 0;
    long hz = sysconf(_SC_CLK_TCK);
    if (w->cpu_at && now > w->cpu_at && hz > 0)
        pct = (double)(t - w->cpu_ticks) / (double)hz / ((double)(now - w->cpu_at) / 1e6) * 100;
    w->cpu_ticks = t;
    w->cpu_at = now;
    return pct;
}

static uint64_t rss_bytes(void)
{
    unsigned long long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- sending -------------------------------------------------------------------------------- */

struct wk_msg {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

/* Starts [type, <data follows>, ...]; finish with msg_send. */
static void msg_begin(struct wk_msg *m, const char *type)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&m->pk, 3);
    wk_pack_cstr(&m->pk, type);
}

static void msg_send(struct wk *w, struct wk_msg *m, const char *type)
{
    wk_pack_cstr(&m->pk, w->node_id);
    /* a DEALER queues while disconnected; DONTWAIT only matters once the queue is full */
    if (zmq_send(w->sock, m->sb.data, m->sb.size, ZMQ_DONTWAIT) < 0)
        rr_log(RR_LOG_WARN, "sending %s to the master failed: %s", type, zmq_strerror(errno));
    else
        rr_log(RR_LOG_DEBUG, "sent %s (%zu bytes)", type, m->sb.size);
    msgpack_sbuffer_destroy(&m->sb);
}

static void send_nil(struct wk *w, const char *type)
{
    struct wk_msg m;
    msg_begin(&m, type);
    msgpack_pack_nil(&m.pk);
    msg_send(w, &m, type);
}

static void send_client_ready(struct wk *w)
{
    struct wk_msg m;
    msg_begin(&m, "client_ready");
    if (w->o->version && w->o->version[0])
        wk_pack_cstr(&m.pk, w->o->version);
    else
        msgpack_pack_int64(&m.pk, -1);
    msg_send(w, &m, "client_ready");
}

static void pack_counts(struct wk *w, msgpack_packer *pk)
{
    msgpack_pack_map(pk, w->ncls);
    for (size_t i = 0; i < w->ncls; i++) {
        wk_pack_cstr(pk, w->classes[i]);
        msgpack_pack_uint32(pk, w->running[i]);
    }
}

static uint64_t user_count(const struct wk *w)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->ncls; i++)
        n += w->running[i];
    return n;
}

static void send_heartbeat(struct wk *w)
{
    struct wk_msg m;
    msg_begin(&m, "heartbeat");
    msgpack_pack_map(&m.pk, 3);
    wk_pack_cstr(&m.pk, "state");
    wk_pack_cstr(&m.pk, state_names[w->state]);
    wk_pack_cstr(&m.pk, "current_cpu_usage");
    msgpack_pack_double(&m.pk, cpu_percent(w));
    wk_pack_cstr(&m.pk, "current_memory_usage");
    msgpack_pack_uint64(&m.pk, rss_bytes());
    msg_send(w, &m, "heartbeat");
}

/* Sends what the users recorded since the previous report, and starts a new delta. */
static void send_stats(struct wk *w)
{
    struct wk_msg m;
    if (w->load->collect)
        w->load->collect(w->load->ud, w->delta);
    msg_begin(&m, "stats");
    msgpack_pack_map(&m.pk, 5);
    wk_pack_stats(&m.pk, w->delta);
    wk_pack_cstr(&m.pk, "user_classes_count");
    pack_counts(w, &m.pk);
    wk_pack_cstr(&m.pk, "user_count");
    msgpack_pack_uint64(&m.pk, user_count(w));
    rr_log(RR_LOG_DEBUG, "stats: %llu requests, %llu failures",
           (unsigned long long)rr_wstats_requests(w->delta),
           (unsigned long long)rr_wstats_failures(w->delta));
    msg_send(w, &m, "stats");
    w->sent_requests += rr_wstats_requests(w->delta);
    w->sent_failures += rr_wstats_failures(w->delta);
    rr_wstats_reset(w->delta, rr_now_real_us());
}

static void send_spawning_complete(struct wk *w)
{
    struct wk_msg m;
    msg_begin(&m, "spawning_complete");
    msgpack_pack_map(&m.pk, 2);
    wk_pack_cstr(&m.pk, "user_classes_count");
    pack_counts(w, &m.pk);
    wk_pack_cstr(&m.pk, "user_count");
    msgpack_pack_uint64(&m.pk, user_count(w));
    msg_send(w, &m, "spawning_complete");
}

/* ---- the socket ------------------------------------------------------------------------------ */

static void close_socket(struct wk *w, int linger_ms)
{
    if (w->sock) {
        zmq_socket_monitor(w->sock, NULL, 0);
        zmq_setsockopt(w->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
        zmq_close(w->sock);
        w->sock = NULL;
    }
    if (w->mon) {
        int zero = 0;
        zmq_setsockopt(w->mon, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(w->mon);
        w->mon = NULL;
    }
    w->connected = 0;
}

static int open_socket(struct wk *w)
{
    char mon_ep[64];
    int one = 1, idle = 30, linger = 1000;
    w->sock = zmq_socket(w->ctx, ZMQ_DEALER);
    if (!w->sock)
        return -errno;
    zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->node_id, strlen(w->node_id));
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof(one));
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof(idle));
    zmq_setsockopt(w->sock, ZMQ_IPV6, &one, sizeof(one));
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
    snprintf(mon_ep, sizeof(mon_ep), "inproc://rr-worker-mon-%u", ++w->gen);
    if (zmq_socket_monitor(w->sock, mon_ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return -errno;
    w->mon = zmq_socket(w->ctx, ZMQ_PAIR);
    if (!w->mon || zmq_connect(w->mon, mon_ep) != 0)
        return -errno;
    if (zmq_connect(w->sock, w->endpoint) != 0) {
        int rc = -errno;
        rr_log(RR_LOG_ERR, "cannot connect to %s: %s", w->endpoint, zmq_strerror(errno));
        return rc;
    }
    w->connected = 0;
    return 0;
}

/* ---- users ----------------------------------------------------------------------------------- */

static void forget_classes(struct wk *w)
{
    for (size_t i = 0; i < w->ncls; i++)
        free(w->classes[i]);
    free(w->classes);
    free(w->running);
    w->classes = NULL;
    w->running = NULL;
    w->ncls = 0;
}

static void stop_users(struct wk *w, uint64_t timeout_us)
{
    if (w->load->stop)
        w->load->stop(w->load->ud, timeout_us);
    for (size_t i = 0; i < w->ncls; i++)
        w->running[i] = 0;
}

/* ---- receiving ---------------------------------------------------------------------------------
 */

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            memcmp(k->via.str.ptr, key, kl) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static int obj_number(const msgpack_object *o, double *out)
{
    if (!o)
        return -1;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o->via.i64;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = o->via.f64;
        return 0;
    default:
        return -1;
    }
}

static void on_spawn(struct wk *w, const msgpack_object *data)
{
    double ts = 0, st = 0;
    const msgpack_object *ucc = map_get(data, "user_classes_count");
    const msgpack_object *host = map_get(data, "host");
    char *hostz = NULL;

    send_nil(w, "spawning");
    if (obj_number(map_get(data, "timestamp"), &ts) != 0 || !ucc ||
        ucc->type != MSGPACK_OBJECT_MAP) {
        rr_log(RR_LOG_WARN, "spawn message without timestamp or user_classes_count, ignored");
        return;
    }
    if (ts <= w->last_spawn_ts) {
        rr_log(RR_LOG_INFO, "Discard spawn message with older or equal timestamp than "
                            "timestamp of previous spawn message");
        return;
    }
    w->last_spawn_ts = ts;
    w->stop_timeout_s = obj_number(map_get(data, "stop_timeout"), &st) == 0 && st > 0 ? st : 0;
    w->state = WK_SPAWNING;

    /* the counts are absolute targets and list every class: adopt the map as it is */
    size_t n = ucc->via.map.size;
    char **classes = rr_xcalloc(n ? n : 1, sizeof(*classes));
    unsigned *counts = rr_xcalloc(n ? n : 1, sizeof(*counts));
    unsigned *running = rr_xcalloc(n ? n : 1, sizeof(*running));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *key = &ucc->via.map.ptr[i].key;
        double c = 0;
        if (key->type != MSGPACK_OBJECT_STR || obj_number(&ucc->via.map.ptr[i].val, &c) != 0 ||
            c < 0)
            continue;
        classes[k] = rr_xstrndup(key->via.str.ptr, key->via.str.size);
        counts[k] = c > 1e6 ? 1000000u : (unsigned)c;
        k++;
    }
    if (host && host->type == MSGPACK_OBJECT_STR && host->via.str.size)
        hostz = rr_xstrndup(host->via.str.ptr, host->via.str.size);
    int rc = w->load->spawn ? w->load->spawn(w->load->ud, (const char *const *)classes, counts, k,
                                             hostz, running)
                            : 0;
    if (rc != 0)
        rr_log(RR_LOG_ERR, "starting users failed: %s", rr_strerror(rc));
    forget_classes(w);
    w->classes = classes;
    w->running = running;
    w->ncls = k;
    free(counts);
    free(hostz);
    w->state = WK_RUNNING;
    send_spawning_complete(w);
    rr_log(RR_LOG_INFO, "spawned %llu users", (unsigned long long)user_count(w));
}

/* Returns 1 when the worker must leave (quit), -1 when it cannot go on. */
static int on_message(struct wk *w, const void *buf, size_t len)
{
    msgpack_unpacked u;
    size_t off = 0;
    int leave = 0;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3 ||
        u.data.via.array.ptr[0].type != MSGPACK_OBJECT_STR) {
        rr_log(RR_LOG_WARN, "ignoring a malformed message from the master (%zu bytes)", len);
        goto out;
    }
    const msgpack_object *t = &u.data.via.array.ptr[0];
    const msgpack_object *data = &u.data.via.array.ptr[1];
    char type[64];
    snprintf(type, sizeof(type), "%.*s", (int)t->via.str.size, t->via.str.ptr);
    rr_log(RR_LOG_DEBUG, "received %s", type);
    uint64_t now = rr_now_mono_us();

    if (strcmp(type, "ack") == 0) {
        double idx = -1;
        if (!w->acked)
            rr_log(RR_LOG_INFO, "connected to the master at %s as %s", w->endpoint, w->node_id);
        obj_number(map_get(data, "index"), &idx);
        rr_log(RR_LOG_DEBUG, "ack, worker index %.0f", idx);
        if (!w->acked) {
            w->next_hb = now;
            w->next_stats = now + w->o->stats_interval_us;
            /* a report right after the ack, as the Python worker's first one */
            send_stats(w);
        }
        w->acked = 1;
        w->joined = 1;
    } else if (strcmp(type, "spawn") == 0) {
        on_spawn(w, data);
    } else if (strcmp(type, "stop") == 0) {
        rr_log(RR_LOG_INFO, "the master stopped the test");
        stop_users(w, (uint64_t)(w->stop_timeout_s * 1e6));
        send_nil(w, "client_stopped");
        /* as Python: client_ready again once the stop timeout has passed */
        w->ready_at = rr_now_mono_us() + (uint64_t)(w->stop_timeout_s * 1e6);
        w->last_spawn_ts = 0;
    } else if (strcmp(type, "quit") == 0) {
        rr_log(RR_LOG_INFO, "the master asked to quit");
        leave = 1;
    } else if (strcmp(type, "reconnect") == 0) {
        rr_log(RR_LOG_WARN, "the master asked to reconnect");
        close_socket(w, 0);
        if (open_socket(w) != 0) {
            leave = -1;
            goto out;
        }
        /* join again, retried as at start: a ROUTER refuses our identity until it has seen
         * the old connection close, so the first try waits a moment */
        w->acked = 0;
        w->ready_sent = 0;
        w->last_master_hb = 0; /* counted again from the next master heartbeat */
        w->next_ready = now + 500000;
    } else if (strcmp(type, "heartbeat") == 0) {
        w->last_master_hb = now;
    } else {
        /* spawning_complete, update_user_class, locustfile, custom types of newer masters */
        rr_log(RR_LOG_DEBUG, "ignoring message type %s", type);
    }
out:
    msgpack_unpacked_destroy(&u);
    return leave;
}

static void on_monitor(struct wk *w)
{
    zmq_msg_t ev, ep;
    zmq_msg_init(&ev);
    zmq_msg_init(&ep);
    if (zmq_msg_recv(&ev, w->mon, ZMQ_DONTWAIT) < 0)
        goto out;
    if (zmq_msg_more(&ev))
        zmq_msg_recv(&ep, w->mon, 0);
    if (zmq_msg_size(&ev) < 2)
        goto out;
    uint16_t e;
    memcpy(&e, zmq_msg_data(&ev), 2);
    if (e == ZMQ_EVENT_CONNECTED) {
        int was_down = w->down_since != 0;
        w->connected = 1;
        w->down_since = 0;
        if (was_down && w->joined) {
            /* the master we knew may be a new one that never heard of us: rejoin as ready */
            rr_log(RR_LOG_WARN, "reconnected to the master; joining again");
            stop_users(w, 0);
            w->state = WK_READY;
            w->last_spawn_ts = 0;
            w->acked = 0;
            w->ready_sent = 0;
            w->next_ready = rr_now_mono_us();
            w->last_master_hb = 0;
        }
    } else if (e == ZMQ_EVENT_DISCONNECTED) {
        rr_log(RR_LOG_WARN, "lost the connection to the master at %s", w->endpoint);
        w->connected = 0;
        w->down_since = rr_now_mono_us();
    }
out:
    zmq_msg_close(&ev);
    zmq_msg_close(&ep);
}

/* ---- the loop ----------------------------------------------------------------------------------
 */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int rr_worker_run(const struct rr_worker_opts *o, const struct rr_worker_load *load)
{
    struct wk w;
    int rc = 0;
    memset(&w, 0, sizeof(w));
    w.o = o;
    w.load = load;
    if (!o->master_host || !o->master_host[0] || !o->master_port || o->master_port > 65535)
        return RR_EUSAGE;
    if (o->node_id && o->node_id[0])
        snprintf(w.node_id, sizeof(w.node_id), "%s", o->node_id);
    else
        make_node_id(w.node_id, sizeof(w.node_id));
    if (strchr(o->master_host, ':'))
        snprintf(w.endpoint, sizeof(w.endpoint), "tcp://[%s]:%u", o->master_host, o->master_port);
    else
        snprintf(w.endpoint, sizeof(w.endpoint), "tcp://%s:%u", o->master_host, o->master_port);
    w.delta = rr_wstats_new();
    w.ctx = zmq_ctx_new();
    if (!w.ctx) {
        rc = -errno;
        goto out;
    }
    rc = open_socket(&w);
    if (rc != 0) {
        /* an address libzmq cannot parse is a usage error; it was logged */
        if (rc == -EINVAL)
            rc = RR_EUSAGE;
        goto out;
    }
    cpu_percent(&w);
    rr_log(RR_LOG_INFO, "connecting to the master at %s as %s", w.endpoint, w.node_id);

    for (;;) {
        uint64_t now = rr_now_mono_us();
        if (o->interrupted && *o->interrupted) {
            rr_log(RR_LOG_INFO, "interrupted; leaving the master");
            if (w.acked) {
                stop_users(&w, 0);
                send_stats(&w);
                send_nil(&w, "quit");
            }
            rc = 0;
            break;
        }
        if (!w.acked && now >= w.next_ready) {
            if (w.ready_sent > o->connect_retries) {
                rr_log(RR_LOG_ERR, "no answer from the master at %s after %u tries", w.endpoint,
                       w.ready_sent);
                rc = RR_WORKER_NOT_ACKED;
                break;
            }
            if (w.ready_sent) {
                rr_log(RR_LOG_WARN, "Failed to connect to master %s, retry %u/%u", w.endpoint,
                       w.ready_sent, o->connect_retries);
                /* a fresh connection each retry: a ROUTER that met our first message while it
                 * still held an older connection with our identity parks the new connection
                 * and never reads from it again */
                close_socket(&w, 0);
                rc = open_socket(&w);
                if (rc != 0)
                    break;
            }
            send_client_ready(&w);
            w.ready_sent++;
            w.next_ready = now + o->connect_interval_us;
        }
        if (w.acked) {
            if (w.ready_at && now >= w.ready_at) {
                w.ready_at = 0;
                w.state = WK_READY;
                send_client_ready(&w);
            }
            if (now >= w.next_hb) {
                send_heartbeat(&w);
                w.next_hb = now + o->heartbeat_interval_us;
            }
            if (now >= w.next_stats) {
                send_stats(&w);
                w.next_stats = now + o->stats_interval_us;
            }
        }
        int lost = 0;
        if (w.joined && w.down_since && now - w.down_since >= o->master_timeout_us)
            lost = 1;
        if (w.last_master_hb && now - w.last_master_hb >= o->master_timeout_us)
            lost = 1;
        if (lost) {
            rr_log(RR_LOG_ERR, "the master at %s is gone (%.0f s without it); stopping", w.endpoint,
                   (double)o->master_timeout_us / 1e6);
            stop_users(&w, 0);
            rc = RR_WORKER_LOST;
            break;
        }

        uint64_t wake = now + 100000; /* the interrupt flag is polled too */
        if (!w.acked)
            wake = min_u64(wake, w.next_ready);
        else
            wake = min_u64(wake, min_u64(w.next_hb, w.next_stats));
        zmq_pollitem_t items[2] = {{w.sock, 0, ZMQ_POLLIN, 0}, {w.mon, 0, ZMQ_POLLIN, 0}};
        long tmo = wake > now ? (long)((wake - now + 999) / 1000) : 0;
        int n = zmq_poll(items, 2, tmo);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            on_monitor(&w);
        if (items[0].revents & ZMQ_POLLIN) {
            int leave = 0;
            for (int i = 0; i < 64 && !leave; i++) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, w.sock, ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                leave = on_message(&w, zmq_msg_data(&m), zmq_msg_size(&m));
                zmq_msg_close(&m);
            }
            if (leave < 0) {
                rc = RR_ELIB;
                break;
            }
            if (leave) {
                /* the master waits about 0.5 s for the final report, then exits */
                stop_users(&w, 200000);
                send_stats(&w);
                send_nil(&w, "quit");
                rc = 0;
                break;
            }
        }
    }
out:
    rr_log(RR_LOG_INFO, "reported %llu requests, %llu failures in total",
           (unsigned long long)w.sent_requests, (unsigned long long)w.sent_failures);
    close_socket(&w, 1000);
    if (w.ctx)
        zmq_ctx_term(w.ctx);
    forget_classes(&w);
    rr_wstats_free(&w.delta);
    return rc;
}
