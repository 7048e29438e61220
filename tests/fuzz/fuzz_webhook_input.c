/* fuzz_webhook_input.c: webhook_input_apply on arbitrary create, replace
 * and patch bodies (POST /v1/webhooks, PUT and PATCH /v1/webhooks/{id}).
 *
 * Input: one control byte (bits 0-1: create, replace or patch; bit 2:
 * http allowed; bit 3: private targets allowed), then the request body
 * as JSON. Besides memory safety it checks the contract:
 * - a refusal is HL_EINVAL or HL_EUNKNOWN_EVENT (then with the unknown
 *   names) and comes with a reason that names a field in quotes;
 * - an accepted document holds every field within its rule (checked here
 *   independently: name, endpoints and their URLs under the policy,
 *   events, headers, endpoint credentials, numbers, filter, secret), keeps what a patch did not
 *   name and every read-only field, and keeps the ids of unchanged URLs;
 * - the body wrapped as {"webhook": body} gets the same answer;
 * - the public representation of an accepted document, sent back as a
 *   PUT, changes nothing, and an empty PATCH changes nothing;
 * - the dispatcher takes every accepted document into its index
 *   (sub_index_apply), with every endpoint, event and secret, one header
 *   line per custom header and none with a line break, and matches the
 *   events it names, and an endpoint's credentials become its one
 *   Authorization line, without a line break.
 */
#include "fuzz_webhook.h"

#include "base64.h"
#include "dispatcher.h"
#include "endpoint_auth.h"
#include "secretbox.h"
#include "webhook_seal.h"
#include "filter.h"

static const char *const fuzz_writable[] = {
    "name", "description", "url", "endpoints", "events", "headers", "max_retries", "rate_limit",
    "is_active", "filter", "secret", NULL
};

static bool fuzz_in(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static bool fuzz_name_ok(const json_t *name)
{
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > LIMIT_WEBHOOK_NAME_MAX)
        return false;
    bool alnum = false;
    const unsigned char *s = (const unsigned char *)json_string_value(name);
    for (size_t i = 0; i < json_string_length(name); i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return false;
        alnum = alnum || (s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z');
    }
    return alnum;
}

static bool fuzz_secret_ok(const json_t *secret)
{
    unsigned char raw[LIMIT_SECRET_BYTES_MAX];
    size_t n = 0;
    const char *s = json_string_value(secret);
    return s != NULL && strncmp(s, "whsec_", 6) == 0 &&
           base64_decode(s + 6, strlen(s) - 6, raw, sizeof(raw), &n) == 0 && n >= LIMIT_SECRET_BYTES_MIN;
}

/* Every field of an accepted document within its rule. */
static void fuzz_check_doc(const json_t *doc, const json_t *known, const struct dest_policy *policy)
{
    FUZZ_CHECK(fuzz_name_ok(json_object_get(doc, "name")));
    const json_t *desc = json_object_get(doc, "description");
    FUZZ_CHECK(json_is_string(desc) && json_string_length(desc) <= LIMIT_DESCRIPTION_MAX);

    const json_t *eps = json_object_get(doc, "endpoints");
    FUZZ_CHECK(json_is_array(eps) && json_array_size(eps) >= 1 && json_array_size(eps) <= LIMIT_ENDPOINTS_MAX);
    size_t i, j;
    json_t *ep, *other;
    json_array_foreach(eps, i, ep) {
        const char *url = json_string_value(json_object_get(ep, "url"));
        const char *id = json_string_value(json_object_get(ep, "id"));
        const json_t *auth = json_object_get(ep, "auth");
        FUZZ_CHECK(json_is_object(ep) && json_object_size(ep) == (auth ? 4u : 3u) && url != NULL && id != NULL);
        /* credentials stored are full ones, and the only Authorization the endpoint gets */
        FUZZ_CHECK(auth == NULL || endpoint_auth_check(auth, "auth", NULL) == ENDPOINT_AUTH_SET);
        if (auth != NULL) {
            json_t *merged = json_deep_copy(json_object_get(doc, "headers"));
            json_object_update(merged, json_object_get(ep, "headers"));
            const char *k;
            json_t *v;
            json_object_foreach(merged, k, v) FUZZ_CHECK(strcasecmp(k, "Authorization") != 0);
            json_decref(merged);
        }
        FUZZ_CHECK(strncmp(id, "ep_", 3) == 0 && strlen(id) < HL_ID_MAX);
        FUZZ_CHECK(strlen(url) <= LIMIT_URL_MAX && dest_policy_check_url(policy, url, NULL) == 0);
        const json_t *h = json_object_get(ep, "headers");
        FUZZ_CHECK(json_is_object(h) && fuzz_headers_ok(h));
        json_array_foreach(eps, j, other) {
            if (j < i) {
                FUZZ_CHECK(strcmp(json_string_value(json_object_get(other, "url")), url) != 0);
                FUZZ_CHECK(strcmp(json_string_value(json_object_get(other, "id")), id) != 0);
            }
        }
    }

    const json_t *events = json_object_get(doc, "events");
    FUZZ_CHECK(json_is_array(events) && json_array_size(events) >= 1 && json_array_size(events) <= LIMIT_EVENTS_MAX);
    json_t *e;
    json_array_foreach(events, i, e) {
        FUZZ_CHECK(json_is_string(e) && json_object_get(known, json_string_value(e)) != NULL);
        json_array_foreach(events, j, other) FUZZ_CHECK(j >= i || !json_equal(other, e));
    }

    const json_t *h = json_object_get(doc, "headers");
    FUZZ_CHECK(json_is_object(h) && fuzz_headers_ok(h));
    const json_t *n = json_object_get(doc, "max_retries");
    FUZZ_CHECK(json_is_integer(n) && json_integer_value(n) >= 0 && json_integer_value(n) <= FUZZ_MAX_RETRIES);
    n = json_object_get(doc, "rate_limit");
    FUZZ_CHECK(json_is_null(n) ||
               (json_is_integer(n) && json_integer_value(n) >= 1 && json_integer_value(n) <= LIMIT_RATE_LIMIT_MAX));
    FUZZ_CHECK(json_is_boolean(json_object_get(doc, "is_active")));
    const json_t *filter = json_object_get(doc, "filter");
    FUZZ_CHECK(json_is_null(filter) || (json_is_object(filter) && json_object_size(filter) > 0 &&
                                        filter_validate(filter, NULL) == 0));
    FUZZ_CHECK(fuzz_secret_ok(json_object_get(doc, "secret")));
}

/* What the body did not name, and what no body may change, is as it was;
 * an endpoint whose URL was there keeps its id. */
static void fuzz_check_kept(const json_t *doc, const json_t *before, const json_t *body, enum webhook_mode mode)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)before, k, v) {
        bool writable = fuzz_in(fuzz_writable, k);
        bool named = json_object_get(body, k) != NULL ||
                     (strcmp(k, "endpoints") == 0 &&
                      (json_object_get(body, "url") != NULL || json_object_get(body, "auth") != NULL));
        if (strcmp(k, "disabled_reason") == 0)
            FUZZ_CHECK(json_equal(json_object_get(doc, k), v) || json_is_null(json_object_get(doc, k)));
        else if (!writable || (mode == WEBHOOK_PATCH && !named) || (strcmp(k, "secret") == 0 && mode != WEBHOOK_CREATE))
            FUZZ_CHECK(json_equal(json_object_get(doc, k), v));
    }
    /* re-enabling clears the reason it was disabled for, which a new webhook lacks */
    json_object_foreach((json_t *)doc, k, v) {
        FUZZ_CHECK(json_object_get(before, k) != NULL || fuzz_in(fuzz_writable, k) ||
                   (strcmp(k, "disabled_reason") == 0 && json_is_null(v)));
    }
    FUZZ_CHECK(json_object_get(doc, "url") == NULL);
    if (mode != WEBHOOK_PATCH)
        for (const char *const *f = fuzz_writable; *f; f++)
            FUZZ_CHECK(strcmp(*f, "url") == 0 || json_object_get(doc, *f) != NULL);

    size_t i, j;
    json_t *ep, *old;
    json_array_foreach(json_object_get(doc, "endpoints"), i, ep) {
        json_array_foreach(json_object_get(before, "endpoints"), j, old) {
            if (json_equal(json_object_get(ep, "url"), json_object_get(old, "url")))
                FUZZ_CHECK(json_equal(json_object_get(ep, "id"), json_object_get(old, "id")));
        }
    }
}

/* The dispatcher's view of an accepted document: it must take it whole. */
static void fuzz_check_dispatcher(const json_t *doc)
{
    /* sealed as the api stores it, opened by the index with the same key */
    static struct secretbox *sb;
    if (sb == NULL)
        sb = secretbox_new("fz:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL);
    FUZZ_CHECK(sb != NULL);
    json_t *sealed = webhook_seal_copy(doc, sb, NULL);
    FUZZ_CHECK(sealed != NULL);
    struct sub_index *idx = sub_index_new(sb);
    FUZZ_CHECK(idx != NULL);
    FUZZ_CHECK(sub_index_apply(idx, sealed, 1, false) == 1);
    json_decref(sealed);
    const struct sub *s = sub_index_get(idx, json_string_value(json_object_get(doc, "id")));
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(strcmp(s->secret, json_string_value(json_object_get(doc, "secret"))) == 0);
    FUZZ_CHECK(s->active == json_is_true(json_object_get(doc, "is_active")));
    FUZZ_CHECK(s->max_retries == json_integer_value(json_object_get(doc, "max_retries")));

    const json_t *eps = json_object_get(doc, "endpoints");
    FUZZ_CHECK(s->neps == json_array_size(eps));
    for (size_t i = 0; i < s->neps; i++) {
        const json_t *ep = json_array_get(eps, i);
        FUZZ_CHECK(strcmp(s->eps[i].url, json_string_value(json_object_get(ep, "url"))) == 0);
        json_t *merged = json_deep_copy(json_object_get(doc, "headers"));
        json_object_update(merged, json_object_get(ep, "headers"));
        size_t lines = 0;
        for (const struct curl_slist *l = s->eps[i].headers; l != NULL; l = l->next, lines++) {
            FUZZ_CHECK(strpbrk(l->data, "\r\n") == NULL);
            size_t name = strcspn(l->data, ":;");
            char *key = strndup(l->data, name);
            const char *value = json_string_value(json_object_get(merged, key));
            FUZZ_CHECK(value != NULL);
            /* "Name;" is how libcurl sends an empty value */
            if (l->data[name] == ';')
                FUZZ_CHECK(l->data[name + 1] == '\0' && value[strspn(value, " \t")] == '\0');
            else
                FUZZ_CHECK(strncmp(l->data + name, ": ", 2) == 0 && strcmp(l->data + name + 2, value) == 0);
            free(key);
        }
        FUZZ_CHECK(lines == json_object_size(merged));
        json_decref(merged);
        const json_t *auth = json_object_get(ep, "auth");
        char *line = auth ? endpoint_auth_header_new(auth, NULL) : NULL;
        FUZZ_CHECK((auth == NULL) == (s->eps[i].authorization == NULL));
        FUZZ_CHECK(auth == NULL || (line != NULL && strcmp(line, s->eps[i].authorization) == 0 &&
                                    strpbrk(line, "\r\n") == NULL));
        free(line);
    }

    /* an event of a type it names reaches it, unless a filter decides */
    const json_t *events = json_object_get(doc, "events");
    FUZZ_CHECK(s->nevents == json_array_size(events));
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *type = json_string_value(e);
        if (strchr(type, '.') == NULL || !json_is_null(json_object_get(doc, "filter")))
            continue;
        json_t *env = json_pack("{s:s,s:s,s:s,s:{}}", "id", "evt_1", "type", type, "tenant", "acme", "data");
        FUZZ_CHECK(sub_matches(s, "acme", type, env) == s->active);
        json_decref(env);
    }
    sub_index_free(idx);
}

/* Apply 'body' to a copy of 'before'. Returns the result code; the new
 * document in *out (new reference) and the reason in 'err'. */
static int fuzz_apply(const json_t *before, const json_t *body, enum webhook_mode mode,
                      const struct webhook_rules *rules, json_t **out, struct hl_error *err)
{
    json_t *unknown = NULL;
    json_t *doc = json_deep_copy(before);
    memset(err, 0, sizeof(*err));
    int rc = webhook_input_apply(doc, body, mode, rules, &unknown, err);
    if (rc == 0) {
        FUZZ_CHECK(err->code == 0 && unknown == NULL);
    } else {
        FUZZ_CHECK(rc == HL_EINVAL || rc == HL_EUNKNOWN_EVENT);
        FUZZ_CHECK(err->code == rc && err->msg[0] != '\0');
        /* a 400 names its field; a 422 lists the unknown names beside its fixed message */
        FUZZ_CHECK(rc == HL_EUNKNOWN_EVENT ? strcmp(err->msg, "Some events are not available") == 0
                                           : strchr(err->msg, '"') != NULL);
    }
    if (rc == HL_EUNKNOWN_EVENT) {
        size_t i;
        json_t *e;
        FUZZ_CHECK(json_is_array(unknown) && json_array_size(unknown) > 0);
        json_array_foreach(unknown, i, e) {
            FUZZ_CHECK(json_is_string(e) && json_object_get(rules->known_events, json_string_value(e)) == NULL);
        }
    }
    json_decref(unknown);
    *out = doc;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static json_t *known;
    if (known == NULL)
        known = fuzz_known_events();
    enum webhook_mode mode = (enum webhook_mode)(data[0] & 3);
    if (mode > WEBHOOK_PATCH)
        mode = WEBHOOK_PATCH;
    struct dest_policy policy = { .allow_http = data[0] & 4, .allow_private = data[0] & 8 };
    struct webhook_rules rules = { .policy = &policy, .max_retries_cap = FUZZ_MAX_RETRIES, .known_events = known };

    /* as api_body_object() reads it */
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    json_t *before = fuzz_doc(mode == WEBHOOK_CREATE ? fuzz_new_doc : fuzz_stored_doc);
    json_t *doc = NULL, *wrapped = NULL, *again = NULL, *pub = NULL, *empty = json_object();
    struct hl_error err, err2;

    int rc = fuzz_apply(before, body, mode, &rules, &doc, &err);

    /* {"webhook": body} is the same request, unless body is itself such a wrapper */
    const json_t *inner = json_object_get(body, "webhook");
    if (!(json_object_size(body) == 1 && inner != NULL)) {
        json_t *wrapper = json_pack("{s:O}", "webhook", body);
        FUZZ_CHECK(fuzz_apply(before, wrapper, mode, &rules, &wrapped, &err2) == rc);
        FUZZ_CHECK(strcmp(err.msg, err2.msg) == 0);
        json_decref(wrapper);
    }
    if (rc != 0)
        goto out;

    const json_t *given = json_object_size(body) == 1 && json_is_object(inner) ? inner : body;
    fuzz_check_doc(doc, known, &policy);
    fuzz_check_kept(doc, before, given, mode);
    fuzz_check_dispatcher(doc);

    /* what GET shows, sent back as a PUT, and an empty PATCH change nothing
     * (to the document as stored: the store has a disabled_reason) */
    if (json_object_get(doc, "disabled_reason") == NULL)
        json_object_set_new(doc, "disabled_reason", json_null());
    pub = webhook_public(doc, NULL);
    FUZZ_CHECK(pub != NULL);
    FUZZ_CHECK(fuzz_apply(doc, pub, WEBHOOK_REPLACE, &rules, &again, &err) == 0);
    FUZZ_CHECK(json_equal(again, doc));
    json_decref(again);
    FUZZ_CHECK(fuzz_apply(doc, empty, WEBHOOK_PATCH, &rules, &again, &err) == 0);
    FUZZ_CHECK(json_equal(again, doc));
out:
    json_decref(again);
    json_decref(pub);
    json_decref(empty);
    json_decref(wrapped);
    json_decref(doc);
    json_decref(before);
    json_decref(body);
    return 0;
}
