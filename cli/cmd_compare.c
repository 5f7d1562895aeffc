/* cmd_compare.c -- rrload compare FILE RUN_A RUN_B: two recorded replays side by side, and a
 * non-zero exit past an allowed regression, so production traffic works as a CI gate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rr/stats.h"
#include "rr/util.h"

static const char *const usage_text =
    "usage: rrload compare FILE RUN_A RUN_B [--max-regression PCT]\n"
    "\n"
    "Compares two replays stored in FILE (ids from `rrload show FILE runs`; `last` is the\n"
    "newest, `last-1` the one before). Prints per endpoint req/s, failure ratio, median and\n"
    "95th percentile of both runs and the change.\n"
    "\n"
    "options:\n"
    "  --max-regression PCT  exit 1 when B is worse than A by more than PCT (e.g. 10%):\n"
    "                        req/s lower, median or p95 higher by more than PCT percent,\n"
    "                        or the failure ratio higher by more than PCT points\n"
    "\n"
    "Exit codes: 0 ok, 1 a regression past the threshold, 2 bad usage or input.\n";

struct last_ctx {
    uint64_t ids[2];
};

static int note_id(uint64_t id, struct rr_view doc, void *ud)
{
    struct last_ctx *c = ud;
    (void)doc;
    c->ids[1] = c->ids[0];
    c->ids[0] = id;
    return 0;
}

static int parse_run(struct rr_store *s, const char *arg, uint64_t *id)
{
    if (!strcmp(arg, "last") || !strcmp(arg, "last-1")) {
        struct last_ctx c = {{0, 0}};
        if (rr_store_run_foreach(s, note_id, &c))
            return -1;
        *id = c.ids[arg[4] ? 1 : 0];
        return *id ? 0 : -1;
    }
    return rr_parse_u64(arg, UINT64_MAX, id) || !*id ? -1 : 0;
}

int rr_cmd_compare(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return RR_EXIT_OK;
    }
    const char *pos[3] = {0};
    int npos = 0;
    double maxreg = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--max-regression") || !strncmp(a, "--max-regression=", 17)) {
            const char *v = a[16] == '=' ? a + 17 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return cli_usage_error("compare", "--max-regression needs a value such as 10%%");
            char buf[64];
            snprintf(buf, sizeof(buf), "%s", v);
            size_t l = strlen(buf);
            int pct = l && buf[l - 1] == '%';
            if (pct)
                buf[l - 1] = 0;
            if (rr_parse_double(buf, &maxreg))
                return cli_usage_error("compare",
                                       "--max-regression: expected a percentage such "
                                       "as 10%%, got '%s'",
                                       v);
            maxreg /= 100; /* "10" and "10%" both mean ten percent */
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("compare", "unknown option '%s'", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return cli_usage_error("compare", "unexpected argument '%s'", a);
        }
    }
    if (npos != 3)
        return cli_usage_error("compare", "expected FILE RUN_A RUN_B");
    struct rr_store *s = NULL;
    int rc = cli_open_store(pos[0], 1, 0, &s);
    if (rc)
        return rc;
    int code = RR_EXIT_OK;
    struct rr_buf da, db, out, msgs;
    rr_buf_init(&da);
    rr_buf_init(&db);
    rr_buf_init(&out);
    rr_buf_init(&msgs);
    uint64_t ida = 0, idb = 0;
    if (parse_run(s, pos[1], &ida) || parse_run(s, pos[2], &idb)) {
        code = cli_input_error("%s: no such run '%s' (see rrload show %s runs)", pos[0],
                               parse_run(s, pos[1], &ida) ? pos[1] : pos[2], pos[0]);
        goto out;
    }
    if ((rc = rr_store_run_get(s, ida, &da)) || (rc = rr_store_run_get(s, idb, &db))) {
        code = cli_input_error("%s: run %llu: %s", pos[0], (unsigned long long)(da.len ? idb : ida),
                               rr_strerror(rc));
        goto out;
    }
    int regressions = 0;
    rc = rr_stats_compare(rr_buf_cstr(&da), rr_buf_cstr(&db), maxreg, &out, &msgs, &regressions);
    if (rc) {
        code = cli_input_error("%s: runs %llu and %llu: not run records (%s)", pos[0],
                               (unsigned long long)ida, (unsigned long long)idb, rr_strerror(rc));
        goto out;
    }
    printf("A = run %llu, B = run %llu\n", (unsigned long long)ida, (unsigned long long)idb);
    fwrite(out.p, 1, out.len, stdout);
    if (msgs.len)
        fwrite(msgs.p, 1, msgs.len, stderr);
    if (regressions)
        code = RR_EXIT_FAIL;
out:
    rr_buf_fini(&da);
    rr_buf_fini(&db);
    rr_buf_fini(&out);
    rr_buf_fini(&msgs);
    rr_store_close(&s);
    return code;
}
