/* event_input.c: the checks on a POST /v1/events body.
 *
 * Everything an event carries into the envelope is checked here, so that
 * what the api publishes is what envelope_parse() accepts on the other
 * side of Kafka, and receivers that parse "occurred_at" can.
 */
#include "event_input.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hl_limits.h"

/* Days in 'mon' (1-12) of 'year' (RFC 3339 section 5.7 and appendix C). */
static int event_days_in_month(int year, int mon)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return days[mon - 1] + (mon == 2 && leap);
}

/* Receivers parse it: refuse anything else, a day the month lacks too. */
bool event_input_time_valid(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i] && !(shape[i] == 'T' && s[i] == 't'))
            return false;
    }
    int year = atoi(s), mon = atoi(s + 5), day = atoi(s + 8), hour = atoi(s + 11), min = atoi(s + 14);
    int sec = atoi(s + 17);
    if (mon < 1 || mon > 12 || day < 1 || day > event_days_in_month(year, mon) || hour > 23 || min > 59 || sec > 60)
        return false;
    s += sizeof(shape) - 1;
    if (*s == '.') {
        if (!isdigit((unsigned char)*++s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s == 'Z' || *s == 'z')
        return s[1] == '\0';
    return (*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) && s[3] == ':' &&
           isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]) && s[6] == '\0' && atoi(s + 1) <= 23 &&
           atoi(s + 4) <= 59;
}

int event_input_check(const json_t *body, struct hl_error *err)
{
    json_t *type = json_object_get(body, "type"), *data = json_object_get(body, "data");
    json_t *id = json_object_get(body, "id"), *at = json_object_get(body, "occurred_at");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (strcmp(k, "type") && strcmp(k, "data") && strcmp(k, "id") && strcmp(k, "occurred_at"))
            return hl_error_set(err, HL_EINVAL, "Unknown field \"%s\".", k);
    }
    if (!json_is_string(type) || json_string_length(type) == 0 || json_string_length(type) > LIMIT_EVENT_TYPE_MAX)
        return hl_error_set(err, HL_EINVAL, "A valid \"type\" must be specified: 1 to %d characters.",
                            LIMIT_EVENT_TYPE_MAX);
    if (data != NULL && !json_is_object(data))
        return hl_error_set(err, HL_EINVAL, "\"data\" must be an object.");
    if (id != NULL && (!json_is_string(id) || !hl_limit_event_id_valid(json_string_value(id), json_string_length(id))))
        return hl_error_set(err, HL_EINVAL, "\"id\" must be 1 to %d letters, digits or _-.: characters.",
                            LIMIT_EVENT_ID_MAX);
    if (at != NULL && (!json_is_string(at) || json_string_length(at) > LIMIT_OCCURRED_AT_MAX ||
                       !event_input_time_valid(json_string_value(at))))
        return hl_error_set(err, HL_EINVAL, "\"occurred_at\" must be an RFC 3339 timestamp string.");
    return 0;
}
