/* hl_limits.h: how long and how many of everything hookline takes in.
 *
 * One table (hl_limits.c) lists every limit with the field it bounds, its
 * unit and where it is enforced; the api checks each one where a request
 * enters, the envelope parser where a Kafka message enters, and every
 * fixed-size buffer that holds such a value is sized from the LIMIT_*
 * constants below, so a value accepted at the edge fits everywhere after
 * it and is never cut short. Lengths count bytes of UTF-8 (one per
 * character for the ASCII-only fields). The README's "Limits" table is
 * hl_limits_print_reference()'s output (hookline-api --print-limits).
 */
#ifndef HL_LIMITS_H
#define HL_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "hl_error.h"

/* Inclusive maxima (and minima where they are not 0 or 1). A buffer for
 * one of these strings is LIMIT_..._MAX + 1 bytes. */
#define LIMIT_TENANT_ID_MAX 64              /* [A-Za-z0-9][A-Za-z0-9_-]*, as sql/001's CHECK */
#define LIMIT_TENANT_NAME_MAX 200
#define LIMIT_KEY_LABEL_MAX 200
#define LIMIT_API_KEY_MAX 256               /* a presented key; longer is 401 */
#define LIMIT_WEBHOOK_NAME_MAX 128
#define LIMIT_DESCRIPTION_MAX 1024
#define LIMIT_URL_MAX 2048
#define LIMIT_ENDPOINTS_MAX 10              /* per webhook */
#define LIMIT_EVENTS_MAX 64                 /* type and group names per webhook */
#define LIMIT_HEADER_NAME_MAX 128
#define LIMIT_HEADER_VALUE_MAX 2048
#define LIMIT_HEADERS_MAX 32                /* per headers object (webhook, each endpoint) */
#define LIMIT_AUTH_USERNAME_MAX 256         /* an endpoint's Basic user name */
#define LIMIT_AUTH_PASSWORD_MAX 1024        /* an endpoint's Basic password */
#define LIMIT_AUTH_TOKEN_MAX 4096           /* an endpoint's Bearer token */
#define LIMIT_SECRET_BYTES_MIN 24           /* decoded bytes of a "whsec_" secret */
#define LIMIT_SECRET_BYTES_MAX 64
#define LIMIT_SECRET_MAX 94                /* characters: "whsec_" + base64 of 64 bytes */
#define LIMIT_FILTER_CONDITIONS_MAX 32
#define LIMIT_FILTER_PATH_MAX 256
#define LIMIT_FILTER_VALUES_MAX 100         /* in one condition's array */
#define LIMIT_FILTER_BYTES_MAX 16384        /* the whole filter as compact JSON */
#define LIMIT_RATE_LIMIT_MAX 100000         /* deliveries per second per endpoint */
#define LIMIT_EVENT_TYPE_MAX 128            /* also a group name, and each "events" entry */
#define LIMIT_EVENT_ID_MAX 128              /* [A-Za-z0-9_.:-] */
#define LIMIT_OCCURRED_AT_MAX 40
#define LIMIT_IDEMPOTENCY_KEY_MAX 255
#define LIMIT_PATH_PARAM_MAX 128            /* one ":name" segment of a path; longer is 404 */
#define LIMIT_PORTAL_TTL_MIN 10             /* seconds a portal session link lives */
#define LIMIT_PORTAL_TTL_MAX 86400

/* The rows of the table. */
enum hl_limit {
    HL_LIMIT_TENANT_ID,
    HL_LIMIT_TENANT_NAME,
    HL_LIMIT_KEY_LABEL,
    HL_LIMIT_API_KEY,
    HL_LIMIT_WEBHOOK_NAME,
    HL_LIMIT_DESCRIPTION,
    HL_LIMIT_URL,
    HL_LIMIT_ENDPOINTS,
    HL_LIMIT_EVENTS,
    HL_LIMIT_HEADER_NAME,
    HL_LIMIT_HEADER_VALUE,
    HL_LIMIT_HEADERS,
    HL_LIMIT_AUTH_USERNAME,
    HL_LIMIT_AUTH_PASSWORD,
    HL_LIMIT_AUTH_TOKEN,
    HL_LIMIT_SECRET,
    HL_LIMIT_FILTER_CONDITIONS,
    HL_LIMIT_FILTER_PATH,
    HL_LIMIT_FILTER_VALUES,
    HL_LIMIT_FILTER_BYTES,
    HL_LIMIT_RATE_LIMIT,
    HL_LIMIT_EVENT_TYPE,
    HL_LIMIT_EVENT_ID,
    HL_LIMIT_OCCURRED_AT,
    HL_LIMIT_IDEMPOTENCY_KEY,
    HL_LIMIT_PATH_PARAM,
    HL_LIMIT_PORTAL_TTL,
    HL_LIMIT_COUNT
};

struct hl_limit_def {
    const char *field;      /* as requests name it: "name", "headers", "Idempotency-Key" */
    const char *what;       /* what it bounds, for the reference table */
    long min, max;
    const char *unit;       /* "characters", "bytes", "entries", ... */
    const char *where;      /* where it is enforced */
};

/* The row of 'limit' (borrowed, static); NULL for an unknown value. */
const struct hl_limit_def *hl_limit_get(enum hl_limit limit);

/* Check that 'n' (a length or a count) is within 'limit'. Returns 0, or
 * HL_EINVAL with "\"<field>\" must be <min> to <max> <unit>." (or "at
 * most <max> <unit>" when the minimum is 0) in 'err'. */
int hl_limit_check(enum hl_limit limit, size_t n, struct hl_error *err) HL_MUST_CHECK;

/* True if 's' ('n' bytes) is a tenant id: 1 to LIMIT_TENANT_ID_MAX of
 * [A-Za-z0-9_-], the first a letter or digit. */
bool hl_limit_tenant_id_valid(const char *s, size_t n);

/* True if 's' ('n' bytes) is an event id: 1 to LIMIT_EVENT_ID_MAX of
 * [A-Za-z0-9_.:-]. The one rule for ids read from Kafka and ids a client
 * gives POST /v1/events: an id is sent as the webhook-id header and signed
 * as it is, so nothing else may pass (a CR LF would inject headers). */
bool hl_limit_event_id_valid(const char *s, size_t n);

/* Print the table as Markdown rows: | field | what | limit | where |. */
void hl_limits_print_reference(FILE *out);

#endif
