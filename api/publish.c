/* publish.c: bounded publishing for HTTP requests and the thread that
 * settles the Idempotency-Keys of publishes whose report came late
 * (publish.h).
 */
#include "publish.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl_cond.h"
#include "idempotency.h"
#include "log.h"

/* A publish whose request stopped waiting, from then until it is settled. */
struct publish_late {
    struct publish_late *next;
    struct publisher *pub;
    enum kafka_fate fate;
    char *event_id;
    char *tenant, *key, *reply;     /* NULL key: no Idempotency-Key to settle */
};

struct publisher {
    struct api_ctx *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct publish_late *reported;  /* reports waiting to be settled, newest first */
    atomic_long outstanding;        /* publish_late alive: given up on, not settled */
};

static void publish_late_free(struct publish_late *pl)
{
    if (pl == NULL)
        return;
    free(pl->event_id);
    free(pl->tenant);
    free(pl->key);
    free(pl->reply);
    free(pl);
}

static struct publish_late *publish_late_new(struct publisher *pub, const char *event_id,
                                             const struct publish_key *idem)
{
    struct publish_late *pl = calloc(1, sizeof(*pl));
    if (pl == NULL)
        return NULL;
    pl->pub = pub;
    pl->event_id = strdup(event_id);
    bool ok = pl->event_id != NULL;
    if (idem != NULL) {
        pl->tenant = strdup(idem->tenant);
        pl->key = strdup(idem->key);
        pl->reply = strdup(idem->reply);
        ok = ok && pl->tenant && pl->key && pl->reply;
    }
    if (!ok) {
        publish_late_free(pl);
        return NULL;
    }
    return pl;
}

/* kafka_late_fn, on the producer's poll thread: queue it for the settler. */
static void publish_on_late(enum kafka_fate fate, void *opaque)
{
    struct publish_late *pl = opaque;
    struct publisher *pub = pl->pub;
    pl->fate = fate;
    pthread_mutex_lock(&pub->lock);
    pl->next = pub->reported;
    pub->reported = pl;
    pthread_cond_signal(&pub->wake);
    pthread_mutex_unlock(&pub->lock);
}

/* Settle one report on 'pg'. Returns 0, or HL_EDB to try again later. */
static int publish_settle(PGconn *pg, const struct publish_late *pl)
{
    struct hl_error err = { 0 };
    int rc = 0;
    switch (pl->fate) {
    case KAFKA_FATE_PERSISTED:
        log_info("event %s was written after its request gave up", pl->event_id);
        if (pl->key)
            rc = idempotency_answer(pg, pl->tenant, pl->key, pl->event_id, 202, pl->reply, &err);
        break;
    case KAFKA_FATE_NOT_PERSISTED:
        log_info("event %s was not written; its request had given up", pl->event_id);
        if (pl->key)
            rc = idempotency_release(pg, pl->tenant, pl->key, pl->event_id, &err);
        break;
    default:
        /* nobody can tell: the key stays in doubt until it expires (24 h) */
        log_warn("event %s: whether Kafka wrote it is unknown; its Idempotency-Key stays in doubt",
                 pl->event_id);
        break;
    }
    if (rc < 0)
        log_warn("event %s: Idempotency-Key not settled yet: %s", pl->event_id, err.msg);
    return rc;
}

/* Settle every report in 'list' (taking a pool connection only if one has
 * a key); returns those that could not be, for another try. */
static struct publish_late *publish_settle_all(struct publisher *pub, struct publish_late *list)
{
    PGconn *pg = NULL;
    struct publish_late *retry = NULL;
    while (list != NULL) {
        struct publish_late *pl = list;
        list = pl->next;
        if (pl->key != NULL && pg == NULL) {
            struct hl_error err = { 0 };
            pg = db_pool_acquire(pub->ctx->pool, &err);
        }
        if (pl->key != NULL && (pg == NULL || publish_settle(pg, pl) < 0)) {
            pl->next = retry;
            retry = pl;
            continue;
        }
        if (pl->key == NULL)
            (void)publish_settle(NULL, pl);
        publish_late_free(pl);
        atomic_fetch_sub(&pub->outstanding, 1);
    }
    if (pg != NULL)
        db_pool_release(pub->ctx->pool, pg);
    return retry;
}

static void *publish_main(void *arg)
{
    struct publisher *pub = arg;
    struct publish_late *retry = NULL;
    pthread_mutex_lock(&pub->lock);
    while (!pub->stop) {
        if (pub->reported == NULL) {
            /* a report wakes it; reports to try again, within a second */
            struct timespec until = hl_cond_deadline(1000);
            pthread_cond_timedwait(&pub->wake, &pub->lock, &until);
            if (pub->reported == NULL && retry == NULL)
                continue;
        }
        struct publish_late *list = pub->reported;
        pub->reported = NULL;
        pthread_mutex_unlock(&pub->lock);
        while (retry != NULL) {
            struct publish_late *pl = retry;
            retry = pl->next;
            pl->next = list;
            list = pl;
        }
        retry = publish_settle_all(pub, list);
        pthread_mutex_lock(&pub->lock);
    }
    /* hand back what is left: publisher_stop settles it once more */
    while (retry != NULL) {
        struct publish_late *pl = retry;
        retry = pl->next;
        pl->next = pub->reported;
        pub->reported = pl;
    }
    pthread_mutex_unlock(&pub->lock);
    return NULL;
}

struct publisher *publisher_start(struct api_ctx *ctx, struct hl_error *err)
{
    struct publisher *pub = calloc(1, sizeof(*pub));
    if (pub == NULL) {
        hl_error_set(err, HL_ENOMEM, "publisher: out of memory");
        return NULL;
    }
    pub->ctx = ctx;
    hl_cond_init_monotonic(&pub->wake);
    pthread_mutex_init(&pub->lock, NULL);
    if (pthread_create(&pub->thread, NULL, publish_main, pub) != 0) {
        pthread_cond_destroy(&pub->wake);
        pthread_mutex_destroy(&pub->lock);
        free(pub);
        hl_error_set(err, HL_ENOMEM, "publisher: cannot start its thread");
        return NULL;
    }
    return pub;
}

void publisher_stop(struct publisher *pub)
{
    if (pub == NULL)
        return;
    pthread_mutex_lock(&pub->lock);
    pub->stop = true;
    pthread_cond_signal(&pub->wake);
    pthread_mutex_unlock(&pub->lock);
    pthread_join(pub->thread, NULL);
    struct publish_late *left = publish_settle_all(pub, pub->reported);
    pub->reported = NULL;
    long unsettled = 0;
    while (left != NULL) {
        struct publish_late *pl = left;
        left = pl->next;
        publish_late_free(pl);
        unsettled++;
    }
    long awaited = atomic_load(&pub->outstanding) - unsettled;
    if (unsettled > 0 || awaited > 0)
        log_warn("stopping with %ld Idempotency-Keys in doubt (%ld reported but not settled, %ld never reported); "
                 "they answer 409 until they expire", unsettled + awaited, unsettled, awaited);
    pthread_cond_destroy(&pub->wake);
    pthread_mutex_destroy(&pub->lock);
    free(pub);
}

int publisher_send(struct publisher *pub, const struct kafka_msg *msg, const char *event_id,
                   const struct publish_key *idem, struct hl_error *err)
{
    if (atomic_load(&pub->outstanding) >= PUBLISH_LATE_MAX)
        return hl_error_set(err, HL_EBUSY, "Too many events wait for the event bus to confirm them; retry later.");
    struct publish_late *pl = publish_late_new(pub, event_id, idem);
    if (pl == NULL)
        return hl_error_set(err, HL_ENOMEM, "out of memory");
    /* counted before producing: the late report may come before this returns */
    atomic_fetch_add(&pub->outstanding, 1);
    enum kafka_fate fate =
        kafka_producer_send_bounded(pub->ctx->kp, msg, pub->ctx->cfg.publish_timeout_ms, publish_on_late, pl);
    if (fate != KAFKA_FATE_PENDING) {
        publish_late_free(pl);
        atomic_fetch_sub(&pub->outstanding, 1);
    }
    switch (fate) {
    case KAFKA_FATE_PERSISTED:
        return 0;
    case KAFKA_FATE_NOT_PERSISTED:
        return hl_error_set(err, HL_EKAFKA, "Event bus unavailable; nothing was published. Retry later.");
    default:
        return hl_error_set(err, HL_EINDOUBT,
                            "The event bus did not confirm event %s in time; it may still be published. Retry later.",
                            event_id);
    }
}

long publisher_in_doubt(struct publisher *pub)
{
    return pub ? atomic_load(&pub->outstanding) : 0;
}
