/* fuzz_event_input.c: event_input_check on arbitrary POST /v1/events bodies.
 *
 * Input: the request body as JSON. The verdict must be the rule's,
 * written out here independently: only "type", "data", "id" and
 * "occurred_at"; a type of 1 to 128 characters; data an object; an id of
 * 1 to 128 of [A-Za-z0-9_.:-]; occurred_at an RFC 3339 date-time that
 * exists (no 31 April, 29 February only in leap years). A refusal names
 * its field. An accepted body, published as the api does for a tenant id
 * of the longest length, is an envelope the dispatcher accepts
 * (envelope_parse), with every given field as it was given.
 */
#include <stdbool.h>

#include "envelope.h"
#include "event_input.h"
#include "fuzz.h"
#include "hl_limits.h"

static bool fuzz_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int fuzz_num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* RFC 3339 section 5.6 date-time, with section 5.7's day-of-month rule. */
static bool fuzz_rfc3339(const char *s, size_t len)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (len < 20 || len > LIMIT_OCCURRED_AT_MAX || !fuzz_digits(s, 4) || s[4] != '-' || !fuzz_digits(s + 5, 2) ||
        s[7] != '-' || !fuzz_digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !fuzz_digits(s + 11, 2) ||
        s[13] != ':' || !fuzz_digits(s + 14, 2) || s[16] != ':' || !fuzz_digits(s + 17, 2))
        return false;
    int year = fuzz_num(s, 4), mon = fuzz_num(s + 5, 2), day = fuzz_num(s + 8, 2);
    if (mon < 1 || mon > 12)
        return false;
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    int last = mdays[mon - 1] + (mon == 2 && leap ? 1 : 0);
    if (day < 1 || day > last || fuzz_num(s + 11, 2) > 23 || fuzz_num(s + 14, 2) > 59 || fuzz_num(s + 17, 2) > 60)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
        return true;
    return i + 6 == len && (s[i] == '+' || s[i] == '-') && fuzz_digits(s + i + 1, 2) && s[i + 3] == ':' &&
           fuzz_digits(s + i + 4, 2) && fuzz_num(s + i + 1, 2) <= 23 && fuzz_num(s + i + 4, 2) <= 59;
}

static bool fuzz_event_id(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '.' ||
              c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* The rule; on refusal *field is the field to name. */
static bool fuzz_body_ok(const json_t *body, const char **field)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (strcmp(k, "type") && strcmp(k, "data") && strcmp(k, "id") && strcmp(k, "occurred_at")) {
            *field = k;
            return false;
        }
    }
    const json_t *type = json_object_get(body, "type"), *data = json_object_get(body, "data");
    const json_t *id = json_object_get(body, "id"), *at = json_object_get(body, "occurred_at");
    *field = "type";
    if (!json_is_string(type) || json_string_length(type) < 1 || json_string_length(type) > 128)
        return false;
    *field = "data";
    if (data != NULL && !json_is_object(data))
        return false;
    *field = "id";
    if (id != NULL && (!json_is_string(id) || !fuzz_event_id(json_string_value(id), json_string_length(id))))
        return false;
    *field = "occurred_at";
    if (at != NULL && (!json_is_string(at) || !fuzz_rfc3339(json_string_value(at), json_string_length(at))))
        return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the longest tenant id there may be */
    static const char tenant[] = "t234567890123456789012345678901234567890123456789012345678901234";
    _Static_assert(sizeof(tenant) - 1 == LIMIT_TENANT_ID_MAX, "the tenant id is the longest");

    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    struct hl_error err = { 0 };
    const char *field = NULL;
    bool ok = fuzz_body_ok(body, &field);
    int rc = event_input_check(body, &err);
    FUZZ_CHECK((rc == 0) == ok);
    if (rc != 0) {
        char quoted[32];
        bool unknown = strcmp(field, "type") && strcmp(field, "data") && strcmp(field, "id") &&
                       strcmp(field, "occurred_at");
        snprintf(quoted, sizeof(quoted), "\"%s\"", field);
        FUZZ_CHECK(rc == HL_EINVAL && err.code == rc);
        /* an unknown field is named too, but its name may be cut short */
        FUZZ_CHECK(unknown ? strncmp(err.msg, "Unknown field \"", 15) == 0 : strstr(err.msg, quoted) != NULL);
        json_decref(body);
        return 0;
    }

    /* what event_publish() sends, and what the dispatcher makes of it */
    const json_t *type = json_object_get(body, "type"), *id = json_object_get(body, "id");
    const json_t *at = json_object_get(body, "occurred_at"), *payload = json_object_get(body, "data");
    json_t *env = envelope_new(json_string_value(id), json_string_value(type), tenant, json_string_value(at),
                               (json_t *)payload);
    FUZZ_CHECK(env != NULL);
    char *text = json_dumps(env, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    json_t *read = envelope_parse(text, strlen(text), &err);
    FUZZ_CHECK(read != NULL);
    FUZZ_CHECK(json_equal(json_object_get(read, "type"), type));
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(read, "tenant")), tenant) == 0);
    FUZZ_CHECK(id == NULL || json_equal(json_object_get(read, "id"), id));
    FUZZ_CHECK(at == NULL || json_equal(json_object_get(read, "occurred_at"), at));
    FUZZ_CHECK(payload == NULL || json_equal(json_object_get(read, "data"), payload));
    json_decref(read);
    free(text);
    json_decref(env);
    json_decref(body);
    return 0;
}
