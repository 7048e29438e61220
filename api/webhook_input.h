/* webhook_input.h: validation of webhook request bodies into documents. */
#ifndef HL_WEBHOOK_INPUT_H
#define HL_WEBHOOK_INPUT_H

#include <jansson.h>
#include "dest_policy.h"
#include "hl_error.h"
#include "ids.h"

enum webhook_mode { WEBHOOK_CREATE, WEBHOOK_REPLACE, WEBHOOK_PATCH };

struct webhook_rules {
    const struct dest_policy *policy;
    int max_retries_cap;            /* the retry schedule's length */
    const json_t *known_events;     /* object: every type and group name -> true */
};

/* Check 'body' (borrowed; flat or {"webhook":{...}}) and write its fields
 * into 'doc' (borrowed, modified). CREATE and REPLACE need name, url or
 * endpoints, and events, and reset omitted optional fields to defaults;
 * PATCH changes only what is given. Endpoint ids are kept for unchanged
 * URLs, and so is an endpoint's state (disabled by hookline) unless the
 * body gives it "is_active": true; "is_active": false is refused for an
 * active endpoint. Enabling the webhook enables every endpoint of it, and
 * an active webhook must keep an active endpoint. An endpoint's
 * credentials ("auth" on each of "endpoints", or at the top level with
 * "url", or alone in a PATCH of a webhook with one endpoint; see
 * endpoint_auth.h) are set in full, removed with null, or kept with
 * {"type"} alone (what a GET shows) or, in a PATCH, by leaving "auth" out;
 * kept ones belong to the endpoint of the same URL. An endpoint with
 * credentials gets no "Authorization" custom header (webhook's or its
 * own). Returns 0, HL_EINVAL, or HL_EUNKNOWN_EVENT with the unknown names
 * in *unknown_events (new reference, caller frees); reason in 'err'. On
 * error 'doc' may be partly changed: callers discard it. */
int webhook_input_apply(json_t *doc, const json_t *body, enum webhook_mode mode,
                        const struct webhook_rules *rules, json_t **unknown_events, struct hl_error *err) HL_MUST_CHECK;

/* The client's view of 'doc' (borrowed): "url" (first endpoint) added,
 * every endpoint's "is_active", "disabled_reason" and "disabled_at" shown
 * (true, null, null when it is active), every endpoint's "auth" shown as
 * {"type"} or null (and the first's as "auth"), tenant and previous secret
 * removed, "secret" set to 'shown_secret' or "redacted". Returns a new
 * reference. */
json_t *webhook_public(const json_t *doc, const char *shown_secret);

#endif
