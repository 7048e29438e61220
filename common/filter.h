/* filter.h: payload filters on webhooks.
 *
 * A filter is a JSON object from a dotted path into the event envelope
 * ("data.owner") to either a scalar, which must be equal, or an array of
 * scalars, any of which may match. Every condition must hold. An absent
 * path never matches. Numbers compare by value (1 == 1.0).
 */
#ifndef HL_FILTER_H
#define HL_FILTER_H

#include <stdbool.h>
#include <jansson.h>
#include "hl_error.h"
#include "hl_limits.h"

/* the limits of hl_limits.h, under the names this module has always used */
#define FILTER_MAX_CONDITIONS LIMIT_FILTER_CONDITIONS_MAX
#define FILTER_MAX_VALUES LIMIT_FILTER_VALUES_MAX
#define FILTER_MAX_PATH LIMIT_FILTER_PATH_MAX
#define FILTER_MAX_BYTES LIMIT_FILTER_BYTES_MAX

/* Check that 'filter' (borrowed) is a well-formed filter: an object of at
 * most FILTER_MAX_CONDITIONS paths, each non-empty, at most
 * FILTER_MAX_PATH chars with no empty segment, mapping to a string,
 * number, boolean or null, or a non-empty array of at most
 * FILTER_MAX_VALUES such scalars, FILTER_MAX_BYTES at most as compact
 * JSON. JSON null for 'filter' itself is valid (no filter). Returns 0 or
 * HL_EINVAL with the reason in 'err'. */
int filter_validate(const json_t *filter, struct hl_error *err) HL_MUST_CHECK;

/* True if 'envelope' (borrowed) satisfies every condition of 'filter'
 * (borrowed, already validated). NULL, JSON null or {} match everything. */
bool filter_match(const json_t *filter, const json_t *envelope);

#endif
