/* ops_events.h: the operational events a batch of attempts produces.
 *
 * endpoint.failing, endpoint.recovered, delivery.exhausted and
 * webhook.disabled (catalog.h) are appended to the outbox, for the api's
 * relay to publish to hookline.events with the tenant's key
 * (sql/012_operational_events.sql), by the transaction that records their
 * cause (attempts_write.c): never lost, and produced once per cause
 * whatever crashes (endpoint_health says what was told). Each function
 * runs one statement on 'pg' inside that transaction, and returns 0 or
 * HL_EDB with the reason in 'err'.
 *
 * What keeps them from looping: one about webhook W never goes to W
 * (sub_index.c); a delivery of an operational event that fails for good
 * raises no delivery.exhausted (two watchers of each other cannot chain);
 * endpoint.failing is at most one per endpoint per 'every_ms', and
 * endpoint.recovered follows only a failing one that was produced.
 */
#ifndef HL_OPS_EVENTS_H
#define HL_OPS_EVENTS_H

#include <libpq-fe.h>

#include "hl_error.h"

/* The JSON rows of the batch's endpoints with failures ('rows': objects
 * with endpoint_id, endpoint_url and the last failure's fail_ms,
 * fail_event_id, fail_event_type, fail_attempt, fail_status, fail_error,
 * fail_dlv_id), after their endpoint_health rows are written: an
 * endpoint.failing for each one failing now with no notice standing and
 * none produced in the last 'every_ms'. */
int ops_events_failing(PGconn *pg, const char *rows, long every_ms, struct hl_error *err) HL_MUST_CHECK;

/* The JSON rows of the batch's endpoints with a success ('rows': objects
 * with endpoint_id, endpoint_url, ok_ms), after their endpoint_health rows
 * are written: an endpoint.recovered for each one that works now and whose
 * failing was told. */
int ops_events_recovered(PGconn *pg, const char *rows, struct hl_error *err) HL_MUST_CHECK;

/* The batch's failed attempts ('failures': attempts_write.c's rows, with
 * status, error, dlv_id and ops): a delivery.exhausted for each final one
 * that is not a 410 (the endpoint is disabled: webhook.disabled tells)
 * and not itself the delivery of an operational event. */
int ops_events_exhausted(PGconn *pg, const char *failures, struct hl_error *err) HL_MUST_CHECK;

/* Webhook 'wid' was just disabled with its last endpoint 'eid' at 'url',
 * for 'reason' ('gone' or 'failing', 'detail' in words): its
 * webhook.disabled. */
int ops_events_disabled(PGconn *pg, const char *wid, const char *eid, const char *url, const char *reason,
                        const char *detail, struct hl_error *err) HL_MUST_CHECK;

#endif
