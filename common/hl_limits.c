/* hl_limits.c: the table of length and count limits, and their checks.
 *
 * The numbers live in hl_limits.h (buffers are sized from them); this
 * table says what each one bounds and where it is enforced, and gives the
 * one wording of a length error that the api answers with.
 */
#include "hl_limits.h"

#include <string.h>

_Static_assert(LIMIT_SECRET_MAX == 6 + (LIMIT_SECRET_BYTES_MAX + 2) / 3 * 4,
               "LIMIT_SECRET_MAX is \"whsec_\" + base64 (padded) of LIMIT_SECRET_BYTES_MAX bytes");

#define LIMIT_STR_(x) #x
#define LIMIT_STR(x) LIMIT_STR_(x)
#define ROW(id, field, what, min, max, unit, where) [id] = { field, what, min, max, unit, where }

static const struct hl_limit_def hl_limits[HL_LIMIT_COUNT] = {
    ROW(HL_LIMIT_TENANT_ID, "id", "tenant id: letters, digits, '_' and '-', starting with a letter or digit",
        1, LIMIT_TENANT_ID_MAX, "characters", "POST /v1/tenants; \"tenant\" of an event read from Kafka"),
    ROW(HL_LIMIT_TENANT_NAME, "name", "tenant name", 1, LIMIT_TENANT_NAME_MAX, "bytes", "POST /v1/tenants"),
    ROW(HL_LIMIT_KEY_LABEL, "label", "API key label", 0, LIMIT_KEY_LABEL_MAX, "bytes",
        "POST /v1/tenants/{tenant}/keys"),
    ROW(HL_LIMIT_API_KEY, "x-api-key", "presented API key (longer: 401)", 1, LIMIT_API_KEY_MAX, "characters",
        "every authenticated route"),
    ROW(HL_LIMIT_WEBHOOK_NAME, "name", "webhook name, with at least one letter or digit", 1, LIMIT_WEBHOOK_NAME_MAX,
        "bytes", "webhook create, replace, change; GET /v1/webhooks?name="),
    ROW(HL_LIMIT_DESCRIPTION, "description", "webhook description", 0, LIMIT_DESCRIPTION_MAX, "bytes",
        "webhook create, replace, change"),
    ROW(HL_LIMIT_URL, "url", "endpoint URL", 1, LIMIT_URL_MAX, "characters", "webhook create, replace, change"),
    ROW(HL_LIMIT_ENDPOINTS, "endpoints", "endpoints of one webhook", 1, LIMIT_ENDPOINTS_MAX, "entries",
        "webhook create, replace, change"),
    ROW(HL_LIMIT_EVENTS, "events", "event types and groups one webhook subscribes to", 1, LIMIT_EVENTS_MAX, "entries",
        "webhook create, replace, change"),
    ROW(HL_LIMIT_HEADER_NAME, "headers", "custom header name (an HTTP token)", 1, LIMIT_HEADER_NAME_MAX, "characters",
        "webhook and endpoint \"headers\""),
    ROW(HL_LIMIT_HEADER_VALUE, "headers", "custom header value, without control characters but tab", 0, LIMIT_HEADER_VALUE_MAX,
        "bytes", "webhook and endpoint \"headers\""),
    ROW(HL_LIMIT_HEADERS, "headers", "custom headers in one object", 0, LIMIT_HEADERS_MAX, "entries",
        "webhook and endpoint \"headers\""),
    ROW(HL_LIMIT_AUTH_USERNAME, "auth.username", "endpoint Basic user name, without ':' or control characters", 1,
        LIMIT_AUTH_USERNAME_MAX, "bytes", "webhook and endpoint \"auth\""),
    ROW(HL_LIMIT_AUTH_PASSWORD, "auth.password", "endpoint Basic password, without control characters", 0,
        LIMIT_AUTH_PASSWORD_MAX, "bytes", "webhook and endpoint \"auth\""),
    ROW(HL_LIMIT_AUTH_TOKEN, "auth.token", "endpoint Bearer token, visible ASCII without spaces", 1,
        LIMIT_AUTH_TOKEN_MAX, "characters", "webhook and endpoint \"auth\""),
    ROW(HL_LIMIT_SECRET, "secret", "signing secret: \"whsec_\" + base64 of this many bytes (" LIMIT_STR(LIMIT_SECRET_MAX) " characters at most)", LIMIT_SECRET_BYTES_MIN,
        LIMIT_SECRET_BYTES_MAX, "bytes", "webhook create"),
    ROW(HL_LIMIT_FILTER_CONDITIONS, "filter", "conditions of one filter", 0, LIMIT_FILTER_CONDITIONS_MAX, "entries",
        "webhook create, replace, change"),
    ROW(HL_LIMIT_FILTER_PATH, "filter", "dotted path of one filter condition", 1, LIMIT_FILTER_PATH_MAX, "bytes",
        "webhook create, replace, change"),
    ROW(HL_LIMIT_FILTER_VALUES, "filter", "values in one condition's array", 1, LIMIT_FILTER_VALUES_MAX, "entries",
        "webhook create, replace, change"),
    ROW(HL_LIMIT_FILTER_BYTES, "filter", "whole filter as compact JSON", 0, LIMIT_FILTER_BYTES_MAX, "bytes",
        "webhook create, replace, change"),
    ROW(HL_LIMIT_RATE_LIMIT, "rate_limit", "deliveries per second per endpoint (or null)", 1, LIMIT_RATE_LIMIT_MAX,
        "per second", "webhook create, replace, change"),
    ROW(HL_LIMIT_EVENT_TYPE, "type", "event type or group name", 1, LIMIT_EVENT_TYPE_MAX, "characters",
        "POST /v1/events; \"events\" of a webhook; GET ?event= and ?event_type=; \"type\" of an event read from Kafka"),
    ROW(HL_LIMIT_EVENT_ID, "id", "event id: letters, digits and _ . : -", 1, LIMIT_EVENT_ID_MAX, "characters",
        "POST /v1/events; \"id\" of an event read from Kafka"),
    ROW(HL_LIMIT_OCCURRED_AT, "occurred_at", "RFC 3339 time of an event", 1, LIMIT_OCCURRED_AT_MAX, "characters",
        "POST /v1/events"),
    ROW(HL_LIMIT_IDEMPOTENCY_KEY, "Idempotency-Key", "idempotency key header", 1, LIMIT_IDEMPOTENCY_KEY_MAX, "bytes",
        "POST /v1/events"),
    ROW(HL_LIMIT_PATH_PARAM, "path", "one id in a request path (longer: 404)", 1, LIMIT_PATH_PARAM_MAX, "bytes",
        "every route with an id in its path"),
    ROW(HL_LIMIT_PORTAL_TTL, "ttl_s", "lifetime of a portal session link", LIMIT_PORTAL_TTL_MIN, LIMIT_PORTAL_TTL_MAX,
        "seconds", "POST /v1/portal-sessions"),
};

#undef ROW

const struct hl_limit_def *hl_limit_get(enum hl_limit limit)
{
    if ((int)limit < 0 || limit >= HL_LIMIT_COUNT)
        return NULL;
    return &hl_limits[limit];
}

int hl_limit_check(enum hl_limit limit, size_t n, struct hl_error *err)
{
    const struct hl_limit_def *def = hl_limit_get(limit);
    if (def == NULL)
        return hl_error_set(err, HL_EINVAL, "unknown limit %d", (int)limit);
    if ((long long)n >= def->min && (long long)n <= def->max)
        return 0;
    if (def->min == 0)
        return hl_error_set(err, HL_EINVAL, "\"%s\" must be at most %ld %s.", def->field, def->max, def->unit);
    return hl_error_set(err, HL_EINVAL, "\"%s\" must be %ld to %ld %s.", def->field, def->min, def->max, def->unit);
}

/* ASCII only, whatever the locale says isalnum() means */
static bool limit_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool hl_limit_tenant_id_valid(const char *s, size_t n)
{
    if (s == NULL || n == 0 || n > LIMIT_TENANT_ID_MAX || !limit_alnum(s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!limit_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

bool hl_limit_event_id_valid(const char *s, size_t n)
{
    if (s == NULL || n == 0 || n > LIMIT_EVENT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!limit_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != ':' && s[i] != '-')
            return false;
    return true;
}

void hl_limits_print_reference(FILE *out)
{
    for (int i = 0; i < HL_LIMIT_COUNT; i++) {
        const struct hl_limit_def *def = &hl_limits[i];
        fprintf(out, "| `%s` | %s | %ld-%ld %s | %s |\n", def->field, def->what, def->min, def->max, def->unit,
                def->where);
    }
}
