/* queue.c: deliveries waiting for their endpoint.
 *
 * Each endpoint has a FIFO of waiting deliveries, an in-flight count and,
 * when its webhook sets rate_limit, a token bucket. A slow or limited
 * endpoint only ever holds back its own deliveries: the others start as
 * long as the process is below its in-flight limit. Deliveries above a
 * rate limit wait; none is dropped. The total waiting is bounded by the
 * caller, which stops reading Kafka while queue_waiting() is high.
 */
#include "dispatcher.h"
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

struct ep_state {
    char id[HL_ID_MAX];
    struct delivery *head, *tail;
    size_t waiting;
    int in_flight;
    double tokens;
    long long refill_ms;
    int rate;                   /* the rate limit last applied; 0 = none */
    bool ready;                 /* on the ready list */
    struct ep_state *next_ready;
};

struct queue {
    struct strmap *eps;         /* endpoint id -> struct ep_state */
    struct ep_state *ready;     /* endpoints with waiting deliveries */
    size_t waiting;
    size_t in_flight;
    size_t max_in_flight;
    int max_per_endpoint;
};

struct queue *queue_new(const struct hl_config *cfg)
{
    struct queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->eps = strmap_new();
    if (q->eps == NULL) {
        free(q);
        return NULL;
    }
    q->max_in_flight = (size_t)cfg->max_in_flight;
    q->max_per_endpoint = cfg->max_in_flight_per_endpoint;
    return q;
}

void queue_free(struct queue *q)
{
    if (q == NULL)
        return;
    strmap_free(q->eps, free);
    free(q);
}

static struct ep_state *queue_ep(struct queue *q, const char *id, bool create)
{
    struct ep_state *ep = strmap_get(q->eps, id);
    if (ep != NULL || !create)
        return ep;
    ep = calloc(1, sizeof(*ep));
    if (ep == NULL)
        return NULL;
    snprintf(ep->id, sizeof(ep->id), "%s", id);
    ep->tokens = -1;            /* bucket not started */
    if (strmap_put(q->eps, id, ep, NULL) < 0) {
        free(ep);
        return NULL;
    }
    return ep;
}

static void queue_ep_release(struct queue *q, struct ep_state *ep)
{
    if (ep->waiting != 0 || ep->in_flight != 0 || ep->ready)
        return;
    /* a rate-limited endpoint whose bucket is not full keeps its state (one
     * small struct per such endpoint, reused at its next delivery), or going
     * idle for a moment would allow a fresh burst */
    if (ep->rate > 0 && ep->tokens + (double)(hl_time_now_ms() - ep->refill_ms) * ep->rate / 1000.0 < ep->rate)
        return;
    free(strmap_del(q->eps, ep->id));
}

static void queue_make_ready(struct queue *q, struct ep_state *ep)
{
    if (ep->ready)
        return;
    ep->ready = true;
    ep->next_ready = q->ready;
    q->ready = ep;
}

void queue_push(struct queue *q, struct delivery *d)
{
    struct ep_state *ep = queue_ep(q, d->sub->eps[d->ep].id, true);
    if (ep == NULL)
        abort();                /* out of memory: nothing sensible is left to do */
    d->next = NULL;
    if (ep->tail)
        ep->tail->next = d;
    else
        ep->head = d;
    ep->tail = d;
    ep->waiting++;
    q->waiting++;
    queue_make_ready(q, ep);
}

/* Take one token for a rate-limited endpoint; false when none is left. */
static bool queue_take_token(struct ep_state *ep, int rate, long long now_ms)
{
    ep->rate = rate;
    if (rate <= 0)
        return true;
    if (ep->tokens < 0) {
        ep->tokens = rate;
        ep->refill_ms = now_ms;
    }
    ep->tokens += (double)(now_ms - ep->refill_ms) * rate / 1000.0;
    ep->refill_ms = now_ms;
    if (ep->tokens > rate)
        ep->tokens = rate;
    if (ep->tokens < 1.0)
        return false;
    ep->tokens -= 1.0;
    return true;
}

void queue_run(struct queue *q, long long now_ms, void (*start)(struct delivery *d, void *arg), void *arg)
{
    struct ep_state **link = &q->ready;
    while (*link && q->in_flight < q->max_in_flight) {
        struct ep_state *ep = *link;
        while (ep->head && ep->in_flight < q->max_per_endpoint && q->in_flight < q->max_in_flight &&
               queue_take_token(ep, ep->head->sub->rate_limit, now_ms)) {
            struct delivery *d = ep->head;
            ep->head = d->next;
            if (ep->head == NULL)
                ep->tail = NULL;
            d->next = NULL;
            ep->waiting--;
            q->waiting--;
            ep->in_flight++;
            q->in_flight++;
            start(d, arg);
        }
        if (ep->head == NULL) {
            *link = ep->next_ready;
            ep->ready = false;
            queue_ep_release(q, ep);
        } else {
            link = &ep->next_ready;
        }
    }
}

void queue_done(struct queue *q, const char *endpoint_id)
{
    struct ep_state *ep = queue_ep(q, endpoint_id, false);
    if (ep == NULL)
        return;
    ep->in_flight--;
    q->in_flight--;
    queue_ep_release(q, ep);
}

size_t queue_waiting(const struct queue *q)
{
    return q->waiting;
}

size_t queue_in_flight(const struct queue *q)
{
    return q->in_flight;
}

void queue_drop_if(struct queue *q, bool (*pred)(const struct delivery *d, void *arg),
                   void (*drop)(struct delivery *d, void *arg), void *arg)
{
    for (struct ep_state *ep = q->ready; ep; ep = ep->next_ready) {
        struct delivery **link = &ep->head, *last = NULL;
        while (*link) {
            struct delivery *d = *link;
            if (pred(d, arg)) {
                *link = d->next;
                ep->waiting--;
                q->waiting--;
                drop(d, arg);
            } else {
                last = d;
                link = &d->next;
            }
        }
        ep->tail = last;
    }
}
