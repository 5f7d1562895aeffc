/* cmd_import.c -- rrload import FILE.har [-o session.db]: a browser's HAR as a recording. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rr/har.h"

static const char usage[] =
    "usage: rrload import FILE.har [-o session.db]\n"
    "\n"
    "Imports a HAR 1.2 file (exported by Chrome, Firefox, Fiddler, Charles, ...) into a\n"
    "session store, one exchange per entry, grouped into connections. The store can then be\n"
    "transformed and replayed like a capture.\n"
    "\n"
    "  -o, --output FILE   the store to write (default: session.db; created when missing)\n"
    "  -h, --help          this text\n";

int rr_cmd_import(int argc, char **argv)
{
    const char *in = NULL, *out = "session.db";
    struct rr_store *s = NULL;
    struct rr_har_stats st;
    char why[512];
    int rc, close_rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return RR_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (++i >= argc)
                return cli_usage_error("import", "%s needs a file name", a);
            out = argv[i];
        } else if (strncmp(a, "--output=", 9) == 0) {
            out = a + 9;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("import", "unknown option %s", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("import", "one HAR file at a time (got %s and %s)", in, a);
        }
    }
    if (!in)
        return cli_usage_error("import", "which HAR file?");
    if (cli_open_store(out, 0, 1, &s))
        return RR_EXIT_USAGE;
    rc = rr_har_import(s, in, &st, why, sizeof(why));
    /* What was stored before a bad entry is kept: closing commits it. */
    close_rc = rr_store_close(&s);
    if (rc)
        return cli_input_error("%s: %s", in, why[0] ? why : rr_strerror(rc));
    if (close_rc)
        return cli_input_error("%s: %s", out, rr_strerror(close_rc));
    printf("imported %s into %s: %llu exchanges, %llu connections", in, out,
           (unsigned long long)st.exchanges, (unsigned long long)st.conns);
    if (st.skipped)
        printf(", %llu entries skipped (not HTTP, or served from the browser cache)", (unsigned long long)st.skipped);
    printf("\n");
    return RR_EXIT_OK;
}
