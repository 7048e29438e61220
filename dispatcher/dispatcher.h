/* dispatcher.h: the parts of hookline-dispatcher and what they share.
 *
 * One thread runs everything in a loop (main.c): it reads events from
 * Kafka (consumer.c), matches them against the in-memory subscription
 * index (sub_index.c, kept current by lifecycle.c), queues one delivery
 * per endpoint (queue.c), sends them with libcurl multi (deliver.c),
 * records every attempt in batches and claims due retries (attempts.c).
 * A Kafka offset is committed only once every delivery of every event up
 * to it is recorded in PostgreSQL.
 */
#ifndef HL_DISPATCHER_H
#define HL_DISPATCHER_H

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dest_policy.h"
#include "envelope.h"
#include "hl_error.h"
#include "hl_limits.h"
#include "ids.h"
#include "secretbox.h"
#include "strmap.h"

/* ---- subscriptions (sub_index.c) ---- */

struct sub_endpoint {
    const char *id;                 /* in the sub's allocation */
    const char *url;                /* in the sub's allocation */
    struct curl_slist *headers;     /* webhook headers, then the endpoint's; NULL = none */
    char *authorization;            /* "Authorization: ..." from the endpoint's credentials (own
                                     * allocation, wiped when freed); NULL = none */
    bool active;                    /* false: disabled on its own (410, failing); nothing goes to it */
    bool poll;                      /* {"kind": "poll"}: never pushed to; its events wait for the
                                     * tenant to fetch them (poll_write.h); url is "" */
};

/* One webhook as the dispatcher needs it. Immutable once built; shared by
 * the index and queued deliveries through 'refs'. One allocation holds the
 * struct, its arrays and its strings, sized to fit; tenant and event names
 * are interned (one copy for every webhook that names them). */
struct sub {
    int refs;
    bool active;
    int max_retries;
    int rate_limit;                 /* per endpoint per second; 0 = none */
    bool ordered;                   /* each endpoint's events one at a time, in order, through its
                                     * slow lane only (sql/016_ordered.sql) */
    unsigned stamp;                 /* matching: seen for this event */
    unsigned gen;                   /* resync generation that last saw it */
    long long version;
    long long prev_expires_ms;
    const char *id;
    const char *tenant;             /* interned */
    const char *secret;
    const char *prev_secret;        /* "" = none */
    const char **events;            /* interned names */
    size_t nevents;
    struct sub_endpoint *eps;
    size_t neps;
    json_t *filter;                 /* NULL = none */
};

struct sub_index;

/* An empty index that opens secrets with 'sb' (borrowed: it must outlive
 * the index), or NULL when out of memory. */
struct sub_index *sub_index_new(const struct secretbox *sb);
void sub_index_free(struct sub_index *idx);

void sub_ref(struct sub *s);
void sub_unref(struct sub *s);

/* Apply one webhook document (borrowed; its secrets sealed) at 'version';
 * 'deleted' removes it. Older or equal versions than the index holds are
 * ignored, so replays and duplicates are harmless. Returns 1 if applied, 0
 * if ignored, -1 on a malformed document, or SUB_APPLY_SEALED_SHUT when its
 * secrets do not open: the webhook is then out of the index (whatever
 * version it had), logged once per version and counted in
 * sub_index_sealed_shut() until a version that opens, its deletion, or a
 * load that no longer finds it. */
#define SUB_APPLY_SEALED_SHUT (-2)
int sub_index_apply(struct sub_index *idx, const json_t *doc, long long version, bool deleted);

/* Reload every webhook from PostgreSQL, in pages of 1,000 by id; entries
 * the database no longer has are removed at the end. Returns 0 or HL_EDB. */
int sub_index_load(struct sub_index *idx, PGconn *pg, struct hl_error *err) HL_MUST_CHECK;

/* The same, one page per call, for the loop (one bounded statement each):
 * 1 while pages remain, 0 when the load is complete, HL_EDB when a page
 * could not be read (the next call starts the load over). */
int sub_index_load_step(struct sub_index *idx, PGconn *pg, struct hl_error *err) HL_MUST_CHECK;

/* Read webhook 'id' from PostgreSQL into the index now (for an event that
 * names a webhook the lifecycle stream has not brought yet, or a slow-lane
 * row the index disagrees with). Returns 1 with *out (borrowed) set, 0 when
 * PostgreSQL has no such webhook, or -1 when it cannot be read. */
int sub_index_fetch(struct sub_index *idx, PGconn *pg, const char *id, struct sub **out);

/* 'fn' is called whenever the index takes an active webhook it did not
 * know (from the lifecycle stream, a load, a fetch or a sync), with its
 * created_at; 's' is borrowed. */
typedef void sub_new_fn(struct sub *s, long long created_ms, void *arg);
void sub_index_on_new(struct sub_index *idx, sub_new_fn *fn, void *arg);

/* Bring into the index every webhook created since 'since_ms' (this
 * host's clock, when the previous sync was sent) that it does not have in
 * that version. Returns 0 when it has them all (the sync covers what was
 * produced before it was sent), 1 when some are left for the next call,
 * -1 when PostgreSQL could not be read. */
int sub_index_sync_created(struct sub_index *idx, PGconn *pg, long long since_ms);

/* Call 'fn' once for every active webhook of 'tenant' subscribed to 'type'
 * (directly or through its group: catalog_group_of) whose filter matches
 * 'envelope', except, for an operational type, the webhook the event is
 * about (its data.webhook_id: catalog.h). 'fn' goes to the webhook's
 * active endpoints only (sub_endpoint.active). */
void sub_index_match(struct sub_index *idx, const char *tenant, const char *type, const json_t *envelope,
                     void (*fn)(struct sub *s, void *arg), void *arg);

/* Does 's' take an event of 'tenant' and 'type' with this envelope (active,
 * subscribed to the type or its group, its filter matches, and it is not
 * the webhook an operational event is about)? */
bool sub_matches(const struct sub *s, const char *tenant, const char *type, const json_t *envelope);

/* The webhook 'id' (borrowed; NULL if absent). */
struct sub *sub_index_get(struct sub_index *idx, const char *id);

/* Is 'tenant' known (it has or had webhooks, or is in the tenants table)? */
bool sub_index_knows_tenant(struct sub_index *idx, const char *tenant);

size_t sub_index_size(const struct sub_index *idx);

/* Webhooks left out because their secrets do not open (for /metrics). */
size_t sub_index_sealed_shut(const struct sub_index *idx);

/* ---- shared payloads ---- */

/* An event body shared by its deliveries. */
struct payload {
    int refs;
    size_t len;
    /* the attempt writer's own (attempts_write.c; its thread only): the
     * UTC day (days since 1970, + 1; 0 none) whose stored body it knows
     * committed, and the batch and day that last listed it for storing */
    long long body_day_stored;
    unsigned long long body_batch;
    long long body_batch_day;
    char event_id[LIMIT_EVENT_ID_MAX + 1];
    char event_type[LIMIT_EVENT_TYPE_MAX + 1];
    char data[];                    /* 'len' bytes + NUL */
};

struct payload *payload_new(const char *event_id, const char *type, const char *body, size_t len);
void payload_unref(struct payload *p);

/* ---- events read and not yet covered by an index sync (recent.c) ---- */

struct msg_track;

/* A webhook's creation reaches the index through hookline.webhooks (the
 * api's outbox relay) or through the loop's sync with PostgreSQL, while
 * the events produced right after its 201 come through hookline.events:
 * an event may be read before the index knows a webhook it should go to.
 * So every event read stays here, holding its offset back, until a sync
 * sent after it was produced has brought every webhook created before
 * then ('covered'); a webhook the sync brings gets the kept events
 * produced at or after its creation, tied to their offsets. Producer
 * timestamps are trusted to within 'skew_ms' of this host's clock. */
struct recent;
struct recent *recent_new(size_t cap, size_t max_bytes, long long skew_ms);
void recent_free(struct recent *r);
/* 'cap' events or 'max_bytes' of payload kept: read nothing until a sync
 * covers some. */
bool recent_full(const struct recent *r);
/* Half of either bound taken: time to ask for a sync soon. */
bool recent_half(const struct recent *r);
/* Keep 'p' (a new reference) and one pending unit of 'track' (may be
 * NULL), produced at 'ts_ms' (producer's clock), read at 'read_ms'. */
void recent_add(struct recent *r, struct payload *p, struct msg_track *track, long long ts_ms, long long read_ms);
/* A sync sent at 'synced_ms' succeeded: let go of the events it covers,
 * oldest first, passing each held unit to 'release'. Returns how many. */
size_t recent_cover(struct recent *r, long long synced_ms, void (*release)(struct msg_track *track, void *arg),
                    void *arg);
/* Call 'fn' for each kept event produced at or after 'since_ms', oldest first. */
void recent_replay(struct recent *r, long long since_ms,
                   void (*fn)(struct payload *p, struct msg_track *track, void *arg), void *arg);
/* Drop the events whose track 'pred' picks (revoke, stop), passing each
 * held unit to 'drop'. Returns how many. */
size_t recent_drop_if(struct recent *r, bool (*pred)(const struct msg_track *track, void *arg),
                      void (*drop)(struct msg_track *track, void *arg), void *arg);
size_t recent_size(const struct recent *r);

/* ---- Kafka offset tracking (consumer.c) ---- */

/* One consumed message, done when 'pending' (its deliveries not yet
 * recorded, plus one while it is being matched) reaches 0 and none of them
 * was abandoned. Also the count of references to it: once its partition
 * is revoked it is an orphan, freed by whoever drops 'pending' to 0. */
struct msg_track {
    int32_t partition;
    int64_t offset;
    int pending;
    bool abandoned;                 /* a delivery was dropped: never finished here */
    bool orphan;                    /* its partition was revoked while it was pending */
    struct msg_track *next;
};

/* ---- deliveries ---- */

/* DELIVERY_DEFERRED: not attempted; it goes to its endpoint's slow lane
 * (a retries row due now), which then holds it instead of memory.
 * DELIVERY_POLLED: for a poll endpoint, never attempted; recorded as an
 * event waiting to be fetched (poll_write.h), and no attempt record. */
enum delivery_outcome { DELIVERY_SUCCESS, DELIVERY_RETRY, DELIVERY_FAILED, DELIVERY_DEFERRED, DELIVERY_POLLED };

struct delivery {
    struct delivery *next;          /* endpoint queue link */
    struct sub *sub;                /* reference */
    size_t ep;                      /* index into sub->eps */
    struct payload *payload;        /* reference */
    int attempt;                    /* 1 = first */
    int64_t retry_id;               /* retries row it came from (slow lane); 0 = from Kafka */
    int64_t lane_epoch;             /* the lane lease it was taken under, with retry_id */
    bool lane_finished;             /* taken from a lane and finished: no longer counts against its room */
    struct msg_track *track;        /* NULL for retries */
    bool ordered;                   /* of an ordered webhook: appended to its endpoint's ordered lane
                                     * (from Kafka), or that lane's head (from a slow lane) */
    long timeout_ms;                /* the request's timeout; 0: HOOKLINE_DELIVERY_TIMEOUT */
    /* filled when the attempt completes */
    long status;
    char error[256];
    char *response;                 /* bounded excerpt */
    size_t response_len;
    long long sent_ms;
    long duration_ms;
    long retry_after_s;             /* from a 429/503 Retry-After; -1 none */
    enum delivery_outcome outcome;
    long long next_ms;              /* when DELIVERY_RETRY: due time */
    bool gone;                      /* 410: disable the endpoint */
    char dlv_id[HL_ID_MAX];
    char signature[3 * 64];         /* the webhook-signature it went out with ("" if none), for the log */
};

struct dispatcher;

/* queue.c: the fast lanes: per-endpoint FIFOs in memory, in-flight slots
 * round-robin over tenants then endpoints, per-endpoint rate limits. */
struct queue;
/* The process's mark: over this many deliveries waiting in memory (to be
 * sent or recorded) the loop reads nothing more from Kafka. Over half of
 * it, a new delivery that would wait on its endpoint's or tenant's limit
 * goes to its slow lane in PostgreSQL, and the slow lanes bring rows back
 * into memory only while under half, and over a quarter only for tenants
 * with nothing in memory: slow endpoints never take the process to the
 * mark, only its own CPU or a writer PostgreSQL holds back. */
static inline size_t dispatch_mark(const struct hl_config *cfg)
{
    return cfg->max_in_flight * 4 > 1000 ? (size_t)cfg->max_in_flight * 4 : 1000;
}

struct queue *queue_new(const struct hl_config *cfg);
void queue_free(struct queue *q);
/* May a new delivery from Kafka wait here (true), or should it go to its
 * endpoint's slow lane in PostgreSQL (false: the endpoint is rate limited
 * or failing, or it and its tenant have their share in flight and a full
 * lane waiting)? Borrows 'd'. */
bool queue_admit(struct queue *q, const struct delivery *d, long long now_ms);
/* Take ownership of 'd'; it waits for its endpoint's turn. */
void queue_push(struct queue *q, struct delivery *d);
/* Start deliveries while slots are free, one per tenant in turn, then per
 * endpoint in turn, through 'start': it returns 0 when the delivery is in
 * flight (queue_done follows), or -1 when it took the delivery back. */
void queue_run(struct queue *q, long long now_ms, int (*start)(struct delivery *d, void *arg), void *arg);
/* An in-flight delivery ended; 'failed' marks its endpoint failing for a
 * while (one delivery at a time, new ones to the slow lane). Borrows 'd'. */
void queue_done(struct queue *q, const struct delivery *d, bool failed);
/* Rate limit: the earliest next start of an endpoint (0: none known), and
 * holding one back until 'when_ms' (a lane's previous holder's pace). */
long long queue_next_start(const struct queue *q, const char *endpoint_id);
void queue_set_next_start(struct queue *q, const struct delivery *d, long long when_ms);
bool queue_failing(const struct queue *q, const char *endpoint_id, long long now_ms);
size_t queue_waiting(const struct queue *q);
/* Is an endpoint (of 'tenant', may be NULL) held back by its own or its
 * tenant's limit, with what it can start next already waiting? Its slow
 * lane then takes nothing: rows taken would only wait in memory. */
bool queue_held_back(const struct queue *q, const char *endpoint_id, const char *tenant, long long now_ms);
/* How many of a tenant's deliveries wait in memory. */
size_t queue_tenant_waiting(const struct queue *q, const char *tenant);
/* Call 'fn' for each tenant with deliveries waiting in memory. */
void queue_each_waiting_tenant(const struct queue *q, void (*fn)(const char *tenant, void *arg), void *arg);
size_t queue_in_flight(const struct queue *q);
/* Remove every waiting delivery for which 'pred' is true, passing each to
 * 'drop' (which takes it). */
void queue_drop_if(struct queue *q, bool (*pred)(const struct delivery *d, void *arg),
                   void (*drop)(struct delivery *d, void *arg), void *arg);

/* deliver.c: signed POSTs over libcurl multi. */
struct deliver;
struct deliver *deliver_new(const struct hl_config *cfg, const struct dest_policy *policy, struct hl_error *err);
void deliver_free(struct deliver *dv);
/* Start sending 'd' (ownership stays with the caller until 'done'). */
int deliver_start(struct deliver *dv, struct delivery *d) HL_MUST_CHECK;
/* Wait up to 'timeout_ms' for network activity, make progress, and call
 * 'done' for every finished delivery (status, error, response filled). */
void deliver_run(struct deliver *dv, int timeout_ms, void (*done)(struct delivery *d, void *arg), void *arg);
size_t deliver_active(const struct deliver *dv);
/* Interrupt a deliver_run() waiting in another thread. Any thread. */
void deliver_wakeup(void *dv);

/* attempts.c: attempt records written in batches by a writer thread, and
 * retry claims. Every function here is for the loop's thread only. */
struct attempts;
/* Connect (two connections: the loop's and the writer's) and start the
 * writer thread. 'wake' (may be NULL) is called from the writer thread when
 * a batch is done, to cut short the loop's wait. NULL with the reason in
 * 'err'. */
struct attempts *attempts_new(const struct hl_config *cfg, const char *dispatcher_name, void (*wake)(void *arg),
                              void *wake_arg, struct hl_error *err);
/* Stop the writer (after the batch it is writing) and close. Deliveries
 * still batched are not freed: drain with attempts_sync first. */
void attempts_free(struct attempts *at);
/* Add a finished delivery, or one deferred to its slow lane, to the batch
 * (takes ownership until 'recorded'). */
void attempts_add(struct attempts *at, struct delivery *d);
/* Deliveries finished and not yet recorded (batched or being written). */
size_t attempts_batched(const struct attempts *at);
/* Never blocks on PostgreSQL: report the writer's finished batch (calling
 * 'recorded' for each delivery, which frees it; on failure the batch is
 * kept and retried after a back-off), and hand the writer the next batch
 * if it is idle and the batch is big or old enough (any size if 'force').
 * Returns 0, or HL_EDB when the finished batch could not be written. */
int attempts_pump(struct attempts *at, long long now_ms, bool force,
                  void (*recorded)(struct delivery *d, void *arg), void *arg);
/* Milliseconds until attempts_pump has work the writer will not announce
 * through 'wake': the batch filling now becomes old enough to hand over
 * (0: now). -1 when nothing is timed (nothing batched, or the writer is
 * busy and wakes the loop when done). For the loop's wait. */
long attempts_due_in(struct attempts *at, long long now_ms);
/* Block until every batched delivery is recorded (0) or 'timeout_ms' has
 * passed (HL_EDB; the rest stays batched). */
int attempts_sync(struct attempts *at, long timeout_ms, void (*recorded)(struct delivery *d, void *arg), void *arg);
/* The loop's own PostgreSQL session (slow lanes, index loads), or NULL
 * while it is down: each call then makes one step of a reconnect that
 * never blocks. Loop thread only. */
PGconn *attempts_pg(struct attempts *at);

#endif
