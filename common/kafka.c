/* kafka.c: librdkafka configuration and the acknowledged producer. */
#include "kafka.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl_cond.h"
#include "log.h"

struct kafka_producer {
    rd_kafka_t *rk;
    pthread_t poller;
    atomic_bool stop;
    int timeout_ms;
};

/* What rkm->_private of every produced message points at: the delivery
 * callback hands the report to 'done'. */
struct kafka_report {
    void (*done)(struct kafka_report *r, const rd_kafka_message_t *rkm);
};

/* One kafka_producer_send() call: the delivery callback fills results. */
struct kafka_batch {
    pthread_mutex_t lock;
    pthread_cond_t done;
    size_t remaining;
    size_t acked;
    int *results;
};

struct kafka_slot {
    struct kafka_report report;     /* first: rkm->_private points here */
    struct kafka_batch *batch;
    size_t index;
};

/* One kafka_producer_send_bounded() message. Freed by the sender once it
 * has the fate, or by the report once the sender has given up on it. */
struct kafka_wait {
    struct kafka_report report;     /* first: rkm->_private points here */
    pthread_mutex_t lock;
    pthread_cond_t done;
    enum kafka_fate fate;
    bool abandoned;                 /* the sender stopped waiting */
    kafka_late_fn late;
    void *opaque;
};

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, struct hl_error *err)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return hl_error_set(err, HL_EINVAL, "Kafka config %s=%s: %s", name, value, errstr);
    return 0;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        log_error("kafka %s: %s", fac, buf);
    else if (level <= 5)
        log_warn("kafka %s: %s", fac, buf);
    else
        log_debug("kafka %s: %s", fac, buf);
}

rd_kafka_conf_t *kafka_conf_new(const char *brokers, struct hl_error *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (kafka_conf_set(conf, "bootstrap.servers", brokers, err) < 0 ||
        kafka_conf_set(conf, "client.id", "hookline", err) < 0 ||
        kafka_conf_set(conf, "reconnect.backoff.max.ms", "1000", err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    return conf;
}

static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct kafka_report *r = rkm->_private;
    if (r != NULL)
        r->done(r, rkm);
}

static void kafka_slot_done(struct kafka_report *r, const rd_kafka_message_t *rkm)
{
    struct kafka_slot *slot = (struct kafka_slot *)r;
    struct kafka_batch *b = slot->batch;
    pthread_mutex_lock(&b->lock);
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        b->acked++;
    } else {
        if (b->results)
            b->results[slot->index] = HL_EKAFKA;
        log_warn("kafka delivery to %s failed: %s", rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
    }
    if (--b->remaining == 0)
        pthread_cond_broadcast(&b->done);
    pthread_mutex_unlock(&b->lock);
}

static enum kafka_fate kafka_fate_of(const rd_kafka_message_t *rkm)
{
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return KAFKA_FATE_PERSISTED;
    /* a timeout after the request went out may still have been written */
    return rd_kafka_message_status(rkm) == RD_KAFKA_MSG_STATUS_NOT_PERSISTED ? KAFKA_FATE_NOT_PERSISTED
                                                                             : KAFKA_FATE_UNKNOWN;
}

static void kafka_wait_free(struct kafka_wait *w)
{
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static void kafka_wait_done(struct kafka_report *r, const rd_kafka_message_t *rkm)
{
    struct kafka_wait *w = (struct kafka_wait *)r;
    enum kafka_fate fate = kafka_fate_of(rkm);
    if (fate != KAFKA_FATE_PERSISTED)
        log_warn("kafka delivery to %s failed: %s", rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
    pthread_mutex_lock(&w->lock);
    bool abandoned = w->abandoned;
    if (!abandoned) {
        w->fate = fate;
        pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    if (!abandoned)
        return;     /* the sender frees it */
    if (w->late)
        w->late(fate, w->opaque);
    kafka_wait_free(w);
}

static void *kafka_poll_main(void *arg)
{
    struct kafka_producer *kp = arg;
    while (!atomic_load(&kp->stop))
        rd_kafka_poll(kp->rk, 100);
    return NULL;
}

struct kafka_producer *kafka_producer_new(const char *brokers, int timeout_ms, struct hl_error *err)
{
    char timeout[32], errstr[256];
    snprintf(timeout, sizeof(timeout), "%d", timeout_ms);
    rd_kafka_conf_t *conf = kafka_conf_new(brokers, err);
    if (conf == NULL)
        return NULL;
    if (kafka_conf_set(conf, "enable.idempotence", "true", err) < 0 ||
        kafka_conf_set(conf, "acks", "all", err) < 0 ||
        kafka_conf_set(conf, "linger.ms", "2", err) < 0 ||
        kafka_conf_set(conf, "message.timeout.ms", timeout, err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    struct kafka_producer *kp = calloc(1, sizeof(*kp));
    if (kp == NULL) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    kp->timeout_ms = timeout_ms;
    kp->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (kp->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        free(kp);
        hl_error_set(err, HL_EKAFKA, "Kafka producer: %s", errstr);
        return NULL;
    }
    /* conf is owned by rk now */
    if (pthread_create(&kp->poller, NULL, kafka_poll_main, kp) != 0) {
        rd_kafka_destroy(kp->rk);
        free(kp);
        hl_error_set(err, HL_ENOMEM, "Kafka producer: cannot start poll thread");
        return NULL;
    }
    return kp;
}

void kafka_producer_free(struct kafka_producer *kp)
{
    if (kp == NULL)
        return;
    rd_kafka_flush(kp->rk, 5000);
    atomic_store(&kp->stop, true);
    pthread_join(kp->poller, NULL);
    /* what is left fails now, so every report (late ones too) is delivered
     * and its memory freed before the handle goes */
    rd_kafka_purge(kp->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(kp->rk, 1000);
    rd_kafka_destroy(kp->rk);
    free(kp);
}

size_t kafka_producer_send(struct kafka_producer *kp, const struct kafka_msg *msgs, size_t n, int *results)
{
    if (n == 0)
        return 0;
    struct kafka_slot *slots = calloc(n, sizeof(*slots));
    if (slots == NULL)
        return 0;
    struct kafka_batch b = { .remaining = n, .results = results };
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.done, NULL);

    for (size_t i = 0; i < n; i++) {
        if (results)
            results[i] = 0;
        slots[i].report.done = kafka_slot_done;
        slots[i].batch = &b;
        slots[i].index = i;
        rd_kafka_resp_err_t e = rd_kafka_producev(kp->rk,
            RD_KAFKA_V_TOPIC(msgs[i].topic),
            RD_KAFKA_V_KEY(msgs[i].key, msgs[i].key_len),
            RD_KAFKA_V_VALUE((void *)msgs[i].value, msgs[i].len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(&slots[i]),
            RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_warn("kafka produce to %s refused: %s", msgs[i].topic, rd_kafka_err2str(e));
            pthread_mutex_lock(&b.lock);
            if (results)
                results[i] = HL_EKAFKA;
            b.remaining--;
            pthread_mutex_unlock(&b.lock);
        }
    }

    /* message.timeout.ms bounds every delivery report; this wait cannot
     * return early, since the slots live on this stack frame */
    pthread_mutex_lock(&b.lock);
    while (b.remaining > 0)
        pthread_cond_wait(&b.done, &b.lock);
    size_t acked = b.acked;
    pthread_mutex_unlock(&b.lock);

    pthread_cond_destroy(&b.done);
    pthread_mutex_destroy(&b.lock);
    free(slots);
    return acked;
}

enum kafka_fate kafka_producer_send_bounded(struct kafka_producer *kp, const struct kafka_msg *msg, long wait_ms,
                                            kafka_late_fn late, void *opaque)
{
    struct kafka_wait *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KAFKA_FATE_NOT_PERSISTED;
    hl_cond_init_monotonic(&w->done);
    pthread_mutex_init(&w->lock, NULL);
    w->report.done = kafka_wait_done;
    w->fate = KAFKA_FATE_PENDING;
    w->late = late;
    w->opaque = opaque;

    struct timespec until = hl_cond_deadline(wait_ms);
    rd_kafka_resp_err_t e = rd_kafka_producev(kp->rk,
        RD_KAFKA_V_TOPIC(msg->topic),
        RD_KAFKA_V_KEY(msg->key, msg->key_len),
        RD_KAFKA_V_VALUE((void *)msg->value, msg->len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&w->report),
        RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("kafka produce to %s refused: %s", msg->topic, rd_kafka_err2str(e));
        kafka_wait_free(w);
        return KAFKA_FATE_NOT_PERSISTED;
    }
    pthread_mutex_lock(&w->lock);
    while (w->fate == KAFKA_FATE_PENDING) {
        if (pthread_cond_timedwait(&w->done, &w->lock, &until) == ETIMEDOUT && w->fate == KAFKA_FATE_PENDING) {
            /* from here on the report owns 'w' and calls 'late' */
            w->abandoned = true;
            pthread_mutex_unlock(&w->lock);
            return KAFKA_FATE_PENDING;
        }
    }
    enum kafka_fate fate = w->fate;
    pthread_mutex_unlock(&w->lock);
    kafka_wait_free(w);
    return fate;
}

bool kafka_producer_reachable(struct kafka_producer *kp, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(kp->rk, 0, NULL, &md, timeout_ms);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}
