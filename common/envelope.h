/* envelope.h: the event envelope carried on hookline.events.
 *
 * {"id":"evt_...","type":"booking.scheduled","tenant":"acme",
 *  "occurred_at":"2026-11-25T10:00:00Z","data":{...}}
 */
#ifndef HL_ENVELOPE_H
#define HL_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "hl_error.h"
#include "hl_limits.h"

/* The longest "id", "type" and "tenant" accepted, in characters (the
 * limits the api enforces: an envelope it publishes always parses). */
#define ENVELOPE_ID_MAX LIMIT_EVENT_ID_MAX
#define ENVELOPE_TYPE_MAX LIMIT_EVENT_TYPE_MAX
#define ENVELOPE_TENANT_MAX LIMIT_TENANT_ID_MAX

/* Parse a Kafka message value. Returns a new reference to the envelope
 * object, or NULL with the reason in 'err' (HL_EINVAL): not JSON, not an
 * object, "id"/"type"/"tenant" missing, not strings, empty or longer than
 * their *_MAX, "id" not hl_limit_event_id_valid(), "occurred_at" present but not
 * a string, "data" present but not an object. The reason never quotes the
 * message's values: it goes to logs as it is. */
json_t *envelope_parse(const char *buf, size_t len, struct hl_error *err);

/* Build an envelope. 'id' NULL generates "evt_<random>"; 'occurred_at'
 * NULL uses the current UTC time; 'data' is borrowed (NULL means {}).
 * Returns a new reference, or NULL if 'id' is given and not
 * hl_limit_event_id_valid(), or on allocation or randomness failure. */
json_t *envelope_new(const char *id, const char *type, const char *tenant,
                     const char *occurred_at, json_t *data);

/* Format 'unix_ms' as "YYYY-MM-DDTHH:MM:SS.mmmZ" (or without the
 * milliseconds when they are 0) into 'out' (at least 32 bytes). */
void hl_time_format(long long unix_ms, char *out, size_t cap);

/* Milliseconds since the epoch (CLOCK_REALTIME). */
long long hl_time_now_ms(void);

/* "2026-11-25T10:00:00.123Z" (or without the milliseconds) -> ms since the
 * epoch; 0 when NULL or unparsable. */
long long hl_time_parse_ms(const char *s);

#endif
