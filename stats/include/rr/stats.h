/* stats.h -- Request statistics in Locust's model, and its reports.
 *
 * A struct rr_stats is one shard: one replay thread records into its own, and the reporting
 * side merges shards (rr_stats_merge) into a total. Entries are keyed by (method, name),
 * failures by (method, name, error), as Locust keys them. Recording never allocates once the
 * entry and error exist. A shard belongs to one thread: the caller serialises merge/reset
 * against record (e.g. a per-shard mutex held for the few microseconds of a merge).
 *
 * Every shard also keeps the Aggregated entry (Locust's RequestStats.total) which receives
 * every request; it is not a sum of the rows. */
#ifndef RR_STATS_H
#define RR_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rr/buf.h"
#include "rr/err.h"

struct rr_stats;

int rr_stats_new(struct rr_stats **out) RR_WUR;
void rr_stats_free(struct rr_stats **s);

/* Returns the index of the entry (method, name), creating it when new. Resolve once, record
 * many times. */
int rr_stats_entry(struct rr_stats *s, const char *method, const char *name);

/* Records one request of entry: its response time in microseconds, its content length, and
 * error (NULL on success, else a Locust-style error string, copied when first seen).
 * now_s is the Unix time in seconds of the response (Locust's per-second counters). */
void rr_stats_record(struct rr_stats *s, int entry, uint64_t resp_us, uint64_t content_len,
                     const char *error, uint32_t now_s);
/* The same with a sub-second Unix timestamp (kept as last_request_timestamp, which is the end
 * of Locust's total req/s span). */
void rr_stats_record_ts(struct rr_stats *s, int entry, uint64_t resp_us, uint64_t content_len,
                        const char *error, double now);
/* A request without a response time (Locust's num_none_requests). */
void rr_stats_record_none(struct rr_stats *s, int entry, uint64_t content_len, const char *error,
                          double now);

/* Adds every entry and failure of src into dst (by key, not by index). */
void rr_stats_merge(struct rr_stats *dst, const struct rr_stats *src);
/* Forgets all counts; entries keep their indices. */
void rr_stats_reset(struct rr_stats *s);
/* Locust's clear_all / test start: resets and sets start_time (Unix seconds). */
void rr_stats_start(struct rr_stats *s, double start_time);
double rr_stats_start_time(const struct rr_stats *s);
void rr_stats_set_start_time(struct rr_stats *s, double start_time);

/* ---- reading (entry index, or RR_STATS_TOTAL for the Aggregated entry) ---- */
#define RR_STATS_TOTAL (-1)
/* Percentiles Locust reports (PERCENTILES_TO_REPORT). */
#define RR_STATS_NPCT 11
extern const double rr_stats_pcts[RR_STATS_NPCT];

struct rr_stats_entry_info {
    const char *method; /* "" for Aggregated */
    const char *name;   /* "Aggregated" */
    uint64_t num_requests, num_none_requests, num_failures;
    uint64_t total_rt_us, min_rt_us, max_rt_us; /* min is 0 when there is no timed request */
    uint64_t total_content_length;
    double start_time, last_request_timestamp; /* 0 when none */
};

int rr_stats_count(const struct rr_stats *s); /* entries, Aggregated not included */
/* Entry indices sorted by (name, method), as every Locust table orders them. Returns count. */
int rr_stats_sorted(const struct rr_stats *s, int *idx, int cap);
int rr_stats_find(const struct rr_stats *s, const char *method, const char *name);
void rr_stats_info(const struct rr_stats *s, int entry, struct rr_stats_entry_info *out);

/* Locust's rounded bucket of a response time given in microseconds, in milliseconds. */
uint64_t rr_stats_bucket_ms(uint64_t us);
/* Locust's calculate_response_time_percentile over the rounded buckets (ms, 0 if empty). */
uint64_t rr_stats_percentile(const struct rr_stats *s, int entry, double p);
/* Locust's median_response_time (ms): the lower median, clamped to the exact min/max. */
double rr_stats_median(const struct rr_stats *s, int entry);
double rr_stats_avg_ms(const struct rr_stats *s, int entry);
double rr_stats_fail_ratio(const struct rr_stats *s, int entry);
/* Exact percentile (p in 0..1) from the HDR histogram, microseconds, 3 significant digits. */
uint64_t rr_stats_hdr_percentile(const struct rr_stats *s, int entry, double p);
/* Current req/s and failures/s over Locust's window (last 12 s to 2 s before the last
 * request of the total). */
double rr_stats_current_rps(const struct rr_stats *s, int entry);
double rr_stats_current_fail_per_sec(const struct rr_stats *s, int entry);
/* Whole-run rates: count / (total.last_request_timestamp - start_time). */
double rr_stats_total_rps(const struct rr_stats *s, int entry);
double rr_stats_total_fail_per_sec(const struct rr_stats *s, int entry);
/* Requests and failures logged in Unix second t (0 when t is older than the kept window). */
void rr_stats_per_sec(const struct rr_stats *s, int entry, uint32_t t, uint64_t *reqs,
                      uint64_t *fails);
/* Rounded-bucket histogram: calls fn(bucket_ms, count) in ascending order for non-zero. */
void rr_stats_buckets(const struct rr_stats *s, int entry,
                      void (*fn)(void *arg, uint64_t ms, uint64_t count), void *arg);

/* Failures, in order of first occurrence. */
struct rr_stats_failure_info {
    const char *method, *name, *error; /* error as normalised (Locust's parse_error) */
    uint64_t occurrences;
    char key[65]; /* Locust's sha256 key: hex of "method.name.repr(error)" */
};
int rr_stats_failure_count(const struct rr_stats *s);
void rr_stats_failure(const struct rr_stats *s, int i, struct rr_stats_failure_info *out);
/* Adds occurrences of a failure without a request (a worker/master merging Locust payloads). */
void rr_stats_add_failure(struct rr_stats *s, const char *method, const char *name,
                          const char *error, uint64_t occurrences);

/* Locust's parse_error: masks the address after "object at 0x" with "0x....". */
void rr_stats_normalise_error(const char *error, struct rr_buf *out);
/* Python repr() of a str (quote choice and escapes as CPython for printable text). */
void rr_stats_pyrepr(const char *s, struct rr_buf *out);
/* Python str(float): shortest round-trip repr, with Python's exponent rules. */
void rr_stats_pyfloat(double v, struct rr_buf *out);
void rr_sha256_hex(const void *p, size_t n, char out[65]);

/* ---- console (Locust's stats_logger output) ---- */
/* STATS_NAME_WIDTH for an output: 80 unless fd is a terminal (then columns - 80, 0..80). */
int rr_stats_name_width(int fd);
/* print_stats: the request table; current selects windowed req/s (periodic) vs whole-run. */
void rr_stats_print_table(const struct rr_stats *s, int name_width, int current,
                          struct rr_buf *out);
/* print_percentile_stats: "Response time percentiles (approximated)". */
void rr_stats_print_percentiles(const struct rr_stats *s, int name_width, struct rr_buf *out);
/* print_error_report; prints nothing without failures. */
void rr_stats_print_errors(const struct rr_stats *s, int name_width, struct rr_buf *out);
/* The three final blocks, as Locust prints them at shutdown. */
void rr_stats_print_summary(const struct rr_stats *s, int name_width, struct rr_buf *out);

/* One log line as Locust's logging prints it (stderr):
 * "[2026-11-26 23:11:58,035] host/INFO/locust.main: Shutting down (exit code 1)" with local
 * time. logger is e.g. "locust.main" or "locust.runners"; the texts are in docs/stats.md. */
void rr_stats_log(struct rr_buf *out, double now, const char *level, const char *logger,
                  const char *fmt, ...) RR_PRINTF(5, 6);

/* ---- CSV (--csv PREFIX) ---- */
void rr_stats_csv_stats(const struct rr_stats *s, struct rr_buf *out);
void rr_stats_csv_failures(const struct rr_stats *s, struct rr_buf *out);
extern const char rr_stats_csv_history_header[];
extern const char rr_stats_csv_exceptions_header[];

/* ---- the run's reporting side ----
 * The run loop owns one struct rr_report. Once a second it merges the shards into a total and
 * calls rr_report_tick(total, now, users): that appends the history (CSV rows, chart samples)
 * and rewrites PREFIX_stats.csv / _failures.csv. At exit rr_report_finish writes every file to
 * completion. */
struct rr_report_opts {
    const char *csv_prefix; /* NULL: no CSV */
    int csv_full_history;
    const char *html_path;    /* NULL: no HTML */
    const char *host;         /* shown in the HTML report */
    const char *script;       /* the plan/store file */
    const char *command_line; /* run parameters, shown in the HTML report */
};
struct rr_report;
int rr_report_new(struct rr_report **out, const struct rr_report_opts *o) RR_WUR;
void rr_report_free(struct rr_report **r);
/* The first sample (the test start): forgets any history. */
void rr_report_clear_history(struct rr_report *r);
int rr_report_tick(struct rr_report *r, const struct rr_stats *total, double now, int user_count);
/* Final rewrite of the CSV files, and the HTML report. Returns the first error. */
int rr_report_finish(struct rr_report *r, const struct rr_stats *total, double now, int user_count);
/* The HTML report of total with the collected history. */
void rr_report_html(const struct rr_report *r, const struct rr_stats *total, struct rr_buf *out);

/* ---- JSON ---- */
/* Final stats as JSON (--json, on stdout), as Locust's serialize_stats: an array of the
 * entries with requests or failures, in creation order, without Aggregated, each with exactly
 * the wire fields (response_times and the per-second dicts keyed by strings; the per-second
 * dicts hold the last 64 seconds). */
void rr_stats_json(const struct rr_stats *s, struct rr_buf *out);
/* A run record: parameters (a JSON object text or NULL), host, script, command line,
 * start/end time, "stats" (every entry sorted as the tables, Aggregated last, with the wire
 * fields plus median/avg/total_rps/fail_ratio/percentiles/percentiles_exact in ms),
 * "failures" and "history" (one sample per tick). Store it with rr_store_run_add. */
void rr_report_run_json(const struct rr_report *r, const struct rr_stats *total,
                        const char *params_json, struct rr_buf *out);

/* Compares two run records (rr_report_run_json documents): one table row per endpoint with
 * req/s, failure ratio, median and p95 of both runs and their change. With max_regression
 * >= 0 (0.10 for 10 %), appends a REGRESSION line to msgs for each of: req/s down, median or
 * p95 up by more than that fraction, failure ratio up by more than that many points; and
 * counts them in *regressions. Returns RR_ECORRUPT when a document is not a run record. */
int rr_stats_compare(const char *run_a, const char *run_b, double max_regression,
                     struct rr_buf *out, struct rr_buf *msgs, int *regressions) RR_WUR;

/* ---- exit policy ---- */
struct rr_stats_checks {
    int exit_code_on_error; /* Locust's --exit-code-on-error, default 1 */
    double fail_ratio;      /* --check-fail-ratio; < 0: off */
    double p95_ms;          /* --check-p95; < 0: off */
    double rps;             /* --check-rps; < 0: off */
};
void rr_stats_checks_init(struct rr_stats_checks *c);
/* Parses one option into c: opt is "--exit-code-on-error" (0..255), "--check-fail-ratio"
 * (0.01 or 1%), "--check-p95" (500ms, 0.5s, or a bare number of ms) or "--check-rps" (a
 * number). Returns 0, RR_ENOTFOUND for another option, or RR_EUSAGE with a one-line reason in
 * why. */
int rr_stats_checks_parse(struct rr_stats_checks *c, const char *opt, const char *val, char *why,
                          size_t whylen) RR_WUR;
/* Returns the exit code the run earns; appends one message per missed threshold to msgs. */
int rr_stats_exit_code(const struct rr_stats *total, const struct rr_stats_checks *c,
                       struct rr_buf *msgs);

#endif
