/* cmd_plan.c -- rrload plan FILE.db export PLAN|- / import PLAN|-: the stored plan as the text
 * a person reads, diffs and edits (docs/plan-format.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rr/plan.h"

static const char usage[] =
    "usage: rrload plan FILE.db export PLAN|-\n"
    "       rrload plan FILE.db import PLAN|-\n"
    "\n"
    "export writes the stored plan (made by 'rrload transform') as text; import checks an\n"
    "edited plan (syntax, fields, references to pools and extractors) and stores it.\n"
    "The format is described in docs/plan-format.md.\n";

static int read_all(const char *path, struct rr_buf *out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char tmp[65536];
    size_t n;
    if (!f)
        return -errno;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        if (out->len + n > (256u << 20)) {
            if (f != stdin)
                fclose(f);
            return RR_ELIMIT;
        }
        rr_buf_add(out, tmp, n);
    }
    int err = ferror(f) ? -EIO : 0;
    if (f != stdin)
        fclose(f);
    return err;
}

int rr_cmd_plan(int argc, char **argv)
{
    struct rr_store *s = NULL;
    struct rr_buf b;
    char why[512];
    int ex = RR_EXIT_OK, rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return RR_EXIT_OK;
    }
    if (argc != 4 || (strcmp(argv[2], "export") && strcmp(argv[2], "import")))
        return cli_usage_error("plan", "expected FILE.db export|import PLAN");
    const char *file = argv[1], *plan_path = argv[3];
    int exporting = !strcmp(argv[2], "export");
    rr_buf_init(&b);
    if (!exporting) {
        struct rr_plan *p = NULL;
        rc = read_all(plan_path, &b);
        if (rc) {
            ex = cli_input_error("%s: %s", plan_path, rr_strerror(rc));
            goto out;
        }
        rc = rr_plan_parse(b.p, b.len, &p, why, sizeof(why));
        if (!rc)
            rc = rr_plan_validate(p, why, sizeof(why));
        if (rc) {
            ex = cli_input_error("%s:%s", plan_path, why);
            rr_plan_free(&p);
            goto out;
        }
        /* stored as formatted, so a later export is the canonical text */
        rr_buf_reset(&b);
        rr_plan_format(p, &b);
        rr_plan_free(&p);
    }
    if (cli_open_store(file, exporting, 0, &s)) {
        ex = RR_EXIT_USAGE;
        goto out;
    }
    if (exporting) {
        rc = rr_store_plan_get(s, &b);
        if (rc == RR_ENOTFOUND) {
            ex =
                cli_input_error("%s: no plan stored (run 'rrload transform %s' first)", file, file);
            goto out;
        }
        if (rc) {
            ex = cli_input_error("%s: %s", file, rr_strerror(rc));
            goto out;
        }
        FILE *f = strcmp(plan_path, "-") ? fopen(plan_path, "wb") : stdout;
        if (!f) {
            ex = cli_input_error("%s: %s", plan_path, strerror(errno));
            goto out;
        }
        size_t w = fwrite(b.p, 1, b.len, f);
        if ((f == stdout ? fflush(f) : fclose(f)) || w != b.len)
            ex = cli_input_error("%s: write failed", plan_path);
    } else {
        rc = rr_store_plan_put(s, b.p, b.len);
        if (!rc)
            rc = rr_store_flush(s);
        if (rc)
            ex = cli_input_error("%s: storing the plan: %s", file, rr_strerror(rc));
    }
out:
    rr_buf_fini(&b);
    if (rr_store_close(&s) && ex == RR_EXIT_OK)
        ex = cli_input_error("%s: closing failed", file);
    return ex;
}
