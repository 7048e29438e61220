/* wait_gate.h: a counting semaphore with a bounded wait, for how many
 * calls may do something at once.
 *
 * The api has two (server.c): the workers, calls running their handler
 * (HOOKLINE_HTTP_THREADS), and the calls waiting on something outside the
 * process, Kafka's acknowledgement or an endpoint's TLS handshake, which
 * give their worker back meanwhile (half as many, at least one). A call
 * that finds no place outside answers 503 without waiting long.
 */
#ifndef HL_WAIT_GATE_H
#define HL_WAIT_GATE_H

#include <stdbool.h>

/* The longest a request waits for a place: enough to absorb a burst while
 * everything outside answers in milliseconds, short enough that a stalled
 * Kafka or endpoint costs the other routes no more than that. */
#define WAIT_GATE_QUEUE_MS 50

struct wait_gate;

/* A gate with 'places' places (at least 1). NULL on allocation failure.
 * Pair with wait_gate_free. */
struct wait_gate *wait_gate_new(int places);
void wait_gate_free(struct wait_gate *gate);

/* Take a place, waiting at most 'wait_ms' for one. Returns whether one was
 * taken; pair a true with wait_gate_leave. Any thread. */
bool wait_gate_enter(struct wait_gate *gate, long wait_ms) __attribute__((warn_unused_result));

/* Take a place, waiting as long as it takes; pair with wait_gate_leave. */
void wait_gate_take(struct wait_gate *gate);

/* Give back a place taken by wait_gate_enter. */
void wait_gate_leave(struct wait_gate *gate);

/* Places taken now (for /metrics). */
int wait_gate_used(struct wait_gate *gate);

#endif
