/* dispatch_lanes.c: the loop's turn at the slow lanes (lanes.c): how many
 * rows each held lane may take now, which tenants' lanes to leave to
 * another dispatcher, and each row taken made a delivery on the in-memory
 * queue, checked against the index (PostgreSQL when the index lags).
 */
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "lanes.h"
#include "log.h"

/* How many rows a held lane may have taken and not yet recorded: what its
 * endpoint can use in a second under its rate limit, one while it fails,
 * else a fast lane's worth; none while its endpoint or tenant is held back
 * with its next round waiting in memory (rows taken would only wait), nor
 * while the process is crowded (over a quarter of its mark) and the
 * lane's tenant has deliveries waiting in memory already: that lane is let
 * go, and no lane of such a tenant is leased, so a dispatcher with room
 * serves them. So what waits in memory on its own limits never keeps
 * another tenant's lane from its turns. */
struct lane_turn {
    struct dispatcher *dsp;
    PGconn *pg;
    bool crowded;
};

static void dispatch_lane_skip(void (*add)(const char *tenant, void *acc), void *acc, void *arg)
{
    const struct lane_turn *t = arg;
    queue_each_waiting_tenant(t->dsp->q, add, acc);
}

static int dispatch_lane_room(const char *webhook_id, const char *endpoint_id, void *arg)
{
    const struct lane_turn *t = arg;
    struct dispatcher *dsp = t->dsp;
    const struct sub *s = sub_index_get(dsp->idx, webhook_id);
    const char *tenant = s ? s->tenant : NULL;
    long long now = hl_time_now_ms();
    if (t->crowded && queue_tenant_waiting(dsp->q, tenant) > 0)
        return -1;
    if (queue_held_back(dsp->q, endpoint_id, tenant, now))
        return 0;
    if (s && s->ordered)
        return 1;                   /* its head alone (sql/016_ordered.sql) */
    if (s && s->rate_limit > 0)
        return s->rate_limit < dsp->cfg.lane_size ? s->rate_limit : dsp->cfg.lane_size;
    if (queue_failing(dsp->q, endpoint_id, now))
        return 1;
    return dsp->cfg.lane_size;
}

/* The index's webhook for a slow-lane row, asking PostgreSQL when the index
 * has it not, or not active, or without the row's endpoint, or with that
 * endpoint disabled (the index may lag: PostgreSQL is the truth). Returns 1
 * with *out and *ep (== neps when the webhook no longer has the endpoint)
 * even when the webhook or endpoint is disabled, 0 when the webhook or
 * endpoint is gone, -1 when unknown for now. */
static int dispatch_lane_sub(struct dispatcher *dsp, PGconn *pg, const char *webhook_id, const char *endpoint_id,
                             struct sub **out, size_t *ep)
{
    struct sub *s = sub_index_get(dsp->idx, webhook_id);
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 0;
        while (s && i < s->neps && strcmp(s->eps[i].id, endpoint_id) != 0)
            i++;
        if (s && s->active && i < s->neps && s->eps[i].active) {
            *out = s;
            *ep = i;
            return 1;
        }
        if (pass == 1)
            return s == NULL || i == s->neps ? 0 : 1;
        int rc = sub_index_fetch(dsp->idx, pg, webhook_id, &s);
        if (rc <= 0)
            return rc;
        *out = s;
        *ep = s->neps;
    }
    return -1;
}

static void dispatch_lane_taken(const struct lane_row *row, void *arg)
{
    struct lane_turn *t = arg;
    struct dispatcher *dsp = t->dsp;
    struct sub *s = NULL;
    size_t ep = 0;
    int rc = dispatch_lane_sub(dsp, t->pg, row->webhook_id, row->endpoint_id, &s, &ep);
    if (rc <= 0 || !s->active || ep == s->neps || !s->eps[ep].active) {
        lanes_done(dsp->lanes, row->endpoint_id, row->epoch, false);
        if (rc == 0)
            lanes_forget_row(t->pg, row->retry_id);            /* gone in PostgreSQL too */
        else if (rc > 0)
            lanes_park(dsp->lanes, row->endpoint_id);          /* disabled (webhook or endpoint): its rows wait */
        return;
    }
    if (row->payload == NULL) {
        /* cannot happen: retention carries a retry's body on before its day goes */
        log_error("slow lane: retry %lld of event %s to endpoint %s has no stored body: its lane is parked",
                  (long long)row->retry_id, row->event_id, row->endpoint_id);
        lanes_done(dsp->lanes, row->endpoint_id, row->epoch, false);
        lanes_park(dsp->lanes, row->endpoint_id);
        return;
    }
    struct payload *p = payload_new(row->event_id, row->event_type, row->payload, row->payload_len);
    if (p == NULL)
        abort();
    struct delivery *d = delivery_new(s, ep, p, row->attempt);
    d->retry_id = row->retry_id;
    d->lane_epoch = row->epoch;
    d->ordered = row->ordered;
    payload_unref(p);
    if (row->send_ms > 0)
        queue_set_next_start(dsp->q, d, row->send_ms);
    queue_push(dsp->q, d);
}

/* Serve the slow lanes, taking rows only while under half the process's
 * mark (dispatch_mark), and over a quarter only for tenants with nothing
 * waiting in memory (dispatch_lane_room): new deliveries from Kafka keep
 * room. */
void dispatch_serve_lanes(struct dispatcher *dsp, long long now)
{
    PGconn *pg = attempts_pg(dsp->at);
    if (pg == NULL)
        return;
    size_t waiting = queue_waiting(dsp->q) + attempts_batched(dsp->at);
    int budget = waiting < dsp->max_waiting / 2 ? (int)(dsp->max_waiting / 2 - waiting) : 0;
    struct lane_turn t = { dsp, pg, waiting >= dsp->max_waiting / 4 };
    (void)lanes_serve(dsp->lanes, pg, now, budget, t.crowded ? dispatch_lane_skip : NULL,
                      dispatch_lane_room, dispatch_lane_taken, &t);
}
