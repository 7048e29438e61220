/* catalog.h: event types and groups.
 *
 * A type is "group.action" ("booking.scheduled"); a subscription may name
 * a type or a whole group ("booking" = every "booking.*").
 */
#ifndef HL_CATALOG_H
#define HL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

/* True if an event of 'type' is covered by the subscribed name 'sub': they
 * are equal, or 'sub' has no dot and 'type' starts with "<sub>.". */
bool catalog_matches(const char *sub, const char *type);

/* Length of the group part of 'type' (up to the first dot), or the whole
 * length when there is no dot. */
size_t catalog_group_len(const char *type);

#endif
