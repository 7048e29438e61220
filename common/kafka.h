/* kafka.h: topic names, configuration helpers and an acknowledged producer.
 *
 * kafka_producer_send() blocks until the broker has acknowledged (acks=all,
 * idempotent producer) or refused every message it was given, so a caller
 * can answer a client or mark an outbox row sent only once the event is
 * durable in Kafka. kafka_producer_send_bounded() waits a bounded time for
 * one message and hands a report that comes later to a callback, for
 * callers that must answer within that time (an HTTP request).
 */
#ifndef HL_KAFKA_H
#define HL_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <librdkafka/rdkafka.h>
#include "hl_error.h"

#define HL_TOPIC_EVENTS "hookline.events"
#define HL_TOPIC_WEBHOOKS "hookline.webhooks"
#define HL_GROUP_DISPATCHERS "hookline-dispatchers"

/* A configuration with bootstrap.servers = 'brokers' and the settings every
 * hookline client shares. Returns a new conf (caller owns it until handed
 * to rd_kafka_new), or NULL with the reason in 'err'. */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, struct hl_error *err);

/* Set 'name' = 'value' on 'conf'. Returns 0 or HL_EINVAL with the reason. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, struct hl_error *err) HL_MUST_CHECK;

struct kafka_producer;

struct kafka_msg {
    const char *topic;
    const char *key;
    size_t key_len;
    const char *value;
    size_t len;
};

/* A producer with its own poll thread. A message not acknowledged within
 * 'timeout_ms' fails. Returns NULL with the reason in 'err'. */
struct kafka_producer *kafka_producer_new(const char *brokers, int timeout_ms, struct hl_error *err);

/* Flush for up to 5 s, stop the poll thread, purge what is left (its
 * reports, late ones included, are delivered here as failed), destroy.
 * NULL is a no-op. */
void kafka_producer_free(struct kafka_producer *kp);

/* Produce 'n' messages and wait for each to be acknowledged or to fail.
 * results[i] (may be NULL) gets 0 or HL_EKAFKA. Messages keep their order
 * per partition. Returns how many were acknowledged. Thread-safe. */
size_t kafka_producer_send(struct kafka_producer *kp, const struct kafka_msg *msgs, size_t n, int *results);

/* What became of a produced message. */
enum kafka_fate {
    KAFKA_FATE_PENDING,         /* no delivery report yet */
    KAFKA_FATE_PERSISTED,       /* acknowledged by the broker */
    KAFKA_FATE_NOT_PERSISTED,   /* failed, and certainly not written */
    KAFKA_FATE_UNKNOWN,         /* failed after it may have been written */
};

/* The report of a message whose sender stopped waiting: called once, on
 * the producer's poll thread (or in kafka_producer_free), with the final
 * fate (never PENDING) and the sender's 'opaque'. It must not block for
 * long: every other report waits behind it. */
typedef void (*kafka_late_fn)(enum kafka_fate fate, void *opaque);

/* Produce 'msg' (borrowed; copied) and wait at most 'wait_ms' for its
 * delivery report. Returns the fate: PERSISTED, NOT_PERSISTED (also when
 * the producer refused it at once, e.g. its queue is full) or UNKNOWN,
 * and then 'late' is never called and the caller keeps 'opaque'; or
 * PENDING when the wait ran out: then 'late' (may be NULL) is called once
 * with the final fate, and owns 'opaque' from then on. Thread-safe. */
enum kafka_fate kafka_producer_send_bounded(struct kafka_producer *kp, const struct kafka_msg *msg, long wait_ms,
                                            kafka_late_fn late, void *opaque);

/* True if the cluster answered a metadata request within 'timeout_ms'. */
bool kafka_producer_reachable(struct kafka_producer *kp, int timeout_ms);

#endif
