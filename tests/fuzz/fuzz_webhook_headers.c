/* fuzz_webhook_headers.c: the custom headers check of webhook_input_apply
 * on arbitrary "headers" values, for the webhook and for one endpoint.
 *
 * Input: the JSON value of "headers". The verdict must be the rule's
 * (fuzz_webhook.h, written out independently): the api must neither take
 * a header that would inject another or break the request, nor refuse a
 * valid one; webhook and endpoint headers follow the same rule; a refusal
 * names "headers" or "endpoints.headers"; what is accepted is stored as it
 * was given. The stored webhook's first endpoint has credentials, so a
 * valid header named Authorization (any case) is refused too, naming
 * "auth": one Authorization header per request.
 */
#include "fuzz_webhook.h"

/* PATCH the stored webhook with 'body'; returns the code, the result in *doc. */
static int fuzz_patch(const json_t *body, const struct webhook_rules *rules, json_t **doc, struct hl_error *err)
{
    json_t *unknown = NULL;
    *doc = fuzz_doc(fuzz_stored_doc);
    memset(err, 0, sizeof(*err));
    int rc = webhook_input_apply(*doc, body, WEBHOOK_PATCH, rules, &unknown, err);
    FUZZ_CHECK(unknown == NULL);
    FUZZ_CHECK(rc == 0 ? err->code == 0 : rc == HL_EINVAL && err->code == rc);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *known;
    if (known == NULL)
        known = fuzz_known_events();
    struct dest_policy policy = { 0 };
    struct webhook_rules rules = { .policy = &policy, .max_retries_cap = FUZZ_MAX_RETRIES, .known_events = known };
    json_t *headers = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (headers == NULL)
        return 0;
    bool valid = fuzz_headers_ok(headers), authz = false;
    const char *name;
    json_t *value;
    json_object_foreach(headers, name, value) authz = authz || strcasecmp(name, "Authorization") == 0;
    bool ok = valid && !authz;
    /* what is stored: null stands for no headers */
    json_t *expect = json_is_null(headers) ? json_object() : json_incref(headers);
    json_t *doc = NULL;
    struct hl_error err;

    /* the webhook's headers */
    json_t *body = json_pack("{s:O}", "headers", headers);
    int rc = fuzz_patch(body, &rules, &doc, &err);
    FUZZ_CHECK((rc == 0) == ok);
    if (rc == 0)
        FUZZ_CHECK(json_equal(json_object_get(doc, "headers"), expect));
    else
        FUZZ_CHECK(strncmp(err.msg, valid ? "\"auth\"" : "\"headers\"", valid ? 6 : 9) == 0);
    json_decref(doc);
    json_decref(body);

    /* one endpoint's */
    body = json_pack("{s:[{s:s,s:O}]}", "endpoints", "url", "https://one.example.com/hook", "headers", headers);
    rc = fuzz_patch(body, &rules, &doc, &err);
    FUZZ_CHECK((rc == 0) == ok);
    if (rc == 0) {
        const json_t *ep = json_array_get(json_object_get(doc, "endpoints"), 0);
        FUZZ_CHECK(json_equal(json_object_get(ep, "headers"), expect));
        FUZZ_CHECK(strcmp(json_string_value(json_object_get(ep, "id")), "ep_one") == 0);
    } else {
        FUZZ_CHECK(strncmp(err.msg, valid ? "\"auth\"" : "\"endpoints.headers\"", valid ? 6 : 19) == 0);
    }
    json_decref(doc);
    json_decref(body);
    json_decref(expect);
    json_decref(headers);
    return 0;
}
