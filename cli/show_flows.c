/* show_flows.c -- rrload show FILE flows|plan|sessions: the transform's view of a store. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
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
        json_t *doc = json_object(), *flows = json_array(), *pools = json_array();
        static const char *const part[3] = {"on_start", "step", "on_stop"};
        for (size_t i = 0; i < plan->n_flows; i++) {
            const struct rr_plan_flow *f = &plan->flows[i];
            json_t *jf = json_object(), *steps = json_array();
            const struct rr_plan_step *lists[3] = {f->on_start, f->steps, f->on_stop};
            size_t ns[3] = {f->n_on_start, f->n_steps, f->n_on_stop};
            for (int l = 0; l < 3; l++)
                for (size_t k = 0; k < ns[l]; k++)
                    json_array_append_new(steps,
                                          json_pack("{s:s, s:s, s:s}", "part", part[l], "method",
                                                    lists[l][k].method, "name", lists[l][k].name));
            json_object_set_new(jf, "name", json_string(f->name));
            json_object_set_new(jf, "weight", json_integer(f->weight));
            json_object_set_new(jf, "steps", steps);
            json_array_append_new(flows, jf);
        }
        for (size_t i = 0; i < plan->n_pools; i++)
            json_array_append_new(pools, json_pack("{s:s, s:I}", "name", plan->pools[i].name,
                                                   "values", (json_int_t)plan->pools[i].n_values));
        json_object_set_new(doc, "host", plan->host ? json_string(plan->host) : json_null());
        json_object_set_new(doc, "stored", json_boolean(stored));
        json_object_set_new(doc, "flows", flows);
        json_object_set_new(doc, "pools", pools);
        if (!stored)
            json_object_set_new(doc, "sessions", json_integer((json_int_t)st.sessions));
        char *d = json_dumps(doc, JSON_INDENT(2));
        rr_buf_adds(&b, d);
        rr_buf_addc(&b, '\n');
        free(d);
        json_decref(doc);
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
