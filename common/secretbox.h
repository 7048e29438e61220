/* secretbox.h: secrets sealed at rest with AES-256-GCM (GnuTLS).
 *
 * A sealed value is text, so it fits where the plain value was (a text
 * column, a JSON string):
 *
 *   hlenc:v1:<key id>:<base64(nonce | ciphertext | tag)>
 *
 * with a random 96-bit nonce and a 128-bit tag. The authenticated data is
 * the text before the base64 followed by the caller's associated data,
 * which names where the value is stored (webhook_seal.h: tenant, webhook,
 * field): a sealed value copied anywhere else does not open.
 *
 * The key ring comes from HOOKLINE_SECRETS_KEY: "<id>:<base64 of 32
 * bytes>", several separated by commas. The first key seals; every key
 * opens, so values sealed under an older key still open while they are
 * re-sealed (hookline-api rotate-secrets-key). Any thread may use a ring
 * at once: each key's cipher handle is made with the ring and used under
 * that key's lock, nothing else changes after secretbox_new.
 */
#ifndef HL_SECRETBOX_H
#define HL_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>
#include "hl_error.h"

#define SECRETBOX_PREFIX "hlenc:"        /* every sealed value starts so; a plain secret never does */
#define SECRETBOX_V1 "hlenc:v1:"
#define SECRETBOX_KEY_BYTES 32
#define SECRETBOX_KEY_ID_MAX 32          /* 1-32 of [A-Za-z0-9_.-] */
#define SECRETBOX_KEYS_MAX 8
#define SECRETBOX_PLAIN_MAX 65536        /* largest value sealed or opened */

struct secretbox;

/* Parse a key ring spec ("k2:<base64>,k1:<base64>"). Returns the ring (free
 * with secretbox_free) or NULL with HL_EINVAL and a reason that names the
 * entry by its position and id, never the key material. */
struct secretbox *secretbox_new(const char *spec, struct hl_error *err);

/* Wipe the keys and free. NULL is a no-op. */
void secretbox_free(struct secretbox *sb);

/* Id of the key that seals (borrowed, lives as long as 'sb'). */
const char *secretbox_key_id(const struct secretbox *sb);

/* Does 'text' look sealed (starts with SECRETBOX_PREFIX)? Anything else is
 * a plain value, such as one written before secrets were sealed. */
bool secretbox_is_sealed(const char *text);

/* Is 'text' sealed under the key that seals now? */
bool secretbox_is_current(const struct secretbox *sb, const char *text);

/* Seal 'len' bytes of 'plain' (at most SECRETBOX_PLAIN_MAX) for the place
 * named by 'aad' ('aad_len' bytes). Returns new NUL-terminated text (caller
 * frees) or NULL with HL_EINVAL (too long), HL_EIO (no randomness, cipher
 * failure) or HL_ENOMEM. */
char *secretbox_seal(const struct secretbox *sb, const void *plain, size_t len, const void *aad, size_t aad_len,
                     struct hl_error *err);

/* Open sealed 'text' for the place named by 'aad'. Returns the plain bytes
 * followed by a NUL (caller frees; *len set if 'len' is not NULL) or NULL
 * with HL_ESECRET: not in the sealed format, a key id the ring does not
 * hold, or a value that does not authenticate (another key under the same
 * id, altered, or sealed for another place). The reason names the key id,
 * never the value. */
char *secretbox_open(const struct secretbox *sb, const char *text, const void *aad, size_t aad_len, size_t *len,
                     struct hl_error *err);

#endif
