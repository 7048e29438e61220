/* secretbox.c: AES-256-GCM sealing of secrets at rest, under a key ring.
 *
 * Each key has one GnuTLS cipher handle, made with the ring: making one
 * costs about as much as sealing a secret (the key schedule). A handle
 * keeps the nonce of its call, so a call holds the key's lock; nothing
 * else in the ring changes after secretbox_new, so every thread may use it.
 */
#include "secretbox.h"

#include <ctype.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

#define SB_NONCE 12
#define SB_TAG 16
/* "hlenc:v1:" + id + ":" */
#define SB_HEADER_MAX (sizeof(SECRETBOX_V1) - 1 + SECRETBOX_KEY_ID_MAX + 1)

struct sb_key {
    char id[SECRETBOX_KEY_ID_MAX + 1];
    unsigned char key[SECRETBOX_KEY_BYTES];
    gnutls_aead_cipher_hd_t hd;         /* NULL until the ring is complete */
    pthread_mutex_t lock;               /* held around a call on 'hd' */
};

struct secretbox {
    size_t n;
    struct sb_key keys[SECRETBOX_KEYS_MAX];     /* keys[0] seals */
};

static bool sb_id_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

/* One "<id>:<base64>" entry of 'len' bytes at 'at' (surrounding blanks
 * allowed) into 'k'. Returns 0 or HL_EINVAL; 'pos' is its 1-based place. */
static int sb_key_parse(const char *at, size_t len, size_t pos, struct sb_key *k, struct hl_error *err)
{
    while (len > 0 && isspace((unsigned char)*at)) {
        at++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)at[len - 1]))
        len--;
    const char *colon = memchr(at, ':', len);
    size_t idlen = colon ? (size_t)(colon - at) : 0;
    if (colon == NULL || idlen == 0 || idlen > SECRETBOX_KEY_ID_MAX)
        return hl_error_set(err, HL_EINVAL, "key %zu is not <id>:<base64 of %d bytes> with an id of 1 to %d "
                            "characters", pos, SECRETBOX_KEY_BYTES, SECRETBOX_KEY_ID_MAX);
    for (size_t i = 0; i < idlen; i++)
        if (!sb_id_char((unsigned char)at[i]))
            return hl_error_set(err, HL_EINVAL, "key %zu: its id may hold only letters, digits and _ . -", pos);
    memcpy(k->id, at, idlen);
    k->id[idlen] = '\0';
    /* one byte of room more than a key, so a longer one is told apart */
    unsigned char raw[SECRETBOX_KEY_BYTES + 3];
    size_t n = 0;
    int rc = base64_decode(colon + 1, len - idlen - 1, raw, sizeof(raw), &n);
    if (rc == 0 && n == SECRETBOX_KEY_BYTES)
        memcpy(k->key, raw, SECRETBOX_KEY_BYTES);
    gnutls_memset(raw, 0, sizeof(raw));
    if (rc < 0 || n != SECRETBOX_KEY_BYTES)
        return hl_error_set(err, HL_EINVAL, "key %zu (\"%s\") is not base64 of %d bytes (head -c %d /dev/urandom | "
                            "base64)", pos, k->id, SECRETBOX_KEY_BYTES, SECRETBOX_KEY_BYTES);
    return 0;
}

struct secretbox *secretbox_new(const char *spec, struct hl_error *err)
{
    if (spec == NULL || *spec == '\0') {
        hl_error_set(err, HL_EINVAL, "no key given");
        return NULL;
    }
    struct secretbox *sb = calloc(1, sizeof(*sb));
    if (sb == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        return NULL;
    }
    for (const char *at = spec;;) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t)(comma - at) : strlen(at);
        if (sb->n == SECRETBOX_KEYS_MAX) {
            hl_error_set(err, HL_EINVAL, "more than %d keys", SECRETBOX_KEYS_MAX);
            goto fail;
        }
        if (sb_key_parse(at, len, sb->n + 1, &sb->keys[sb->n], err) < 0)
            goto fail;
        for (size_t i = 0; i < sb->n; i++) {
            if (strcmp(sb->keys[i].id, sb->keys[sb->n].id) == 0) {
                hl_error_set(err, HL_EINVAL, "key id \"%s\" is given twice", sb->keys[i].id);
                goto fail;
            }
        }
        sb->n++;
        if (comma == NULL)
            break;
        at = comma + 1;
    }
    for (size_t i = 0; i < sb->n; i++) {
        struct sb_key *k = &sb->keys[i];
        gnutls_datum_t key = { k->key, SECRETBOX_KEY_BYTES };
        if (gnutls_aead_cipher_init(&k->hd, GNUTLS_CIPHER_AES_256_GCM, &key) < 0) {
            k->hd = NULL;
            hl_error_set(err, HL_EIO, "AES-256-GCM is not available");
            goto fail;
        }
        pthread_mutex_init(&k->lock, NULL);
    }
    return sb;
fail:
    secretbox_free(sb);
    return NULL;
}

void secretbox_free(struct secretbox *sb)
{
    if (sb == NULL)
        return;
    for (size_t i = 0; i < sb->n; i++) {
        if (sb->keys[i].hd != NULL) {
            gnutls_aead_cipher_deinit(sb->keys[i].hd);
            pthread_mutex_destroy(&sb->keys[i].lock);
        }
    }
    gnutls_memset(sb, 0, sizeof(*sb));
    free(sb);
}

const char *secretbox_key_id(const struct secretbox *sb)
{
    return sb->keys[0].id;
}

bool secretbox_is_sealed(const char *text)
{
    return text != NULL && strncmp(text, SECRETBOX_PREFIX, sizeof(SECRETBOX_PREFIX) - 1) == 0;
}

bool secretbox_is_current(const struct secretbox *sb, const char *text)
{
    const size_t vlen = sizeof(SECRETBOX_V1) - 1, idlen = strlen(sb->keys[0].id);
    return text != NULL && strncmp(text, SECRETBOX_V1, vlen) == 0 &&
           strncmp(text + vlen, sb->keys[0].id, idlen) == 0 && text[vlen + idlen] == ':';
}

/* "hlenc:v1:<id>:" followed by the caller's associated data: what GCM
 * authenticates besides the ciphertext. New buffer or NULL. */
static unsigned char *sb_aad(const char *header, size_t hlen, const void *aad, size_t aad_len, size_t *total)
{
    unsigned char *buf = malloc(hlen + aad_len + 1);
    if (buf == NULL)
        return NULL;
    memcpy(buf, header, hlen);
    if (aad_len > 0)
        memcpy(buf + hlen, aad, aad_len);
    *total = hlen + aad_len;
    return buf;
}

/* The ring is read-only to its users; only a key's lock and the state of
 * its handle change, under that lock. */
static int sb_encrypt(const struct sb_key *k, const unsigned char *nonce, const void *ad, size_t adlen,
                      const void *plain, size_t len, unsigned char *out, size_t *outlen)
{
    struct sb_key *key = (struct sb_key *)k;
    pthread_mutex_lock(&key->lock);
    int rc = gnutls_aead_cipher_encrypt(key->hd, nonce, SB_NONCE, ad, adlen, SB_TAG, plain, len, out, outlen);
    pthread_mutex_unlock(&key->lock);
    return rc < 0 ? HL_EIO : 0;
}

static int sb_decrypt(const struct sb_key *k, const unsigned char *nonce, const void *ad, size_t adlen,
                      const unsigned char *ct, size_t ctlen, char *out, size_t *outlen)
{
    struct sb_key *key = (struct sb_key *)k;
    pthread_mutex_lock(&key->lock);
    int rc = gnutls_aead_cipher_decrypt(key->hd, nonce, SB_NONCE, ad, adlen, SB_TAG, ct, ctlen, out, outlen);
    pthread_mutex_unlock(&key->lock);
    return rc < 0 ? HL_ESECRET : 0;
}

char *secretbox_seal(const struct secretbox *sb, const void *plain, size_t len, const void *aad, size_t aad_len,
                     struct hl_error *err)
{
    char header[SB_HEADER_MAX + 1];
    unsigned char *raw = NULL, *ad = NULL;
    char *out = NULL;
    if (len > SECRETBOX_PLAIN_MAX) {
        hl_error_set(err, HL_EINVAL, "a secret of %zu bytes is longer than %d", len, SECRETBOX_PLAIN_MAX);
        return NULL;
    }
    int hlen = snprintf(header, sizeof(header), SECRETBOX_V1 "%s:", sb->keys[0].id);
    size_t adlen = 0, rawlen = SB_NONCE + len + SB_TAG, ctlen = len + SB_TAG;
    raw = malloc(rawlen);
    ad = sb_aad(header, (size_t)hlen, aad, aad_len, &adlen);
    out = malloc((size_t)hlen + BASE64_ENCODED_SIZE(rawlen));
    if (raw == NULL || ad == NULL || out == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        goto fail;
    }
    if (gnutls_rnd(GNUTLS_RND_NONCE, raw, SB_NONCE) < 0) {
        hl_error_set(err, HL_EIO, "no randomness available");
        goto fail;
    }
    if (sb_encrypt(&sb->keys[0], raw, ad, adlen, plain, len, raw + SB_NONCE, &ctlen) < 0 || ctlen != len + SB_TAG) {
        hl_error_set(err, HL_EIO, "AES-256-GCM: cannot seal");
        goto fail;
    }
    memcpy(out, header, (size_t)hlen);
    base64_encode(raw, rawlen, out + hlen);
    goto out;
fail:
    free(out);
    out = NULL;
out:
    free(raw);
    free(ad);
    return out;
}

char *secretbox_open(const struct secretbox *sb, const char *text, const void *aad, size_t aad_len, size_t *len,
                     struct hl_error *err)
{
    const size_t vlen = sizeof(SECRETBOX_V1) - 1;
    unsigned char *raw = NULL, *ad = NULL;
    char *plain = NULL;
    const char *idp = text && strncmp(text, SECRETBOX_V1, vlen) == 0 ? text + vlen : NULL;
    const char *colon = idp ? strchr(idp, ':') : NULL;
    if (colon == NULL || colon == idp || (size_t)(colon - idp) > SECRETBOX_KEY_ID_MAX) {
        hl_error_set(err, HL_ESECRET, "not a sealed value (" SECRETBOX_V1 "<key id>:<base64>)");
        return NULL;
    }
    size_t idlen = (size_t)(colon - idp);
    const struct sb_key *k = NULL;
    for (size_t i = 0; i < sb->n && k == NULL; i++)
        if (strlen(sb->keys[i].id) == idlen && strncmp(sb->keys[i].id, idp, idlen) == 0)
            k = &sb->keys[i];
    if (k == NULL) {
        hl_error_set(err, HL_ESECRET, "sealed under key \"%.*s\", which HOOKLINE_SECRETS_KEY does not hold",
                     (int)idlen, idp);
        return NULL;
    }
    const char *b64 = colon + 1;
    size_t b64len = strlen(b64), cap = b64len / 4 * 3, rawlen = 0, adlen = 0;
    if (cap > SB_NONCE + SECRETBOX_PLAIN_MAX + SB_TAG + 2) {
        hl_error_set(err, HL_ESECRET, "sealed value under key \"%s\" is too long", k->id);
        return NULL;
    }
    raw = malloc(cap + 1);
    ad = sb_aad(text, (size_t)(b64 - text), aad, aad_len, &adlen);
    if (raw == NULL || ad == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        goto out;
    }
    if (base64_decode(b64, b64len, raw, cap, &rawlen) < 0 || rawlen < SB_NONCE + SB_TAG) {
        hl_error_set(err, HL_ESECRET, "sealed value under key \"%s\" is malformed", k->id);
        goto out;
    }
    size_t plen = rawlen - SB_NONCE - SB_TAG;
    plain = malloc(plen + 1);
    if (plain == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        goto out;
    }
    size_t got = plen;
    if (sb_decrypt(k, raw, ad, adlen, raw + SB_NONCE, rawlen - SB_NONCE, plain, &got) < 0 || got != plen) {
        hl_error_set(err, HL_ESECRET, "sealed value does not open under key \"%s\": another key of that id, "
                     "altered, or sealed for another place", k->id);
        goto fail;
    }
    plain[plen] = '\0';
    if (len)
        *len = plen;
    goto out;
fail:
    gnutls_memset(plain, 0, plen);
    free(plain);
    plain = NULL;
out:
    free(raw);
    free(ad);
    return plain;
}
