/* stats_render -- Feeds request events into rr_stats and writes every report, so tests can set
 * rrload's rendering beside Locust's for the very same requests.
 *
 * usage: stats_render EVENTS.jsonl OUTDIR [START_TIME]
 * EVENTS: one JSON object a line: {"m": method, "n": name, "rt": ms or null, "len": bytes,
 * "err": text or null, "t": Unix time}, or {"tick": t, "users": n} for a history tick.
 * Writes OUTDIR/console.txt (final summary, width 80), OUTDIR/out_*.csv, OUTDIR/report.html
 * and OUTDIR/stats.json. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/stats.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: stats_render EVENTS.jsonl OUTDIR [START_TIME]\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 2;
    }
    struct rr_stats *s;
    if (rr_stats_new(&s))
        return 1;
    char prefix[4096], html[4096];
    snprintf(prefix, sizeof(prefix), "%s/out", argv[2]);
    snprintf(html, sizeof(html), "%s/report.html", argv[2]);
    struct rr_report_opts o = {.csv_prefix = prefix,
                               .csv_full_history = 0,
                               .html_path = html,
                               .host = "http://127.0.0.1",
                               .script = argv[1],
                               .command_line = "stats_render"};
    struct rr_report *r;
    if (rr_report_new(&r, &o))
        return 1;
    double start = argc > 3 ? atof(argv[3]) : 0, last = 0;
    int users = 0;
    rr_stats_start(s, start);
    char line[65536];
    int lineno = 0;
    while (fgets(line, sizeof(line), in)) {
        lineno++;
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j) {
            fprintf(stderr, "%s:%d: %s\n", argv[1], lineno, err.text);
            return 2;
        }
        json_t *tick = json_object_get(j, "tick");
        if (tick) {
            users = (int)json_integer_value(json_object_get(j, "users"));
            if (rr_report_tick(r, s, json_number_value(tick), users))
                return 1;
            json_decref(j);
            continue;
        }
        const char *m = json_string_value(json_object_get(j, "m"));
        const char *n = json_string_value(json_object_get(j, "n"));
        json_t *rt = json_object_get(j, "rt");
        const char *e = json_string_value(json_object_get(j, "err"));
        double t = json_number_value(json_object_get(j, "t"));
        uint64_t len = (uint64_t)json_integer_value(json_object_get(j, "len"));
        if (!m || !n) {
            fprintf(stderr, "%s:%d: expected \"m\" and \"n\"\n", argv[1], lineno);
            return 2;
        }
        if (start <= 0) {
            start = t;
            rr_stats_set_start_time(s, start);
        }
        int k = rr_stats_entry(s, m, n);
        if (json_is_number(rt))
            rr_stats_record_ts(s, k, (uint64_t)llround(json_number_value(rt) * 1000.0), len, e, t);
        else
            rr_stats_record_none(s, k, len, e, t);
        if (t > last)
            last = t;
        json_decref(j);
    }
    fclose(in);
    if (rr_report_finish(r, s, last, users))
        return 1;
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_print_summary(s, 80, &b);
    char path[4096];
    snprintf(path, sizeof(path), "%s/console.txt", argv[2]);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f))
        return 1;
    rr_buf_reset(&b);
    rr_stats_json(s, &b);
    snprintf(path, sizeof(path), "%s/stats.json", argv[2]);
    f = fopen(path, "w");
    if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f))
        return 1;
    rr_buf_fini(&b);
    rr_report_free(&r);
    rr_stats_free(&s);
    return 0;
}
