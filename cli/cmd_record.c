/* cmd_record.c -- rrload record: a capture file or a live interface into a store. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rr/recorder.h"
#include "rr/util.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char usage[] =
    "usage: rrload record -r FILE.pcap[ng] [-f BPF] [-o FILE.db]\n"
    "       rrload record -i IFACE [-f BPF] [-t DURATION] [--max-exchanges N] [-o FILE.db]\n"
    "       rrload record --proxy [HOST:]PORT --upstream URL [-o FILE.db]  (see --proxy --help)\n"
    "\n"
    "Records the HTTP/1.x and h2c exchanges of a capture file or a live interface into a\n"
    "store (default session.db). Live capture stops on -t, SIGINT/SIGTERM or\n"
    "--max-exchanges and commits everything captured.\n"
    "\n"
    "  -r, --read FILE        pcap or pcapng file ('-' for stdin)\n"
    "  -i, --interface IFACE  capture live on IFACE\n"
    "  -f, --filter BPF       capture filter (live, or applied to the file)\n"
    "  -t, --duration D       stop after D (300s, 20m, 1h30m)\n"
    "  -o, --output FILE      store to write (default session.db)\n"
    "      --max-exchanges N  stop after N exchanges\n"
    "      --max-conns N      TCP connections tracked at once (default 262144)\n"
    "      --max-body SIZE    body bytes kept per message (default 64M)\n"
    "  -q, --quiet            no progress line and no summary\n";

int rr_cmd_record(int argc, char **argv)
{
    static const struct option lopts[] = {{"read", required_argument, NULL, 'r'},
                                          {"interface", required_argument, NULL, 'i'},
                                          {"filter", required_argument, NULL, 'f'},
                                          {"duration", required_argument, NULL, 't'},
                                          {"output", required_argument, NULL, 'o'},
                                          {"max-exchanges", required_argument, NULL, 1},
                                          {"max-conns", required_argument, NULL, 2},
                                          {"max-body", required_argument, NULL, 3},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    struct rr_rec_src_opts so;
    struct rr_rec_opts ro;
    struct rr_rec_sink sink;
    struct rr_store *st = NULL;
    struct rr_rec *r = NULL;
    const char *out = "session.db";
    int quiet = 0, c, ret = RR_EXIT_OK, rc;
    uint64_t v;
    char why[512] = "", summary[2048];

    /* The recording proxy has its own options (cmd_record_proxy.c). */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--proxy") == 0 || strncmp(argv[i], "--proxy=", 8) == 0)
            return rr_cmd_record_proxy(argc, argv);
    memset(&so, 0, sizeof(so));
    rr_rec_opts_default(&ro);
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:i:f:t:o:qh", lopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            so.file = optarg;
            break;
        case 'i':
            so.iface = optarg;
            break;
        case 'f':
            so.bpf = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(usage, stdout);
            return RR_EXIT_OK;
        case 't':
            if (rr_parse_duration(optarg, &so.duration_us) != 0)
                return cli_usage_error("record", "-t: bad duration '%s'", optarg);
            break;
        case 1:
            if (rr_parse_u64(optarg, UINT64_MAX, &ro.max_exchanges) != 0)
                return cli_usage_error("record", "--max-exchanges: bad number '%s'", optarg);
            break;
        case 2:
            if (rr_parse_u64(optarg, 1u << 26, &v) != 0 || v == 0)
                return cli_usage_error("record", "--max-conns: bad number '%s'", optarg);
            ro.max_conns = (size_t)v;
            break;
        case 3:
            if (rr_parse_size(optarg, &v) != 0)
                return cli_usage_error("record", "--max-body: bad size '%s'", optarg);
            ro.max_body = (size_t)v;
            break;
        default:
            return cli_usage_error("record", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("record", "unexpected argument '%s'", argv[optind]);
    if (!so.file == !so.iface)
        return cli_usage_error("record", "give exactly one of -r FILE or -i IFACE");
    if (so.file && strcmp(so.file, "-") != 0 && rr_rec_probe_file(so.file, why, sizeof(why)))
        return cli_input_error("%s", why);

    if (cli_open_store(out, 0, 1, &st) != 0)
        return RR_EXIT_USAGE;
    rr_rec_store_sink(&sink, st);
    if (rr_rec_new(&r, &ro, &sink) != 0) {
        ret = RR_EXIT_FAIL;
        goto out;
    }
    stop_flag = 0;
    so.stop = &stop_flag;
    so.progress = !quiet && isatty(STDERR_FILENO);
    so.quiet = quiet;
    cli_catch_stop(on_signal, 0);

    rc = rr_rec_run(r, &so, why, sizeof(why));
    /* Even after bad input, what came before it is committed. */
    int frc = rr_rec_finish(r);
    if (rc) {
        fprintf(stderr, "rrload: %s\n", why[0] ? why : rr_strerror(rc));
        ret = rc == RR_ETRUNC || rc == RR_EPARSE || rc == RR_ELIMIT || rc == RR_EUSAGE ||
                      rc == -ENOENT
                  ? RR_EXIT_USAGE
                  : RR_EXIT_FAIL;
    }
    if (frc && !ret) {
        fprintf(stderr, "rrload: %s: %s\n", out, rr_strerror(frc));
        ret = RR_EXIT_FAIL;
    }
    rr_rec_summary(rr_rec_stats(r), summary, sizeof(summary));
    const char *src = so.file ? so.file : so.iface;
    char srcbuf[600];
    snprintf(srcbuf, sizeof(srcbuf), "%s %s", so.file ? "file" : "interface", src);
    if (rr_store_meta_put(st, "recorded_by", "rrload record " RR_VERSION,
                          strlen("rrload record " RR_VERSION)) != 0 ||
        rr_store_meta_put(st, "source", srcbuf, strlen(srcbuf)) != 0 ||
        rr_store_meta_put(st, "record_summary", summary, strlen(summary)) != 0 ||
        rr_store_flush(st) != 0) {
        fprintf(stderr, "rrload: %s: cannot write\n", out);
        ret = RR_EXIT_FAIL;
    }
    /* Input refused before its first packet: the error line alone says it all. */
    if (!quiet && !(rc && rr_rec_stats(r)->packets == 0))
        fprintf(stderr, "%s", summary);
out:
    rr_rec_free(&r);
    if (rr_store_close(&st) != 0 && !ret)
        ret = RR_EXIT_FAIL;
    return ret;
}
