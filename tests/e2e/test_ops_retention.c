/* test_ops_retention.c: the api's retention job.
 *
 * With HOOKLINE_RETENTION=1h, attempt records and sent outbox rows older
 * than an hour disappear, in statements of at most 1000 rows, while newer
 * ones, unsent outbox rows and a row another transaction holds stay;
 * idempotency keys older than 24 h go too. The attempt log and the bodies
 * are partitioned by day: the coming week's partitions are made ahead, a
 * day wholly older than the retention (and two days) is dropped, its
 * bodies a day later, and a pending retry whose body lives in such a day
 * keeps it, carried into today's partition. The hours of delivery health
 * (webhook_stats) wholly older than the retention go, this hour's stays.
 * One api holds the job's lock;
 * /metrics counts what it deleted; a bad HOOKLINE_RETENTION stops the api at
 * start with one line naming it.
 */
#include "ops_e2e.h"

#define OLD_ATTEMPTS 2500
#define OLD_SENT_OUTBOX 1200

static long db_long(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    long v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : -1;
    if (v < 0)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
    PQclear(res);
    return v;
}

static void db_exec(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
    CHECK_FATAL(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);
}

/* 'n' attempt records sent 'age' ago, ids <prefix>_<i>. */
static void attempts_insert(PGconn *pg, const char *prefix, int n, const char *age)
{
    char sql[1024];
    /* the day's partition: only today's and the coming days' are made ahead */
    snprintf(sql, sizeof(sql), "SELECT hl_partition_add('attempts', hl_utc_day(now() - interval '%s'))", age);
    db_exec(pg, sql);
    snprintf(sql, sizeof(sql),
             "INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
             "attempt, status_code, success, sent_at, duration_ms) "
             "SELECT '%s_' || i, 'ret', 'wh_ret', 'ep_ret', 'https://example.org/', 'evt_' || i, 'booking.scheduled', "
             "1, 200, true, now() - interval '%s', 12 FROM generate_series(1, %d) i",
             prefix, age, n);
    db_exec(pg, sql);
}

static double api_metric(struct hx_stack *st, const char *series)
{
    char *text = ops_scrape(hx_api_url(st));
    double v = text ? ops_metric(text, series) : NAN;
    free(text);
    return v;
}

static void check_bad_value(struct hx_stack *st)
{
    OPS_SECTION("a bad HOOKLINE_RETENTION stops the api at start, naming the variable");
    char db[1200];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(st));
    const char *const env[] = { db, "HOOKLINE_KAFKA_BROKERS=127.0.0.1:1", "HOOKLINE_RETENTION=30 days", NULL };
    const char *const args[] = { "--migrate", NULL };
    struct ops_run run;
    ops_run_prog(hx_artifacts_dir(st), "hookline-api", args, env, 20000, &run);
    CHECK_EQ_INT(run.status, 1);
    CHECK(strstr(run.err, "HOOKLINE_RETENTION") != NULL);
    const char *const env2[] = { db, "HOOKLINE_KAFKA_BROKERS=127.0.0.1:1", "HOOKLINE_RETENTION_INTERVAL=0s", NULL };
    ops_run_prog(hx_artifacts_dir(st), "hookline-api", args, env2, 20000, &run);
    CHECK_EQ_INT(run.status, 1);
    CHECK(strstr(run.err, "HOOKLINE_RETENTION_INTERVAL") != NULL);
}

int main(void)
{
    /* the api starts once the rows are in place, so no pass can run before
     * the test holds its row; then the job runs at once and every second */
    struct hx_stack_opts opts = { .no_api = true,
                                  .env = { "HOOKLINE_RETENTION=1h", "HOOKLINE_RETENTION_INTERVAL=1s", NULL } };
    struct hx_stack *st = hx_stack_start(&opts);
    char db[1200];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(st));
    const char *const env[] = { db, "HOOKLINE_KAFKA_BROKERS=127.0.0.1:1", NULL };
    const char *const args[] = { "--migrate", NULL };
    struct ops_run run;
    ops_run_prog(hx_artifacts_dir(st), "hookline-api", args, env, 30000, &run);
    if (run.status != 0)
        fprintf(stderr, "hookline-api --migrate: %s", run.err);
    CHECK_FATAL(run.status == 0);
    PGconn *pg = hx_pg_connect(st);
    PGconn *holder = hx_pg_connect(st);

    OPS_SECTION("old and new rows: attempts, sent outbox rows, idempotency keys");
    db_exec(pg, "INSERT INTO tenants (id, name) VALUES ('ret', 'Retention')");
    attempts_insert(pg, "dlv_old", OLD_ATTEMPTS, "2 hours");
    attempts_insert(pg, "dlv_new", 3, "50 minutes");
    attempts_insert(pg, "dlv_held", 1, "3 hours");
    /* outbox rows are written 'sent' so the relay leaves them alone */
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO outbox (webhook_id, tenant_id, kind, payload, created_at, sent_at) "
             "SELECT 'wh_ret', 'ret', 'webhook.updated', '{}', now() - interval '3 hours', now() - interval '2 hours' "
             "FROM generate_series(1, %d)", OLD_SENT_OUTBOX);
    db_exec(pg, sql);
    db_exec(pg, "INSERT INTO outbox (webhook_id, tenant_id, kind, payload, created_at, sent_at) VALUES "
                "('wh_ret', 'ret', 'webhook.updated', '{\"fresh\":true}', now() - interval '2 hours', "
                "now() - interval '10 minutes')");
    db_exec(pg, "INSERT INTO idempotency_keys (tenant_id, key, status, response, created_at) VALUES "
                "('ret', 'old-1', 202, '{}', now() - interval '25 hours'), "
                "('ret', 'old-2', 202, '{}', now() - interval '30 hours'), "
                "('ret', 'old-3', NULL, NULL, now() - interval '48 hours'), "
                "('ret', 'new-1', 202, '{}', now() - interval '23 hours')");
    /* the hourly delivery health (015): 1200 hours of webhooks from 3 hours ago, and this hour's */
    db_exec(pg, "INSERT INTO webhook_stats (webhook_id, hour, tenant_id, succeeded, failed, max_ms, hist) "
                "SELECT 'wh_ret_old_' || g, date_trunc('hour', now() - interval '3 hours', 'UTC'), 'ret', 1, 0, 7, "
                "hl_stats_hist('{7}') FROM generate_series(1, 1200) g");
    db_exec(pg, "INSERT INTO webhook_stats (webhook_id, hour, tenant_id, succeeded, failed, max_ms, hist) "
                "VALUES ('wh_ret_new', date_trunc('hour', now(), 'UTC'), 'ret', 1, 0, 7, hl_stats_hist('{7}'))");
    /* held by another transaction while the job runs: skipped, not waited for */
    db_exec(holder, "BEGIN");
    db_exec(holder, "SELECT id FROM attempts WHERE id = 'dlv_held_1' FOR UPDATE");

    CHECK_FATAL(hx_api_restart(st) == 0);
    OPS_SECTION("one api holds the job's advisory lock");
    CHECK(HX_WAIT(db_long(pg, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7240003 "
                              "AND granted") == 1, 10000));
    CHECK(HX_WAIT(api_metric(st, "hookline_retention_active") == 1, 10000));

    OPS_SECTION("the old rows go, in statements of at most 1000 rows; the new and the held ones stay");
    CHECK(HX_WAIT(db_long(pg, "SELECT count(*) FROM attempts WHERE id LIKE 'dlv_old_%'") == 0, 20000));
    CHECK(HX_WAIT(db_long(pg, "SELECT count(*) FROM outbox WHERE sent_at < now() - interval '1 hour'") == 0, 20000));
    CHECK(HX_WAIT(db_long(pg, "SELECT count(*) FROM idempotency_keys WHERE key LIKE 'old-%'") == 0, 20000));
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM attempts WHERE id LIKE 'dlv_new_%'"), 3);
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM attempts WHERE id = 'dlv_held_1'"), 1);
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM outbox WHERE payload = '{\"fresh\":true}'"), 1);
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM idempotency_keys WHERE key = 'new-1'"), 1);
    CHECK(HX_WAIT(db_long(pg, "SELECT count(*) FROM webhook_stats WHERE webhook_id LIKE 'wh_ret_old_%'") == 0, 20000));
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM webhook_stats WHERE webhook_id = 'wh_ret_new'"), 1);
    CHECK(HX_WAIT(api_metric(st, "hookline_retention_deleted_total{table=\"attempts\"}") == OLD_ATTEMPTS, 5000));
    CHECK_EQ_INT(api_metric(st, "hookline_retention_deleted_total{table=\"outbox\"}"), OLD_SENT_OUTBOX);
    CHECK_EQ_INT(api_metric(st, "hookline_retention_deleted_total{table=\"idempotency_keys\"}"), 3);
    /* 2500 rows need three statements at least, 1200 two */
    CHECK(api_metric(st, "hookline_retention_batches_total") >= 5);
    CHECK(api_metric(st, "hookline_retention_runs_total") >= 1);
    CHECK(api_metric(st, "hookline_retention_last_run_timestamp_seconds") > 1.7e9);

    OPS_SECTION("the held row goes once its transaction ends");
    db_exec(holder, "COMMIT");
    CHECK(HX_WAIT(db_long(pg, "SELECT count(*) FROM attempts WHERE id = 'dlv_held_1'") == 0, 10000));
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM attempts WHERE id LIKE 'dlv_new_%'"), 3);

    OPS_SECTION("whole days go as partitions; a pending retry keeps its body, carried into today's");
    /* in one transaction: no pass sees the day before its rows */
    db_exec(pg, "BEGIN");
    db_exec(pg, "SELECT hl_partition_add('attempts', hl_utc_day(now()) - 40), "
                "hl_partition_add('bodies', hl_utc_day(now()) - 40), hl_partition_add('bodies', hl_utc_day(now()) - 3)");
    db_exec(pg, "INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
                "attempt, status_code, success, sent_at, duration_ms) "
                "SELECT 'dlv_day_' || i, 'ret', 'wh_ret', 'ep_ret', 'https://example.org/', 'evt_day', "
                "'booking.scheduled', i, 500, false, now() - interval '40 days', 12 FROM generate_series(1, 3) i");
    db_exec(pg, "INSERT INTO bodies (tenant_id, event_id, day, body) VALUES "
                "('ret', 'evt_day', hl_utc_day(now()) - 40, '{\"day\":40}'), "
                "('ret', 'evt_gone', hl_utc_day(now()) - 40, '{\"gone\":true}'), "
                "('ret', 'evt_recent', hl_utc_day(now()) - 3, '{\"day\":3}')");
    db_exec(pg, "INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, attempt, due_at, "
                "body_day) VALUES ('ret', 'wh_ret', 'ep_ret', 'evt_day', 'booking.scheduled', 4, "
                "now() + interval '1 hour', hl_utc_day(now()) - 40)");
    db_exec(pg, "COMMIT");
    CHECK(HX_WAIT(db_long(pg, "SELECT count(*) FROM pg_class WHERE relname IN ("
                              "'attempts_p' || to_char(hl_utc_day(now()) - 40, 'YYYYMMDD'), "
                              "'bodies_p' || to_char(hl_utc_day(now()) - 40, 'YYYYMMDD'))") == 0, 20000));
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM attempts WHERE id LIKE 'dlv_day_%'"), 0);
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM bodies WHERE event_id = 'evt_gone'"), 0);
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM retries r JOIN bodies b ON b.tenant_id = r.tenant_id "
                             "AND b.event_id = r.event_id AND b.day = r.body_day "
                             "WHERE r.event_id = 'evt_day' AND r.body_day = hl_utc_day(now()) "
                             "AND b.body = '{\"day\":40}'"), 1);
    /* three days old: older than the retention, but not yet two whole days past it */
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM bodies WHERE event_id = 'evt_recent'"), 1);
    CHECK(api_metric(st, "hookline_retention_partitions_dropped_total{table=\"attempts\"}") >= 1);
    CHECK(api_metric(st, "hookline_retention_partitions_dropped_total{table=\"bodies\"}") >= 1);
    CHECK(api_metric(st, "hookline_retention_bodies_carried_total") >= 1);
    OPS_SECTION("the coming week's partitions are made ahead");
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM generate_series(0, 7) i, (VALUES ('attempts'), ('bodies')) t(n) "
                             "WHERE to_regclass(t.n || '_p' || to_char(hl_utc_day(now()) + i, 'YYYYMMDD')) "
                             "IS NOT NULL"), 16);

    OPS_SECTION("the delivery log's filters have their indexes");
    CHECK_EQ_INT(db_long(pg, "SELECT count(*) FROM pg_indexes WHERE tablename = 'attempts' AND indexname IN "
                             "('attempts_webhook_type_sent', 'attempts_webhook_failed_sent', 'attempts_sent_at')"), 3);

    check_bad_value(st);
    PQfinish(holder);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
