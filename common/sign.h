/* sign.h: Standard Webhooks signatures.
 *
 * signature = "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))
 * where key is the base64-decoded part of the secret after "whsec_".
 */
#ifndef HL_SIGN_H
#define HL_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "hl_error.h"

#define SIGN_V1_MAX 64  /* "v1," + 44 base64 chars + NUL, rounded up */

/* Write "v1,<base64>" for one secret into 'out' ('cap' >= SIGN_V1_MAX).
 * Returns 0, or HL_EINVAL for a secret that is not "whsec_<base64>". */
int sign_v1(const char *secret, const char *msg_id, int64_t timestamp,
            const char *body, size_t body_len, char *out, size_t cap) HL_MUST_CHECK;

/* Write the webhook-signature header value for 'n' secrets (the current
 * one first, then those still in their rotation overlap), space-separated,
 * into 'out'. Returns 0, or HL_EINVAL (bad secret, 'cap' too small). */
int sign_header(const char *const *secrets, size_t n, const char *msg_id, int64_t timestamp,
                const char *body, size_t body_len, char *out, size_t cap) HL_MUST_CHECK;

/* Check a webhook-signature header value (space-separated "v1,<sig>"
 * entries) against one secret, in constant time per entry. Returns 1 if
 * any entry matches, 0 if none does, HL_EINVAL for a bad secret. */
int sign_verify(const char *secret, const char *msg_id, int64_t timestamp,
                const char *body, size_t body_len, const char *header);

#endif
