/* fuzz_webhook.h: what the webhook body targets share: the rules the api
 * applies (the default catalog, the default retry schedule's length), the
 * stored webhook a PUT or PATCH starts from, and the rule for custom
 * headers written out again independently of api/webhook_input.c, so the
 * targets compare the code with the rule rather than with itself.
 */
#ifndef HL_FUZZ_WEBHOOK_H
#define HL_FUZZ_WEBHOOK_H

#include <stdbool.h>
#include <strings.h>

#include "fuzz.h"
#include "hl_limits.h"
#include "webhook_input.h"

#define FUZZ_MAX_RETRIES 9

/* The default catalog of sql/001_init.sql: every type and group name. */
static const char *const fuzz_known_names[] = {
    "booking.scheduled", "booking.rescheduled", "booking.canceled_then_rescheduled",
    "booking.canceled_reschedule_requested", "booking.canceled", "booking.completed", "booking.no_show",
    "conversation.reached_out", "conversation.started", "conversation.closed", "conversation.abandoned",
    "webhook.test", "booking", "conversation", "webhook", NULL
};

/* A webhook as the store returns it, for PUT and PATCH to change. */
static const char fuzz_stored_doc[] =
    "{\"id\":\"wh_fuzz\",\"tenant\":\"acme\",\"name\":\"orders\",\"description\":\"\","
    "\"endpoints\":[{\"id\":\"ep_one\",\"url\":\"https://one.example.com/hook\",\"headers\":{},"
    "\"auth\":{\"type\":\"bearer\",\"token\":\"tok_fuzz\"}},"
    "{\"id\":\"ep_two\",\"url\":\"https://two.example.com/hook\",\"headers\":{\"X-Team\":\"ops\"}}],"
    "\"events\":[\"booking.scheduled\",\"conversation\"],\"headers\":{\"X-Env\":\"prod\"},"
    "\"max_retries\":9,\"rate_limit\":null,\"is_active\":true,\"filter\":null,"
    "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"previous_secret\":null,"
    "\"previous_secret_expires_at\":null,\"disabled_reason\":null,\"created_by\":\"key_fuzz\","
    "\"created_at\":\"2026-01-01T00:00:00Z\",\"updated_at\":\"2026-01-01T00:00:00Z\",\"version\":3}";

/* What POST /v1/webhooks starts from before the body is applied. */
static const char fuzz_new_doc[] =
    "{\"id\":\"wh_fuzz\",\"tenant\":\"acme\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
    "\"created_by\":\"key_fuzz\",\"endpoints\":[]}";

/* The names of the catalog as catalog_names_load() gives them (new reference). */
static inline json_t *fuzz_known_events(void)
{
    json_t *known = json_object();
    for (const char *const *n = fuzz_known_names; *n; n++)
        json_object_set_new(known, *n, json_true());
    return known;
}

static inline json_t *fuzz_doc(const char *text)
{
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(doc != NULL);
    return doc;
}

/* The rule for one custom header (RFC 9110 field names and values):
 * the name is a token of 1 to LIMIT_HEADER_NAME_MAX characters and not
 * one hookline sets itself or that frames the message; the value is at
 * most LIMIT_HEADER_VALUE_MAX bytes of visible characters, spaces, tabs
 * and UTF-8, so no control character (a CR LF would inject a header, any
 * other makes a request that receivers refuse). */
static inline bool fuzz_header_ok(const char *name, size_t name_len, const json_t *value)
{
    static const char *const reserved[] = {
        "content-type", "content-length", "host", "user-agent", "webhook-id", "webhook-timestamp",
        "webhook-signature", "transfer-encoding", "connection", "te", "upgrade", "expect", "keep-alive",
        "trailer", "proxy-authorization", "proxy-connection", NULL
    };
    if (name_len == 0 || name_len > LIMIT_HEADER_NAME_MAX)
        return false;
    for (size_t i = 0; i < name_len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool tchar = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        if (!tchar)
            return false;
    }
    for (const char *const *r = reserved; *r; r++)
        if (strlen(*r) == name_len && strncasecmp(*r, name, name_len) == 0)
            return false;
    if (name_len >= 6 && strncasecmp(name, "proxy-", 6) == 0)
        return false;
    if (!json_is_string(value) || json_string_length(value) > LIMIT_HEADER_VALUE_MAX)
        return false;
    const unsigned char *v = (const unsigned char *)json_string_value(value);
    for (size_t i = 0; i < json_string_length(value); i++)
        if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
            return false;
    return true;
}

/* The rule for a headers object (NULL or JSON null: none). */
static inline bool fuzz_headers_ok(const json_t *h)
{
    if (h == NULL || json_is_null(h))
        return true;
    if (!json_is_object(h) || json_object_size(h) > LIMIT_HEADERS_MAX)
        return false;
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)h, k, klen, v) {
        if (!fuzz_header_ok(k, klen, v))
            return false;
    }
    return true;
}

#endif
