/* webhook_input.c: turn a create, replace or patch request body into the
 * webhook document the store writes, checking every field.
 *
 * The document is the same JSON the database view webhook_docs produces,
 * so what a client sends, what PostgreSQL stores and what the dispatchers
 * receive never drift apart.
 */
#include "webhook_input.h"

#include <ctype.h>
#include <string.h>

#include "base64.h"
#include "endpoint_auth.h"
#include "filter.h"
#include "hl_limits.h"

/* Fields a client may send back unchanged from a GET (ignored on write). */
static const char *const read_only_fields[] = {
    "id", "tenant", "created_at", "updated_at", "created_by", "version", "disabled_reason", NULL
};

static const char *const writable_fields[] = {
    "name", "description", "url", "endpoints", "events", "headers", "max_retries", "rate_limit",
    "is_active", "filter", "secret", "auth", "ordered", NULL
};

/* Headers hookline sets itself, or that would break HTTP framing. */
static const char *const reserved_headers[] = {
    "content-type", "content-length", "host", "user-agent", "webhook-id", "webhook-timestamp",
    "webhook-signature", "transfer-encoding", "connection", "te", "upgrade", "expect",
    "keep-alive", "trailer", "proxy-authorization", "proxy-connection", NULL
};

static bool in_list(const char *const *list, const char *s, bool nocase)
{
    for (; *list; list++)
        if (nocase ? strcasecmp(*list, s) == 0 : strcmp(*list, s) == 0)
            return true;
    return false;
}

static bool name_valid(const char *s, size_t len)
{
    bool alnum = false;
    if (len == 0 || len > LIMIT_WEBHOOK_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (isalnum(c))
            alnum = true;
    }
    return alnum;
}

static bool header_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LIMIT_HEADER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+.^_`|~-", s[i]))
            return false;
    return true;
}

/* RFC 9110 field-value: visible characters, spaces, tabs and (UTF-8)
 * bytes above 0x7f. A CR or LF would inject a header; NUL and the other
 * control characters make a request receivers refuse, so every delivery
 * of an accepted webhook would fail. */
static bool header_value_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* Check a headers object; returns 0 or HL_EINVAL. 'what' names it in errors. */
static int headers_check(const json_t *h, const char *what, struct hl_error *err)
{
    if (!json_is_object(h))
        return hl_error_set(err, HL_EINVAL, "\"%s\" must be an object of header names to string values.", what);
    if (json_object_size(h) > LIMIT_HEADERS_MAX)
        return hl_error_set(err, HL_EINVAL, "\"%s\" may hold at most %d headers.", what, LIMIT_HEADERS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v) {
        if (!header_name_valid(k))
            return hl_error_set(err, HL_EINVAL,
                                "\"%s\": \"%.40s\" is not a valid header name: 1 to %d letters, digits and "
                                "!#$%%&'*+.^_`|~-.", what, k, LIMIT_HEADER_NAME_MAX);
        if (in_list(reserved_headers, k, true) || strncasecmp(k, "proxy-", 6) == 0)
            return hl_error_set(err, HL_EINVAL, "\"%s\": header \"%s\" is set by hookline and cannot be overridden.", what, k);
        if (!json_is_string(v) || json_string_length(v) > LIMIT_HEADER_VALUE_MAX ||
            !header_value_valid(json_string_value(v), json_string_length(v)))
            return hl_error_set(err, HL_EINVAL,
                                "\"%s\": the value of \"%.40s\" must be a string of at most %d bytes without line "
                                "breaks or other control characters.",
                                what, k, LIMIT_HEADER_VALUE_MAX);
    }
    return 0;
}

/* The endpoint with 'url' in 'old' (borrowed; NULL if none), so edits keep
 * its id, and with it the attempt history and state, for an unchanged URL. */
static const json_t *endpoint_old(const json_t *old, const char *url)
{
    size_t i;
    json_t *ep;
    json_array_foreach((json_t *)old, i, ep) {
        const char *u = json_string_value(json_object_get(ep, "url"));
        if (u && strcmp(u, url) == 0)
            return ep;
    }
    return NULL;
}

/* An endpoint's own state (sql/007_endpoint_state.sql): stored only while
 * it is disabled, as "is_active": false with "disabled_reason" and
 * "disabled_at"; an endpoint without them is active. */
static const char *const endpoint_state_fields[] = { "is_active", "disabled_reason", "disabled_at", NULL };

static bool endpoint_active(const json_t *ep)
{
    return !json_is_false(json_object_get(ep, "is_active"));
}

static void endpoint_enable(json_t *ep)
{
    for (const char *const *f = endpoint_state_fields; *f; f++)
        json_object_del(ep, *f);
}

/* Set the credentials of endpoint 'built' from 'auth', the request's
 * value (borrowed; NULL when not given), named 'what' in errors. 'was' is
 * the stored endpoint of the same URL (NULL if none): {"type"} alone keeps
 * its credentials, and so does leaving "auth" out of a PATCH; otherwise
 * leaving it out means none. Returns 0 or HL_EINVAL. */
static int endpoint_auth_apply(json_t *built, const json_t *auth, const json_t *was, enum webhook_mode mode,
                               const char *what, struct hl_error *err)
{
    const json_t *saved = json_object_get(was, "auth");
    int kind = ENDPOINT_AUTH_NONE;
    if (auth != NULL) {
        if ((kind = endpoint_auth_check(auth, what, err)) < 0)
            return kind;
    } else if (mode == WEBHOOK_PATCH) {
        kind = saved ? ENDPOINT_AUTH_KEEP : ENDPOINT_AUTH_NONE;
        auth = saved;
    }
    if (kind == ENDPOINT_AUTH_KEEP) {
        const char *type = endpoint_auth_type(auth);
        const char *saved_type = endpoint_auth_type(saved);
        if (saved_type == NULL || strcmp(saved_type, type) != 0)
            return hl_error_set(err, HL_EINVAL,
                                "\"%s\": endpoint %s has no saved %s credentials to keep; give them in full.", what,
                                json_string_value(json_object_get(built, "url")), type);
        if (saved != json_object_get(built, "auth"))
            json_object_set_new(built, "auth", json_deep_copy(saved));
    } else if (kind == ENDPOINT_AUTH_SET) {
        json_object_set_new(built, "auth", json_deep_copy(auth));
    } else {
        json_object_del(built, "auth");
    }
    return 0;
}

/* Is there a header 'name' in headers object 'h' (any case)? */
static bool headers_have(const json_t *h, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v) {
        if (strcasecmp(k, name) == 0)
            return true;
    }
    return false;
}

/* A poll endpoint ({"kind": "poll"}) is never pushed to: the tenant fetches
 * its webhook's events (GET /v1/webhooks/{id}/poll). It has no url, no
 * credentials and no headers, and is its webhook's only endpoint. Returns
 * 1 when 'ep' (one of 'n' given) is a valid poll endpoint, 0 when it is
 * not one (a push endpoint: "kind" absent or "push"), or HL_EINVAL naming
 * the field. */
static int endpoint_poll_check(const json_t *ep, size_t n, struct hl_error *err)
{
    const json_t *kind = json_object_get(ep, "kind");
    if (kind == NULL)
        return 0;
    const char *k = json_string_value(kind);
    if (k == NULL || (strcmp(k, "push") != 0 && strcmp(k, "poll") != 0))
        return hl_error_set(err, HL_EINVAL, "\"endpoints.kind\" must be \"push\" or \"poll\".");
    if (strcmp(k, "push") == 0)
        return 0;
    if (n != 1)
        return hl_error_set(err, HL_EINVAL,
                            "\"endpoints\": a poll endpoint ({\"kind\": \"poll\"}) must be the webhook's only "
                            "endpoint.");
    const json_t *v = json_object_get(ep, "url");
    if (v != NULL && !json_is_null(v))
        return hl_error_set(err, HL_EINVAL,
                            "\"endpoints.url\": a poll endpoint has no url; its events are fetched from "
                            "GET /v1/webhooks/{id}/poll.");
    v = json_object_get(ep, "auth");
    if (v != NULL && !json_is_null(v))
        return hl_error_set(err, HL_EINVAL, "\"endpoints.auth\": a poll endpoint takes no credentials.");
    v = json_object_get(ep, "headers");
    if (v != NULL && !json_is_null(v) && !(json_is_object(v) && json_object_size(v) == 0))
        return hl_error_set(err, HL_EINVAL, "\"endpoints.headers\": a poll endpoint sends nothing and takes no headers.");
    const char *f;
    json_t *val;
    json_object_foreach((json_t *)ep, f, val) {
        /* the rest of a GET representation sent back is ignored: a poll endpoint is never disabled */
        if (strcmp(f, "kind") && strcmp(f, "url") && strcmp(f, "auth") && strcmp(f, "headers") && strcmp(f, "id") &&
            !in_list(endpoint_state_fields, f, false))
            return hl_error_set(err, HL_EINVAL, "Unknown endpoint field \"%s\".", f);
    }
    return 1;
}

/* The stored poll endpoint, keeping the id of the one 'old' (borrowed, may
 * be NULL) has. New reference, or NULL when no randomness is available. */
static json_t *endpoint_poll_build(const json_t *old)
{
    size_t i;
    json_t *ep;
    char id[HL_ID_MAX] = "";
    json_array_foreach((json_t *)old, i, ep) {
        const char *k = json_string_value(json_object_get(ep, "kind"));
        if (k && strcmp(k, "poll") == 0)
            snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(ep, "id")));
    }
    if (id[0] == '\0' && hl_id_new("ep_", id, sizeof(id)) < 0)
        return NULL;
    return json_pack("{s:s,s:s,s:{}}", "id", id, "kind", "poll", "headers");
}

/* Build the endpoints array from "url" (with the request's top-level
 * "auth", 'url_auth', NULL if not given) or "endpoints". New reference or
 * NULL. */
static json_t *endpoints_build(const json_t *url, const json_t *url_auth, const json_t *eps, const json_t *old,
                               enum webhook_mode mode, const struct webhook_rules *rules, struct hl_error *err)
{
    json_t *out = json_array();
    json_t *given = NULL;
    if (url != NULL) {
        given = json_pack("[{s:O}]", "url", url);
        if (url_auth != NULL)
            json_object_set(json_array_get(given, 0), "auth", (json_t *)url_auth);
    } else {
        if (!json_is_array(eps) || json_array_size(eps) == 0 || json_array_size(eps) > LIMIT_ENDPOINTS_MAX) {
            hl_error_set(err, HL_EINVAL, "\"endpoints\" must be an array of 1 to %d objects with a \"url\".",
                         LIMIT_ENDPOINTS_MAX);
            goto fail;
        }
        given = json_incref((json_t *)eps);
    }
    size_t i;
    json_t *ep;
    json_array_foreach(given, i, ep) {
        json_t *u = json_object_get(ep, "url"), *h = json_object_get(ep, "headers");
        int poll = endpoint_poll_check(ep, json_array_size(given), err);
        if (poll < 0)
            goto fail;
        if (poll) {
            json_t *built = endpoint_poll_build(old);
            if (built == NULL) {
                hl_error_set(err, HL_EIO, "no randomness available");
                goto fail;
            }
            json_array_append_new(out, built);
            continue;
        }
        if (!json_is_object(ep) || !json_is_string(u)) {
            hl_error_set(err, HL_EINVAL, "A valid \"url\" must be specified.");
            goto fail;
        }
        const char *us = json_string_value(u);
        if (dest_policy_check_url(rules->policy, us, err) < 0)
            goto fail;
        const char *k;
        json_t *v;
        json_object_foreach(ep, k, v) {
            /* "disabled_reason" and "disabled_at": a GET representation sent back */
            if (strcmp(k, "url") && strcmp(k, "headers") && strcmp(k, "id") && strcmp(k, "auth") &&
                strcmp(k, "kind") && !in_list(endpoint_state_fields, k, false)) {
                hl_error_set(err, HL_EINVAL, "Unknown endpoint field \"%s\".", k);
                goto fail;
            }
        }
        json_t *on = json_object_get(ep, "is_active");
        if (on != NULL && !json_is_boolean(on)) {
            hl_error_set(err, HL_EINVAL, "\"endpoints.is_active\" must be true or false.");
            goto fail;
        }
        if (h != NULL && !json_is_null(h) && headers_check(h, "endpoints.headers", err) < 0)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(json_string_value(json_object_get(json_array_get(out, j), "url")), us) == 0) {
                hl_error_set(err, HL_EINVAL, "\"endpoints\" lists the URL %s twice.", us);
                goto fail;
            }
        }
        char id[HL_ID_MAX];
        const json_t *was = endpoint_old(old, us);
        const char *old_id = json_string_value(json_object_get(was, "id"));
        if (old_id == NULL) {
            if (hl_id_new("ep_", id, sizeof(id)) < 0) {
                hl_error_set(err, HL_EIO, "no randomness available");
                goto fail;
            }
            old_id = id;
        }
        /* only hookline disables an endpoint; false is what a GET of a disabled one says */
        bool disabled = was != NULL && !endpoint_active(was);
        if (json_is_false(on) && !disabled) {
            hl_error_set(err, HL_EINVAL,
                         "\"endpoints.is_active\": endpoint %s is active and cannot be disabled on its own; "
                         "remove it, or set the webhook's \"is_active\" to false.", us);
            goto fail;
        }
        json_t *hdrs = h && !json_is_null(h) ? json_incref(h) : json_object();
        json_t *built = json_pack("{s:s,s:s,s:o}", "id", old_id, "url", us, "headers", hdrs);
        if (disabled && !json_is_true(on)) {
            for (const char *const *f = endpoint_state_fields; *f; f++)
                json_object_set(built, *f, json_object_get(was, *f));
        }
        json_array_append_new(out, built);
        if (endpoint_auth_apply(built, json_object_get(ep, "auth"), was, mode, url ? "auth" : "endpoints.auth", err) < 0)
            goto fail;
    }
    json_decref(given);
    return out;
fail:
    json_decref(given);
    json_decref(out);
    return NULL;
}

/* Normalise "events" (string or array) into a deduplicated array; unknown
 * names give HL_EUNKNOWN_EVENT and are listed in *unknown. */
static json_t *events_build(const json_t *ev, const struct webhook_rules *rules, json_t **unknown,
                            struct hl_error *err)
{
    json_t *given = json_is_string(ev) ? json_pack("[O]", ev) : json_incref((json_t *)ev);
    json_t *out = json_array();
    if (!json_is_array(given) || json_array_size(given) == 0 || json_array_size(given) > LIMIT_EVENTS_MAX) {
        hl_error_set(err, HL_EINVAL, "A valid \"events\" must be specified: an event name, a group, or an array of 1 to %d of them.",
                     LIMIT_EVENTS_MAX);
        goto fail;
    }
    size_t i;
    json_t *e;
    json_array_foreach(given, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > LIMIT_EVENT_TYPE_MAX) {
            hl_error_set(err, HL_EINVAL,
                         "A valid \"events\" must be specified: every entry must be a string of 1 to %d characters.",
                         LIMIT_EVENT_TYPE_MAX);
            goto fail;
        }
        const char *name = json_string_value(e);
        if (json_object_get(rules->known_events, name) == NULL) {
            if (*unknown == NULL)
                *unknown = json_array();
            json_array_append(*unknown, e);
            continue;
        }
        bool dup = false;
        size_t j;
        json_t *o;
        json_array_foreach(out, j, o) dup = dup || strcmp(json_string_value(o), name) == 0;
        if (!dup)
            json_array_append(out, e);
    }
    if (*unknown != NULL) {
        hl_error_set(err, HL_EUNKNOWN_EVENT, "Some events are not available");
        goto fail;
    }
    json_decref(given);
    return out;
fail:
    json_decref(given);
    json_decref(out);
    return NULL;
}

static int secret_check(const json_t *s, struct hl_error *err)
{
    /* room for one byte too many, so a longer secret is told apart by its length */
    unsigned char raw[LIMIT_SECRET_BYTES_MAX + 3];
    size_t n = 0;
    const char *v = json_string_value(s);
    if (v == NULL || strncmp(v, "whsec_", 6) != 0 ||
        base64_decode(v + 6, strlen(v) - 6, raw, sizeof(raw), &n) < 0 || n < LIMIT_SECRET_BYTES_MIN ||
        n > LIMIT_SECRET_BYTES_MAX)
        return hl_error_set(err, HL_EINVAL, "\"secret\" must be \"whsec_\" followed by base64 of %d to %d bytes.",
                            LIMIT_SECRET_BYTES_MIN, LIMIT_SECRET_BYTES_MAX);
    return 0;
}

int webhook_input_apply(json_t *doc, const json_t *body_in, enum webhook_mode mode,
                        const struct webhook_rules *rules, json_t **unknown_events, struct hl_error *err)
{
    const json_t *body = body_in;
    json_t *wrapped = json_object_get(body_in, "webhook");
    if (json_object_size(body_in) == 1 && wrapped != NULL) {
        if (!json_is_object(wrapped))
            return hl_error_set(err, HL_EINVAL, "\"webhook\" must be an object.");
        body = wrapped;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (in_list(read_only_fields, k, false))
            continue;
        if (!in_list(writable_fields, k, false))
            return hl_error_set(err, HL_EINVAL, "Unknown field \"%s\".", k);
    }
    bool full = mode != WEBHOOK_PATCH;
    bool was_active = json_is_true(json_object_get(doc, "is_active"));
    json_t *name = json_object_get(body, "name");
    json_t *url = json_object_get(body, "url"), *eps = json_object_get(body, "endpoints");
    json_t *events = json_object_get(body, "events");
    json_t *auth = json_object_get(body, "auth");
    json_t *val;

    if (name != NULL || full) {
        if (!json_is_string(name) || !name_valid(json_string_value(name), json_string_length(name)))
            return hl_error_set(err, HL_EINVAL,
                "A valid \"name\" must be specified: 1 to %d bytes including at least one letter or digit.",
                LIMIT_WEBHOOK_NAME_MAX);
        json_object_set(doc, "name", name);
    }
    if (url != NULL && eps != NULL) {
        /* a GET representation sent back carries both, "url" being the first endpoint's */
        if (!json_equal(url, json_object_get(json_array_get(eps, 0), "url")))
            return hl_error_set(err, HL_EINVAL, "Give either \"url\" or \"endpoints\", not both.");
        /* and its "auth" is the first endpoint's, shown again */
        json_t *first = json_object_get(json_array_get(eps, 0), "auth");
        if (auth != NULL && json_equal(auth, first ? first : json_null()))
            auth = NULL;
        url = NULL;
    }
    if (auth != NULL && eps != NULL && url == NULL)
        return hl_error_set(err, HL_EINVAL, "Give \"auth\" with \"url\", or on each of \"endpoints\", not both.");
    if (url != NULL || eps != NULL || full) {
        if (url == NULL && eps == NULL)
            return hl_error_set(err, HL_EINVAL, "A valid \"url\" must be specified.");
        if (url != NULL && !json_is_string(url))
            return hl_error_set(err, HL_EINVAL, "A valid \"url\" must be specified.");
        json_t *built = endpoints_build(url, auth, eps, json_object_get(doc, "endpoints"), mode, rules, err);
        if (built == NULL)
            return err->code;
        json_object_set_new(doc, "endpoints", built);
    } else if (auth != NULL) {
        /* a PATCH of "auth" alone: the credentials of the webhook's one endpoint */
        json_t *list = json_object_get(doc, "endpoints");
        if (json_array_size(list) != 1)
            return hl_error_set(err, HL_EINVAL,
                                "\"auth\" alone sets the credentials of a webhook's one endpoint; this one has %zu: "
                                "give \"auth\" on each of \"endpoints\".", json_array_size(list));
        json_t *ep = json_array_get(list, 0);
        if (json_object_get(ep, "kind") != NULL && !json_is_null(auth))
            return hl_error_set(err, HL_EINVAL, "\"auth\": a poll endpoint takes no credentials.");
        if (endpoint_auth_apply(ep, auth, ep, mode, "auth", err) < 0)
            return HL_EINVAL;
    }
    if (events != NULL || full) {
        if (events == NULL)
            return hl_error_set(err, HL_EINVAL, "A valid \"events\" must be specified.");
        json_t *built = events_build(events, rules, unknown_events, err);
        if (built == NULL)
            return err->code;
        json_object_set_new(doc, "events", built);
    }
    if ((val = json_object_get(body, "description")) != NULL) {
        if (!json_is_null(val) && (!json_is_string(val) || json_string_length(val) > LIMIT_DESCRIPTION_MAX))
            return hl_error_set(err, HL_EINVAL, "\"description\" must be a string of at most %d bytes.",
                                LIMIT_DESCRIPTION_MAX);
        json_object_set_new(doc, "description", json_string(json_is_null(val) ? "" : json_string_value(val)));
    } else if (full) {
        json_object_set_new(doc, "description", json_string(""));
    }
    if ((val = json_object_get(body, "headers")) != NULL && !json_is_null(val)) {
        if (headers_check(val, "headers", err) < 0)
            return HL_EINVAL;
        json_object_set(doc, "headers", val);
    } else if (full || val != NULL) {
        json_object_set_new(doc, "headers", json_object());
    }
    if ((val = json_object_get(body, "max_retries")) != NULL) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) > rules->max_retries_cap)
            return hl_error_set(err, HL_EINVAL, "\"max_retries\" must be an integer from 0 to %d.", rules->max_retries_cap);
        json_object_set(doc, "max_retries", val);
    } else if (full) {
        json_object_set_new(doc, "max_retries", json_integer(rules->max_retries_cap));
    }
    if ((val = json_object_get(body, "rate_limit")) != NULL) {
        if (!json_is_null(val) && (!json_is_integer(val) || json_integer_value(val) < 1 ||
                                   json_integer_value(val) > LIMIT_RATE_LIMIT_MAX))
            return hl_error_set(err, HL_EINVAL,
                                "\"rate_limit\" must be null or an integer from 1 to %d (deliveries per second).",
                                LIMIT_RATE_LIMIT_MAX);
        json_object_set(doc, "rate_limit", val);
    } else if (full) {
        json_object_set_new(doc, "rate_limit", json_null());
    }
    if ((val = json_object_get(body, "ordered")) != NULL) {
        if (!json_is_boolean(val))
            return hl_error_set(err, HL_EINVAL, "\"ordered\" must be true or false.");
        json_object_set(doc, "ordered", val);
    } else if (full && json_object_get(doc, "ordered") != NULL) {
        /* a replace resets it; a create (or a database before 016) leaves it to the column's default */
        json_object_set_new(doc, "ordered", json_false());
    }
    if ((val = json_object_get(body, "is_active")) != NULL) {
        if (!json_is_boolean(val))
            return hl_error_set(err, HL_EINVAL, "\"is_active\" must be true or false.");
        json_object_set(doc, "is_active", val);
        if (json_is_true(val))
            json_object_set_new(doc, "disabled_reason", json_null());
    } else if (full) {
        json_object_set_new(doc, "is_active", json_true());
    }
    if ((val = json_object_get(body, "filter")) != NULL) {
        if (filter_validate(val, err) < 0)
            return HL_EINVAL;
        json_object_set(doc, "filter", json_object_size(val) ? val : json_null());
    } else if (full) {
        json_object_set_new(doc, "filter", json_null());
    }
    if ((val = json_object_get(body, "secret")) != NULL) {
        const char *s = json_string_value(val);
        if (s && strcmp(s, "redacted") == 0) {
            /* a GET representation sent back: keep the secret */
        } else if (mode != WEBHOOK_CREATE) {
            return hl_error_set(err, HL_EINVAL, "\"secret\" can only be set at create; use rotate-secret to change it.");
        } else if (secret_check(val, err) < 0) {
            return HL_EINVAL;
        } else {
            json_object_set(doc, "secret", val);
        }
    }
    /* one Authorization header per request: credentials, or a custom header of that name */
    bool web_authz = headers_have(json_object_get(doc, "headers"), "Authorization");
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(doc, "endpoints"), i, ep) {
        if (json_object_get(ep, "auth") == NULL)
            continue;
        if (web_authz || headers_have(json_object_get(ep, "headers"), "Authorization"))
            return hl_error_set(err, HL_EINVAL,
                                "\"auth\": endpoint %s has credentials and an \"Authorization\" header in \"%s\" "
                                "too; remove one of them.", json_string_value(json_object_get(ep, "url")),
                                web_authz ? "headers" : "endpoints.headers");
    }
    /* enabling a webhook enables every endpoint of it, each failure window
     * starting afresh (sql/007_endpoint_state.sql); an active webhook keeps
     * at least one active endpoint */
    bool active = json_is_true(json_object_get(doc, "is_active")), any = false;
    json_array_foreach(json_object_get(doc, "endpoints"), i, ep) {
        if (active && !was_active)
            endpoint_enable(ep);
        any = any || endpoint_active(ep);
    }
    if (active && !any)
        return hl_error_set(err, HL_EINVAL,
                            "\"endpoints\": every endpoint would be disabled while the webhook is active; enable one "
                            "(\"is_active\": true), add one, or set the webhook's \"is_active\" to false.");
    return 0;
}

json_t *webhook_public(const json_t *doc, const char *shown_secret)
{
    json_t *pub = json_deep_copy(doc);
    json_object_del(pub, "tenant");
    json_object_del(pub, "previous_secret");
    json_object_del(pub, "previous_secret_expires_at");
    /* every endpoint says its state, active ones (stored without it) too */
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(pub, "endpoints"), i, ep) {
        json_t *reason = json_object_get(ep, "disabled_reason"), *at = json_object_get(ep, "disabled_at");
        /* credentials show their type only, never a value */
        json_t *shown = json_pack("{s:O*,s:O*,s:O*,s:o,s:b,s:O,s:O}", "id", json_object_get(ep, "id"),
                                  "url", json_object_get(ep, "url"), "headers", json_object_get(ep, "headers"),
                                  "auth", endpoint_auth_public(json_object_get(ep, "auth")),
                                  "is_active", (int)endpoint_active(ep), "disabled_reason", reason ? reason : json_null(),
                                  "disabled_at", at ? at : json_null());
        json_object_update_missing(shown, ep);
        if (json_object_get(shown, "url") == NULL)
            json_object_set_new(shown, "url", json_null());    /* a poll endpoint: it has none */
        json_array_set_new(json_object_get(pub, "endpoints"), i, shown);
    }
    json_t *first = json_array_get(json_object_get(pub, "endpoints"), 0);
    json_t *url = json_object_get(first, "url");
    /* "url" leads, as in the webhook APIs this one follows; "auth" is its endpoint's, as it shows */
    json_t *out = json_pack("{s:O,s:O,s:O,s:O,s:O*}", "id", json_object_get(pub, "id"), "name", json_object_get(pub, "name"),
                            "description", json_object_get(pub, "description"), "url", url ? url : json_null(),
                            "auth", json_object_get(first, "auth"));
    json_object_update_missing(out, pub);
    json_object_set_new(out, "secret", json_string(shown_secret ? shown_secret : "redacted"));
    json_decref(pub);
    return out;
}
