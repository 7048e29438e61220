/* attempts_write.h: one batch of finished deliveries into PostgreSQL. */
#ifndef HL_ATTEMPTS_WRITE_H
#define HL_ATTEMPTS_WRITE_H

#include "dispatcher.h"

/* Write the 'n' deliveries of 'v' in one transaction on 'pg': their
 * attempt records, the retries they schedule or settle, their endpoints'
 * health, the webhooks they disable (410, or every delivery failing for
 * cfg->disable_after_ms), and the operational events all that raises
 * (ops_events.h; cfg->failing_notice_ms). 'cfg' is borrowed. Reorders 'v' and cleans the deliveries' response
 * and error texts in place; reads the deliveries, their subs and payloads,
 * so nothing else may change those meanwhile. Returns 0, or HL_EDB with
 * the reason in 'err' (the transaction is rolled back: nothing written).
 * Deliveries to poll endpoints (DELIVERY_POLLED) are appended to their
 * webhooks' logs instead (poll_write.h), in the same transaction. */
int attempts_write(PGconn *pg, struct delivery **v, size_t n, const char *dispatcher, const struct hl_config *cfg,
                   struct hl_error *err) HL_MUST_CHECK;

#endif
