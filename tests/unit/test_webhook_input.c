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

/* Apply the JSON text 'text' to 'doc' in 'mode'; the reason goes to 'err'. */
static int apply(json_t *doc, const char *text, enum webhook_mode mode, struct hl_error *err)
{
    json_t *known = json_pack("{s:b,s:b}", "booking", 1, "booking.scheduled", 1);
    json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    CHECK_FATAL(known != NULL && body != NULL);
    struct webhook_rules rules = { .policy = &policy, .max_retries_cap = 9, .known_events = known };
    json_t *unknown = NULL;
    memset(err, 0, sizeof(*err));
    int rc = webhook_input_apply(doc, body, mode, &rules, &unknown, err);
    if (rc != 0 && err->msg[0] == '\0')
        fprintf(stderr, "%s: %d without a reason\n", text, rc);
    json_decref(unknown);
    json_decref(body);
    json_decref(known);
    return rc;
}

static json_t *doc_blank(void)
{
    json_t *doc = json_pack("{s:s,s:s,s:s,s:[]}", "id", "wh_1", "tenant", "acme", "secret",
                            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "endpoints");
    CHECK_FATAL(doc != NULL);
    return doc;
}

static const json_t *ep_auth(const json_t *doc, size_t i)
{
    return json_object_get(json_array_get(json_object_get(doc, "endpoints"), i), "auth");
}

static const char *ep_auth_str(const json_t *doc, size_t i, const char *k)
{
    return json_string_value(json_object_get(ep_auth(doc, i), k));
}

/* Expect 'text' refused in 'mode' with a reason starting with 'start'. */
static void expect_refused(json_t *doc, const char *text, enum webhook_mode mode, const char *start)
{
    struct hl_error err;
    json_t *copy = json_deep_copy(doc);
    CHECK_EQ_INT(apply(copy, text, mode, &err), HL_EINVAL);
    if (strncmp(err.msg, start, strlen(start)) != 0)
        fprintf(stderr, "%s: reason \"%s\" does not start with %s\n", text, err.msg, start);
    CHECK(strncmp(err.msg, start, strlen(start)) == 0);
    json_decref(copy);
}

#define AUTH_BASIC "{\"type\":\"basic\",\"username\":\"u1\",\"password\":\"p1\"}"
#define AUTH_BEARER "{\"type\":\"bearer\",\"token\":\"t1\"}"

/* Credentials on the url form and on endpoints; kept, replaced and
 * removed by PUT and PATCH; shown as their type only. */
static void test_auth_set_keep_remove(void)
{
    struct hl_error err;
    json_t *doc = doc_blank();
    CHECK_EQ_INT(apply(doc, "{\"name\":\"a\",\"events\":\"booking\",\"url\":\"https://a.example.com\","
                            "\"auth\":" AUTH_BASIC "}", WEBHOOK_CREATE, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "username"), "u1");
    CHECK_EQ_STR(ep_auth_str(doc, 0, "password"), "p1");

    /* the client's view: the type, never a value, on the endpoint and at the top */
    json_t *pub = webhook_public(doc, NULL);
    char *text = json_dumps(pub, JSON_COMPACT);
    CHECK(text && strstr(text, "u1") == NULL && strstr(text, "p1") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(pub, "auth"), "type")), "basic");
    CHECK_EQ_INT((int)json_object_size(ep_auth(pub, 0)), 1);
    /* ...which sent back as it is (PUT) keeps the credentials */
    CHECK_EQ_INT(apply(doc, text, WEBHOOK_REPLACE, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "password"), "p1");
    free(text);
    json_decref(pub);

    /* a PATCH without "auth" keeps them; they belong to the URL, so a new one starts without */
    CHECK_EQ_INT(apply(doc, "{\"description\":\"d\"}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "password"), "p1");
    CHECK_EQ_INT(apply(doc, "{\"url\":\"https://a.example.com\"}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "password"), "p1");
    expect_refused(doc, "{\"url\":\"https://b.example.com\",\"auth\":{\"type\":\"basic\"}}", WEBHOOK_PATCH,
                   "\"auth\": endpoint https://b.example.com has no saved basic credentials");
    /* PATCH of "auth" alone: replaced, of another type, then removed */
    CHECK_EQ_INT(apply(doc, "{\"auth\":" AUTH_BEARER "}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "token"), "t1");
    CHECK(ep_auth_str(doc, 0, "password") == NULL);
    expect_refused(doc, "{\"auth\":{\"type\":\"basic\"}}", WEBHOOK_PATCH, "\"auth\": endpoint");
    CHECK_EQ_INT(apply(doc, "{\"auth\":{\"type\":\"bearer\"}}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "token"), "t1");
    CHECK_EQ_INT(apply(doc, "{\"auth\":null}", WEBHOOK_PATCH, &err), 0);
    CHECK(ep_auth(doc, 0) == NULL);
    /* PUT without "auth": none */
    CHECK_EQ_INT(apply(doc, "{\"auth\":" AUTH_BEARER "}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_INT(apply(doc, "{\"name\":\"a\",\"events\":\"booking\",\"url\":\"https://a.example.com\"}",
                       WEBHOOK_REPLACE, &err), 0);
    CHECK(ep_auth(doc, 0) == NULL);

    /* endpoints: each its own; a PATCH of the list keeps an unchanged URL's when "auth" is left out */
    CHECK_EQ_INT(apply(doc, "{\"endpoints\":[{\"url\":\"https://a.example.com\",\"auth\":" AUTH_BASIC "},"
                            "{\"url\":\"https://b.example.com\",\"auth\":" AUTH_BEARER "},"
                            "{\"url\":\"https://c.example.com\"}]}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "username"), "u1");
    CHECK_EQ_STR(ep_auth_str(doc, 1, "token"), "t1");
    CHECK(ep_auth(doc, 2) == NULL);
    CHECK_EQ_INT(apply(doc, "{\"endpoints\":[{\"url\":\"https://b.example.com\"},"
                            "{\"url\":\"https://a.example.com\",\"auth\":null}]}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_auth_str(doc, 0, "token"), "t1");
    CHECK(ep_auth(doc, 1) == NULL);
    expect_refused(doc, "{\"auth\":" AUTH_BASIC "}", WEBHOOK_PATCH, "\"auth\" alone");
    expect_refused(doc, "{\"endpoints\":[{\"url\":\"https://a.example.com\"}],\"auth\":" AUTH_BASIC "}",
                   WEBHOOK_PATCH, "Give \"auth\" with \"url\"");
    expect_refused(doc, "{\"endpoints\":[{\"url\":\"https://a.example.com\",\"auth\":{\"type\":\"x\"}}]}",
                   WEBHOOK_PATCH, "\"endpoints.auth.type\"");
    json_decref(doc);
}

/* One Authorization header per request: credentials and a custom header of
 * that name (any case, the webhook's or the endpoint's) are refused together. */
static void test_auth_conflicts_with_header(void)
{
    struct hl_error err;
    json_t *doc = doc_blank();
    expect_refused(doc, "{\"name\":\"a\",\"events\":\"booking\",\"url\":\"https://a.example.com\","
                        "\"headers\":{\"authorization\":\"x\"},\"auth\":" AUTH_BEARER "}", WEBHOOK_CREATE,
                   "\"auth\": endpoint https://a.example.com has credentials and an \"Authorization\" header in "
                   "\"headers\"");
    expect_refused(doc, "{\"name\":\"a\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"https://a.example.com\","
                        "\"headers\":{\"AUTHORIZATION\":\"x\"},\"auth\":" AUTH_BEARER "}]}", WEBHOOK_CREATE,
                   "\"auth\": endpoint https://a.example.com has credentials and an \"Authorization\" header in "
                   "\"endpoints.headers\"");
    /* an Authorization header alone stays allowed, and so do credentials beside other headers */
    CHECK_EQ_INT(apply(doc, "{\"name\":\"a\",\"events\":\"booking\",\"url\":\"https://a.example.com\","
                            "\"headers\":{\"Authorization\":\"x\"}}", WEBHOOK_CREATE, &err), 0);
    expect_refused(doc, "{\"auth\":" AUTH_BEARER "}", WEBHOOK_PATCH, "\"auth\": endpoint");
    CHECK_EQ_INT(apply(doc, "{\"headers\":{\"X-Team\":\"ops\"},\"auth\":" AUTH_BEARER "}", WEBHOOK_PATCH, &err), 0);
    expect_refused(doc, "{\"headers\":{\"Authorization\":\"x\"}}", WEBHOOK_PATCH, "\"auth\": endpoint");
    json_decref(doc);
}

static const char *ep_str(const json_t *doc, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(doc, "endpoints"), i), k));
}

/* A poll endpoint ({"kind": "poll"}): no url, credentials or headers, the
 * webhook's only endpoint; its id kept across edits; shown with "url": null
 * and taken back as it is shown; switched to push and back. */
static void test_poll_endpoint(void)
{
    struct hl_error err;
    json_t *doc = doc_blank();
    CHECK_EQ_INT(apply(doc, "{\"name\":\"p\",\"events\":\"booking\",\"endpoints\":[{\"kind\":\"poll\"}]}",
                       WEBHOOK_CREATE, &err), 0);
    CHECK_EQ_STR(ep_str(doc, 0, "kind"), "poll");
    CHECK(ep_str(doc, 0, "url") == NULL);
    char id[64];
    snprintf(id, sizeof(id), "%s", ep_str(doc, 0, "id") ? ep_str(doc, 0, "id") : "");
    CHECK(strncmp(id, "ep_", 3) == 0);

    json_t *pub = webhook_public(doc, NULL);
    CHECK(json_is_null(json_object_get(pub, "url")));
    CHECK(json_is_null(json_object_get(json_array_get(json_object_get(pub, "endpoints"), 0), "url")));
    char *text = json_dumps(pub, JSON_COMPACT);
    CHECK_EQ_INT(apply(doc, text, WEBHOOK_REPLACE, &err), 0);
    CHECK_EQ_STR(ep_str(doc, 0, "kind"), "poll");
    CHECK_EQ_STR(ep_str(doc, 0, "id"), id);
    free(text);
    json_decref(pub);
    CHECK_EQ_INT(apply(doc, "{\"endpoints\":[{\"kind\":\"poll\",\"url\":null,\"headers\":{}}]}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_str(doc, 0, "id"), id);

    expect_refused(doc, "{\"endpoints\":[{\"kind\":\"poll\",\"url\":\"https://a.example.com\"}]}", WEBHOOK_PATCH,
                   "\"endpoints.url\"");
    expect_refused(doc, "{\"endpoints\":[{\"kind\":\"poll\"},{\"url\":\"https://a.example.com\"}]}", WEBHOOK_PATCH,
                   "\"endpoints\"");
    expect_refused(doc, "{\"endpoints\":[{\"url\":\"https://a.example.com\"},{\"kind\":\"poll\"}]}", WEBHOOK_PATCH,
                   "\"endpoints\"");
    expect_refused(doc, "{\"endpoints\":[{\"kind\":\"pull\"}]}", WEBHOOK_PATCH, "\"endpoints.kind\"");
    expect_refused(doc, "{\"endpoints\":[{\"kind\":7}]}", WEBHOOK_PATCH, "\"endpoints.kind\"");
    expect_refused(doc, "{\"endpoints\":[{\"kind\":\"poll\",\"auth\":" AUTH_BEARER "}]}", WEBHOOK_PATCH,
                   "\"endpoints.auth\"");
    expect_refused(doc, "{\"endpoints\":[{\"kind\":\"poll\",\"headers\":{\"X-A\":\"1\"}}]}", WEBHOOK_PATCH,
                   "\"endpoints.headers\"");
    expect_refused(doc, "{\"endpoints\":[{\"kind\":\"poll\",\"color\":\"red\"}]}", WEBHOOK_PATCH,
                   "Unknown endpoint field");
    expect_refused(doc, "{\"auth\":" AUTH_BEARER "}", WEBHOOK_PATCH, "\"auth\": a poll endpoint");
    expect_refused(doc, "{\"url\":null}", WEBHOOK_PATCH, "A valid \"url\"");

    /* to push (a url of its own), and back to poll: a new poll endpoint */
    CHECK_EQ_INT(apply(doc, "{\"url\":\"https://a.example.com\"}", WEBHOOK_PATCH, &err), 0);
    CHECK(ep_str(doc, 0, "kind") == NULL);
    CHECK_EQ_STR(ep_str(doc, 0, "url"), "https://a.example.com");
    CHECK_EQ_INT(apply(doc, "{\"endpoints\":[{\"kind\":\"push\",\"url\":\"https://b.example.com\"}]}", WEBHOOK_PATCH,
                       &err), 0);
    CHECK(ep_str(doc, 0, "kind") == NULL);
    CHECK_EQ_INT(apply(doc, "{\"endpoints\":[{\"kind\":\"poll\"}]}", WEBHOOK_PATCH, &err), 0);
    CHECK_EQ_STR(ep_str(doc, 0, "kind"), "poll");
    CHECK(strcmp(ep_str(doc, 0, "id"), id) != 0);
    json_decref(doc);
}

int main(void)
{
    test_header_control_characters();
    test_duplicate_url_names_endpoints();
    test_auth_set_keep_remove();
    test_auth_conflicts_with_header();
    test_poll_endpoint();
    return check_exit();
}
