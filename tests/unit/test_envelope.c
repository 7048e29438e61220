/* test_envelope.c: parsing Kafka message values into envelopes (accepted
 * shapes and every documented refusal), building envelopes, and the UTC
 * time format. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "envelope.h"

static json_t *parse(const char *text, struct hl_error *err)
{
    hl_error_clear(err);
    return envelope_parse(text, strlen(text), err);
}

/* A complete envelope parses and keeps every field as sent. */
static void test_parse_complete(void)
{
    struct hl_error err;
    json_t *env = parse("{\"id\":\"evt_1\",\"type\":\"booking.scheduled\",\"tenant\":\"acme\","
                        "\"occurred_at\":\"2026-11-25T10:00:00Z\",\"data\":{\"owner\":\"u_42\"},\"extra\":1}",
                        &err);
    CHECK_FATAL(env != NULL);
    CHECK_EQ_INT(err.code, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(env, "id")), "evt_1");
    CHECK_EQ_STR(json_string_value(json_object_get(env, "type")), "booking.scheduled");
    CHECK_EQ_STR(json_string_value(json_object_get(env, "tenant")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(env, "data"), "owner")), "u_42");
    CHECK_EQ_INT(json_integer_value(json_object_get(env, "extra")), 1);
    json_decref(env);
}

/* occurred_at and data are optional. */
static void test_parse_minimal(void)
{
    struct hl_error err;
    json_t *env = parse("{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\"}", &err);
    CHECK(env != NULL);
    json_decref(env);
}

/* Only 'len' bytes are parsed: the buffer need not be NUL-terminated,
 * and a Kafka value with trailing bytes beyond 'len' is fine. */
static void test_parse_uses_len(void)
{
    const char *text = "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\"}GARBAGE";
    struct hl_error err = { 0 };
    json_t *env = envelope_parse(text, strlen(text) - 7, &err);
    CHECK(env != NULL);
    json_decref(env);
    env = envelope_parse(text, strlen(text), &err);
    CHECK(env == NULL);
}

/* Each malformed message is refused with HL_EINVAL and a reason that
 * names the problem. */
static void test_parse_refusals(void)
{
    static const struct {
        const char *text;
        const char *reason_has;
    } cases[] = {
        { "", "not valid JSON" },
        { "not json", "not valid JSON" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\"", "not valid JSON" },
        { "[1,2]", "not a JSON object" },
        { "\"evt\"", "not a JSON object" },
        { "{\"type\":\"t\",\"tenant\":\"a\"}", "no \"id\"" },
        { "{\"id\":\"e\",\"tenant\":\"a\"}", "no \"type\"" },
        { "{\"id\":\"e\",\"type\":\"t\"}", "no \"tenant\"" },
        { "{\"id\":1,\"type\":\"t\",\"tenant\":\"a\"}", "\"id\" is not a string" },
        { "{\"id\":\"e\",\"type\":null,\"tenant\":\"a\"}", "\"type\" is not a string" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":[\"a\"]}", "\"tenant\" is not a string" },
        { "{\"id\":\"\",\"type\":\"t\",\"tenant\":\"a\"}", "\"id\" is empty" },
        { "{\"id\":\"e\",\"type\":\"\",\"tenant\":\"a\"}", "\"type\" is empty" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"\"}", "\"tenant\" is empty" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\",\"occurred_at\":1}", "\"occurred_at\" is not a string" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\",\"data\":[]}", "\"data\" is not an object" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\",\"data\":\"x\"}", "\"data\" is not an object" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\",\"data\":null}", "\"data\" is not an object" },
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"a\",\"tenant\":\"b\"}", "not valid JSON" },
        /* jansson refuses \u0000 unless asked: no value is cut short at a NUL later */
        { "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"acme\\u0000x\"}", "not valid JSON" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hl_error err;
        json_t *env = parse(cases[i].text, &err);
        CHECK(env == NULL);
        CHECK_EQ_INT(err.code, HL_EINVAL);
        if (strstr(err.msg, cases[i].reason_has) == NULL)
            fprintf(stderr, "case %zu: reason \"%s\" lacks \"%s\"\n", i, err.msg, cases[i].reason_has);
        CHECK(strstr(err.msg, cases[i].reason_has) != NULL);
        json_decref(env);
    }
    struct hl_error err = { 0 };
    CHECK(envelope_parse(NULL, 0, &err) == NULL);
    CHECK(envelope_parse("{}", 2, NULL) == NULL);
}

/* id, type and tenant may be as long as their *_MAX (the api's limits:
 * what it publishes parses); one more is refused, naming the field and
 * the limit. */
static void test_parse_length_limits(void)
{
    static const struct {
        const char *field;
        size_t max;
    } limits[] = { { "id", ENVELOPE_ID_MAX }, { "type", ENVELOPE_TYPE_MAX }, { "tenant", ENVELOPE_TENANT_MAX } };
    CHECK_EQ_INT(ENVELOPE_ID_MAX, 128);
    CHECK_EQ_INT(ENVELOPE_TYPE_MAX, 128);
    CHECK_EQ_INT(ENVELOPE_TENANT_MAX, 64);
    for (size_t i = 0; i < 3; i++) {
        for (size_t len = limits[i].max - 1; len <= limits[i].max + 1; len++) {
            json_t *obj = json_pack("{s:s,s:s,s:s}", "id", "e", "type", "t", "tenant", "a");
            char *val = malloc(len + 1);
            CHECK_FATAL(obj != NULL && val != NULL);
            memset(val, 'x', len);
            val[len] = '\0';
            json_object_set_new(obj, limits[i].field, json_string(val));
            char *text = json_dumps(obj, 0);
            struct hl_error err;
            json_t *env = parse(text, &err);
            if (len <= limits[i].max) {
                CHECK(env != NULL);
            } else {
                char want[64];
                snprintf(want, sizeof(want), "Event \"%s\" is longer than %zu characters.", limits[i].field,
                         limits[i].max);
                CHECK(env == NULL);
                CHECK_EQ_STR(err.msg, want);
            }
            json_decref(env);
            free(text);
            free(val);
            json_decref(obj);
        }
    }
}

/* An envelope whose id is 'id' (escaped into the JSON text by jansson). */
static json_t *parse_with_id(const char *id, struct hl_error *err)
{
    json_t *obj = json_pack("{s:s,s:s,s:s}", "id", id, "type", "t", "tenant", "a");
    char *text = json_dumps(obj, 0);
    CHECK_FATAL(text != NULL);
    json_t *env = parse(text, err);
    free(text);
    json_decref(obj);
    return env;
}

/* An id is 1 to 128 characters of [A-Za-z0-9_.:-], and nothing else: it
 * goes out as the webhook-id header. Every character of the class at the
 * longest length passes; each other kind of character is refused with a
 * reason that names "id" and does not quote the value. */
static void test_parse_id_rule(void)
{
    char id[ENVELOPE_ID_MAX + 2];
    static const char class[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
    for (size_t i = 0; i < ENVELOPE_ID_MAX; i++)
        id[i] = class[i % (sizeof(class) - 1)];
    id[ENVELOPE_ID_MAX] = '\0';
    struct hl_error err;
    json_t *env = parse_with_id(id, &err);
    CHECK(env != NULL);
    CHECK(env && strcmp(json_string_value(json_object_get(env, "id")), id) == 0);
    json_decref(env);
    CHECK(hl_limit_event_id_valid(id, ENVELOPE_ID_MAX));
    id[ENVELOPE_ID_MAX] = 'x';
    id[ENVELOPE_ID_MAX + 1] = '\0';
    CHECK(parse_with_id(id, &err) == NULL);
    CHECK(strstr(err.msg, "\"id\"") != NULL);
    CHECK(!hl_limit_event_id_valid(id, ENVELOPE_ID_MAX + 1));

    static const char *const bad[] = {
        "evt_1\r\nx-injected: 1", "evt\r", "evt\n", "evt 1", "evt\t1", "evt/1", "evt?1", "evt#1", "evt@1",
        "evt+1", "evt,1", "evt;1", "evt=1", "evt\"1", "evt'1", "evt\\1", "evt%0d%0a", "evt\x01", "evt\x7f",
        "\xc3\xa9vt", "evt\xe2\x80\xa8", "evt~1", "(evt)", "evt*", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        env = parse_with_id(bad[i], &err);
        if (env != NULL)
            fprintf(stderr, "id case %zu accepted\n", i);
        CHECK(env == NULL);
        CHECK_EQ_INT(err.code, HL_EINVAL);
        CHECK(strstr(err.msg, "\"id\"") != NULL);
        CHECK(bad[i][0] == '\0' || strstr(err.msg, bad[i]) == NULL);
        CHECK(strpbrk(err.msg, "\r\n") == NULL);
        CHECK(!hl_limit_event_id_valid(bad[i], strlen(bad[i])));
        json_decref(env);
    }
    /* the length given is the length checked: a NUL inside is refused, a
     * NULL pointer or zero length too */
    CHECK(!hl_limit_event_id_valid("evt\0x", 5));
    CHECK(hl_limit_event_id_valid("evt\0x", 3));
    CHECK(!hl_limit_event_id_valid(NULL, 0));
    CHECK(!hl_limit_event_id_valid("evt", 0));
    /* envelope_new takes no id that envelope_parse would refuse */
    CHECK(envelope_new("evt_1\r\nx-injected: 1", "t", "a", NULL, NULL) == NULL);
    CHECK(envelope_new("", "t", "a", NULL, NULL) == NULL);
    json_t *ok = envelope_new("ext:2026-01.a_b", "t", "a", NULL, NULL);
    CHECK(ok != NULL);
    json_decref(ok);
}

/* envelope_new with every field given builds exactly that envelope, with
 * the fields in the documented order, and borrows 'data'. */
static void test_new_given_fields(void)
{
    json_t *data = json_pack("{s:s}", "owner", "u_42");
    json_t *env = envelope_new("evt_x", "booking.scheduled", "acme", "2026-11-25T10:00:00Z", data);
    CHECK_FATAL(env != NULL);
    char *text = json_dumps(env, JSON_COMPACT);
    CHECK_EQ_STR(text, "{\"id\":\"evt_x\",\"type\":\"booking.scheduled\",\"tenant\":\"acme\","
                       "\"occurred_at\":\"2026-11-25T10:00:00Z\",\"data\":{\"owner\":\"u_42\"}}");
    free(text);
    json_decref(env);
    /* still ours: the envelope took its own reference */
    CHECK_EQ_INT(data->refcount, 1);
    json_decref(data);
}

/* envelope_new generates an "evt_" id, a current UTC time and {} data;
 * the result passes envelope_parse; two ids differ. */
static void test_new_generated_fields(void)
{
    long long before = hl_time_now_ms();
    json_t *a = envelope_new(NULL, "webhook.test", "acme", NULL, NULL);
    json_t *b = envelope_new(NULL, "webhook.test", "acme", NULL, NULL);
    CHECK_FATAL(a != NULL && b != NULL);
    const char *id = json_string_value(json_object_get(a, "id"));
    CHECK(id != NULL && strncmp(id, "evt_", 4) == 0 && strlen(id) == 4 + 22);
    CHECK(strcmp(id, json_string_value(json_object_get(b, "id"))) != 0);
    CHECK(json_is_object(json_object_get(a, "data")) && json_object_size(json_object_get(a, "data")) == 0);
    long long after = hl_time_now_ms();
    const char *at = json_string_value(json_object_get(a, "occurred_at"));
    char lo[32], hi[32];
    hl_time_format(before, lo, sizeof(lo));
    hl_time_format(after, hi, sizeof(hi));
    /* to the second, "YYYY-MM-DDTHH:MM:SS" sorts like the time it names */
    CHECK(at != NULL && strncmp(at, lo, 19) >= 0 && strncmp(at, hi, 19) <= 0);
    CHECK(at != NULL && at[strlen(at) - 1] == 'Z');
    char *text = json_dumps(a, 0);
    struct hl_error err = { 0 };
    json_t *back = envelope_parse(text, strlen(text), &err);
    CHECK(back != NULL && json_equal(back, a));
    json_decref(back);
    free(text);
    json_decref(a);
    json_decref(b);
    CHECK(envelope_new(NULL, NULL, "acme", NULL, NULL) == NULL);
    CHECK(envelope_new(NULL, "t", NULL, NULL, NULL) == NULL);
}

/* hl_time_format: epoch, milliseconds only when non-zero, a leap day,
 * times before 1970, and truncation to a small buffer. */
static void test_time_format(void)
{
    char out[32];
    hl_time_format(0, out, sizeof(out));
    CHECK_EQ_STR(out, "1970-01-01T00:00:00Z");
    hl_time_format(1614265330000LL, out, sizeof(out));
    CHECK_EQ_STR(out, "2021-02-25T15:02:10Z");
    hl_time_format(1614265330007LL, out, sizeof(out));
    CHECK_EQ_STR(out, "2021-02-25T15:02:10.007Z");
    hl_time_format(1709164800999LL, out, sizeof(out));
    CHECK_EQ_STR(out, "2024-02-29T00:00:00.999Z");
    hl_time_format(-1, out, sizeof(out));
    CHECK_EQ_STR(out, "1969-12-31T23:59:59.999Z");
    hl_time_format(-1000, out, sizeof(out));
    CHECK_EQ_STR(out, "1969-12-31T23:59:59Z");
    char small[11];
    hl_time_format(0, small, sizeof(small));
    CHECK_EQ_STR(small, "1970-01-01");
}

/* hl_time_now_ms is after 2020 and does not go backwards between calls. */
static void test_time_now(void)
{
    long long a = hl_time_now_ms();
    long long b = hl_time_now_ms();
    CHECK(a > 1577836800000LL);
    CHECK(b >= a);
}

int main(void)
{
    test_parse_complete();
    test_parse_minimal();
    test_parse_uses_len();
    test_parse_refusals();
    test_parse_length_limits();
    test_parse_id_rule();
    test_new_given_fields();
    test_new_generated_fields();
    test_time_format();
    test_time_now();
    return check_exit();
}
