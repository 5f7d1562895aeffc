/* cmd_transform.c -- rrload transform FILE.db [--rules FILE] [--no-correlation]: builds the
 * plan from the recorded exchanges, stores it in the file and prints a summary. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rr/transform.h"

static const char usage[] =
    "usage: rrload transform FILE.db [--rules FILE] [--no-correlation] [--quiet]\n"
    "\n"
    "Builds a replay plan from the recorded exchanges: static assets dropped, sessions,\n"
    "named steps, weighted flows, test-level before/after steps, correlations (extractors\n"
    "and ${var}), data pools, think times and their distributions, and checks. The plan is\n"
    "stored in FILE.db (see 'rrload plan' to export and edit it) and summarised on stdout.\n"
    "\n"
    "  --rules FILE       filters, sessions, names, before/after, correlations, pools, checks,\n"
    "                     waits (docs/transform.md)\n"
    "  --no-correlation   keep recorded values instead of extracting them (a replay then shows\n"
    "                     why correlation matters: expired tokens fail)\n"
    "  --quiet            no summary\n";

int rr_cmd_transform(int argc, char **argv)
{
    const char *file = NULL, *rules_path = NULL;
    struct rr_transform_opts o = {0};
    struct rr_transform_rules *rules = NULL;
    struct rr_transform_stats st;
    struct rr_store *s = NULL;
    struct rr_plan *plan = NULL;
    struct rr_buf text, sum;
    char why[512] = "";
    int quiet = 0, ex = RR_EXIT_OK, rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return RR_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rules")) {
            if (++i >= argc)
                return cli_usage_error("transform", "--rules needs a file");
            rules_path = argv[i];
        } else if (!strncmp(argv[i], "--rules=", 8)) {
            rules_path = argv[i] + 8;
        } else if (!strcmp(argv[i], "--no-correlation")) {
            o.no_correlation = 1;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("transform", "unknown option %s", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            return cli_usage_error("transform", "unexpected argument %s", argv[i]);
        }
    }
    if (!file)
        return cli_usage_error("transform", "expected FILE.db");
    if (rules_path) {
        rc = rr_transform_rules_load(rules_path, &rules, why, sizeof(why));
        if (rc)
            return cli_input_error("%s:%s", rules_path, why);
        o.rules = rules;
    }
    if (cli_open_store(file, 0, 0, &s)) {
        rr_transform_rules_free(&rules);
        return RR_EXIT_USAGE;
    }
    rr_transform_stats_init(&st);
    rr_buf_init(&text);
    rr_buf_init(&sum);
    rc = rr_transform_run(s, &o, &plan, &st, why, sizeof(why));
    if (rc) {
        ex = cli_input_error("%s: %s", file, why);
        goto out;
    }
    rr_plan_format(plan, &text);
    rc = rr_store_plan_put(s, text.p, text.len);
    if (!rc)
        rc = rr_store_flush(s);
    if (rc) {
        ex = cli_input_error("%s: storing the plan: %s", file, rr_strerror(rc));
        goto out;
    }
    if (!quiet) {
        rr_transform_summary(plan, &st, &sum);
        fwrite(sum.p, 1, sum.len, stdout);
        printf("plan stored in %s (rrload plan %s export - to see it)\n", file, file);
    }
out:
    rr_plan_free(&plan);
    rr_buf_fini(&text);
    rr_buf_fini(&sum);
    rr_transform_stats_fini(&st);
    rr_transform_rules_free(&rules);
    if (rr_store_close(&s) && ex == RR_EXIT_OK)
        ex = cli_input_error("%s: closing failed", file);
    return ex;
}
