/* cmd_show.c -- rrload show FILE [VIEW]: what a store holds, as a table or as JSON.
 *
 * The exchanges, conns and meta views are here; the transform's views (sessions, flows,
 * plan) and the runs are dispatched to show_flows.c and show_runs.c. JSON is streamed one
 * object per exchange, so a large recording is never held in memory. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "rr/util.h"
#include "show.h"

#define DEFAULT_STORE "session.db"

static const char *const usage_text =
    "usage: rrload show [FILE] [VIEW] [--json] [--limit N] [--headers]\n"
    "\n"
    "Shows what a store holds. FILE defaults to " DEFAULT_STORE ".\n"
    "\n"
    "views:\n"
    "  exchanges  the recorded requests and responses, in capture order (default)\n"
    "  conns      the recorded connections\n"
    "  meta       schema, how the store was recorded, counts, capture statistics\n"
    "  sessions   the sessions the transform found\n"
    "  flows      the flows of the plan\n"
    "  plan       the plan as text\n"
    "  runs       the replays recorded in the store\n"
    "\n"
    "options:\n"
    "  --json       print JSON (exchanges and conns: an array, one object per record)\n"
    "  --limit N    show at most N records\n"
    "  --headers    with --json, include the request and response headers\n"
    "\n"
    "Exit codes: 0 ok, 2 bad usage or a missing, foreign or damaged store.\n";

static const char *const views[] = {"exchanges", "conns", "meta", "sessions",
                                    "flows",     "plan",  "runs"};

static int is_view(const char *s)
{
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
        if (strcmp(s, views[i]) == 0)
            return 1;
    return 0;
}

static const char *const xflag_names[] = {"incomplete", "gap",  "decoded", "no_response", "upgrade",
                                          "truncated",  "push", "reset",   "body_capped"};
static const char *const cflag_names[] = {"midstream", "fin",      "rst",
                                          "evicted",   "upgraded", "proxy"};

struct show {
    int json;
    int headers;
    uint64_t limit; /* 0: no limit */
    uint64_t n;
    FILE *out;
};

/* --- text helpers --- */

/* Writes bytes for a terminal: control and non-ASCII bytes become '?', at most max columns
 * (the last three '...' when cut); pads to width when width > 0. */
static void put_text(FILE *f, struct rr_view v, size_t width, size_t max)
{
    size_t n = v.len, shown = 0;
    int cut = max && n > max;
    if (cut)
        n = max - 3;
    for (size_t i = 0; i < n; i++, shown++)
        fputc(v.p[i] >= 0x20 && v.p[i] < 0x7f ? v.p[i] : '?', f);
    if (cut) {
        fputs("...", f);
        shown += 3;
    }
    for (; shown < width; shown++)
        fputc(' ', f);
}

static void fmt_time(uint64_t us, char *buf, size_t len)
{
    if (us == 0) {
        snprintf(buf, len, "-");
        return;
    }
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(us % 1000000 / 1000));
}

static void fmt_flags(uint32_t flags, const char *const *names, size_t n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(flags & (1u << i)))
            continue;
        int w = snprintf(buf + at, len - at, "%s%s", at ? "," : "", names[i]);
        if (w < 0 || (size_t)w >= len - at)
            break;
        at += (size_t)w;
    }
    if (!buf[0])
        snprintf(buf, len, "-");
}

static const char *version_name(uint8_t v)
{
    switch (v) {
    case 9:
        return "HTTP/0.9";
    case 10:
        return "HTTP/1.0";
    case 11:
        return "HTTP/1.1";
    case 20:
        return "HTTP/2";
    case 30:
        return "HTTP/3";
    default:
        return "";
    }
}

/* --- JSON helpers --- */

/* A JSON string from recorded bytes, which need not be UTF-8: invalid sequences are read
 * as Latin-1, so every byte survives as some character and the output stays valid JSON. */
static json_t *jstr(struct rr_view v)
{
    json_t *j = json_stringn(v.len ? (const char *)v.p : "", v.len);
    if (j)
        return j;
    char *u = malloc(v.len * 2 + 1);
    if (!u)
        return json_null();
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        uint8_t c = v.p[i];
        if (c < 0x80) {
            u[n++] = (char)c;
        } else {
            u[n++] = (char)(0xc0 | c >> 6);
            u[n++] = (char)(0x80 | (c & 0x3f));
        }
    }
    j = json_stringn(u, n);
    free(u);
    return j ? j : json_null();
}

static json_t *jflags(uint32_t flags, const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (flags & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *jheaders(const struct rr_header *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array();
        json_array_append_new(pair, jstr(h[i].name));
        json_array_append_new(pair, jstr(h[i].value));
        json_array_append_new(a, pair);
    }
    return a;
}

static void set_u64(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

/* Prints one array element: "[" before the first, "," between. */
static void emit(struct show *sh, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputs(sh->n == 0 ? "[\n" : ",\n", sh->out);
    fputs(text ? text : "null", sh->out);
    free(text);
    json_decref(o);
}

static void end_array(struct show *sh)
{
    fputs(sh->n == 0 ? "[]\n" : "\n]\n", sh->out);
}

/* --- exchanges --- */

static int show_exchange(const struct rr_exchange *x, void *ud)
{
    struct show *sh = ud;
    if (sh->limit && sh->n >= sh->limit)
        return RR_ESTOP;
    if (sh->json) {
        json_t *o = json_object();
        set_u64(o, "id", x->id);
        set_u64(o, "connection", x->conn_id);
        set_u64(o, "h2_stream", x->h2_stream);
        json_object_set_new(o, "version", json_string(version_name(x->version)));
        json_object_set_new(o, "method", jstr(x->method));
        json_object_set_new(o, "scheme", jstr(x->scheme));
        json_object_set_new(o, "host", jstr(x->authority));
        json_object_set_new(o, "uri", jstr(x->target));
        set_u64(o, "status", x->status);
        if (x->n_interim) {
            json_t *a = json_array();
            for (unsigned i = 0; i < x->n_interim; i++)
                json_array_append_new(a, json_integer(x->interim[i]));
            json_object_set_new(o, "interim", a);
        }
        json_object_set_new(o, "reason", jstr(x->reason));
        set_u64(o, "request_body_length", x->req_body.len);
        set_u64(o, "response_body_length", x->resp_wire_len);
        if (x->flags & RR_XF_DECODED)
            set_u64(o, "response_decoded_length", x->resp_body.len);
        set_u64(o, "request_start_us", x->t_req_start_us);
        set_u64(o, "request_end_us", x->t_req_end_us);
        set_u64(o, "response_start_us", x->t_resp_start_us);
        set_u64(o, "response_end_us", x->t_resp_end_us);
        json_object_set_new(
            o, "flags", jflags(x->flags, xflag_names, sizeof(xflag_names) / sizeof(*xflag_names)));
        if (sh->headers) {
            json_object_set_new(o, "request_headers", jheaders(x->req_headers, x->n_req_headers));
            json_object_set_new(o, "response_headers",
                                jheaders(x->resp_headers, x->n_resp_headers));
        }
        emit(sh, o);
    } else {
        char when[32], flags[128], dur[24], status[8];
        if (sh->n == 0)
            fprintf(sh->out, "%8s %6s %-12s %8s %-7s %-22s %-40s %6s %9s %9s %s\n", "ID", "CONN",
                    "TIME(UTC)", "MS", "METHOD", "HOST", "URI", "STATUS", "REQ", "RESP", "FLAGS");
        fmt_time(x->t_req_start_us, when, sizeof(when));
        uint64_t end = x->t_resp_end_us ? x->t_resp_end_us : x->t_req_end_us;
        if (x->t_req_start_us && end >= x->t_req_start_us)
            snprintf(dur, sizeof(dur), "%.1f", (double)(end - x->t_req_start_us) / 1000.0);
        else
            snprintf(dur, sizeof(dur), "-");
        snprintf(status, sizeof(status), "%u", x->status);
        fmt_flags(x->flags, xflag_names, sizeof(xflag_names) / sizeof(*xflag_names), flags,
                  sizeof(flags));
        fprintf(sh->out, "%8" PRIu64 " %6" PRIu64 " %-12s %8s ", x->id, x->conn_id, when, dur);
        put_text(sh->out, x->method, 7, 7);
        fputc(' ', sh->out);
        put_text(sh->out, x->authority, 22, 22);
        fputc(' ', sh->out);
        put_text(sh->out, x->target, 40, 40);
        fprintf(sh->out, " %6s %9" PRIu64 " %9" PRIu64 " %s\n", x->status ? status : "-",
                x->req_body.len, x->resp_wire_len, flags);
    }
    sh->n++;
    return 0;
}

/* --- connections --- */

static void fmt_addr(const struct rr_conn *c, const uint8_t *ip, uint16_t port, char *buf,
                     size_t len)
{
    char a[INET6_ADDRSTRLEN] = "-";
    if (c->ip_version == 4 || c->ip_version == 6)
        inet_ntop(c->ip_version == 4 ? AF_INET : AF_INET6, ip, a, sizeof(a));
    snprintf(buf, len, c->ip_version == 6 ? "[%s]:%u" : "%s:%u", a, port);
}

static const char *proto_name(uint8_t p)
{
    return p == RR_PROTO_H1 ? "h1" : p == RR_PROTO_H2 ? "h2" : "?";
}

static int show_conn(const struct rr_conn *c, void *ud)
{
    struct show *sh = ud;
    char client[64], server[64], flags[96];
    if (sh->limit && sh->n >= sh->limit)
        return RR_ESTOP;
    fmt_addr(c, c->client_ip, c->client_port, client, sizeof(client));
    fmt_addr(c, c->server_ip, c->server_port, server, sizeof(server));
    if (sh->json) {
        json_t *o = json_object();
        set_u64(o, "id", c->id);
        json_object_set_new(o, "protocol", json_string(proto_name(c->proto)));
        json_object_set_new(o, "client", json_string(client));
        json_object_set_new(o, "server", json_string(server));
        set_u64(o, "first_us", c->t_first_us);
        set_u64(o, "last_us", c->t_last_us);
        json_object_set_new(
            o, "flags", jflags(c->flags, cflag_names, sizeof(cflag_names) / sizeof(*cflag_names)));
        emit(sh, o);
    } else {
        char first[32], last[32];
        if (sh->n == 0)
            fprintf(sh->out, "%6s %-5s %-46s %-46s %-12s %-12s %s\n", "ID", "PROTO", "CLIENT",
                    "SERVER", "FIRST(UTC)", "LAST(UTC)", "FLAGS");
        fmt_time(c->t_first_us, first, sizeof(first));
        fmt_time(c->t_last_us, last, sizeof(last));
        fmt_flags(c->flags, cflag_names, sizeof(cflag_names) / sizeof(*cflag_names), flags,
                  sizeof(flags));
        fprintf(sh->out, "%6" PRIu64 " %-5s %-46s %-46s %-12s %-12s %s\n", c->id,
                proto_name(c->proto), client, server, first, last, flags);
    }
    sh->n++;
    return 0;
}

/* --- meta --- */

/* The keys the summary puts first; any other key (capture statistics...) follows the counts. */
static const char *const lead_keys[] = {"schema", "recorded_by", "source"};

static int is_lead_key(const char *key)
{
    for (size_t i = 0; i < sizeof(lead_keys) / sizeof(lead_keys[0]); i++)
        if (strcmp(key, lead_keys[i]) == 0)
            return 1;
    return 0;
}

struct meta_walk {
    struct show *sh;
    json_t *obj;
    int lead; /* text: print the lead keys (1) or the others (0) */
};

static int meta_one(const char *key, struct rr_view val, void *ud)
{
    struct meta_walk *w = ud;
    if (w->obj) {
        json_object_set_new(w->obj, key, jstr(val));
    } else if (is_lead_key(key) == w->lead) {
        /* multi-line values (summaries) continue under the value column */
        put_text(w->sh->out, rr_view_of(key, strlen(key)), 22, 0);
        fputc(' ', w->sh->out);
        size_t start = 0;
        for (size_t i = 0; i <= val.len; i++) {
            if (i < val.len && val.p[i] != '\n')
                continue;
            size_t end = i > start && val.p[i - 1] == '\r' ? i - 1 : i;
            if (start)
                fprintf(w->sh->out, "%-22s ", "");
            put_text(w->sh->out, rr_view_of(val.p + start, end - start), 0, 400);
            fputc('\n', w->sh->out);
            start = i + 1;
            if (i + 1 == val.len)
                break; /* a final newline adds no empty line */
        }
    }
    return 0;
}

static int show_meta(struct rr_store *s, struct show *sh)
{
    struct rr_store_counts c;
    int rc = rr_store_counts(s, &c);
    if (rc)
        return rc;
    struct meta_walk w = {sh, NULL};
    if (sh->json) {
        json_t *o = json_object(), *counts = json_object();
        w.obj = json_object();
        json_object_set_new(o, "file", json_string(rr_store_path(s)));
        rc = rr_store_meta_foreach(s, meta_one, &w);
        json_object_set_new(o, "meta", w.obj);
        set_u64(counts, "exchanges", c.exchanges);
        set_u64(counts, "connections", c.conns);
        set_u64(counts, "bodies", c.bodies);
        set_u64(counts, "body_bytes", c.body_bytes);
        set_u64(counts, "runs", c.runs);
        json_object_set_new(counts, "plan", json_boolean(c.has_plan));
        json_object_set_new(o, "counts", counts);
        if (rc == 0) {
            json_dumpf(o, sh->out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', sh->out);
        }
        json_decref(o);
        return rc;
    }
    fprintf(sh->out, "%-22s %s\n", "file", rr_store_path(s));
    w.lead = 1;
    rc = rr_store_meta_foreach(s, meta_one, &w);
    if (rc)
        return rc;
    fprintf(sh->out, "%-22s %" PRIu64 "\n", "exchanges", c.exchanges);
    fprintf(sh->out, "%-22s %" PRIu64 "\n", "connections", c.conns);
    fprintf(sh->out, "%-22s %" PRIu64 " (%" PRIu64 " bytes uncompressed)\n", "bodies", c.bodies,
            c.body_bytes);
    fprintf(sh->out, "%-22s %" PRIu64 "\n", "runs", c.runs);
    fprintf(sh->out, "%-22s %s\n", "plan", c.has_plan ? "yes" : "no");
    w.lead = 0;
    return rr_store_meta_foreach(s, meta_one, &w);
}

int rr_cmd_show(int argc, char **argv)
{
    const char *file = NULL, *view = NULL;
    struct show sh = {.out = stdout};
    struct rr_store *s = NULL;
    int rc, only_args = 0;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return RR_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && strcmp(a, "--") == 0) {
            only_args = 1;
        } else if (!only_args && strcmp(a, "--json") == 0) {
            sh.json = 1;
        } else if (!only_args && strcmp(a, "--headers") == 0) {
            sh.headers = 1;
        } else if (!only_args && (strcmp(a, "--limit") == 0 || strncmp(a, "--limit=", 8) == 0)) {
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return cli_usage_error("show", "--limit needs a number");
            if (rr_parse_u64(v, UINT64_MAX, &sh.limit) != 0 || sh.limit == 0)
                return cli_usage_error("show", "--limit wants a whole number above 0, not '%s'", v);
        } else if (!only_args && a[0] == '-' && a[1]) {
            return cli_usage_error("show", "unknown option '%s'", a);
        } else if (!file && !view) {
            /* "rrload show meta" means the default store's meta, unless a file is named so */
            struct stat st;
            if (is_view(a) && stat(a, &st) != 0)
                view = a;
            else
                file = a;
        } else if (!view) {
            if (!is_view(a))
                return cli_usage_error("show", "unknown view '%s'", a);
            view = a;
        } else {
            return cli_usage_error("show", "unexpected argument '%s'", a);
        }
    }
    if (!file)
        file = DEFAULT_STORE;
    if (!view)
        view = "exchanges";
    if (sh.headers && !sh.json)
        return cli_usage_error("show", "--headers goes with --json");

    rc = cli_open_store(file, 1, 0, &s);
    if (rc)
        return rc;
    int exit_code = RR_EXIT_OK;
    if (strcmp(view, "exchanges") == 0 || strcmp(view, "conns") == 0) {
        rc = view[0] == 'e' ? rr_store_exchange_foreach(s, 0, show_exchange, &sh)
                            : rr_store_conn_foreach(s, show_conn, &sh);
        if (rc == RR_ESTOP)
            rc = 0;
        if (sh.json)
            end_array(&sh);
        else if (sh.n == 0 && rc == 0)
            fprintf(stderr, "rrload show: %s holds no %s\n", file,
                    view[0] == 'e' ? "exchanges" : "connections");
    } else if (strcmp(view, "meta") == 0) {
        rc = show_meta(s, &sh);
    } else if (strcmp(view, "runs") == 0) {
        exit_code = cli_show_runs(s, sh.json);
    } else {
        exit_code = cli_show_flows(s, view, sh.json);
    }
    fflush(stdout);
    if (rc) {
        const char *why = rr_store_errmsg(s);
        exit_code = cli_input_error("%s: %s", file, why ? why : rr_strerror(rc));
    }
    (void)rr_store_close(&s);
    return exit_code;
}
