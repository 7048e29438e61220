/* recent.c: the events read but not yet known to be matched against every
 * webhook created before they were produced (dispatcher.h says why). A
 * ring of payload references in reading order, each holding its Kafka
 * offset back (one pending unit of its msg_track) until an index sync
 * covers it. Bounded by count and payload bytes: when full, the loop reads
 * nothing more until a sync covers the oldest.
 */
#include "dispatcher.h"

#include <stdlib.h>

struct recent_entry {
    struct payload *p;
    struct msg_track *track;    /* the held unit; NULL when untracked */
    long long ts_ms;            /* produced (the Kafka message's timestamp) */
    long long cover_ms;         /* covered by a sync sent at or after this */
};

struct recent {
    struct recent_entry *ring;
    size_t cap, head, n;        /* the oldest is ring[head] */
    size_t bytes, max_bytes;    /* payload bytes kept, and the bound */
    long long skew_ms;
};

struct recent *recent_new(size_t cap, size_t max_bytes, long long skew_ms)
{
    struct recent *r = calloc(1, sizeof(*r));
    if (r == NULL || cap == 0 || (r->ring = calloc(cap, sizeof(*r->ring))) == NULL) {
        free(r);
        return NULL;
    }
    r->cap = cap;
    r->max_bytes = max_bytes;
    r->skew_ms = skew_ms;
    return r;
}

static struct recent_entry *recent_at(const struct recent *r, size_t i)
{
    return &r->ring[(r->head + i) % r->cap];
}

/* Take the oldest entry out; its track (if any) goes to the caller. */
static struct msg_track *recent_pop(struct recent *r)
{
    struct recent_entry *e = recent_at(r, 0);
    struct msg_track *track = e->track;
    r->bytes -= e->p->len;
    payload_unref(e->p);
    *e = (struct recent_entry){ 0 };
    r->head = (r->head + 1) % r->cap;
    r->n--;
    return track;
}

void recent_free(struct recent *r)
{
    if (r == NULL)
        return;
    /* by now every track is gone with its tracker: only the payloads are ours */
    while (r->n > 0)
        (void)recent_pop(r);
    free(r->ring);
    free(r);
}

bool recent_full(const struct recent *r)
{
    return r->n == r->cap || r->bytes >= r->max_bytes;
}

bool recent_half(const struct recent *r)
{
    return r->n >= r->cap / 2 || r->bytes >= r->max_bytes / 2;
}

void recent_add(struct recent *r, struct payload *p, struct msg_track *track, long long ts_ms, long long read_ms)
{
    /* the caller reads nothing while full: this slot is free but for an
     * event that took the bytes over their bound, which is kept (one event
     * over, at most); a full count is the caller's bug */
    if (r->n == r->cap)
        abort();
    struct recent_entry *e = recent_at(r, r->n);
    p->refs++;
    if (track)
        track->pending++;
    /* produced before the sync was sent, on this clock (read before it) or
     * on the producer's (its timestamp, give or take the skew allowed) */
    long long by_ts = ts_ms + r->skew_ms;
    *e = (struct recent_entry){ .p = p, .track = track, .ts_ms = ts_ms,
                                .cover_ms = by_ts < read_ms ? by_ts : read_ms };
    r->n++;
    r->bytes += p->len;
}

size_t recent_cover(struct recent *r, long long synced_ms, void (*release)(struct msg_track *track, void *arg),
                    void *arg)
{
    size_t n = 0;
    /* oldest first: an entry covered behind an uncovered one waits for it,
     * by at most the skew (entries are in reading order) */
    while (r->n > 0 && recent_at(r, 0)->cover_ms <= synced_ms) {
        struct msg_track *track = recent_pop(r);
        if (track)
            release(track, arg);
        n++;
    }
    return n;
}

void recent_replay(struct recent *r, long long since_ms,
                   void (*fn)(struct payload *p, struct msg_track *track, void *arg), void *arg)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct recent_entry *e = recent_at(r, i);
        if (e->ts_ms >= since_ms)
            fn(e->p, e->track, arg);
    }
}

size_t recent_drop_if(struct recent *r, bool (*pred)(const struct msg_track *track, void *arg),
                      void (*drop)(struct msg_track *track, void *arg), void *arg)
{
    /* compact in place, keeping the order of what stays */
    size_t kept = 0, dropped = 0, n = r->n;
    for (size_t i = 0; i < n; i++) {
        struct recent_entry e = *recent_at(r, i);
        if (pred(e.track, arg)) {
            r->bytes -= e.p->len;
            payload_unref(e.p);
            if (e.track)
                drop(e.track, arg);
            dropped++;
        } else {
            *recent_at(r, kept++) = e;
        }
    }
    for (size_t i = kept; i < n; i++)
        *recent_at(r, i) = (struct recent_entry){ 0 };
    r->n = kept;
    return dropped;
}

size_t recent_size(const struct recent *r)
{
    return r->n;
}
