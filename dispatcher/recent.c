/* recent.c: the events this dispatcher read in the last moments, so that
 * a webhook created a moment ago still gets the events produced after its
 * creation that were read before its lifecycle event reached the index
 * (dispatcher.h says why). A ring of payload references: bounded by count,
 * payload bytes and age, the oldest dropped first; nothing is copied.
 */
#include "dispatcher.h"

#include <stdlib.h>

struct recent_entry {
    struct payload *p;
    long long ts_ms;            /* produced (the Kafka message's timestamp) */
    long long read_ms;
};

struct recent {
    struct recent_entry *ring;
    size_t cap, head, n;        /* the oldest is ring[head] */
    size_t bytes, max_bytes;    /* payload bytes kept, and the bound */
    long long keep_ms;
};

struct recent *recent_new(size_t cap, size_t max_bytes, long long keep_ms)
{
    struct recent *r = calloc(1, sizeof(*r));
    if (r == NULL || cap == 0 || (r->ring = calloc(cap, sizeof(*r->ring))) == NULL) {
        free(r);
        return NULL;
    }
    r->cap = cap;
    r->max_bytes = max_bytes;
    r->keep_ms = keep_ms;
    return r;
}

static void recent_drop_oldest(struct recent *r)
{
    r->bytes -= r->ring[r->head].p->len;
    payload_unref(r->ring[r->head].p);
    r->ring[r->head].p = NULL;
    r->head = (r->head + 1) % r->cap;
    r->n--;
}

void recent_free(struct recent *r)
{
    if (r == NULL)
        return;
    while (r->n > 0)
        recent_drop_oldest(r);
    free(r->ring);
    free(r);
}

void recent_add(struct recent *r, struct payload *p, long long ts_ms, long long now_ms)
{
    while (r->n > 0 && (r->n == r->cap || r->bytes + p->len > r->max_bytes ||
                        r->ring[r->head].read_ms < now_ms - r->keep_ms))
        recent_drop_oldest(r);
    if (p->len > r->max_bytes)
        return;
    struct recent_entry *e = &r->ring[(r->head + r->n) % r->cap];
    p->refs++;
    e->p = p;
    e->ts_ms = ts_ms;
    e->read_ms = now_ms;
    r->n++;
    r->bytes += p->len;
}

void recent_replay(struct recent *r, long long since_ms, void (*fn)(struct payload *p, void *arg), void *arg)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct recent_entry *e = &r->ring[(r->head + i) % r->cap];
        if (e->ts_ms >= since_ms)
            fn(e->p, arg);
    }
}

size_t recent_size(const struct recent *r)
{
    return r->n;
}
