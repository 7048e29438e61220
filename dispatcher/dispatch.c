/* dispatch.c: the dispatcher's event loop.
 *
 * Each turn: apply lifecycle events; read a bounded number of events from
 * Kafka (unless this process has too much waiting already) and match them,
 * each delivery into its endpoint's fast lane in memory or, when that
 * endpoint is busy, throttled or failing, to its slow lane in PostgreSQL;
 * take due rows of the slow lanes this process leases; start what the fast
 * lanes allow; let libcurl make progress; record finished attempts in one
 * batch; commit the offsets whose events are fully recorded.
 */
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "envelope.h"
#include "kafka.h"
#include "lanes.h"
#include "offsets.h"
#include "log.h"
#include "metrics.h"

#define POLL_BATCH 1000
#define COMMIT_EVERY_MS 100
#define STATS_EVERY_MS 30000
#define DRAIN_RECORD_MS 10000  /* at stop: how long to keep trying to record */
#define FINISH_READ_MS 8000
#define RECENT_MAX 4096         /* events read and not yet covered by an index sync... */
#define RECENT_MAX_BYTES (4u << 20)     /* ...and their payload bytes: over either, read nothing */
#define CLOCK_SKEW_MS 1000      /* producers' clocks are trusted to within this */
#define SYNC_EVERY_MS 200       /* the index's sync with PostgreSQL's new webhooks, ... */
#define SYNC_SOON_MS 20         /* ... or this soon after the last try while those events fill half their bound */
#define HOLD_MAX_MS 1000        /* over the mark: read nothing for this long, then pause */
#define ORDERED_LEASE_MARGIN_MS 1000    /* an ordered head's request ends this long before its lease can */
#define ORDERED_MIN_TIMEOUT_MS 1000     /* ... and is not sent with less time than this */

struct payload *payload_new(const char *event_id, const char *type, const char *body, size_t len)
{
    struct payload *p = malloc(sizeof(*p) + len + 1);
    if (p == NULL)
        return NULL;
    p->refs = 1;
    p->len = len;
    p->body_day_stored = 0;
    p->body_batch = 0;
    p->body_batch_day = 0;
    snprintf(p->event_id, sizeof(p->event_id), "%s", event_id);
    snprintf(p->event_type, sizeof(p->event_type), "%s", type);
    memcpy(p->data, body, len);
    p->data[len] = '\0';
    return p;
}

void payload_unref(struct payload *p)
{
    if (p != NULL && --p->refs == 0)
        free(p);
}

struct delivery *delivery_new(struct sub *s, size_t ep, struct payload *p, int attempt)
{
    struct delivery *d = calloc(1, sizeof(*d));
    if (d == NULL)
        abort();
    sub_ref(s);
    p->refs++;
    d->sub = s;
    d->ep = ep;
    d->payload = p;
    d->attempt = attempt;
    d->retry_after_s = -1;
    return d;
}

static void delivery_free(struct delivery *d)
{
    sub_unref(d->sub);
    payload_unref(d->payload);
    free(d->response);
    free(d);
}

/* ---- consuming events ---- */

struct fanout {
    struct dispatcher *dsp;
    struct payload *payload;
    struct msg_track *track;
};

/* Hand a new delivery to its endpoint's fast lane, or defer it to its slow
 * lane: it is then recorded (as a row due now) like a finished attempt. A
 * poll endpoint's is recorded for the tenant to fetch. */
static void dispatch_route(struct dispatcher *dsp, struct delivery *d)
{
    if (d->sub->eps[d->ep].poll) {
        /* never pushed: recorded as waiting to be fetched, holding its offset until then */
        d->outcome = DELIVERY_POLLED;
        attempts_add(dsp->at, d);
        return;
    }
    if (d->sub->ordered) {
        /* never the fast path: appended to its endpoint's ordered lane, in
         * the order read, and its offset held until it is */
        d->ordered = true;
        d->outcome = DELIVERY_DEFERRED;
        attempts_add(dsp->at, d);
        return;
    }
    if (queue_admit(dsp->q, d, hl_time_now_ms())) {
        queue_push(dsp->q, d);
        return;
    }
    d->outcome = DELIVERY_DEFERRED;
    dsp->stats.spilled++;
    attempts_add(dsp->at, d);
}

/* One delivery per active endpoint: a disabled endpoint gets no event
 * while it is disabled, as a disabled webhook gets none. */
static void fanout_sub(struct sub *s, void *arg)
{
    struct fanout *f = arg;
    for (size_t i = 0; i < s->neps; i++) {
        if (!s->eps[i].active)
            continue;
        struct delivery *d = delivery_new(s, i, f->payload, 1);
        d->track = f->track;
        if (f->track)
            f->track->pending++;
        dispatch_route(f->dsp, d);
    }
}

/* Events at offsets [from, to) of 'partition' are gone: Kafka no longer
 * held them when this dispatcher got there (retention; the development
 * broker keeps at most 5 MiB or 100,000 message sets a partition). Never
 * passed over in silence: an error naming them, a count, and /readyz. */
static void dispatch_report_lost(struct dispatcher *dsp, int32_t partition, int64_t from, int64_t to)
{
    dsp->stats.lost += to - from;
    log_error("%s[%d]: events at offsets %lld to %lld were lost: Kafka no longer holds them (retention); reading "
              "resumes at %lld", HL_TOPIC_EVENTS, partition, (long long)from, (long long)(to - 1), (long long)to);
}

static void dispatch_event(struct dispatcher *dsp, const rd_kafka_message_t *rkm)
{
    /* offsets skipped while reading: transaction markers, or (when they are
     * below the partition's start now) events Kafka deleted before we read them */
    int64_t expected = tracker_next(dsp->tr, rkm->partition), lo = -1, hi = -1;
    if (expected >= 0 && rkm->offset > expected &&
        rd_kafka_get_watermark_offsets(dsp->rk, HL_TOPIC_EVENTS, rkm->partition, &lo, &hi) ==
            RD_KAFKA_RESP_ERR_NO_ERROR && lo > expected)
        dispatch_report_lost(dsp, rkm->partition, expected, lo < rkm->offset ? lo : rkm->offset);
    struct msg_track *track = tracker_add(dsp->tr, rkm->partition, rkm->offset);
    struct hl_error err = { 0 };
    struct fanout f = { .dsp = dsp, .track = track };
    dsp->stats.events++;
    json_t *env = envelope_parse(rkm->payload, rkm->len, &err);
    if (env == NULL) {
        dsp->stats.malformed++;
        log_warn("skipped malformed event at %s[%d] offset %lld: %s", HL_TOPIC_EVENTS, rkm->partition,
                 (long long)rkm->offset, err.msg);
        goto out;
    }
    const char *tenant = json_string_value(json_object_get(env, "tenant"));
    const char *type = json_string_value(json_object_get(env, "type"));
    const char *id = json_string_value(json_object_get(env, "id"));
    const char *target = json_string_value(json_object_get(env, "webhook_id"));
    f.payload = payload_new(id, type, rkm->payload, rkm->len);
    if (f.payload == NULL)
        abort();
    if (target == NULL) {
        /* kept, its offset held, until a sync has brought every webhook
         * created before it was produced */
        long long now = hl_time_now_ms();
        long long ts = rd_kafka_message_timestamp(rkm, NULL);
        recent_add(dsp->recent, f.payload, track, ts >= 0 ? ts : now, now);
    }
    if (target == NULL && !sub_index_knows_tenant(dsp->idx, tenant)) {
        dsp->stats.unknown_tenant++;
        log_debug("event %s at %s[%d] offset %lld: no webhook of tenant %s yet", id, HL_TOPIC_EVENTS, rkm->partition,
                  (long long)rkm->offset, tenant);
        goto out;
    }
    if (target != NULL) {
        /* a test event (POST /v1/webhooks/{id}/test) goes to that webhook only */
        struct sub *s = sub_index_get(dsp->idx, target);
        PGconn *pg = attempts_pg(dsp->at);
        if (s == NULL && pg)    /* created a moment ago: its lifecycle event may still be on the way */
            (void)sub_index_fetch(dsp->idx, pg, target, &s);
        if (s && s->active && strcmp(s->tenant, tenant) == 0)
            fanout_sub(s, &f);
    } else {
        sub_index_match(dsp->idx, tenant, type, env, fanout_sub, &f);
    }
out:
    payload_unref(f.payload);
    json_decref(env);
    if (track)
        tracker_done(dsp->tr, track);
}

/* A webhook new to the index: the events produced since its creation that
 * were read before it got there go to it now, tied to their offsets (held
 * until a sync covers them, so none is committed yet). */
struct catch_up {
    struct dispatcher *dsp;
    struct sub *s;
    int n;
};

static void dispatch_catch_up_one(struct payload *p, struct msg_track *track, void *arg)
{
    struct catch_up *c = arg;
    json_t *env = envelope_parse(p->data, p->len, NULL);
    const char *tenant = json_string_value(json_object_get(env, "tenant"));
    const char *type = json_string_value(json_object_get(env, "type"));
    if (tenant && type && sub_matches(c->s, tenant, type, env)) {
        struct fanout f = { .dsp = c->dsp, .payload = p, .track = track };
        fanout_sub(c->s, &f);
        c->n++;
    }
    json_decref(env);
}

static void dispatch_webhook_new(struct sub *s, long long created_ms, void *arg)
{
    struct catch_up c = { .dsp = arg, .s = s };
    recent_replay(c.dsp->recent, created_ms, dispatch_catch_up_one, &c);
    if (c.n > 0)
        log_info("webhook %s: %d events read before it reached the index go to it now", s->id, c.n);
}

static void dispatch_release_track(struct msg_track *track, void *arg)
{
    struct dispatcher *dsp = arg;
    tracker_done(dsp->tr, track);
}

/* Every SYNC_EVERY_MS (SYNC_SOON_MS while the events kept fill half their
 * bound, so a fast reader seldom waits at it): read the webhooks PostgreSQL
 * has that were created since the last sync (the lifecycle stream usually
 * brought them already; the relay may lag), then let go of the events read
 * before this sync was sent. Bounded: a statement on the loop's session waits about a second. */
static void dispatch_sync_index(struct dispatcher *dsp, long long now)
{
    PGconn *pg;
    long long due = dsp->next_sync_ms;
    if (recent_half(dsp->recent) && dsp->sync_soon_ms < due)
        due = dsp->sync_soon_ms;
    if (now < due || (pg = attempts_pg(dsp->at)) == NULL)
        return;
    int rc = sub_index_sync_created(dsp->idx, pg, dsp->synced_ms);
    dsp->next_sync_ms = rc == 1 ? now : now + SYNC_EVERY_MS;
    dsp->sync_soon_ms = rc < 0 ? dsp->next_sync_ms : now + SYNC_SOON_MS;     /* a failed one: not sooner */
    if (rc != 0)
        return;
    dsp->synced_ms = now;
    recent_cover(dsp->recent, now, dispatch_release_track, dsp);
}

static void dispatch_set_paused(struct dispatcher *dsp, bool pause)
{
    if (dsp->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(dsp->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
        if (pause)
            rd_kafka_pause_partitions(dsp->rk, parts);
        else
            rd_kafka_resume_partitions(dsp->rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
    }
    dsp->paused = pause;
    log_debug("%s reading events: %zu deliveries waiting", pause ? "paused" : "resumed", queue_waiting(dsp->q));
}

/* Read up to 'max' events, unless too many deliveries wait (queued, or
 * finished and not recorded yet). Over that mark the loop simply reads
 * nothing, which costs nothing to undo (pausing partitions does: librdkafka
 * restarts its fetches only after a while). Not polling holds up a
 * rebalance, though, so after HOLD_MAX_MS over the mark the partitions are
 * paused and polling goes on, until the backlog is down to half. */
static void dispatch_consume(struct dispatcher *dsp, long long now, int max)
{
    size_t waiting = queue_waiting(dsp->q) + attempts_batched(dsp->at);
    bool full = recent_full(dsp->recent);
    if (waiting >= dsp->max_waiting || full) {
        if (dsp->over_since_ms == 0)
            dsp->over_since_ms = now;
        if (!dsp->paused && now - dsp->over_since_ms < HOLD_MAX_MS)
            return;
        dispatch_set_paused(dsp, true);
    } else {
        dsp->over_since_ms = 0;
        if (waiting < dsp->max_waiting / 2 && !full)
            dispatch_set_paused(dsp, false);
    }
    /* poll even while paused: it serves rebalances */
    for (int i = 0; i < max; i++) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(dsp->rk, 0);
        if (rkm == NULL)
            break;
        if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            dispatch_event(dsp, rkm);
        else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("event consumer: %s", rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        if (dsp->paused || queue_waiting(dsp->q) >= dsp->max_waiting || recent_full(dsp->recent))
            break;
    }
}

/* ---- delivering and recording ---- */

/* The webhook 'd' should go to now: the index's current version of its
 * webhook (its URL, headers and secrets as they are now), or NULL when the
 * webhook, or this endpoint of it, is gone or disabled. Moves 'd' onto
 * that version. */
static struct sub *dispatch_current(struct dispatcher *dsp, struct delivery *d)
{
    struct sub *cur = sub_index_get(dsp->idx, d->sub->id);
    if (cur == d->sub)
        return cur->active && cur->eps[d->ep].active ? cur : NULL;
    if (cur == NULL || !cur->active)
        return NULL;
    const char *ep_id = d->sub->eps[d->ep].id;
    size_t i = 0;
    while (i < cur->neps && strcmp(cur->eps[i].id, ep_id) != 0)
        i++;
    if (i == cur->neps || !cur->eps[i].active)
        return NULL;
    sub_ref(cur);
    sub_unref(d->sub);
    d->sub = cur;
    d->ep = i;
    return cur;
}

/* A delivery that will not go out now after all: one from Kafka is kept in
 * its slow lane if its webhook may come back (it or its endpoint disabled:
 * the lane is parked until enabled), else forgotten with it; one from a
 * slow lane stays in its row. */
static void dispatch_withdraw(struct dispatcher *dsp, struct delivery *d)
{
    if (d->retry_id) {
        lanes_done(dsp->lanes, d->sub->eps[d->ep].id, d->lane_epoch, d->lane_finished);
        delivery_free(d);
    } else if (sub_index_get(dsp->idx, d->sub->id) != NULL) {
        d->outcome = DELIVERY_DEFERRED;
        attempts_add(dsp->at, d);
    } else {
        if (d->track)
            tracker_done(dsp->tr, d->track);
        delivery_free(d);
    }
}

static int dispatch_start(struct delivery *d, void *arg)
{
    struct dispatcher *dsp = arg;
    /* nothing goes to a webhook deleted or disabled, or to an old URL, once
     * the index has it; a held delivery is signed with the current secrets */
    if (dispatch_current(dsp, d) == NULL ||
        (d->retry_id && !lanes_holds(dsp->lanes, d->sub->eps[d->ep].id, d->lane_epoch))) {
        dispatch_withdraw(dsp, d);
        return -1;
    }
    if (d->retry_id && d->ordered) {
        /* fencing: an ordered head goes only while our lease on its lane
         * outlasts the request, so the lane cannot pass to another
         * dispatcher (which would send the next one) while it may still be
         * on the way; the request's timeout is cut to fit */
        long long left = lanes_lease_left(dsp->lanes, d->sub->eps[d->ep].id, d->lane_epoch, hl_time_now_ms());
        left -= ORDERED_LEASE_MARGIN_MS;
        if (left < ORDERED_MIN_TIMEOUT_MS) {
            log_warn("ordered lane of endpoint %s: its lease has %lld ms left, too little to send its head; "
                     "it waits for a renewed lease", d->sub->eps[d->ep].id, left + ORDERED_LEASE_MARGIN_MS);
            dispatch_withdraw(dsp, d);
            return -1;
        }
        d->timeout_ms = left < dsp->cfg.delivery_timeout_ms ? (long)left : dsp->cfg.delivery_timeout_ms;
    }
    if (deliver_start(dsp->dv, d) == 0)
        return 0;
    /* out of memory: recorded as a failed attempt, retried in a second */
    snprintf(d->error, sizeof(d->error), "could not start the request (out of memory)");
    d->sent_ms = hl_time_now_ms();
    d->outcome = DELIVERY_RETRY;
    d->next_ms = d->sent_ms + 1000;
    if (hl_id_new("dlv_", d->dlv_id, sizeof(d->dlv_id)) < 0)
        abort();
    attempts_add(dsp->at, d);
    return -1;
}

/* Decide what follows a finished attempt. */
static void dispatch_classify(struct dispatcher *dsp, struct delivery *d)
{
    const struct hl_config *cfg = &dsp->cfg;
    if (d->status >= 200 && d->status <= 299) {
        d->outcome = DELIVERY_SUCCESS;
        dsp->stats.delivered++;
    } else if (d->status == 410) {
        d->outcome = DELIVERY_FAILED;
        d->gone = true;
        dsp->stats.failed++;
    } else if (d->attempt <= d->sub->max_retries && d->attempt <= cfg->retry_steps) {
        long delay = cfg->retry_schedule_ms[d->attempt - 1];
        delay = (long)(delay * (0.8 + 0.4 * ((double)random() / RAND_MAX)));
        if ((d->status == 429 || d->status == 503) && d->retry_after_s >= 0 && d->retry_after_s * 1000 > delay)
            delay = d->retry_after_s * 1000;
        d->outcome = DELIVERY_RETRY;
        d->next_ms = d->sent_ms + d->duration_ms + delay;
        dsp->stats.retried++;
    } else {
        d->outcome = DELIVERY_FAILED;
        dsp->stats.failed++;
    }
}

static void dispatch_finished(struct delivery *d, void *arg)
{
    struct dispatcher *dsp = arg;
    dispatch_classify(dsp, d);
    queue_done(dsp->q, d, d->outcome != DELIVERY_SUCCESS);
    metrics_attempt(dsp->metrics, d->duration_ms);
    if (hl_id_new("dlv_", d->dlv_id, sizeof(d->dlv_id)) < 0)
        abort();
    if (d->retry_id && !d->lane_finished) {
        lanes_finished(dsp->lanes, d->sub->eps[d->ep].id, d->lane_epoch);
        d->lane_finished = true;
    }
    /* an ordered lane's next head waits on this record: hand it over now */
    if (d->ordered)
        dsp->flush_now = true;
    attempts_add(dsp->at, d);
}

static void dispatch_recorded(struct delivery *d, void *arg)
{
    struct dispatcher *dsp = arg;
    if (d->outcome != DELIVERY_DEFERRED)
        dsp->stats.recorded++;
    if (d->retry_id)
        lanes_done(dsp->lanes, d->sub->eps[d->ep].id, d->lane_epoch, d->lane_finished);
    if (d->track)
        tracker_done(dsp->tr, d->track);
    delivery_free(d);
}

static void dispatch_flush(struct dispatcher *dsp, long long now)
{
    bool force = dsp->flush_now;
    (void)attempts_pump(dsp->at, now, force, dispatch_recorded, dsp);
    /* forced until what was waiting is written (the writer may have been busy) */
    dsp->flush_now = force && attempts_batched(dsp->at) > 0;
}

/* Finish every in-flight delivery and record it, starting nothing new.
 * Bounded by the delivery timeout; then tries to record for a while. */
static void dispatch_drain(struct dispatcher *dsp)
{
    while (deliver_active(dsp->dv) > 0)
        deliver_run(dsp->dv, 50, dispatch_finished, dsp);
    (void)attempts_sync(dsp->at, DRAIN_RECORD_MS, dispatch_recorded, dsp);
}

/* Drop waiting deliveries that came from Kafka on the given partitions
 * (all partitions when 'parts' is NULL): the next owner reads them again. */
struct drop_ctx {
    struct dispatcher *dsp;
    const rd_kafka_topic_partition_list_t *parts;
};

static bool drop_track_pred(const struct msg_track *track, void *arg)
{
    struct drop_ctx *c = arg;
    if (track == NULL || c->parts == NULL)
        return c->parts == NULL;    /* untracked: slow-lane rows, only at stop */
    for (int i = 0; i < c->parts->cnt; i++)
        if (c->parts->elems[i].partition == track->partition)
            return true;
    return false;
}

static bool drop_pred(const struct delivery *d, void *arg)
{
    return drop_track_pred(d->track, arg);
}

static void drop_track(struct msg_track *track, void *arg)
{
    struct drop_ctx *c = arg;
    tracker_abandon(c->dsp->tr, track);
}

static void drop_one(struct delivery *d, void *arg)
{
    struct drop_ctx *c = arg;
    if (d->track) {
        tracker_abandon(c->dsp->tr, d->track);
        d->track = NULL;
    }
    /* a slow-lane row stays where it is, free for the lane's next holder */
    delivery_free(d);
}

/* Let go of what was read from 'c->parts' and is still held here: the
 * next owner reads it again. */
static void dispatch_drop_read(struct dispatcher *dsp, struct drop_ctx *c)
{
    size_t n = recent_drop_if(dsp->recent, drop_track_pred, drop_track, c);
    if (n > 0)
        log_warn("%zu events read were not covered by an index sync (PostgreSQL unavailable); the next "
                 "owner of their partitions reads them again", n);
    queue_drop_if(dsp->q, drop_pred, drop_one, c);
}

/* Keep delivering and recording, reading nothing new, until every event
 * read from 'parts' (NULL: all assigned partitions) is recorded or
 * FINISH_READ_MS has passed. */
static void dispatch_finish_read(struct dispatcher *dsp, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *all = NULL;
    if (parts == NULL) {
        if (rd_kafka_assignment(dsp->rk, &all) != RD_KAFKA_RESP_ERR_NO_ERROR || all == NULL)
            return;
        parts = all;
    }
    long long deadline = hl_time_now_ms() + FINISH_READ_MS;
    while (tracker_unrecorded(dsp->tr, parts) > 0 && hl_time_now_ms() < deadline) {
        dispatch_sync_index(dsp, hl_time_now_ms());
        queue_run(dsp->q, hl_time_now_ms(), dispatch_start, dsp);
        deliver_run(dsp->dv, 5, dispatch_finished, dsp);
        dispatch_flush(dsp, hl_time_now_ms());
    }
    if (all)
        rd_kafka_topic_partition_list_destroy(all);
}

/* Where each assigned partition starts: after what its previous owner
 * recorded (event_offsets in PostgreSQL, written at every hand-over, or
 * Kafka's committed offset, whichever is further), and a start before
 * what Kafka still holds is reported as lost. */
static void dispatch_assign_offsets(struct dispatcher *dsp, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_committed(dsp->rk, committed, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("%s: committed offsets not known; starting from PostgreSQL's record of them", HL_TOPIC_EVENTS);
    offsets_load(attempts_pg(dsp->at), parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t kafka = committed->elems[i].err ? -1 : committed->elems[i].offset;
        if (kafka > tp->offset)
            tp->offset = kafka;
        if (tp->offset < 0) {
            tp->offset = RD_KAFKA_OFFSET_INVALID;       /* auto.offset.reset: the earliest */
            continue;
        }
        int64_t lo = -1, hi = -1;
        if (rd_kafka_query_watermark_offsets(dsp->rk, HL_TOPIC_EVENTS, tp->partition, &lo, &hi, 2000) ==
                RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset < lo)
            dispatch_report_lost(dsp, tp->partition, tp->offset, lo);
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

static void dispatch_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
                               void *opaque)
{
    struct dispatcher *dsp = opaque;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("assigned %d partitions of %s", parts->cnt, HL_TOPIC_EVENTS);
        dispatch_assign_offsets(dsp, parts);
        tracker_assign(dsp->tr, parts);
        rd_kafka_assign(rk, parts);
        dsp->paused = false;
        return;
    }
    /* revoked: deliver and record what was read from them, for a while, and
     * keep the position reached in PostgreSQL and Kafka before letting go,
     * so the next owner starts after it: a graceful hand-over repeats
     * nothing. What is still waiting after that is left to the next owner
     * to read again. */
    log_info("revoking %d partitions of %s", parts->cnt, HL_TOPIC_EVENTS);
    dispatch_finish_read(dsp, parts);
    struct drop_ctx c = { .dsp = dsp, .parts = parts };
    dispatch_drop_read(dsp, &c);
    dispatch_drain(dsp);
    tracker_positions(dsp->tr, parts);
    offsets_save(attempts_pg(dsp->at), parts);
    tracker_commit(dsp->tr, rk, true);
    tracker_revoke(dsp->tr, parts);
    rd_kafka_assign(rk, NULL);
}

/* The result of an asynchronous commit, served by rd_kafka_consumer_poll. */
static void dispatch_committed(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *offsets,
                               void *opaque)
{
    (void)rk;
    struct dispatcher *dsp = opaque;
    tracker_committed(dsp->tr, e, offsets);
}

/* ---- set-up and the loop ---- */

static rd_kafka_t *dispatch_consumer_new(struct dispatcher *dsp, struct hl_error *err)
{
    char errstr[256], fetch_wait[24];
    snprintf(fetch_wait, sizeof(fetch_wait), "%ld", dsp->cfg.kafka_fetch_wait_ms);
    rd_kafka_conf_t *conf = kafka_conf_new(dsp->cfg.kafka_brokers, err);
    if (conf == NULL)
        return NULL;
    if (kafka_conf_set(conf, "group.id", HL_GROUP_DISPATCHERS, err) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", err) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", err) < 0 ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", err) < 0 ||
        kafka_conf_set(conf, "session.timeout.ms", "10000", err) < 0 ||
        kafka_conf_set(conf, "heartbeat.interval.ms", "1000", err) < 0 ||
        kafka_conf_set(conf, "queued.max.messages.kbytes", "16384", err) < 0 ||
        kafka_conf_set(conf, "fetch.wait.max.ms", fetch_wait, err) < 0 ||
        kafka_conf_set(conf, "client.id", dsp->name, err) < 0 ||
        (dsp->cfg.metrics_port > 0 && metrics_kafka_conf(conf, err) < 0)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, dispatch_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, dispatch_committed);
    rd_kafka_conf_set_opaque(conf, dsp);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        hl_error_set(err, HL_EKAFKA, "Kafka consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, HL_TOPIC_EVENTS, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hl_error_set(err, HL_EKAFKA, "Kafka: subscribe %s: %s", HL_TOPIC_EVENTS, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

struct dispatcher *dispatch_new(const struct hl_config *cfg, volatile sig_atomic_t *stop, struct hl_error *err)
{
    struct dispatcher *dsp = calloc(1, sizeof(*dsp));
    if (dsp == NULL)
        return NULL;
    dsp->cfg = *cfg;
    dsp->stop = stop;
    dsp->policy.allow_http = cfg->allow_http;
    dsp->policy.allow_private = cfg->allow_private_targets;
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(dsp->name, sizeof(dsp->name), "dispatcher-%s-%d", host, (int)getpid());
    dsp->max_waiting = dispatch_mark(cfg);
    srandom((unsigned)getpid() ^ (unsigned)hl_time_now_ms());

    /* the ring outlives the index: freed after it */
    if ((dsp->sb = secretbox_new(cfg->secrets_key, err)) == NULL) {
        hl_error_set(err, HL_EINVAL, "HOOKLINE_SECRETS_KEY: not a key ring");
        goto fail;
    }
    dsp->idx = sub_index_new(dsp->sb);
    dsp->tr = tracker_new();
    dsp->q = queue_new(&dsp->cfg);
    dsp->recent = recent_new(RECENT_MAX, RECENT_MAX_BYTES, CLOCK_SKEW_MS);
    dsp->lanes = dsp->q ? lanes_new(&dsp->cfg, dsp->q, dsp->name) : NULL;
    if (!dsp->idx || !dsp->tr || !dsp->q || !dsp->recent || !dsp->lanes) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        goto fail;
    }
    sub_index_on_new(dsp->idx, dispatch_webhook_new, dsp);
    dsp->synced_ms = hl_time_now_ms();     /* the load below covers what came before */
    if ((dsp->dv = deliver_new(&dsp->cfg, &dsp->policy, err)) == NULL ||
        (dsp->at = attempts_new(&dsp->cfg, dsp->name, deliver_wakeup, dsp->dv, err)) == NULL ||
        (dsp->lc = lifecycle_start(&dsp->cfg, dsp->idx, attempts_pg(dsp->at), err)) == NULL ||
        (dsp->rk = dispatch_consumer_new(dsp, err)) == NULL)
        goto fail;
    /* last: a /healthz answer means the index is loaded and the consumer subscribed */
    if (cfg->metrics_port > 0 && (dsp->metrics = metrics_start(cfg->metrics_port, err)) == NULL)
        goto fail;
    long long now = hl_time_now_ms();
    dsp->next_resync_ms = now + cfg->resync_interval_ms;
    dsp->next_stats_ms = now + STATS_EVERY_MS;
    return dsp;
fail:
    dispatch_free(dsp);
    return NULL;
}

static void dispatch_log_stats(struct dispatcher *dsp)
{
    struct dispatch_stats *s = &dsp->stats;
    log_info("events %ld (malformed %ld, unknown tenant %ld), delivered %ld, retried %ld, failed %ld, "
             "recorded %ld, to slow lanes %ld, waiting %zu, in flight %zu, slow lanes held %zu, webhooks %zu",
             s->events, s->malformed, s->unknown_tenant, s->delivered, s->retried, s->failed, s->recorded,
             s->spilled, queue_waiting(dsp->q), queue_in_flight(dsp->q), lanes_held(dsp->lanes),
             sub_index_size(dsp->idx));
}

int dispatch_run(struct dispatcher *dsp)
{
    struct hl_error err = { 0 };
    log_info("%s running: %zu webhooks indexed", dsp->name, sub_index_size(dsp->idx));
    while (!*dsp->stop) {
        long long now = hl_time_now_ms();
        lifecycle_poll(dsp->lc, POLL_BATCH);
        dispatch_sync_index(dsp, now);
        if (now >= dsp->next_resync_ms && attempts_pg(dsp->at) != NULL) {
            /* a page per turn: the loop never waits on a whole load */
            int rc = sub_index_load_step(dsp->idx, attempts_pg(dsp->at), &err);
            if (rc < 0)
                log_error("resync failed (kept the current index; tried again later): %s", err.msg);
            hl_error_clear(&err);
            if (rc != 1)
                dsp->next_resync_ms = now + dsp->cfg.resync_interval_ms;
        }
        dispatch_consume(dsp, now, POLL_BATCH);
        dispatch_serve_lanes(dsp, now);
        /* start nothing while the batch of unrecorded attempts is full */
        if (attempts_batched(dsp->at) < dsp->max_waiting)
            queue_run(dsp->q, now, dispatch_start, dsp);
        /* wait on the network only when nothing else is ready to be done */
        int wait = queue_waiting(dsp->q) > 0 && queue_in_flight(dsp->q) < (size_t)dsp->cfg.max_in_flight ? 1 : 5;
        /* the batch's age is timed here; the writer's end wakes the wait itself */
        long flush_in = dsp->flush_now && attempts_batched(dsp->at) ? 1 : attempts_due_in(dsp->at, hl_time_now_ms());
        deliver_run(dsp->dv, flush_in >= 0 && flush_in < wait ? (int)flush_in : wait, dispatch_finished, dsp);
        now = hl_time_now_ms();
        dispatch_flush(dsp, now);
        if (now >= dsp->next_commit_ms) {
            tracker_commit(dsp->tr, dsp->rk, false);
            dsp->next_commit_ms = now + COMMIT_EVERY_MS;
        }
        if (now >= dsp->next_stats_ms) {
            dispatch_log_stats(dsp);
            dsp->next_stats_ms = now + STATS_EVERY_MS;
        }
        metrics_tick(dsp->metrics, dsp);
    }

    /* graceful stop: read nothing more; deliver and record what was read, for
     * a while, so the next owner does not repeat events after a gap; then
     * only what is in flight finishes */
    log_info("stopping: %zu in flight, %zu waiting", queue_in_flight(dsp->q), queue_waiting(dsp->q));
    dispatch_finish_read(dsp, NULL);
    struct drop_ctx c = { .dsp = dsp, .parts = NULL };
    dispatch_drop_read(dsp, &c);
    dispatch_drain(dsp);
    if (attempts_pg(dsp->at) != NULL)
        lanes_release_all(dsp->lanes, attempts_pg(dsp->at));
    int rc = attempts_batched(dsp->at) == 0 ? 0 : 1;
    tracker_commit(dsp->tr, dsp->rk, true);
    rd_kafka_consumer_close(dsp->rk);
    dispatch_log_stats(dsp);
    return rc;
}

void dispatch_free(struct dispatcher *dsp)
{
    if (dsp == NULL)
        return;
    metrics_stop(dsp->metrics);
    if (dsp->rk)
        rd_kafka_destroy(dsp->rk);
    lifecycle_free(dsp->lc);
    attempts_free(dsp->at);     /* first: its writer may wake the deliverer */
    deliver_free(dsp->dv);
    lanes_free(dsp->lanes);
    queue_free(dsp->q);
    recent_free(dsp->recent);
    tracker_free(dsp->tr);
    sub_index_free(dsp->idx);
    secretbox_free(dsp->sb);
    free(dsp);
}
