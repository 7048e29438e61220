/* metrics.h: the dispatcher's Prometheus metrics and health endpoints.
 *
 * A libmicrohttpd listener on HOOKLINE_METRICS_PORT, in its own thread,
 * serves GET /metrics, /healthz and /readyz from a snapshot that the loop
 * thread publishes under a mutex every ~250 ms. The listener never touches
 * the loop's librdkafka or PostgreSQL handles: a scrape never blocks the
 * loop, and a busy loop never blocks a scrape.
 */
#ifndef HL_METRICS_H
#define HL_METRICS_H

#include <librdkafka/rdkafka.h>

#include "hl_error.h"

struct dispatcher;
struct metrics;

/* Listen on 'port' (1-65535) on every address. Returns the new listener,
 * or NULL with the reason in 'err' (port in use, out of memory). Call from
 * the loop thread; pair with metrics_stop(). */
struct metrics *metrics_start(int port, struct hl_error *err);

/* Stop the listener thread and free 'm'. NULL is a no-op. */
void metrics_stop(struct metrics *m);

/* Ask for librdkafka statistics every second on the consumer's 'conf'
 * (before rd_kafka_new; its opaque must be the struct dispatcher): they say
 * whether a broker is up and whether the group assignment is settled.
 * Returns 0 or HL_EINVAL. */
int metrics_kafka_conf(rd_kafka_conf_t *conf, struct hl_error *err) HL_MUST_CHECK;

/* Loop thread: one attempt finished after 'duration_ms'. 'm' may be NULL. */
void metrics_attempt(struct metrics *m, long duration_ms);

/* Loop thread, once per turn: returns at once unless a refresh is due
 * (~250 ms); then samples the dispatcher's counters and gauges, every
 * second the consumer lag (cached positions and watermarks: no network
 * round trip), every 5 s the pending retries (one SELECT on the loop's own
 * connection, which also tells whether PostgreSQL answers), and publishes
 * the snapshot. 'm' may be NULL. */
void metrics_tick(struct metrics *m, struct dispatcher *dsp);

#endif
