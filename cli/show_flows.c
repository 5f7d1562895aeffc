/* show_flows.c -- rrload show FILE flows|plan|sessions: the transform's view of a store. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rr/transform.h"
#include "show.h"

int cli_show_flows(struct rr_store *s, const char *what, int json)
{
    struct rr_plan *plan = NULL;
    struct rr_transform_stats st;
    struct rr_buf b;
    char why[512];
    int ex = RR_EXIT_OK, rc, stored = 0;

    rr_buf_init(&b);
    rr_transform_stats_init(&st);
    rc = rr_store_plan_get(s, &b);
    if (rc == 0 && strcmp(what, "sessions")) {
        stored = 1;
        rc = rr_plan_parse(b.p, b.len, &plan, why, sizeof(why));
        if (rc) {
            ex = cli_input_error("%s: stored plan:%s", rr_store_path(s), why);
            goto out;
        }
    } else if (rc == 0 || rc == RR_ENOTFOUND) {
        /* no plan yet (or sessions asked): what a transform with the defaults would build */
        rc = rr_transform_run(s, NULL, &plan, &st, why, sizeof(why));
        if (rc) {
            ex = cli_input_error("%s: %s", rr_store_path(s), why);
            goto out;
        }
    } else {
        ex = cli_input_error("%s: %s", rr_store_path(s), rr_strerror(rc));
        goto out;
    }
    rr_buf_reset(&b);
    if (!strcmp(what, "plan")) {
        rr_plan_format(plan, &b);
    } else if (json) {
        rr_buf_adds(&b, "{\"flows\": [");
        for (size_t i = 0; i < plan->n_flows; i++) {
            const struct rr_plan_flow *f = &plan->flows[i];
            rr_buf_printf(&b,
                          "%s{\"weight\": %u, \"on_start\": %zu, \"steps\": %zu, \"on_stop\": %zu}",
                          i ? ", " : "", f->weight, f->n_on_start, f->n_steps, f->n_on_stop);
        }
        rr_buf_printf(&b, "], \"pools\": %zu, \"sessions\": %llu}\n", plan->n_pools,
                      (unsigned long long)st.sessions);
    } else if (!strcmp(what, "sessions")) {
        rr_transform_summary(plan, &st, &b);
    } else {
        if (stored)
            rr_buf_adds(&b, "stored plan:\n");
        rr_buf_printf(&b, "host: %s\n", plan->host ? plan->host : "(none)");
        for (size_t i = 0; i < plan->n_flows; i++) {
            const struct rr_plan_flow *f = &plan->flows[i];
            rr_buf_printf(&b, "weight %-4u %s\n", f->weight, f->name);
            const struct rr_plan_step *lists[3] = {f->on_start, f->steps, f->on_stop};
            size_t ns[3] = {f->n_on_start, f->n_steps, f->n_on_stop};
            static const char *const tag[3] = {"on_start ", "", "on_stop  "};
            for (int l = 0; l < 3; l++)
                for (size_t k = 0; k < ns[l]; k++)
                    rr_buf_printf(&b, "  %s%-6s %s\n", tag[l], lists[l][k].method,
                                  lists[l][k].name);
        }
        for (size_t i = 0; i < plan->n_pools; i++)
            rr_buf_printf(&b, "pool %s: %zu values\n", plan->pools[i].name,
                          plan->pools[i].n_values);
    }
    fwrite(b.p, 1, b.len, stdout);
out:
    rr_plan_free(&plan);
    rr_buf_fini(&b);
    rr_transform_stats_fini(&st);
    return ex;
}
