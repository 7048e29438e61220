/* retention.h: the api's background job that forgets old rows.
 *
 * Every HOOKLINE_RETENTION_INTERVAL it makes the attempt log's and the
 * bodies' day partitions for the coming week and drops those wholly older
 * than HOOKLINE_RETENTION (the bodies' one day later, once pending retries
 * have theirs carried on); a retention under two days also deletes the
 * aged attempt records of the day. Sent outbox rows older than
 * HOOKLINE_RETENTION, idempotency keys older than 24 h and portal sessions expired over
 * 24 h ago go in batches
 * of at most 1000 rows per statement with a pause between batches, so no
 * statement holds locks for long and the delivery log stays fast. One api instance of the deployment does it at a time
 * (session advisory lock on the job's own connection); the others stand by.
 */
#ifndef HL_RETENTION_H
#define HL_RETENTION_H

#include <stdbool.h>

#include "api.h"

struct retention;

/* What the job has done since this process started (for /metrics). */
struct retention_stats {
    long attempts;          /* attempt records deleted */
    long outbox;            /* sent outbox rows deleted */
    long idempotency_keys;  /* expired idempotency keys deleted */
    long portal_sessions;   /* portal sessions deleted a day after their expiry */
    long poll_events;       /* events of poll endpoints deleted (aged, or of deleted webhooks) */
    long batches;           /* DELETE statements run (each at most 1000 rows) */
    long runs;              /* passes completed by this process */
    long partitions_attempts; /* day partitions of the attempt log dropped */
    long partitions_bodies;   /* day partitions of the bodies dropped */
    long carried;             /* pending retries whose body was carried into today's partition */
    long long last_run_ms;  /* unix ms of the last completed pass; 0 = none */
    bool active;            /* this process holds the lock and runs the job */
};

/* Start the job's thread ('ctx' borrowed, must outlive it). Returns NULL
 * with the reason in 'err' if the thread cannot start. */
struct retention *retention_start(struct api_ctx *ctx, struct hl_error *err);

/* Stop the thread (it ends the batch in progress) and free 'rt'. NULL is
 * a no-op. */
void retention_stop(struct retention *rt);

/* Copy the counters into 'out' (zeros when 'rt' is NULL). Any thread. */
void retention_stats_get(struct retention *rt, struct retention_stats *out);

#endif
