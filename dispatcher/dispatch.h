/* dispatch.h: the dispatcher's state and its event loop. */
#ifndef HL_DISPATCH_H
#define HL_DISPATCH_H

#include <signal.h>

#include "dispatcher.h"
#include "lifecycle.h"
#include "tracker.h"

struct metrics;

struct dispatch_stats {
    long events;            /* messages consumed from hookline.events */
    long malformed;         /* skipped: not an envelope */
    long unknown_tenant;    /* skipped: no such tenant */
    long lost;              /* skipped: offsets Kafka no longer held when we got there */
    long delivered;         /* attempts that succeeded */
    long retried;           /* failed attempts with a retry scheduled */
    long failed;            /* failed for good */
    long recorded;          /* attempts written to PostgreSQL */
    long spilled;           /* deliveries from Kafka deferred to their slow lane */
};

struct dispatcher {
    struct hl_config cfg;
    struct dest_policy policy;
    char name[128];
    struct secretbox *sb;       /* HOOKLINE_SECRETS_KEY: opens the webhooks' secrets */
    struct sub_index *idx;
    struct lifecycle *lc;
    struct tracker *tr;
    rd_kafka_t *rk;             /* hookline.events, group hookline-dispatchers */
    struct queue *q;            /* fast lanes */
    struct lanes *lanes;        /* slow lanes this process leases */
    struct recent *recent;      /* events read a moment ago (recent.c) */
    struct deliver *dv;
    struct attempts *at;
    struct metrics *metrics;    /* NULL when HOOKLINE_METRICS_PORT=0 */
    size_t max_waiting;         /* stop reading Kafka above this many queued deliveries */
    bool flush_now;             /* hand the attempt records over at once (an ordered lane waits) */
    bool paused;                /* partitions paused: over the mark for long */
    long long over_since_ms;    /* over the mark since; 0 = under it */
    volatile sig_atomic_t *stop;
    long long next_resync_ms, next_commit_ms, next_stats_ms;
    long long next_sync_ms;     /* the index's next sync with new webhooks */
    long long synced_ms;        /* when the last complete one was sent */
    long long sync_soon_ms;     /* the next while the events kept fill half their bound */
    struct dispatch_stats stats;
};

/* Set up everything ('cfg' copied); NULL with the reason in 'err'. */
struct dispatcher *dispatch_new(const struct hl_config *cfg, volatile sig_atomic_t *stop, struct hl_error *err);

/* Run until *stop is set, then finish in-flight work, record it, commit
 * and leave the group. Returns 0 on a clean stop. */
int dispatch_run(struct dispatcher *dsp);

void dispatch_free(struct dispatcher *dsp);

/* ---- shared by dispatch.c and dispatch_lanes.c ---- */

/* A delivery of 'p' (a new reference) to endpoint 'ep' of 's' (a new
 * reference), making attempt 'attempt'. Aborts when out of memory. */
struct delivery *delivery_new(struct sub *s, size_t ep, struct payload *p, int attempt);

/* Serve the slow lanes this turn (dispatch_lanes.c). */
void dispatch_serve_lanes(struct dispatcher *dsp, long long now);

#endif
