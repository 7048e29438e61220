/* queue.c: the fast lanes, deliveries waiting in memory for their endpoint.
 *
 * Each endpoint has a FIFO of waiting deliveries, an in-flight count, the
 * earliest time its next delivery may start (rate limit) and whether it is
 * failing. In-flight slots go round-robin over tenants, then over each
 * tenant's endpoints, within three limits: the process's, the tenant's and
 * the endpoint's (one while the endpoint fails). queue_admit() says when a
 * new delivery should not wait here but in PostgreSQL (the slow lane,
 * lanes.c): its endpoint is rate limited or failing, or has its share in
 * flight already and a full lane waiting behind, or its tenant has its
 * slots and two rounds more in memory, or the process's lanes hold half
 * its mark (dispatch_mark) and this one would wait on its endpoint's or
 * tenant's limit.
 * Nothing here is ever dropped; the caller bounds the total by reading
 * nothing more while queue_waiting() is high.
 */
#include "dispatcher.h"
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_FAILING_HOLD_MS 30000     /* after a failure, the endpoint counts as failing this long */

struct tn_state;

struct ep_state {
    char id[HL_ID_MAX];
    struct tn_state *tn;
    struct delivery *head, *tail;
    size_t waiting;
    int in_flight;
    long long next_start_ms;    /* rate limit: no start before */
    long long failing_until_ms; /* failing (one at a time, new deliveries spill) until */
    bool ready;                 /* on its tenant's ring or the timed list */
    struct ep_state *next;
};

struct tn_state {
    char id[ENVELOPE_TENANT_MAX + 1];
    size_t waiting;
    int in_flight;
    size_t neps;                /* endpoint states pointing here */
    struct ep_state *ring, *ring_tail;  /* endpoints that can start one now */
    bool ready;                 /* on the queue's ring */
    struct tn_state *next;
};

struct queue {
    struct strmap *eps;         /* endpoint id -> struct ep_state */
    struct strmap *tns;         /* tenant id -> struct tn_state */
    struct tn_state *ring, *ring_tail;  /* tenants with an endpoint ready */
    struct ep_state *timed;     /* endpoints waiting out their rate limit */
    size_t waiting, in_flight;
    size_t max_in_flight;
    int max_per_endpoint, max_per_tenant;
    size_t lane_size, tenant_waiting_max;
    size_t waiting_max;         /* over this many waiting, new deliveries go to their slow lanes */
};

struct queue *queue_new(const struct hl_config *cfg)
{
    struct queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->eps = strmap_new();
    q->tns = strmap_new();
    if (q->eps == NULL || q->tns == NULL) {
        queue_free(q);
        return NULL;
    }
    q->max_in_flight = (size_t)cfg->max_in_flight;
    q->max_per_endpoint = cfg->max_in_flight_per_endpoint;
    q->max_per_tenant = cfg->max_in_flight_per_tenant;
    q->lane_size = (size_t)cfg->lane_size;
    /* a tenant keeps at most this many waiting beyond its slots */
    q->tenant_waiting_max = (size_t)cfg->max_in_flight_per_tenant * 2;
    q->waiting_max = dispatch_mark(cfg) / 2;
    return q;
}

void queue_free(struct queue *q)
{
    if (q == NULL)
        return;
    strmap_free(q->eps, free);
    strmap_free(q->tns, free);
    free(q);
}

static const char *ep_id(const struct delivery *d)
{
    return d->sub->eps[d->ep].id;
}

static struct ep_state *queue_ep(struct queue *q, const struct delivery *d, bool create)
{
    struct ep_state *ep = strmap_get(q->eps, ep_id(d));
    if (ep != NULL || !create)
        return ep;
    struct tn_state *tn = strmap_get(q->tns, d->sub->tenant);
    if (tn == NULL) {
        if ((tn = calloc(1, sizeof(*tn))) == NULL)
            abort();            /* out of memory: nothing sensible is left to do */
        snprintf(tn->id, sizeof(tn->id), "%s", d->sub->tenant);
        if (strmap_put(q->tns, tn->id, tn, NULL) < 0)
            abort();
    }
    if ((ep = calloc(1, sizeof(*ep))) == NULL)
        abort();
    snprintf(ep->id, sizeof(ep->id), "%s", ep_id(d));
    ep->tn = tn;
    tn->neps++;
    if (strmap_put(q->eps, ep->id, ep, NULL) < 0)
        abort();
    return ep;
}

/* Forget an endpoint with nothing waiting or in flight, unless its rate
 * limit or failure still has to be remembered (one small struct). */
static void queue_ep_release(struct queue *q, struct ep_state *ep, long long now_ms)
{
    if (ep->waiting != 0 || ep->in_flight != 0 || ep->ready || ep->next_start_ms > now_ms ||
        ep->failing_until_ms > now_ms)
        return;
    struct tn_state *tn = ep->tn;
    free(strmap_del(q->eps, ep->id));
    if (--tn->neps == 0 && tn->waiting == 0 && tn->in_flight == 0 && !tn->ready)
        free(strmap_del(q->tns, tn->id));
}

static int ep_cap(const struct queue *q, const struct ep_state *ep, long long now_ms)
{
    return ep->failing_until_ms > now_ms ? 1 : q->max_per_endpoint;
}

static void tn_ring_add(struct queue *q, struct tn_state *tn)
{
    if (tn->ready || tn->ring == NULL || tn->in_flight >= q->max_per_tenant)
        return;
    tn->ready = true;
    tn->next = NULL;
    if (q->ring_tail)
        q->ring_tail->next = tn;
    else
        q->ring = tn;
    q->ring_tail = tn;
}

/* Put 'ep' where queue_run finds it, if it has a delivery that may start
 * once a slot is free: on its tenant's ring, or on the timed list while its
 * rate limit holds it. */
static void ep_make_ready(struct queue *q, struct ep_state *ep, long long now_ms)
{
    if (ep->ready || ep->head == NULL || ep->in_flight >= ep_cap(q, ep, now_ms))
        return;
    ep->ready = true;
    ep->next = NULL;
    if (ep->next_start_ms > now_ms) {
        ep->next = q->timed;
        q->timed = ep;
        return;
    }
    struct tn_state *tn = ep->tn;
    if (tn->ring_tail)
        tn->ring_tail->next = ep;
    else
        tn->ring = ep;
    tn->ring_tail = ep;
    tn_ring_add(q, tn);
}

bool queue_admit(struct queue *q, const struct delivery *d, long long now_ms)
{
    if (d->sub->rate_limit > 0)
        return false;           /* served by the lane's holder alone, so the limit holds across dispatchers */
    const struct ep_state *ep = queue_ep(q, d, false);
    if (ep == NULL)
        return true;
    if (ep->failing_until_ms > now_ms)
        return false;
    if (ep->waiting >= q->lane_size && ep->in_flight >= q->max_per_endpoint)
        return false;           /* the endpoint, not this process, is the bottleneck */
    /* a tenant keeps in memory at most its slots and two rounds behind
     * them, counted before they start: a flood read in one turn, when none
     * of it is in flight yet, must not take the process to its mark and
     * hold reading back for everyone; beyond that it waits in PostgreSQL */
    const struct tn_state *tn = ep->tn;
    if (tn->waiting + (size_t)tn->in_flight >= q->tenant_waiting_max + (size_t)q->max_per_tenant)
        return false;
    /* the process's lanes are half full and this one would wait on its own
     * endpoint's or tenant's limit, not on the process: to PostgreSQL (when
     * the process itself is the bottleneck, its mark holds reading back) */
    if (q->waiting >= q->waiting_max &&
        (ep->in_flight >= q->max_per_endpoint || tn->in_flight >= q->max_per_tenant))
        return false;
    return true;
}

void queue_push(struct queue *q, struct delivery *d)
{
    struct ep_state *ep = queue_ep(q, d, true);
    d->next = NULL;
    if (ep->tail)
        ep->tail->next = d;
    else
        ep->head = d;
    ep->tail = d;
    ep->waiting++;
    ep->tn->waiting++;
    q->waiting++;
    ep_make_ready(q, ep, hl_time_now_ms());
}

/* Endpoints whose rate limit has let go go back to their tenant's ring. */
static void queue_wake_timed(struct queue *q, long long now_ms)
{
    struct ep_state **link = &q->timed;
    while (*link) {
        struct ep_state *ep = *link;
        if (ep->next_start_ms <= now_ms) {
            *link = ep->next;
            ep->ready = false;
            ep_make_ready(q, ep, now_ms);
        } else {
            link = &ep->next;
        }
    }
}

static struct delivery *ep_pop(struct queue *q, struct ep_state *ep)
{
    struct delivery *d = ep->head;
    ep->head = d->next;
    if (ep->head == NULL)
        ep->tail = NULL;
    d->next = NULL;
    ep->waiting--;
    ep->tn->waiting--;
    q->waiting--;
    return d;
}

void queue_run(struct queue *q, long long now_ms, int (*start)(struct delivery *d, void *arg), void *arg)
{
    queue_wake_timed(q, now_ms);
    while (q->ring && q->in_flight < q->max_in_flight) {
        struct tn_state *tn = q->ring;
        q->ring = tn->next;
        if (q->ring == NULL)
            q->ring_tail = NULL;
        tn->ready = false;
        struct ep_state *ep = tn->ring;
        tn->ring = ep->next;
        if (tn->ring == NULL)
            tn->ring_tail = NULL;
        ep->ready = false;
        struct delivery *d = ep_pop(q, ep);
        int rate = d->sub->rate_limit;
        if (start(d, arg) == 0) {
            ep->in_flight++;
            tn->in_flight++;
            q->in_flight++;
            if (rate > 0)           /* evenly spaced, no burst: no second holds more than 'rate' starts */
                ep->next_start_ms = (ep->next_start_ms > now_ms ? ep->next_start_ms : now_ms) + (999 + rate) / rate;
        }
        ep_make_ready(q, ep, now_ms);
        tn_ring_add(q, tn);
        queue_ep_release(q, ep, now_ms);
    }
}

void queue_done(struct queue *q, const struct delivery *d, bool failed)
{
    struct ep_state *ep = queue_ep(q, d, false);
    if (ep == NULL)
        return;
    long long now = hl_time_now_ms();
    ep->in_flight--;
    ep->tn->in_flight--;
    q->in_flight--;
    ep->failing_until_ms = failed ? now + QUEUE_FAILING_HOLD_MS : 0;
    ep_make_ready(q, ep, now);
    tn_ring_add(q, ep->tn);
    queue_ep_release(q, ep, now);
}

long long queue_next_start(const struct queue *q, const char *endpoint_id)
{
    const struct ep_state *ep = strmap_get(q->eps, endpoint_id);
    return ep ? ep->next_start_ms : 0;
}

void queue_set_next_start(struct queue *q, const struct delivery *d, long long when_ms)
{
    struct ep_state *ep = queue_ep(q, d, true);
    if (when_ms > ep->next_start_ms)
        ep->next_start_ms = when_ms;
}

bool queue_failing(const struct queue *q, const char *endpoint_id, long long now_ms)
{
    const struct ep_state *ep = strmap_get(q->eps, endpoint_id);
    return ep && ep->failing_until_ms > now_ms;
}

/* Is 'ep' (of 'tn'; either may be NULL) held back by its own or its
 * tenant's limit with what it can start next already waiting in memory?
 * Its own: all its slots busy and a full round waiting. Its tenant's: all
 * the tenant's slots busy and the endpoint's share of them waiting. */
static bool ep_held_back(const struct queue *q, const struct ep_state *ep, const struct tn_state *tn, long long now_ms)
{
    size_t waiting = ep ? ep->waiting : 0;
    if (ep && ep->in_flight >= ep_cap(q, ep, now_ms) && waiting >= (size_t)ep_cap(q, ep, now_ms))
        return true;
    if (tn && tn->in_flight >= q->max_per_tenant) {
        size_t share = (size_t)q->max_per_tenant / (tn->neps ? tn->neps : 1);
        return waiting >= (share < 1 ? 1 : share);
    }
    return false;
}

bool queue_held_back(const struct queue *q, const char *endpoint_id, const char *tenant, long long now_ms)
{
    const struct ep_state *ep = strmap_get(q->eps, endpoint_id);
    const struct tn_state *tn = ep ? ep->tn : tenant ? strmap_get(q->tns, tenant) : NULL;
    return ep_held_back(q, ep, tn, now_ms);
}

struct tenant_walk {
    void (*fn)(const char *tenant, void *arg);
    void *arg;
};

static void tenant_one(const char *key, void *value, void *arg)
{
    const struct tn_state *tn = value;
    struct tenant_walk *w = arg;
    if (tn->waiting > 0)
        w->fn(key, w->arg);
}

void queue_each_waiting_tenant(const struct queue *q, void (*fn)(const char *tenant, void *arg), void *arg)
{
    struct tenant_walk w = { fn, arg };
    strmap_foreach(q->tns, tenant_one, &w);
}

size_t queue_tenant_waiting(const struct queue *q, const char *tenant)
{
    const struct tn_state *tn = tenant ? strmap_get(q->tns, tenant) : NULL;
    return tn ? tn->waiting : 0;
}

size_t queue_waiting(const struct queue *q)
{
    return q->waiting;
}

size_t queue_in_flight(const struct queue *q)
{
    return q->in_flight;
}

/* Unlink 'ep' from its tenant's ring or the timed list. */
static void ep_unlink(struct queue *q, struct ep_state *ep)
{
    struct ep_state **link = ep->next_start_ms > 0 ? &q->timed : &ep->tn->ring;
    for (int pass = 0; pass < 2 && ep->ready; pass++) {
        struct ep_state *prev = NULL;
        for (struct ep_state **l = link; *l; prev = *l, l = &(*l)->next) {
            if (*l == ep) {
                *l = ep->next;
                if (link == &ep->tn->ring && ep->tn->ring_tail == ep)
                    ep->tn->ring_tail = prev;
                ep->ready = false;
                break;
            }
        }
        link = link == &q->timed ? &ep->tn->ring : &q->timed;
    }
}

struct drop_walk {
    struct queue *q;
    bool (*pred)(const struct delivery *d, void *arg);
    void (*drop)(struct delivery *d, void *arg);
    void *arg;
};

static void queue_drop_ep(const char *key, void *value, void *arg)
{
    struct drop_walk *w = arg;
    struct ep_state *ep = value;
    (void)key;
    struct delivery **link = &ep->head, *last = NULL, *dropped = NULL, **dtail = &dropped;
    while (*link) {
        struct delivery *d = *link;
        if (w->pred(d, w->arg)) {
            *link = d->next;
            ep->waiting--;
            ep->tn->waiting--;
            w->q->waiting--;
            d->next = NULL;
            *dtail = d;
            dtail = &d->next;
        } else {
            last = d;
            link = &d->next;
        }
    }
    ep->tail = last;
    if (ep->head == NULL && ep->ready)
        ep_unlink(w->q, ep);
    /* handed over after the walk of this endpoint: 'drop' may free them */
    while (dropped) {
        struct delivery *d = dropped;
        dropped = d->next;
        w->drop(d, w->arg);
    }
}

void queue_drop_if(struct queue *q, bool (*pred)(const struct delivery *d, void *arg),
                   void (*drop)(struct delivery *d, void *arg), void *arg)
{
    struct drop_walk w = { q, pred, drop, arg };
    strmap_foreach(q->eps, queue_drop_ep, &w);
    /* tenants whose every endpoint left the ring leave the queue's ring */
    struct tn_state **link = &q->ring, *prev = NULL;
    while (*link) {
        struct tn_state *tn = *link;
        if (tn->ring == NULL) {
            *link = tn->next;
            tn->ready = false;
        } else {
            prev = tn;
            link = &tn->next;
        }
    }
    q->ring_tail = prev;
}
