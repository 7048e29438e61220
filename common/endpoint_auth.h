/* endpoint_auth.h: an endpoint's own credentials, sent as an Authorization
 * header on every attempt.
 *
 * In a webhook document each endpoint may carry
 *
 *   "auth": {"type": "basic", "username": "...", "password": "..."}
 *   "auth": {"type": "bearer", "token": "..."}
 *
 * The api checks what a tenant sends (endpoint_auth_check) and shows the
 * type only (endpoint_auth_public); webhook_seal.h seals every value but
 * "type" at rest (field "endpoints/<endpoint id>/auth/<name>"); the
 * dispatcher builds the header line from the opened values
 * (endpoint_auth_header_new).
 */
#ifndef HL_ENDPOINT_AUTH_H
#define HL_ENDPOINT_AUTH_H

#include <jansson.h>
#include "hl_error.h"

/* What a request's "auth" asks for. */
enum endpoint_auth_kind {
    ENDPOINT_AUTH_NONE = 0,     /* null: no credentials */
    ENDPOINT_AUTH_SET = 1,      /* full credentials of a type */
    ENDPOINT_AUTH_KEEP = 2,     /* {"type": ...} alone, as a GET shows it: keep the saved ones of that type */
};

/* Check 'auth' (borrowed; the value of a request's "auth") named 'what' in
 * errors ("auth", "endpoints.auth"). Returns an enum endpoint_auth_kind,
 * or HL_EINVAL with a reason naming the field ("auth.password"): not null
 * or an object, a type other than "basic" or "bearer", a field the type
 * does not have or lacks, a user name with ':' or a control character, a
 * password with a control character, a token other than visible ASCII,
 * or a length past common/hl_limits.h's. */
int endpoint_auth_check(const json_t *auth, const char *what, struct hl_error *err) HL_MUST_CHECK;

/* The type of 'auth' ("basic", "bearer"; borrowed), or NULL when 'auth'
 * is not an object with a type. */
const char *endpoint_auth_type(const json_t *auth);

/* What a client sees of 'auth' (borrowed, may be NULL): {"type": ...}, or
 * null when there is none. New reference. */
json_t *endpoint_auth_public(const json_t *auth);

/* The header line "Authorization: Basic <base64(user:password)>" or
 * "Authorization: Bearer <token>" for opened 'auth' (borrowed). Returns a
 * new string (caller wipes and frees), or NULL with HL_EINVAL (not a
 * known type, a field missing) or HL_ENOMEM in 'err'. */
char *endpoint_auth_header_new(const json_t *auth, struct hl_error *err);

#endif
