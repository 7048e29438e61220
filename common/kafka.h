/* kafka.h: topic names, configuration helpers and an acknowledged producer.
 *
 * kafka_producer_send() blocks until the broker has acknowledged (acks=all,
 * idempotent producer) or refused every message it was given, so a caller
 * can answer a client or mark an outbox row sent only once the event is
 * durable in Kafka.
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

/* Flush for up to 5 s, stop the poll thread, destroy. NULL is a no-op. */
void kafka_producer_free(struct kafka_producer *kp);

/* Produce 'n' messages and wait for each to be acknowledged or to fail.
 * results[i] (may be NULL) gets 0 or HL_EKAFKA. Messages keep their order
 * per partition. Returns how many were acknowledged. Thread-safe. */
size_t kafka_producer_send(struct kafka_producer *kp, const struct kafka_msg *msgs, size_t n, int *results);

/* True if the cluster answered a metadata request within 'timeout_ms'. */
bool kafka_producer_reachable(struct kafka_producer *kp, int timeout_ms);

#endif
