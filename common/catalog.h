/* catalog.h: event types and groups.
 *
 * A type is "group.action" ("booking.scheduled"); a subscription may name
 * a type or a whole group ("booking" = every "booking.*").
 *
 * The operational types (webhook.disabled, endpoint.failing,
 * endpoint.recovered, delivery.exhausted) are hookline's own events about a
 * tenant's webhooks (sql/012_operational_events.sql). Their group is
 * CATALOG_OPS_GROUP, not their prefix: "webhook" does not take
 * webhook.disabled, "operational" takes all four. Only hookline produces
 * them (POST /v1/events refuses them), and one about webhook W never goes
 * to W itself: that is what keeps a failing webhook from feeding its own
 * failures back to itself.
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

#define CATALOG_OPS_GROUP "operational"

/* Is 'type' one of the operational types? */
bool catalog_is_operational(const char *type);

/* The group a subscription names to take every event of 'type' into
 * 'out' (at most 'cap' bytes with the NUL): CATALOG_OPS_GROUP for an
 * operational type, else the part before the first dot. Returns false
 * (and 'out' is not to be used) when 'type' has no group: no dot, or a
 * group longer than 'cap' - 1. */
bool catalog_group_of(const char *type, char *out, size_t cap);

#endif
