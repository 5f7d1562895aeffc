/* cmd_export.c -- rrload export FILE.db --locustfile out.py [--fast]: the stored plan (or one
 * built now when the file has none) as a locustfile that runs under a real Locust;
 * --har out.har: the recorded exchanges themselves as HAR 1.2 (har_export.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "har_export.h"
#include "rr/transform.h"

#ifndef RR_VERSION
#define RR_VERSION "unknown"
#endif

static const char usage[] =
    "usage: rrload export FILE.db --locustfile OUT.py [--fast]\n"
    "       rrload export FILE.db --har OUT.har\n"
    "\n"
    "--locustfile writes the plan of FILE.db (made by 'rrload transform', or built now when\n"
    "there is none) as a locustfile: one HttpUser class per flow with its weight, a\n"
    "SequentialTaskSet of its steps, on_start/on_stop, data pools, extraction, checks and\n"
    "wait_time.\n"
    "--har writes the recorded exchanges (not the plan) as HAR 1.2, for browser DevTools, HAR\n"
    "viewers and other tools: bodies decoded, as text or base64; 'rrload import' reads it back.\n"
    "\n"
    "  --locustfile FILE  where to write the locustfile ('-' for stdout)\n"
    "  --fast             FastHttpUser instead of HttpUser\n"
    "  --har FILE         where to write the HAR ('-' for stdout)\n";

/* The HAR of every exchange. A failed export leaves no file behind. */
static int export_har(struct rr_store *s, const char *file, const char *path)
{
    struct rr_har_export_stats st;
    char why[512];
    int to_stdout = !strcmp(path, "-");
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    if (!f)
        return cli_input_error("%s: %s", path, strerror(errno));
    int rc = rr_har_export(s, f, RR_VERSION, &st, why, sizeof(why));
    int werr = to_stdout ? fflush(f) : fclose(f);
    werr |= to_stdout && ferror(f);
    if (rc || werr) {
        if (!to_stdout)
            unlink(path);
        if (rc)
            return cli_input_error("%s: %s", file, why);
        return cli_input_error("%s: write failed", path);
    }
    if (!to_stdout)
        fprintf(stderr, "rrload export: %llu entries to %s (%llu bodies decoded)\n",
                (unsigned long long)st.entries, path, (unsigned long long)st.decoded);
    return RR_EXIT_OK;
}

int rr_cmd_export(int argc, char **argv)
{
    const char *file = NULL, *out_path = NULL, *har_path = NULL;
    struct rr_store *s = NULL;
    struct rr_plan *plan = NULL;
    struct rr_buf b;
    char why[512];
    int fast = 0, ex = RR_EXIT_OK, rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return RR_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--locustfile")) {
            if (++i >= argc)
                return cli_usage_error("export", "--locustfile needs a file");
            out_path = argv[i];
        } else if (!strncmp(argv[i], "--locustfile=", 13)) {
            out_path = argv[i] + 13;
        } else if (!strcmp(argv[i], "--har")) {
            if (++i >= argc)
                return cli_usage_error("export", "--har needs a file");
            har_path = argv[i];
        } else if (!strncmp(argv[i], "--har=", 6)) {
            har_path = argv[i] + 6;
        } else if (!strcmp(argv[i], "--fast")) {
            fast = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("export", "unknown option %s", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            return cli_usage_error("export", "unexpected argument %s", argv[i]);
        }
    }
    if (!file || (!out_path && !har_path))
        return cli_usage_error("export", "expected FILE.db --locustfile OUT.py or --har OUT.har");
    if (out_path && har_path && !strcmp(out_path, "-") && !strcmp(har_path, "-"))
        return cli_usage_error("export", "--locustfile and --har cannot both go to stdout");
    if (cli_open_store(file, 1, 0, &s))
        return RR_EXIT_USAGE;
    rr_buf_init(&b);
    if (har_path) {
        ex = export_har(s, file, har_path);
        if (ex || !out_path)
            goto out;
    }
    rc = rr_store_plan_get(s, &b);
    if (rc == RR_ENOTFOUND) {
        struct rr_transform_stats st;
        rr_transform_stats_init(&st);
        rc = rr_transform_run(s, NULL, &plan, &st, why, sizeof(why));
        rr_transform_stats_fini(&st);
        if (rc) {
            ex = cli_input_error("%s: %s", file, why);
            goto out;
        }
    } else if (rc) {
        ex = cli_input_error("%s: %s", file, rr_strerror(rc));
        goto out;
    } else {
        rc = rr_plan_parse(b.p, b.len, &plan, why, sizeof(why));
        if (rc) {
            ex = cli_input_error("%s: stored plan:%s", file, why);
            goto out;
        }
    }
    rr_buf_reset(&b);
    rr_transform_locustfile(plan, fast, &b);
    FILE *f = strcmp(out_path, "-") ? fopen(out_path, "wb") : stdout;
    if (!f) {
        ex = cli_input_error("%s: %s", out_path, strerror(errno));
        goto out;
    }
    size_t w = fwrite(b.p, 1, b.len, f);
    if ((f == stdout ? fflush(f) : fclose(f)) || w != b.len)
        ex = cli_input_error("%s: write failed", out_path);
out:
    rr_plan_free(&plan);
    rr_buf_fini(&b);
    rr_store_close(&s);
    return ex;
}
