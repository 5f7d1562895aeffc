/* replay_mkstore.c -- Test helper: writes a plan text file into a new store, so the replay
 * command line can be tested without depending on the transform or `rrload plan`.
 *
 *   replay_mkstore FILE.db PLAN.txt */
#include <stdio.h>
#include <stdlib.h>

#include "rr/buf.h"
#include "rr/store.h"

int main(int argc, char **argv)
{
    struct rr_store *st = NULL;
    struct rr_store_opts so = {0};
    struct rr_buf text;
    char why[256] = "", chunk[4096];
    size_t n;

    if (argc != 3) {
        fprintf(stderr, "usage: replay_mkstore FILE.db PLAN.txt\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    rr_buf_init(&text);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rr_buf_add(&text, chunk, n);
    fclose(f);
    so.path = argv[1];
    so.create = 1;
    if (rr_store_open(&st, &so, why, sizeof(why))) {
        fprintf(stderr, "%s: %s\n", argv[1], why);
        return 1;
    }
    int rc = rr_store_plan_put(st, text.p, text.len);
    rc = rr_store_close(&st) || rc;
    rr_buf_fini(&text);
    return rc ? 1 : 0;
}
