/* attempt_json.h: one row of the attempt log (sql/002_deliveries.sql) as
 * the JSON object the delivery routes answer with, shared by the delivery
 * log and the deliveries embedded in the webhook list.
 */
#ifndef HL_ATTEMPT_JSON_H
#define HL_ATTEMPT_JSON_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

/* The columns attempt_json_from_row reads, in its order, for a SELECT list
 * from hl_delivery_page (sql/010_bodies_partitions.sql): an attempt's body
 * is its event's, stored once per tenant, event and UTC day. */
#define ATTEMPT_JSON_COLUMNS \
    "id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, body, attempt, status_code, " \
    "response, error, success, hl_ts(sent_at), duration_ms, hl_ts(next_attempt_at)"

/* From the attempts table with no body read (a NULL in its place), for
 * attempt_json_from_row(.., false). */
#define ATTEMPT_JSON_COLUMNS_NO_PAYLOAD \
    "id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, NULL, attempt, status_code, " \
    "response, error, success, hl_ts(sent_at), duration_ms, hl_ts(next_attempt_at)"

/* Row 'row' of 'res' (borrowed), whose ATTEMPT_JSON_COLUMNS start at
 * column 'first_col', as {"id","webhook_id",...,"next_attempt_at"}; the
 * "payload" key only 'with_payload'. Text that is not UTF-8 has each bad
 * byte replaced by U+FFFD. New reference, or NULL when out of memory. */
json_t *attempt_json_from_row(const PGresult *res, int row, int first_col, bool with_payload);

#endif
