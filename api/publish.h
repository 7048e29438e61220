/* publish.h: events published on behalf of HTTP requests (POST /v1/events,
 * POST /v1/webhooks/:id/test), bounded so that Kafka being slow or down
 * never stalls the api.
 *
 * - A request waits at most HOOKLINE_PUBLISH_TIMEOUT for the broker's
 *   acknowledgement, between api_outside_enter and api_outside_leave (so
 *   only so many wait at once, holding no worker).
 * - A publish whose wait ran out is in doubt: the event may still be
 *   written (librdkafka keeps trying until the message timeout). Its
 *   Idempotency-Key stays claimed, and this module's thread settles it
 *   when the delivery report comes (idempotency.h).
 * - At most PUBLISH_LATE_MAX reports are awaited that way at once; past
 *   that, publishes answer 503 without producing.
 */
#ifndef HL_PUBLISH_H
#define HL_PUBLISH_H

#include "api.h"

#define PUBLISH_LATE_MAX 1024

struct publisher;

/* The Idempotency-Key a publish answers for; every field borrowed. */
struct publish_key {
    const char *tenant;
    const char *key;
    const char *reply;      /* JSON text of the 202 answer, stored if the event is written */
};

/* Start the thread that settles late reports ('ctx' borrowed: its pool and
 * producer must outlive the publisher). NULL with the reason in 'err'. */
struct publisher *publisher_start(struct api_ctx *ctx, struct hl_error *err);

/* Settle what has been reported (one try each), stop the thread, free
 * 'pub'. Call after kafka_producer_free(), which delivers every report
 * still due. NULL is a no-op. */
void publisher_stop(struct publisher *pub);

/* Publish 'msg' (borrowed) carrying event 'event_id' and wait for it at
 * most HOOKLINE_PUBLISH_TIMEOUT. 'idem' (may be NULL) is the claimed key
 * the publish answers for; it is copied when the outcome comes late.
 * Returns 0 once Kafka has the event, else with a reason fit for the
 * client in 'err': HL_EBUSY (PUBLISH_LATE_MAX reports awaited already;
 * nothing produced), HL_EKAFKA (certainly not written), or HL_EINDOUBT
 * (not known in time: 'idem' is settled when the report comes). Any
 * thread; callers wait between api_outside_enter and api_outside_leave. */
int publisher_send(struct publisher *pub, const struct kafka_msg *msg, const char *event_id,
                   const struct publish_key *idem, struct hl_error *err) HL_MUST_CHECK;

/* Publishes whose request gave up and whose report is not settled yet. */
long publisher_in_doubt(struct publisher *pub);

#endif
