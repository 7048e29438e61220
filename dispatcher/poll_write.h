/* poll_write.h: events for poll endpoints ({"kind": "poll"}), recorded
 * instead of sent: appended in order to their webhook's log in PostgreSQL
 * (sql/014_poll_endpoints.sql), from where the tenant fetches them with
 * GET /v1/webhooks/{id}/poll. Called by the attempt writer, inside the
 * transaction that records the rest of its batch.
 */
#ifndef HL_POLL_WRITE_H
#define HL_POLL_WRITE_H

#include "dispatcher.h"

/* Append the events of 'v[0..n)' (each DELIVERY_POLLED; borrowed, in the
 * order they were read) to their webhooks' logs, in that order, with the
 * body a push would have sent. Runs in the caller's open transaction.
 * Returns 0, or HL_EDB with the reason in 'err'. */
int poll_write(PGconn *pg, struct delivery *const *v, size_t n, struct hl_error *err) HL_MUST_CHECK;

#endif
