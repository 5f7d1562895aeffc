/* cmd_record_proxy.c -- rrload record --proxy [HOST:]PORT --upstream URL: record through a
 * reverse proxy instead of from packets (no root, no capture permissions needed). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rr/proxy.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_listen(void *ud, uint16_t port)
{
    const struct rr_proxy_opts *o = ud;
    /* The port line is what scripts wait for when they ask for port 0. */
    printf("recording proxy on port %u, forwarding to %s (Ctrl-C to stop)\n", port, o->upstream);
    fflush(stdout);
}

/* Parses a duration: a number with s, m or h (seconds without a unit). 0 on error. */
static uint64_t parse_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    double mul = 1000;
    if (end == s || v <= 0)
        return 0;
    if (*end == 'm' && end[1] == 0)
        mul = 60000;
    else if (*end == 'h' && end[1] == 0)
        mul = 3600000;
    else if (*end == 's' && end[1] == 0)
        mul = 1000;
    else if (*end)
        return 0;
    return (uint64_t)(v * mul);
}

static const char usage[] =
    "usage: rrload record --proxy [HOST:]PORT --upstream http[s]://HOST[:PORT] [-o FILE.db]\n"
    "                     [-k] [--host-header rewrite|keep] [-t DURATION] [--max-exchanges N]\n"
    "\n"
    "Records through a reverse proxy instead of packets: clients connect to the proxy, which\n"
    "relays their bytes to the upstream and stores the exchanges (HTTP/1.x, h2c with prior\n"
    "knowledge or Upgrade). Clients speak plain HTTP to the proxy; an https:// upstream is\n"
    "reached over TLS (certificate checked against the system store) and recorded as https.\n"
    "HOST defaults to 127.0.0.1; port 0 picks a free one.\n"
    "Stops on Ctrl-C/SIGTERM, -t or --max-exchanges, and commits everything recorded.\n"
    "\n"
    "  --proxy [HOST:]PORT   where to listen\n"
    "  --upstream URL        the server to forward to (http:// or https://)\n"
    "  -k, --insecure        https: do not verify the upstream's certificate\n"
    "  --host-header H       rewrite: send Host: the upstream's HOST[:PORT] (default for\n"
    "                        https://); keep: send the client's Host (default for http://)\n"
    "  -o, --output FILE     store to write (default session.db)\n"
    "  -t, --duration D      stop after D (30s, 5m, 1h)\n"
    "  --max-exchanges N     stop after N exchanges\n";

int rr_cmd_record_proxy(int argc, char **argv)
{
    struct rr_proxy_opts o;
    struct rr_proxy_stats st;
    struct rr_store *s = NULL;
    const char *out = "session.db";
    char why[512];
    int rc, close_rc;

    memset(&o, 0, sizeof(o));
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return RR_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        char opt[32];
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof(opt)) {
            /* --name=value */
            memcpy(opt, a, (size_t)(eq - a));
            opt[eq - a] = 0;
            a = opt;
            v = eq + 1;
            i--; /* the value is not the next argument */
        }
        if (strcmp(a, "-k") == 0 || strcmp(a, "--insecure") == 0) {
            if (eq)
                return cli_usage_error("record", "%s takes no value", a);
            o.insecure = 1;
        } else if (strcmp(a, "--proxy") == 0 || strcmp(a, "--upstream") == 0 ||
                   strcmp(a, "-o") == 0 || strcmp(a, "--host-header") == 0 ||
                   strcmp(a, "--output") == 0 || strcmp(a, "-t") == 0 ||
                   strcmp(a, "--duration") == 0 || strcmp(a, "--max-exchanges") == 0) {
            if (!v)
                return cli_usage_error("record", "%s needs a value", a);
            i++;
            if (strcmp(a, "--proxy") == 0)
                o.listen = v;
            else if (strcmp(a, "--upstream") == 0)
                o.upstream = v;
            else if (strcmp(a, "--host-header") == 0) {
                if (strcmp(v, "rewrite") == 0)
                    o.host_header = RR_PROXY_HOST_REWRITE;
                else if (strcmp(v, "keep") == 0)
                    o.host_header = RR_PROXY_HOST_KEEP;
                else
                    return cli_usage_error("record", "--host-header %s: expected rewrite or keep",
                                           v);
            } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
                out = v;
            else if (strcmp(a, "--max-exchanges") == 0)
                o.max_exchanges = strtoull(v, NULL, 10);
            else if (!(o.duration_ms = parse_ms(v)))
                return cli_usage_error("record", "%s %s: expected a duration like 30s, 5m, 1h", a,
                                       v);
        } else {
            return cli_usage_error("record", "with --proxy, unexpected argument %s", a);
        }
    }
    if (rr_proxy_check(&o, why, sizeof(why)))
        return cli_usage_error("record", "%s", why);
    if (cli_open_store(out, 0, 1, &s))
        return RR_EXIT_USAGE;
    cli_catch_stop(on_signal, 1);
    o.store = s;
    o.stop = &stop_flag;
    o.on_listen = on_listen;
    o.ud = &o;
    rc = rr_proxy_run(&o, &st, why, sizeof(why));
    /* Everything recorded before a stop or a failure is committed. */
    close_rc = rr_store_close(&s);
    if (rc)
        return cli_input_error("record --proxy: %s", why);
    if (close_rc)
        return cli_input_error("%s: %s", out, rr_strerror(close_rc));
    printf("recorded %llu exchanges on %llu connections into %s", (unsigned long long)st.exchanges,
           (unsigned long long)st.conns, out);
    if (st.refused)
        printf(", %llu connections refused (upstream unreachable or too many)",
               (unsigned long long)st.refused);
    if (st.tls_failed)
        printf(", %llu clients answered 502 (TLS to the upstream failed)",
               (unsigned long long)st.tls_failed);
    if (st.undissected)
        printf(", %llu connections relayed but not HTTP", (unsigned long long)st.undissected);
    printf("\n");
    return RR_EXIT_OK;
}
