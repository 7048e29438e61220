/* envelope.c: the event envelope carried on hookline.events.
 *
 * Parsing is strict about the fields every consumer relies on (id, type,
 * tenant) and lenient about the rest, so that one bad message is skipped
 * with a clear reason instead of stalling a partition.
 */
#include "envelope.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ids.h"

/* Check that the required string member 'name' is present, non-empty and
 * at most 'max' characters. Returns 0 or HL_EINVAL with the reason in 'err'. */
static int envelope_check_string(const json_t *env, const char *name, size_t max, struct hl_error *err)
{
    const json_t *value = json_object_get(env, name);
    if (value == NULL)
        return hl_error_set(err, HL_EINVAL, "Event has no \"%s\".", name);
    if (!json_is_string(value))
        return hl_error_set(err, HL_EINVAL, "Event \"%s\" is not a string.", name);
    size_t len = json_string_length(value);
    if (len == 0)
        return hl_error_set(err, HL_EINVAL, "Event \"%s\" is empty.", name);
    if (len > max)
        return hl_error_set(err, HL_EINVAL, "Event \"%s\" is longer than %zu characters.", name, max);
    return 0;
}

json_t *envelope_parse(const char *buf, size_t len, struct hl_error *err)
{
    json_error_t jerr;
    json_t *env = NULL;
    const json_t *value;

    if (buf == NULL) {
        hl_error_set(err, HL_EINVAL, "Event is empty.");
        goto fail;
    }
    /* duplicate keys would let two readers see two different tenants;
     * DECODE_ANY so that a bare scalar gets the clearer "not an object" */
    env = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (env == NULL) {
        hl_error_set(err, HL_EINVAL, "Event is not valid JSON: %s (line %d, column %d).", jerr.text, jerr.line,
                     jerr.column);
        goto fail;
    }
    if (!json_is_object(env)) {
        hl_error_set(err, HL_EINVAL, "Event is not a JSON object.");
        goto fail;
    }
    if (envelope_check_string(env, "id", ENVELOPE_ID_MAX, err) < 0 ||
        envelope_check_string(env, "type", ENVELOPE_TYPE_MAX, err) < 0 ||
        envelope_check_string(env, "tenant", ENVELOPE_TENANT_MAX, err) < 0)
        goto fail;
    value = json_object_get(env, "id");
    if (!hl_limit_event_id_valid(json_string_value(value), json_string_length(value))) {
        hl_error_set(err, HL_EINVAL, "Event \"id\" must be 1 to %d letters, digits or _.:- characters.",
                     ENVELOPE_ID_MAX);
        goto fail;
    }
    value = json_object_get(env, "occurred_at");
    if (value != NULL && !json_is_string(value)) {
        hl_error_set(err, HL_EINVAL, "Event \"occurred_at\" is not a string.");
        goto fail;
    }
    value = json_object_get(env, "data");
    if (value != NULL && !json_is_object(value)) {
        hl_error_set(err, HL_EINVAL, "Event \"data\" is not an object.");
        goto fail;
    }
    return env;
fail:
    json_decref(env);
    return NULL;
}

json_t *envelope_new(const char *id, const char *type, const char *tenant,
                     const char *occurred_at, json_t *data)
{
    char idbuf[HL_ID_MAX];
    char timebuf[32];
    json_t *env = NULL;

    if (type == NULL || tenant == NULL || (id != NULL && !hl_limit_event_id_valid(id, strlen(id))))
        goto fail;
    if (id == NULL) {
        if (hl_id_new("evt_", idbuf, sizeof(idbuf)) < 0)
            goto fail;
        id = idbuf;
    }
    if (occurred_at == NULL) {
        hl_time_format(hl_time_now_ms(), timebuf, sizeof(timebuf));
        occurred_at = timebuf;
    }
    env = json_object();
    if (env == NULL ||
        json_object_set_new(env, "id", json_string(id)) < 0 ||
        json_object_set_new(env, "type", json_string(type)) < 0 ||
        json_object_set_new(env, "tenant", json_string(tenant)) < 0 ||
        json_object_set_new(env, "occurred_at", json_string(occurred_at)) < 0)
        goto fail;
    /* json_object_set takes its own reference: 'data' stays the caller's */
    if (data != NULL ? json_object_set(env, "data", data) < 0 : json_object_set_new(env, "data", json_object()) < 0)
        goto fail;
    return env;
fail:
    json_decref(env);
    return NULL;
}

long long hl_time_parse_ms(const char *s)
{
    struct tm tm = { 0 };
    int ms = 0;
    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

void hl_time_format(long long unix_ms, char *out, size_t cap)
{
    struct tm tm;
    long long ms = unix_ms % 1000;
    long long secs = unix_ms / 1000;

    if (cap == 0)
        return;
    out[0] = '\0';
    if (ms < 0) {             /* floor, so times before 1970 read forwards */
        ms += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    if (gmtime_r(&t, &tm) == NULL)
        return;
    if (ms == 0)
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

long long hl_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
