/* ids.h: unguessable identifiers, webhook secrets and API keys.
 *
 * All randomness comes from gnutls_rnd(GNUTLS_RND_KEY). Ids are a prefix
 * plus base62 of 16 random bytes; secrets follow Standard Webhooks.
 */
#ifndef HL_IDS_H
#define HL_IDS_H

#include <stddef.h>
#include "hl_error.h"

#define HL_ID_MAX 48       /* prefix (<= 8) + 22 base62 chars + NUL, rounded up */
#define HL_SECRET_MAX 64   /* a generated secret: "whsec_" + base64(24 bytes) + NUL (one set
                              at create may be longer: LIMIT_SECRET_MAX in hl_limits.h) */
#define HL_APIKEY_MAX 64   /* "hlk_" + base62(32 bytes) + NUL */
#define HL_KEYHASH_LEN 64  /* hex SHA-256, without the NUL */

/* Fill 'buf' with 'n' cryptographically random bytes. Returns 0 or HL_EIO. */
int hl_random_bytes(void *buf, size_t n) HL_MUST_CHECK;

/* Write 'prefix' followed by base62 of 16 random bytes into 'out'
 * (NUL-terminated; 'cap' >= HL_ID_MAX). Returns 0, HL_EINVAL (cap too
 * small) or HL_EIO. Example: hl_id_new("wh_", buf, sizeof buf). */
int hl_id_new(const char *prefix, char *out, size_t cap) HL_MUST_CHECK;

/* Write a new signing secret "whsec_<base64 of 24 random bytes>" into
 * 'out' ('cap' >= HL_SECRET_MAX). Returns 0 or HL_EIO. */
int hl_secret_new(char *out, size_t cap) HL_MUST_CHECK;

/* Write a new API key "hlk_<base62 of 32 random bytes>" into 'out'
 * ('cap' >= HL_APIKEY_MAX). Returns 0 or HL_EIO. */
int hl_apikey_new(char *out, size_t cap) HL_MUST_CHECK;

/* Write a new portal session token "hlp_<base62 of 32 random bytes>" into
 * 'out' ('cap' >= HL_APIKEY_MAX). It is hashed with hl_apikey_hash like a
 * key; the prefix tells auth which table holds it. Returns 0 or HL_EIO. */
int hl_portal_token_new(char *out, size_t cap) HL_MUST_CHECK;
#define HL_PORTAL_TOKEN_PREFIX "hlp_"

/* Lower-case hex SHA-256 of 'key' into 'out' (HL_KEYHASH_LEN + 1 bytes).
 * This is what the database stores instead of the key. */
void hl_apikey_hash(const char *key, char out[HL_KEYHASH_LEN + 1]);

/* Constant-time comparison of two NUL-terminated strings: 1 if equal. */
int hl_str_equal_ct(const char *a, const char *b);

#endif
