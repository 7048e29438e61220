/* bench.h: what the parts of hookline-bench share.
 *
 * hookline-bench measures the machine's own limits (libcurl multi POSTs,
 * PostgreSQL inserts, Kafka consumption) and then the real stack against
 * them: end-to-end deliveries, fan-out, subscription scale, the retry path,
 * the REST api, isolation between tenants, one big tenant, storage and one
 * ordered endpoint. main.c runs the sections in order; report.c keeps every
 * figure and prints the table and the JSON; the other files hold one
 * concern each. Everything runs on the test harness (tests/harness): a
 * throwaway database, hookline-devbroker, hookline-api and dispatchers as
 * child processes, plus hookline-bench-receiver.
 */
#ifndef HL_BENCH_H
#define HL_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "harness.h"

#define BENCH_TOPIC "hookline.events"
#define BENCH_PORTS 32          /* receiver listeners per scheme: 512 in flight / 16 per host */

/* Sizes and durations of one run (full or --smoke). */
struct bench_plan {
    bool smoke;
    int payload_bytes;          /* envelope size of every produced event */
    long limit_curl_ms;         /* 1a: per scheme */
    int limit_in_flight;        /* 1a: 512 as the dispatcher, fewer in a smoke run */
    long limit_pg_ms;           /* 1b: per method */
    int limit_kafka_msgs;       /* 1c */
    int backlog_max;            /* 2, 5: events per saturation run, at most */
    long saturate_ms;           /* 2, 5: aim for a run this long */
    long latency_ms;            /* 2: open-loop run */
    int fanout_webhooks;        /* 3 */
    int fanout_runs;
    int scale_sizes[3];         /* 4 */
    int scale_tenants;
    int scale_events;
    long api_ms;                /* 6: per route */
    int api_conns;
    int iso_noisy_events;       /* 7: the noisy tenant's flood */
    double iso_calm_rate;       /* 7: the calm tenant's events/s ... */
    long iso_calm_ms;           /* ... for this long */
    long iso_slow_ms;           /* 7: how long a slow neighbour's endpoint takes */
    int big_events;             /* 8: events of the one tenant (x 10 webhooks) */
};

/* The environment every section works in. */
struct bench_env {
    struct bench_plan plan;
    struct hx_stack *st;
    PGconn *pg;                 /* the stack's database */
    char receiver_url[64];      /* http://127.0.0.1:PORT of the first plain listener */
    int http_ports[BENCH_PORTS];
    int https_ports[BENCH_PORTS];
    pid_t receiver_pid;
    const char *src_dir;        /* the repository (bench/wrk/bench.lua) */
    const char *bin_dir;
    char work_dir[512];         /* logs and scratch files of this run */
    int partitions;             /* of hookline.events */
    char limit_brokers[256];    /* a devbroker of the benchmark's own (1c, Kafka-alone latency) */
    pid_t limit_broker_pid;
    pid_t pg_postmaster;        /* of the bench's database server when local, else 0 */
    double limit_http_posts;    /* 1a, for the ratio in 2 */
    double limit_https_posts;   /* 1a over TLS, for the ratio of 2's HTTPS part */
    double sat_rate[3];         /* 2: deliveries/s with 1 and 2 dispatchers */
};

/* ---- report.c: figures, the table and the JSON ---------------------------- */

/* Start section 'id' ("1a", "2", ...) titled 'title'; prints its header. */
void report_section(const char *id, const char *title);

/* Record figure 'key' of the current section: 'label' for the table, its
 * 'value' and 'unit' ("/s", "ms", "MiB", "" ...); printed at once. */
void report_fig(const char *key, const char *label, double value, const char *unit);

/* A line of text for the current section (table and JSON). */
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current section failed to measure: 'fmt' says why. */
void report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A target: 'name', the measured value, the bound and whether it is met
 * (the benchmark never fails on a target). */
void report_target(const char *name, double measured, const char *unit, const char *bound, bool met);

/* Print the whole table and the targets on stdout and write the JSON to
 * 'path' (with run metadata 'meta', borrowed). Returns how many sections
 * produced no figure (errors are shown, but only missing figures count). */
int report_finish(const char *path, json_t *meta);

/* ---- producer.c: events straight to Kafka (librdkafka) ---------------------- */

struct bench_producer;

/* A producer for 'brokers'; linger in ms. exit(1) on failure. */
struct bench_producer *bprod_new(const char *brokers, int linger_ms, int payload_bytes);
void bprod_free(struct bench_producer *p);

/* Queue one envelope for 'tenant' of 'type' with id "evt_<tag>_<seq>" on
 * 'partition' (-1: by key = tenant). 'data_extra' (may be NULL) is inserted
 * into "data" as is ("\"owner\":\"x\","). The payload carries "bench_ts",
 * microseconds since the epoch at this call. Returns the stamp. */
long long bprod_send(struct bench_producer *p, int32_t partition, const char *tenant, const char *type,
                     const char *tag, long seq, const char *data_extra);

/* Wait until every queued message is acknowledged ('timeout_ms').
 * Returns the number not acknowledged (0 = all there). */
long bprod_flush(struct bench_producer *p, long timeout_ms);

/* Partitions of hookline.events. */
int bprod_partitions(struct bench_producer *p);

/* Callback of bprod_run_rate: send event number 'i'. */
typedef void (*bprod_event_fn)(struct bench_producer *p, long i, void *arg);

/* Open loop: call 'fn' at 'rate' per second for 'duration_ms', whatever
 * the consumers do. Returns how many were sent. */
long bprod_run_rate(struct bench_producer *p, double rate, long duration_ms, bprod_event_fn fn, void *arg);

/* ---- util.c ------------------------------------------------------------------ */

long long bench_now_us(void);             /* CLOCK_MONOTONIC */
long long bench_wall_us(void);            /* CLOCK_REALTIME */

/* The receiver's figures (GET /_bench/stats), new reference or NULL. */
json_t *bench_receiver_stats(struct bench_env *env);
void bench_receiver_reset(struct bench_env *env);
/* Answer every request the receiver holds (/slow/) now, and hold none until
 * the next reset. */
void bench_receiver_release(struct bench_env *env);
long long bench_stat(const json_t *stats, const char *key);

/* Wait until the receiver counts 'ok' >= want_ok (and 'fail' >= want_fail),
 * at most 'timeout_ms'. Returns the last stats (new reference). */
json_t *bench_receiver_wait(struct bench_env *env, long long want_ok, long long want_fail, long timeout_ms);

/* Run one SQL statement with text parameters; -1 with a message on error. */
int bench_sql(PGconn *pg, const char *sql, int nparams, const char *const *params);
/* First column of the first row as a number (-1 on error). */
long long bench_sql_num(PGconn *pg, const char *sql, int nparams, const char *const *params);

/* Insert 'n' webhooks numbered first..first+n-1 with SQL in bulk: webhook i
 * belongs to tenant <tprefix><i % ntenants> (tenants created as needed),
 * subscribes to 'events' (a text[] literal), posts to
 * http://127.0.0.1:<port i % 32><path_prefix>/<i>, or /fail/<i> when
 * fail_every > 0 and i % fail_every == 0; with 'filter' it only matches
 * events whose data.owner is "u_<i>". Returns 0 or -1. */
int bench_seed_webhooks(struct bench_env *env, const char *tag, const char *tprefix, int ntenants, long first,
                        long n, const char *events, const char *path_prefix, int fail_every, bool filter);
/* The same over TLS: https://127.0.0.1:<TLS port i % 32><path_prefix>/<i>
 * (the receiver's certificate is signed by the test CA, which the stack's
 * dispatchers trust through HOOKLINE_CA_FILE); none fail, no filter. */
int bench_seed_webhooks_https(struct bench_env *env, const char *tag, const char *tprefix, int ntenants,
                              long first, long n, const char *events, const char *path_prefix);

/* Stop the dispatchers and start afresh: delete every webhook, pending
 * delivery, lane and attempt record, then insert the probe webhook (tenant
 * probe000) that bench_dispatchers_ready needs. Returns 0 or -1. */
int bench_webhooks_reset(struct bench_env *env);

/* Dispatchers: start one more / stop all (SIGTERM, wait). */
pid_t bench_dispatcher_start(struct bench_env *env);
/* One more with its /metrics on a free port, plus 'extra_env' ("NAME=value",
 * may be NULL). */
pid_t bench_dispatcher_start_metrics(struct bench_env *env, const char *extra_env);
/* GET /metrics of dispatcher 'pid' (the caller frees it), or NULL (not
 * started with metrics, or no answer). */
char *bench_dispatcher_metrics(struct bench_env *env, pid_t pid);
/* The value of 'series' (name and labels exactly as printed) in 'text', or
 * NAN if absent. */
double bench_metric(const char *text, const char *series);
/* The same, read from dispatcher 'pid' now. */
double bench_dispatcher_metric(struct bench_env *env, pid_t pid, const char *series);
void bench_dispatchers_stop(struct bench_env *env);
size_t bench_dispatchers(struct bench_env *env, pid_t *pids, size_t cap);

/* Wait until the running dispatchers together own every partition, each
 * owns some, and a probe event on every partition was delivered. Returns 0
 * or -1 (timeout). */
int bench_dispatchers_ready(struct bench_env *env, struct bench_producer *p, long timeout_ms);

/* Start / stop the benchmark's own hookline-devbroker (env->limit_brokers). */
int bench_devbroker_start(struct bench_env *env);
void bench_devbroker_stop(struct bench_env *env);

/* Produce-to-consume latency of the benchmark's own devbroker alone: open
 * loop at 'rate' for 'ms', one consumer with the dispatcher's settings and
 * fetch.wait.max.ms = 'fetch_wait_ms'. Fills pct[] with p50, p99, p99.9
 * and max in ms. Returns 0, or -1 without samples. */
/* Producers linger as librdkafka does by default, as a backend service's
 * would: the devbroker (librdkafka's mock) returns one message set per
 * partition per fetch, so 1 ms sets cap what it streams near 10,000/s */
#define BENCH_LINGER_MS 5
#define BENCH_FETCH_WAIT_MS 10  /* the dispatchers' (HOOKLINE_KAFKA_FETCH_WAIT's default) */
int bench_kafka_latency(struct bench_env *env, double rate, long ms, int fetch_wait_ms, double pct[4]);

/* VmRSS / VmHWM of 'pid' in KiB (-1 if unknown). */
long bench_proc_kib(pid_t pid, const char *field);
/* User + system CPU time of 'pid' in microseconds (-1 if unknown). */
long long bench_proc_cpu_us(pid_t pid);

/* CPU time (microseconds) of the parts of the stack, and of the machine. */
struct bench_cpu {
    long long dispatchers, receiver, broker, api, postgres;
    long long machine_busy, machine_all;    /* from /proc/stat, all processes */
    long long at_us;
};
void bench_cpu_snap(struct bench_env *env, struct bench_cpu *c);
/* "dispatchers 95 %, postgres 40 %, ..." of one core each, between two snaps. */
void bench_cpu_note(const struct bench_cpu *a, const struct bench_cpu *b, char *out, size_t cap);

/* Wait until 'count_sql' (one number) reaches 'want' (timeout); returns
 * the last value. */
long long bench_sql_wait(PGconn *pg, const char *count_sql, long long want, long timeout_ms);

/* ---- the sections ------------------------------------------------------------ */

void bench_limits(struct bench_env *env);       /* 1a, 1b, 1c */
void bench_e2e(struct bench_env *env);          /* 2 */
void bench_fanout(struct bench_env *env);       /* 3 */
void bench_retry(struct bench_env *env);        /* 5 */
void bench_scale(struct bench_env *env);        /* 4 */
void bench_api(struct bench_env *env);          /* 6 */
void bench_isolation(struct bench_env *env);    /* 7 */
void bench_big_tenant(struct bench_env *env);   /* 8 */
void bench_storage(struct bench_env *env);      /* 9 */
void bench_ordered(struct bench_env *env);      /* 10 */

#endif
