/* test_event_input.c: the checks on a POST /v1/events body
 * (api/event_input.c): which fields, and which "occurred_at" values. */
#include <string.h>

#include "check.h"
#include "event_input.h"
#include "hl_limits.h"

/* event_input_check on the JSON text 'text'; the reason goes to 'err'. */
static int check_body(const char *text, struct hl_error *err)
{
    json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    CHECK_FATAL(body != NULL);
    memset(err, 0, sizeof(*err));
    int rc = event_input_check(body, err);
    json_decref(body);
    return rc;
}

static void test_fields(void)
{
    struct hl_error err;
    CHECK_EQ_INT(check_body("{\"type\":\"booking.scheduled\"}", &err), 0);
    CHECK_EQ_INT(check_body("{\"type\":\"booking.scheduled\",\"data\":{\"a\":1},\"id\":\"evt_1:a.b-c\","
                            "\"occurred_at\":\"2026-11-25T10:00:00.123+01:00\"}", &err), 0);
    CHECK_EQ_INT(check_body("{\"type\":\"booking.scheduled\",\"extra\":1}", &err), HL_EINVAL);
    CHECK_EQ_STR(err.msg, "Unknown field \"extra\".");
    CHECK_EQ_INT(check_body("{\"data\":{}}", &err), HL_EINVAL);
    CHECK(strstr(err.msg, "\"type\"") != NULL);
    CHECK_EQ_INT(check_body("{\"type\":\"\"}", &err), HL_EINVAL);
    CHECK_EQ_INT(check_body("{\"type\":5}", &err), HL_EINVAL);
    CHECK_EQ_INT(check_body("{\"type\":\"a\",\"data\":[]}", &err), HL_EINVAL);
    CHECK_EQ_STR(err.msg, "\"data\" must be an object.");
    CHECK_EQ_INT(check_body("{\"type\":\"a\",\"id\":\"evt\\r\\nX: 1\"}", &err), HL_EINVAL);
    CHECK(strstr(err.msg, "\"id\"") != NULL);
    CHECK_EQ_INT(check_body("{\"type\":\"a\",\"occurred_at\":\"yesterday\"}", &err), HL_EINVAL);
    CHECK(strstr(err.msg, "\"occurred_at\"") != NULL);
}

/* The type at its limit and one over. */
static void test_type_limit(void)
{
    char text[LIMIT_EVENT_TYPE_MAX + 32];
    struct hl_error err;
    char type[LIMIT_EVENT_TYPE_MAX + 2];
    memset(type, 'a', sizeof(type) - 1);
    type[LIMIT_EVENT_TYPE_MAX] = '\0';
    snprintf(text, sizeof(text), "{\"type\":\"%s\"}", type);
    CHECK_EQ_INT(check_body(text, &err), 0);
    type[LIMIT_EVENT_TYPE_MAX] = 'a';
    type[LIMIT_EVENT_TYPE_MAX + 1] = '\0';
    snprintf(text, sizeof(text), "{\"type\":\"%s\"}", type);
    CHECK_EQ_INT(check_body(text, &err), HL_EINVAL);
}

static void test_time(void)
{
    CHECK(event_input_time_valid("2026-11-25T10:00:00Z"));
    CHECK(event_input_time_valid("2026-11-25t10:00:00z"));
    CHECK(event_input_time_valid("2026-11-25T10:00:00.5Z"));
    CHECK(event_input_time_valid("2026-11-25T10:00:00-05:30"));
    CHECK(event_input_time_valid("2016-12-31T23:59:60Z"));
    CHECK(!event_input_time_valid(""));
    CHECK(!event_input_time_valid("2026-11-25"));
    CHECK(!event_input_time_valid("2026-11-25 10:00:00Z"));
    CHECK(!event_input_time_valid("2026-11-25T10:00:00"));
    CHECK(!event_input_time_valid("2026-11-25T10:00:00.Z"));
    CHECK(!event_input_time_valid("2026-13-25T10:00:00Z"));
    CHECK(!event_input_time_valid("2026-11-25T24:00:00Z"));
    CHECK(!event_input_time_valid("2026-11-25T10:00:00+24:00"));
    CHECK(!event_input_time_valid("2026-11-25T10:00:00Zjunk"));
}

/* Found by fuzz_event_input: any day up to 31 passed in every month, so
 * an event could carry a date that receivers' RFC 3339 parsers refuse. */
static void test_time_days_of_month(void)
{
    CHECK(event_input_time_valid("2026-01-31T00:00:00Z"));
    CHECK(event_input_time_valid("2026-04-30T00:00:00Z"));
    CHECK(!event_input_time_valid("2026-04-31T00:00:00Z"));
    CHECK(!event_input_time_valid("2026-06-31T00:00:00Z"));
    CHECK(!event_input_time_valid("2026-09-31T00:00:00Z"));
    CHECK(!event_input_time_valid("2026-11-31T00:00:00Z"));
    CHECK(event_input_time_valid("2026-02-28T00:00:00Z"));
    CHECK(!event_input_time_valid("2026-02-29T00:00:00Z"));
    CHECK(!event_input_time_valid("2611-02-31T23:59:60Z"));
    CHECK(event_input_time_valid("2024-02-29T00:00:00Z"));
    CHECK(event_input_time_valid("2000-02-29T00:00:00Z"));
    CHECK(!event_input_time_valid("1900-02-29T00:00:00Z"));
    CHECK(!event_input_time_valid("2024-02-30T00:00:00Z"));
    CHECK(!event_input_time_valid("2026-12-00T00:00:00Z"));
    CHECK(event_input_time_valid("2026-12-31T23:59:59Z"));
}

int main(void)
{
    test_fields();
    test_type_limit();
    test_time();
    test_time_days_of_month();
    return check_exit();
}
