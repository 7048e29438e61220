/* retention.c: drop the day partitions of the attempt log and of the
 * bodies that have aged out, create the coming days' ahead, and delete sent
 * outbox rows, expired idempotency keys, portal sessions and the events
 * of poll endpoints in small batches (see retention.h).
 *
 * Partitions (sql/010_bodies_partitions.sql) go with DETACH PARTITION
 * CONCURRENTLY, which waits for the transactions that still see them and
 * blocks no writer, then DROP TABLE; one left half detached by a failure
 * is finished (FINALIZE) by the next pass. The bodies of a day go one day
 * after its attempts, and only once the pending retries that still refer
 * to them have had them copied into today's partition (hl_bodies_carry).
 *
 * Each batch is one autocommit statement over at most 1000 rows
 * picked through an index, skipping rows another transaction holds (SKIP
 * LOCKED), under a lock_timeout: the job never waits long for anybody and
 * nobody waits long for it. The lock that elects the instance is a session
 * advisory lock, released with the connection.
 */
#include "retention.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "log.h"

#define RETENTION_LOCK_ID "7240003"
#define RETENTION_BATCH "1000"
#define RETENTION_BATCH_ROWS 1000
#define RETENTION_PAUSE_MS 50           /* between batches: let other work in */
#define RETENTION_RECONNECT_MS 5000
#define RETENTION_STANDBY_MS 30000      /* how often a standby instance tries the lock */
#define RETENTION_AHEAD_DAYS "7"        /* partitions made ahead: the job runs at least daily */
#define RETENTION_ROWS_BELOW_MS (2 * 86400000L) /* a retention this short deletes attempts row by row, and
                                                  * drops their days only once this old */

struct retention {
    struct api_ctx *ctx;
    pthread_t thread;
    atomic_bool stop;
    atomic_long attempts, outbox, idempotency_keys, portal_sessions, poll_events, batches, runs, parts_attempts, parts_bodies,
        carried;
    atomic_llong last_run_ms;
    atomic_bool active;
};

/* The statements, each deleting one batch; $1, where 'aged', is
 * HOOKLINE_RETENTION in seconds. The attempts' only when the retention is
 * under RETENTION_ROWS_BELOW_MS: whole days otherwise go as partitions
 * (through the BRIN index on sent_at: no order, any 1000 aged rows). */
static const struct {
    const char *what;
    bool aged;
    const char *sql;
} retention_steps[] = {
    { "attempts", true,
      "DELETE FROM attempts a USING (SELECT tableoid, ctid FROM attempts "
      "WHERE sent_at < now() - make_interval(secs => $1::double precision) "
      "LIMIT " RETENTION_BATCH " FOR UPDATE SKIP LOCKED) o WHERE a.tableoid = o.tableoid AND a.ctid = o.ctid" },
    { "outbox", true,
      "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
      "WHERE sent_at < now() - make_interval(secs => $1::double precision) "
      "ORDER BY sent_at LIMIT " RETENTION_BATCH " FOR UPDATE SKIP LOCKED)" },
    /* the idempotency window is fixed by the API contract: 24 h */
    { "idempotency_keys", false,
      "DELETE FROM idempotency_keys k USING (SELECT tenant_id, key FROM idempotency_keys "
      "WHERE created_at < now() - interval '24 hours' "
      "ORDER BY created_at LIMIT " RETENTION_BATCH " FOR UPDATE SKIP LOCKED) o "
      "WHERE k.tenant_id = o.tenant_id AND k.key = o.key" },
    /* a portal session is kept a day past its expiry, for who-did-what */
    { "portal_sessions", false,
      "DELETE FROM portal_sessions WHERE id IN (SELECT id FROM portal_sessions "
      "WHERE expires_at < now() - interval '24 hours' "
      "ORDER BY expires_at LIMIT " RETENTION_BATCH " FOR UPDATE SKIP LOCKED)" },
    /* poll endpoints' events, acknowledged or not, as old as the attempt log
     * keeps (sql/014_poll_endpoints.sql: the cursors below go stale), then
     * those of deleted webhooks */
    { "poll_events", true, "SELECT hl_poll_retain($1::double precision)" },
    { "poll_forgotten", false, "SELECT hl_poll_forget()" },
    /* the hourly delivery health (sql/015) goes with the attempts it counts:
     * an hour once wholly older than HOOKLINE_RETENTION */
    { "webhook_stats", true,
      "DELETE FROM webhook_stats s USING (SELECT webhook_id, hour FROM webhook_stats "
      "WHERE hour < now() - make_interval(secs => $1::double precision) - interval '1 hour' "
      "LIMIT " RETENTION_BATCH " FOR UPDATE SKIP LOCKED) o WHERE s.webhook_id = o.webhook_id AND s.hour = o.hour" },
};

/* Sleep up to 'ms', waking early on stop. */
static void retention_wait(struct retention *rt, long ms)
{
    for (long waited = 0; waited < ms && !atomic_load(&rt->stop); waited += 100)
        nanosleep(&(struct timespec){ .tv_nsec = (ms - waited < 100 ? ms - waited : 100) * 1000000L }, NULL);
}

/* Delete one kind of row in batches until none is left. Returns rows
 * deleted, or -1 on a database failure. */
static long retention_step(struct retention *rt, PGconn *pg, size_t i, const char *age)
{
    long total = 0;
    const char *params[1] = { age };
    while (!atomic_load(&rt->stop)) {
        struct hl_error err = { 0 };
        PGresult *res = db_query(pg, &err, retention_steps[i].sql, retention_steps[i].aged ? 1 : 0, params);
        if (res == NULL) {
            log_error("retention: deleting old %s: %s", retention_steps[i].what, err.msg);
            return -1;
        }
        /* a DELETE says how many rows; a function returns the count */
        long n = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1
                     ? atol(PQgetvalue(res, 0, 0)) : atol(PQcmdTuples(res));
        PQclear(res);
        atomic_fetch_add(&rt->batches, 1);
        total += n;
        if (n < RETENTION_BATCH_ROWS)
            break;
        retention_wait(rt, RETENTION_PAUSE_MS);
    }
    return total;
}

/* One statement in autocommit (DETACH ... CONCURRENTLY refuses a
 * transaction block). Returns 0 or -1, logged. */
static int retention_ddl(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc < 0)
        log_error("retention: %s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

/* Drop the day partitions of 'parent' (attempts or bodies) that end
 * 'lag' days or more before the day of the retention cutoff ('age'
 * seconds ago). Returns how many, or -1 on a database failure. */
static long retention_drop_days(struct retention *rt, PGconn *pg, const char *parent, const char *age,
                                const char *lag)
{
    struct hl_error err = { 0 };
    const char *params[3] = { parent, age, lag };
    PGresult *res = db_query(pg, &err,
        "SELECT c.relname, i.inhdetachpending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = $1::regclass AND c.relname ~ ('^' || $1 || '_p[0-9]{8}$') "
        "AND to_date(right(c.relname, 8), 'YYYYMMDD') + 1 + $3::int "
        "    <= hl_utc_day(now() - make_interval(secs => $2::double precision)) "
        "ORDER BY c.relname", 3, params);
    if (res == NULL) {
        log_error("retention: listing the partitions of %s: %s", parent, err.msg);
        return -1;
    }
    long dropped = 0;
    for (int i = 0; i < PQntuples(res) && !atomic_load(&rt->stop); i++) {
        const char *name = PQgetvalue(res, i, 0);
        char *ident = PQescapeIdentifier(pg, name, strlen(name));
        char sql[300];
        int rc = -1;
        if (ident != NULL) {
            snprintf(sql, sizeof(sql), "ALTER TABLE %s DETACH PARTITION %s %s", parent, ident,
                     strcmp(PQgetvalue(res, i, 1), "t") == 0 ? "FINALIZE" : "CONCURRENTLY");
            rc = retention_ddl(pg, sql);
            snprintf(sql, sizeof(sql), "DROP TABLE %s", ident);
            if (rc == 0)
                rc = retention_ddl(pg, sql);
            PQfreemem(ident);
        }
        if (rc < 0) {
            PQclear(res);
            return -1;
        }
        log_info("retention: dropped partition %s", name);
        dropped++;
    }
    PQclear(res);
    return dropped;
}

/* The day partitions: the coming days' made, the aged attempts' dropped,
 * the bodies pending retries still need carried on, then the aged
 * bodies' dropped a day after their attempts. Returns 0 or -1. */
static int retention_days(struct retention *rt, PGconn *pg, const char *age)
{
    struct hl_error err = { 0 };
    const char *params[1] = { age };
    if (db_exec(pg, &err, "SELECT hl_partitions_ensure(" RETENTION_AHEAD_DAYS ")", 0, NULL) < 0) {
        log_error("retention: making partitions ahead: %s", err.msg);
        return -1;
    }
    long parts = retention_drop_days(rt, pg, "attempts", age, "0");
    if (parts < 0)
        return -1;
    atomic_fetch_add(&rt->parts_attempts, parts);
    PGresult *res = db_query(pg, &err,
        "SELECT hl_bodies_carry(hl_utc_day(now() - make_interval(secs => $1::double precision)) - 1)", 1, params);
    if (res == NULL) {
        log_error("retention: carrying the bodies of pending retries on: %s", err.msg);
        return -1;
    }
    long carried = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    atomic_fetch_add(&rt->carried, carried);
    if (carried > 0)
        log_info("retention: %ld pending retries had their body carried into today's partition", carried);
    parts = retention_drop_days(rt, pg, "bodies", age, "1");
    if (parts < 0)
        return -1;
    atomic_fetch_add(&rt->parts_bodies, parts);
    return 0;
}

/* One pass over every kind. Returns 0, or -1 on a database failure. */
static int retention_pass(struct retention *rt, PGconn *pg)
{
    char age[32], days_age[32];
    long deleted[sizeof(retention_steps) / sizeof(retention_steps[0])] = { 0 };
    long ms = rt->ctx->cfg.retention_ms;
    snprintf(age, sizeof(age), "%.3f", (double)ms / 1000.0);
    snprintf(days_age, sizeof(days_age), "%.3f",
             (double)(ms < RETENTION_ROWS_BELOW_MS ? RETENTION_ROWS_BELOW_MS : ms) / 1000.0);
    /* a partition that cannot go now (a lock held past lock_timeout) goes at the next pass */
    if (retention_days(rt, pg, days_age) < 0 && PQstatus(pg) != CONNECTION_OK)
        return -1;
    for (size_t i = 0; i < sizeof(retention_steps) / sizeof(retention_steps[0]); i++) {
        if (i == 0 && rt->ctx->cfg.retention_ms >= RETENTION_ROWS_BELOW_MS)
            continue;
        deleted[i] = retention_step(rt, pg, i, age);
        if (deleted[i] < 0)
            return -1;
    }
    atomic_fetch_add(&rt->attempts, deleted[0]);
    atomic_fetch_add(&rt->outbox, deleted[1]);
    atomic_fetch_add(&rt->idempotency_keys, deleted[2]);
    atomic_fetch_add(&rt->portal_sessions, deleted[3]);
    atomic_fetch_add(&rt->poll_events, deleted[4] + deleted[5]);
    atomic_fetch_add(&rt->runs, 1);
    atomic_store(&rt->last_run_ms, hl_time_now_ms());
    if (deleted[4] || deleted[5])
        log_info("retention: deleted %ld events of poll endpoints older than %s s and %ld of deleted webhooks",
                 deleted[4], age, deleted[5]);
    if (deleted[6])
        log_info("retention: deleted %ld hours of webhook delivery health older than %s s", deleted[6], age);
    if (deleted[0] || deleted[1] || deleted[2] || deleted[3])
        log_info("retention: deleted %ld attempt records and %ld sent outbox rows older than %s s, "
                 "%ld idempotency keys older than 24 h, %ld portal sessions expired over 24 h ago",
                 deleted[0], deleted[1], age, deleted[2], deleted[3]);
    return 0;
}

/* The job's session: long statements (DB_TIMEOUT_BATCH_MS), but it fails
 * fast rather than queue behind a long lock; both are startup options, so
 * they survive a reconnect. NULL with the reason in 'err'. */
static PGconn *retention_connect(struct retention *rt, struct hl_error *err)
{
    struct db_params *params = db_params_new(rt->ctx->cfg.database_url, DB_TIMEOUT_BATCH_MS, err);
    if (params == NULL)
        return NULL;
    PGconn *pg = NULL;
    if (db_params_option(params, "lock_timeout", "2s") < 0)
        hl_error_set(err, HL_ENOMEM, "out of memory");
    else
        pg = db_connect_params(params, err);
    db_params_free(params);
    return pg;
}

static void *retention_main(void *arg)
{
    struct retention *rt = arg;
    PGconn *pg = NULL;
    unsigned resets = 0;    /* db_resets() when the lock was taken */
    while (!atomic_load(&rt->stop)) {
        struct hl_error err = { 0 };
        if (pg == NULL) {
            atomic_store(&rt->active, false);
            pg = retention_connect(rt, &err);
            if (pg == NULL) {
                log_error("retention: %s", err.msg);
                retention_wait(rt, RETENTION_RECONNECT_MS);
                continue;
            }
        }
        if (!atomic_load(&rt->active)) {
            PGresult *res = db_query(pg, &err, "SELECT pg_try_advisory_lock(" RETENTION_LOCK_ID ")", 0, NULL);
            bool got = res && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
            PQclear(res);
            if (res == NULL) {
                PQfinish(pg);
                pg = NULL;
                continue;
            }
            if (!got) {
                retention_wait(rt, rt->ctx->cfg.retention_interval_ms < RETENTION_STANDBY_MS
                                       ? rt->ctx->cfg.retention_interval_ms : RETENTION_STANDBY_MS);
                continue;
            }
            atomic_store(&rt->active, true);
            resets = db_resets(pg);
            log_info("retention: this process deletes records older than %ld s every %ld s",
                     rt->ctx->cfg.retention_ms / 1000, rt->ctx->cfg.retention_interval_ms / 1000);
        }
        /* a session reconnected on the way lost the lock: start afresh */
        if (db_resets(pg) != resets || retention_pass(rt, pg) < 0) {
            /* the lock goes with the session; whoever reconnects first takes it */
            PQfinish(pg);
            pg = NULL;
            retention_wait(rt, RETENTION_RECONNECT_MS);
            continue;
        }
        retention_wait(rt, rt->ctx->cfg.retention_interval_ms);
    }
    PQfinish(pg);
    atomic_store(&rt->active, false);
    return NULL;
}

struct retention *retention_start(struct api_ctx *ctx, struct hl_error *err)
{
    struct retention *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        hl_error_set(err, HL_ENOMEM, "retention: out of memory");
        return NULL;
    }
    rt->ctx = ctx;
    if (pthread_create(&rt->thread, NULL, retention_main, rt) != 0) {
        free(rt);
        hl_error_set(err, HL_ENOMEM, "retention: cannot start thread");
        return NULL;
    }
    return rt;
}

void retention_stop(struct retention *rt)
{
    if (rt == NULL)
        return;
    atomic_store(&rt->stop, true);
    pthread_join(rt->thread, NULL);
    free(rt);
}

void retention_stats_get(struct retention *rt, struct retention_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (rt == NULL)
        return;
    out->attempts = atomic_load(&rt->attempts);
    out->outbox = atomic_load(&rt->outbox);
    out->idempotency_keys = atomic_load(&rt->idempotency_keys);
    out->portal_sessions = atomic_load(&rt->portal_sessions);
    out->poll_events = atomic_load(&rt->poll_events);
    out->batches = atomic_load(&rt->batches);
    out->runs = atomic_load(&rt->runs);
    out->partitions_attempts = atomic_load(&rt->parts_attempts);
    out->partitions_bodies = atomic_load(&rt->parts_bodies);
    out->carried = atomic_load(&rt->carried);
    out->last_run_ms = atomic_load(&rt->last_run_ms);
    out->active = atomic_load(&rt->active);
}
