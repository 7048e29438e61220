/* test_webhook_input.c: webhook request bodies into documents
 * (api/webhook_input.c), for what the end-to-end tests cannot reach
 * cheaply: every control character in a custom header value, and the
 * field a refusal names. */
#include <string.h>

#include "check.h"
#include "webhook_input.h"

static const struct dest_policy policy = { .allow_http = false, .allow_private = false };

/* Create a webhook from the JSON text 'text'; the reason goes to 'err'. */
static int create(const char *text, struct hl_error *err)
{
    json_t *known = json_pack("{s:b,s:b}", "booking", 1, "booking.scheduled", 1);
    json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    json_t *doc = json_pack("{s:s,s:s,s:s,s:[]}", "id", "wh_1", "tenant", "acme", "secret",
                            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "endpoints");
    CHECK_FATAL(known != NULL && body != NULL && doc != NULL);
    struct webhook_rules rules = { .policy = &policy, .max_retries_cap = 9, .known_events = known };
    json_t *unknown = NULL;
    memset(err, 0, sizeof(*err));
    int rc = webhook_input_apply(doc, body, WEBHOOK_CREATE, &rules, &unknown, err);
    json_decref(unknown);
    json_decref(doc);
    json_decref(body);
    json_decref(known);
    return rc;
}

/* A header value with character 'c' in it, on the webhook and on an endpoint. */
static int header_with(unsigned c, bool endpoint, struct hl_error *err)
{
    char text[512];
    if (endpoint)
        snprintf(text, sizeof(text),
                 "{\"name\":\"h\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"https://a.example.com\","
                 "\"headers\":{\"X-A\":\"a\\u%04xb\"}}]}", c);
    else
        snprintf(text, sizeof(text),
                 "{\"name\":\"h\",\"url\":\"https://a.example.com\",\"events\":\"booking\","
                 "\"headers\":{\"X-A\":\"a\\u%04xb\"}}", c);
    return create(text, err);
}

/* Found by fuzz_webhook_headers: only CR and LF were refused, so a value
 * with another control character was accepted and then made requests
 * that receivers refuse. Tabs stay allowed. */
static void test_header_control_characters(void)
{
    struct hl_error err;
    for (unsigned c = 1; c < 0x20; c++) {
        for (int ep = 0; ep < 2; ep++) {
            int rc = header_with(c, ep, &err);
            if (c == '\t') {
                CHECK_EQ_INT(rc, 0);
            } else {
                CHECK_EQ_INT(rc, HL_EINVAL);
                CHECK(strncmp(err.msg, ep ? "\"endpoints.headers\"" : "\"headers\"", ep ? 19 : 9) == 0);
            }
        }
    }
    CHECK_EQ_INT(header_with(0x7f, false, &err), HL_EINVAL);
    CHECK(strstr(err.msg, "control characters") != NULL);
    CHECK_EQ_INT(header_with(0x20, false, &err), 0);
    CHECK_EQ_INT(header_with(0x7e, true, &err), 0);
    CHECK_EQ_INT(header_with(0xe9, false, &err), 0);
}

/* Found by fuzz_webhook_input: the refusal of a URL listed twice named no field. */
static void test_duplicate_url_names_endpoints(void)
{
    struct hl_error err;
    CHECK_EQ_INT(create("{\"name\":\"d\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"https://a.example.com\"},"
                        "{\"url\":\"https://a.example.com\"}]}", &err),
                 HL_EINVAL);
    CHECK(strncmp(err.msg, "\"endpoints\"", 11) == 0);
    CHECK(strstr(err.msg, "https://a.example.com") != NULL);
}

int main(void)
{
    test_header_control_characters();
    test_duplicate_url_names_endpoints();
    return check_exit();
}
