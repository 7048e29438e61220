/* outbox_relay.c: publish lifecycle events from the outbox table to
 * hookline.webhooks, in seq order, keyed by webhook id; and the
 * operational events the dispatchers append there (kind 'event', the
 * payload a whole envelope: sql/012_operational_events.sql) to
 * hookline.events, keyed by their tenant like any tenant's event.
 *
 * A row is marked sent only after Kafka acknowledged it, so a crash or an
 * unreachable broker delays events but never loses one; a row may be
 * published twice (at least once), which consumers absorb by version.
 * One relay works at a time across every api process (session advisory
 * lock); the others stand by and take over when its session ends.
 */
#include "api.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define RELAY_LOCK_ID "7240002"

struct outbox_relay {
    struct api_ctx *ctx;
    pthread_t thread;
    atomic_bool stop;
    atomic_long backlog;
};

/* Wait up to 'ms' for a NOTIFY on 'pg' (NULL: just wait), waking early on stop. */
static void relay_wait(struct outbox_relay *relay, PGconn *pg, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&relay->stop); waited += 100) {
        if (pg != NULL) {
            struct pollfd pfd = { .fd = PQsocket(pg), .events = POLLIN };
            if (poll(&pfd, 1, 100) > 0) {
                PQconsumeInput(pg);
                PGnotify *n;
                bool woke = false;
                while ((n = PQnotifies(pg)) != NULL) {
                    PQfreemem(n);
                    woke = true;
                }
                if (woke)
                    return;
            }
        } else {
            nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
        }
    }
}

/* Publish one batch. Returns rows published, 0 if none were due, -1 on a
 * database failure or a session that was reconnected on the way (and so
 * lost the relay's lock: start afresh), -2 if Kafka refused some (back
 * off). 'resets' is db_resets() when the lock was taken. */
static int relay_pass(struct outbox_relay *relay, PGconn *pg, unsigned resets)
{
    struct hl_error err = { 0 };
    PGresult *res = db_query(pg, &err,
        "SELECT seq, CASE WHEN kind = 'event' THEN tenant_id ELSE webhook_id END, payload::text, kind = 'event' "
        "FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 500", 0, NULL);
    if (res == NULL) {
        log_error("outbox relay: %s", err.msg);
        return -1;
    }
    if (db_resets(pg) != resets) {
        log_warn("outbox relay: the database session was reconnected and its lock is gone; standing by");
        PQclear(res);
        return -1;
    }
    int n = PQntuples(res);
    atomic_store(&relay->backlog, n);
    if (n == 0) {
        PQclear(res);
        return 0;
    }
    struct kafka_msg *msgs = calloc((size_t)n, sizeof(*msgs));
    int *results = calloc((size_t)n, sizeof(*results));
    char *seqs = malloc((size_t)n * 24 + 3);
    int rc = -1;
    if (msgs == NULL || results == NULL || seqs == NULL)
        goto out;
    for (int i = 0; i < n; i++) {
        msgs[i] = (struct kafka_msg){
            .topic = strcmp(PQgetvalue(res, i, 3), "t") == 0 ? HL_TOPIC_EVENTS : HL_TOPIC_WEBHOOKS,
            .key = PQgetvalue(res, i, 1), .key_len = (size_t)PQgetlength(res, i, 1),
            .value = PQgetvalue(res, i, 2), .len = (size_t)PQgetlength(res, i, 2),
        };
    }
    size_t acked = kafka_producer_send(relay->ctx->kp, msgs, (size_t)n, results);
    size_t len = 0;
    seqs[len++] = '{';
    for (int i = 0; i < n; i++) {
        if (results[i] == 0)
            len += (size_t)sprintf(seqs + len, "%s%s", len > 1 ? "," : "", PQgetvalue(res, i, 0));
    }
    seqs[len++] = '}';
    seqs[len] = '\0';
    if (acked > 0) {
        const char *params[1] = { seqs };
        if (db_exec(pg, &err, "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", 1, params) < 0) {
            /* published but not marked: they go out again, consumers dedupe by version */
            log_error("outbox relay: marking %zu rows sent failed: %s", acked, err.msg);
            goto out;
        }
    }
    atomic_store(&relay->backlog, n - (long)acked);
    rc = acked == (size_t)n ? n : -2;
    if (rc == -2)
        log_warn("outbox relay: %zu of %d lifecycle events not acknowledged by Kafka; retrying", (size_t)n - acked, n);
out:
    free(seqs);
    free(results);
    free(msgs);
    PQclear(res);
    return rc;
}

static void *relay_main(void *arg)
{
    struct outbox_relay *relay = arg;
    PGconn *pg = NULL;
    bool leader = false;
    unsigned resets = 0;
    while (!atomic_load(&relay->stop)) {
        struct hl_error err = { 0 };
        if (pg == NULL) {
            pg = db_connect(relay->ctx->cfg.database_url, &err);
            if (pg == NULL || db_exec(pg, &err, "LISTEN hookline_outbox", 0, NULL) < 0) {
                log_error("outbox relay: %s", err.msg);
                PQfinish(pg);
                pg = NULL;
                relay_wait(relay, NULL, 1000);
                continue;
            }
            leader = false;
        }
        if (!leader) {
            PGresult *res = db_query(pg, &err, "SELECT pg_try_advisory_lock(" RELAY_LOCK_ID ")", 0, NULL);
            leader = res && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
            resets = db_resets(pg);
            PQclear(res);
            if (!leader) {
                relay_wait(relay, NULL, 1000);
                continue;
            }
            log_info("outbox relay: this process publishes lifecycle events");
        }
        int rc = relay_pass(relay, pg, resets);
        if (rc == 0) {
            relay_wait(relay, pg, 1000);
        } else if (rc == -1) {
            PQfinish(pg);
            pg = NULL;
            relay_wait(relay, NULL, 1000);
        } else if (rc == -2) {
            relay_wait(relay, NULL, 1000);
        }
    }
    PQfinish(pg); /* ends the session and with it the advisory lock */
    return NULL;
}

struct outbox_relay *outbox_relay_start(struct api_ctx *ctx, struct hl_error *err)
{
    struct outbox_relay *relay = calloc(1, sizeof(*relay));
    if (relay == NULL) {
        hl_error_set(err, HL_ENOMEM, "outbox relay: out of memory");
        return NULL;
    }
    relay->ctx = ctx;
    if (pthread_create(&relay->thread, NULL, relay_main, relay) != 0) {
        free(relay);
        hl_error_set(err, HL_ENOMEM, "outbox relay: cannot start thread");
        return NULL;
    }
    return relay;
}

void outbox_relay_stop(struct outbox_relay *relay)
{
    if (relay == NULL)
        return;
    atomic_store(&relay->stop, true);
    pthread_join(relay->thread, NULL);
    free(relay);
}

long outbox_relay_backlog(struct outbox_relay *relay)
{
    return relay ? atomic_load(&relay->backlog) : 0;
}
