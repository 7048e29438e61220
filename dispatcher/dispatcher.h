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
#include "hl_error.h"
#include "hl_limits.h"
#include "ids.h"
#include "strmap.h"

/* ---- subscriptions (sub_index.c) ---- */

struct sub_endpoint {
    const char *id;                 /* in the sub's allocation */
    const char *url;                /* in the sub's allocation */
    struct curl_slist *headers;     /* webhook headers, then the endpoint's; NULL = none */
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

struct sub_index *sub_index_new(void);
void sub_index_free(struct sub_index *idx);

void sub_ref(struct sub *s);
void sub_unref(struct sub *s);

/* Apply one webhook document (borrowed) at 'version'; 'deleted' removes it.
 * Older or equal versions than the index holds are ignored, so replays
 * and duplicates are harmless. Returns 1 if applied, 0 if ignored, -1 on
 * a malformed document. */
int sub_index_apply(struct sub_index *idx, const json_t *doc, long long version, bool deleted);

/* Reload every webhook from PostgreSQL (a cursor in batches); entries the
 * database no longer has are removed. Returns 0 or HL_EDB. */
int sub_index_load(struct sub_index *idx, PGconn *pg, struct hl_error *err) HL_MUST_CHECK;

/* Read webhook 'id' from PostgreSQL into the index now (for an event that
 * names a webhook the lifecycle stream has not brought yet). Returns it
 * (borrowed) or NULL if it does not exist or cannot be read. */
struct sub *sub_index_fetch(struct sub_index *idx, PGconn *pg, const char *id);

/* Call 'fn' once for every active webhook of 'tenant' subscribed to 'type'
 * (directly or through its group) whose filter matches 'envelope'. */
void sub_index_match(struct sub_index *idx, const char *tenant, const char *type, const json_t *envelope,
                     void (*fn)(struct sub *s, void *arg), void *arg);

/* Does 's' take an event of 'tenant' and 'type' with this envelope (active,
 * subscribed to the type or its group, and its filter matches)? */
bool sub_matches(const struct sub *s, const char *tenant, const char *type, const json_t *envelope);

/* The webhook 'id' (borrowed; NULL if absent). */
struct sub *sub_index_get(struct sub_index *idx, const char *id);

/* Is 'tenant' known (it has or had webhooks, or is in the tenants table)? */
bool sub_index_knows_tenant(struct sub_index *idx, const char *tenant);

size_t sub_index_size(const struct sub_index *idx);

/* ---- shared payloads ---- */

/* An event body shared by its deliveries. */
struct payload {
    int refs;
    size_t len;
    char event_id[LIMIT_EVENT_ID_MAX + 1];
    char event_type[LIMIT_EVENT_TYPE_MAX + 1];
    char data[];                    /* 'len' bytes + NUL */
};

struct payload *payload_new(const char *event_id, const char *type, const char *body, size_t len);
void payload_unref(struct payload *p);

/* ---- events read a moment ago (recent.c) ---- */

/* A webhook's lifecycle event (hookline.webhooks) and the events produced
 * right after its creation (hookline.events) come through different topics
 * in no set order, so an event may be read before the index knows a
 * webhook it should go to. The events read in the last 'keep_ms' (at most
 * 'cap' of them and 'max_bytes' of payload, the oldest dropped first) are
 * kept, so that a new webhook can still get those produced at or after its
 * creation. */
struct recent;
struct recent *recent_new(size_t cap, size_t max_bytes, long long keep_ms);
void recent_free(struct recent *r);
/* Keep 'p' (a new reference), produced at 'ts_ms', read at 'now_ms'. */
void recent_add(struct recent *r, struct payload *p, long long ts_ms, long long now_ms);
/* Call 'fn' for each kept event produced at or after 'since_ms', oldest first. */
void recent_replay(struct recent *r, long long since_ms, void (*fn)(struct payload *p, void *arg), void *arg);
size_t recent_size(const struct recent *r);

/* ---- Kafka offset tracking (consumer.c) ---- */

/* One consumed message, done when 'pending' deliveries reach 0. */
struct msg_track {
    int32_t partition;
    int64_t offset;
    int pending;
    struct msg_track *next;
};

/* ---- deliveries ---- */

enum delivery_outcome { DELIVERY_SUCCESS, DELIVERY_RETRY, DELIVERY_FAILED };

struct delivery {
    struct delivery *next;          /* endpoint queue link */
    struct sub *sub;                /* reference */
    size_t ep;                      /* index into sub->eps */
    struct payload *payload;        /* reference */
    int attempt;                    /* 1 = first */
    int64_t retry_id;               /* retries row it came from; 0 = from Kafka */
    struct msg_track *track;        /* NULL for retries */
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
    bool gone;                      /* 410: disable the webhook */
    char dlv_id[HL_ID_MAX];
};

struct dispatcher;

/* queue.c: per-endpoint FIFO queues, in-flight limits and rate limits. */
struct queue;
struct queue *queue_new(const struct hl_config *cfg);
void queue_free(struct queue *q);
/* Take ownership of 'd'; it waits for its endpoint's turn. */
void queue_push(struct queue *q, struct delivery *d);
/* Start every delivery whose endpoint and the process have room, through
 * 'start'. */
void queue_run(struct queue *q, long long now_ms, void (*start)(struct delivery *d, void *arg), void *arg);
/* An in-flight delivery of 'endpoint_id' ended. */
void queue_done(struct queue *q, const char *endpoint_id);
size_t queue_waiting(const struct queue *q);
size_t queue_in_flight(const struct queue *q);
/* Remove every waiting delivery for which 'pred' is true, passing each to
 * 'drop'. */
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
/* Add a finished delivery to the batch (takes ownership until 'recorded'). */
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
/* Block until every batched delivery is recorded (0) or 'timeout_ms' has
 * passed (HL_EDB; the rest stays batched). */
int attempts_sync(struct attempts *at, long timeout_ms, void (*recorded)(struct delivery *d, void *arg), void *arg);
/* Claim up to 'max' due retries (lease), calling 'claimed' with the row's
 * fields. Returns how many, or HL_EDB. */
int attempts_claim_retries(struct attempts *at, int max,
                           void (*claimed)(int64_t retry_id, const char *webhook_id, const char *endpoint_id,
                                           const char *event_id, const char *event_type, const char *payload,
                                           int attempt, void *arg), void *arg);
/* Give back leases of retries we will not attempt (shutdown, dropped). */
void attempts_release_retry(struct attempts *at, int64_t retry_id);
/* Store a delivery that was never attempted as a retries row due now, so
 * that any dispatcher makes it (at stop, for one tied to no Kafka offset).
 * Borrows 'd'. Logs a failure. */
void attempts_defer(struct attempts *at, const struct delivery *d);
/* Delete a retry row whose webhook or endpoint is gone. */
void attempts_forget_retry(struct attempts *at, int64_t retry_id);
/* The database connection, for the loader (same thread). */
PGconn *attempts_pg(struct attempts *at);

#endif
