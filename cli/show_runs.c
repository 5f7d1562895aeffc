/* show_runs.c -- rrload show FILE runs: the replays recorded in a store, one line each
 * (or the run records themselves with --json). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "show.h"

struct runs_ctx {
    int json;
    int n;
};

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static int one_run(uint64_t id, struct rr_view doc, void *ud)
{
    struct runs_ctx *c = ud;
    json_error_t err;
    json_t *j = json_loadb((const char *)doc.p, doc.len, 0, &err);
    if (c->json) {
        printf("%s{\"id\": %llu, \"run\": ", c->n ? ",\n " : "[", (unsigned long long)id);
        if (j) {
            char *t = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
            fputs(t ? t : "null", stdout);
            free(t);
        } else {
            fputs("null", stdout);
        }
        fputs("}", stdout);
        c->n++;
        json_decref(j);
        return 0;
    }
    if (!c->n)
        printf("%-5s %-19s %9s %10s %9s %9s %10s %10s  %s\n", "ID", "Started (UTC)", "Duration",
               "Requests", "Failures", "req/s", "Median", "p95", "Command");
    c->n++;
    if (!j) {
        printf("%-5llu (unreadable run record: %s)\n", (unsigned long long)id, err.text);
        return 0;
    }
    json_t *stats = json_object_get(j, "stats");
    json_t *agg = json_array_get(stats, json_array_size(stats) ? json_array_size(stats) - 1 : 0);
    json_t *ex = json_object_get(agg, "percentiles_exact");
    double st = num(j, "start_time"), en = num(j, "end_time");
    char when[80] = "-";
    if (st > 0) {
        time_t t = (time_t)st;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(when, sizeof(when), "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    const char *cmd = json_string_value(json_object_get(j, "command_line"));
    printf("%-5llu %-19s %8.1fs %10lld %9lld %9.2f %8.1fms %8.1fms  %s\n", (unsigned long long)id,
           when, en > st && st > 0 ? en - st : 0.0,
           (long long)json_integer_value(json_object_get(agg, "num_requests")),
           (long long)json_integer_value(json_object_get(agg, "num_failures")),
           num(agg, "total_rps"), num(ex, "0.5"), num(ex, "0.95"), cmd ? cmd : "");
    json_decref(j);
    return 0;
}

int cli_show_runs(struct rr_store *s, int json)
{
    struct runs_ctx c = {.json = json};
    int rc = rr_store_run_foreach(s, one_run, &c);
    if (json)
        puts(c.n ? "]" : "[]");
    else if (!c.n)
        puts("no runs recorded (rrload replay stores one per run)");
    if (rc)
        return cli_input_error("reading runs: %s", rr_strerror(rc));
    return RR_EXIT_OK;
}
