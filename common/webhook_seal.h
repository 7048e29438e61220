/* webhook_seal.h: the secrets of a webhook document, sealed for storage
 * and opened for use (secretbox.h does the cryptography).
 *
 * Secret fields: "secret", "previous_secret", every value of "headers"
 * and of each endpoint's "headers", and every value but "type" of each
 * endpoint's credentials ("auth": username, password, token; see
 * endpoint_auth.h). Custom headers are another place endpoints get their
 * credentials (Authorization, API keys), and which ones are credentials
 * cannot be told from their names, so every value is taken for one. Each
 * value is sealed for its place, the associated data being "hookline
 * webhook v1", tenant, webhook id and the field, separated by 0x1f, the
 * field being "secret", "previous_secret", "headers/<name>",
 * "endpoints/<endpoint id>/headers/<name>" or
 * "endpoints/<endpoint id>/auth/<name>": a value copied to another
 * field, webhook or tenant does not open.
 *
 * A value that does not start with "hlenc:" is a plain one, written
 * before secrets were sealed: it is used as it is, and sealed on the next
 * write (or by hookline-api at start, or by rotate-secrets-key).
 */
#ifndef HL_WEBHOOK_SEAL_H
#define HL_WEBHOOK_SEAL_H

#include <stdbool.h>
#include <jansson.h>
#include "hl_error.h"
#include "secretbox.h"

/* A copy of webhook document 'doc' (borrowed; it needs "id" and "tenant")
 * with every secret field sealed under the ring's current key. Returns a
 * new reference, or NULL with the reason in 'err' (HL_EINVAL: no id or
 * tenant; as secretbox_seal). */
json_t *webhook_seal_copy(const json_t *doc, const struct secretbox *sb, struct hl_error *err);

/* Open every sealed secret field of 'doc' in place ('doc' must not be
 * shared: its values are replaced). Plain values stay as they are and are
 * counted in *plain (may be NULL). Returns 0, or HL_ESECRET (with the
 * field and the reason, never a value, in 'err') when one does not open;
 * 'doc' may then be partly opened: callers discard it. */
int webhook_open(json_t *doc, const struct secretbox *sb, int *plain, struct hl_error *err) HL_MUST_CHECK;

/* Open the value 'value' of field 'field' (as named above) of webhook 'id'
 * of 'tenant'. Returns a new NUL-terminated string (caller frees): the
 * opened value, or a copy of a plain one; NULL with HL_ESECRET or
 * HL_ENOMEM in 'err'. */
char *webhook_field_open(const struct secretbox *sb, const char *tenant, const char *id, const char *field,
                         const char *value, struct hl_error *err);

/* Is every secret field of 'doc' sealed under the ring's current key (no
 * plain value, none under an older key)? */
bool webhook_sealed_current(const json_t *doc, const struct secretbox *sb);

#endif
