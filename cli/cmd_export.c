/* cmd_export.c -- rrload export FILE.db --locustfile out.py [--fast]: the stored plan (or one
 * built now when the file has none) as a locustfile that runs under a real Locust. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rr/transform.h"

static const char usage[] =
    "usage: rrload export FILE.db --locustfile OUT.py [--fast]\n"
    "\n"
    "Writes the plan of FILE.db (made by 'rrload transform', or built now when there is none)\n"
    "as a locustfile: one HttpUser class per flow with its weight, a SequentialTaskSet of its\n"
    "steps, on_start/on_stop, data pools, extraction, checks and wait_time.\n"
    "\n"
    "  --locustfile FILE  where to write it ('-' for stdout)\n"
    "  --fast             FastHttpUser instead of HttpUser\n";

int rr_cmd_export(int argc, char **argv)
{
    const char *file = NULL, *out_path = NULL;
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
    if (!file || !out_path)
        return cli_usage_error("export", "expected FILE.db --locustfile OUT.py");
    if (cli_open_store(file, 1, 0, &s))
        return RR_EXIT_USAGE;
    rr_buf_init(&b);
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
