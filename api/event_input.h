/* event_input.h: checking the body of POST /v1/events before anything is
 * looked up or published. Pure (no request, no database), so the checks
 * are unit-tested and fuzzed on their own (tests/fuzz/fuzz_event_input.c). */
#ifndef HL_EVENT_INPUT_H
#define HL_EVENT_INPUT_H

#include <stdbool.h>
#include <jansson.h>
#include "hl_error.h"

/* Check 'body' (borrowed, an object): only "type", "data", "id" and
 * "occurred_at"; "type" a string of 1 to LIMIT_EVENT_TYPE_MAX characters;
 * "data" an object if given; "id" hl_limit_event_id_valid() if given;
 * "occurred_at" event_input_time_valid() if given. Whether the type is in
 * the catalog is the caller's to check. Returns 0, or HL_EINVAL with the
 * reason (naming the field) in 'err'. */
int event_input_check(const json_t *body, struct hl_error *err) HL_MUST_CHECK;

/* True if 's' is an RFC 3339 date-time of a day that exists: "2026-11-25T10:00:00Z", an
 * optional fraction, and "Z" or a "+hh:mm" / "-hh:mm" offset. */
bool event_input_time_valid(const char *s);

#endif
