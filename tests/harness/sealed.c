/* sealed.c: keys for HOOKLINE_SECRETS_KEY, and an opener for the values
 * hookline seals at rest, written from the documented format with GnuTLS
 * alone, so a test checks the format rather than hookline against itself. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hx_int.h"

#define SEALED_PREFIX "hlenc:v1:"
#define SEALED_AAD_TAG "hookline webhook v1"

void hx_secrets_key_new(const char *id, char *out, size_t cap)
{
    unsigned char key[32];
    gnutls_datum_t raw = { key, sizeof(key) }, b64 = { NULL, 0 };
    if (gnutls_rnd(GNUTLS_RND_KEY, key, sizeof(key)) < 0 || gnutls_base64_encode2(&raw, &b64) < 0)
        hx_die("cannot make a secrets key");
    if ((size_t)snprintf(out, cap, "%s:%.*s", id, (int)b64.size, (const char *)b64.data) >= cap)
        hx_die("secrets key: buffer too small");
    gnutls_free(b64.data);
}

/* The 32 bytes of key 'id' (of 'idlen' bytes) in 'keyring'; 0 or -1. */
static int sealed_key(const char *keyring, const char *id, size_t idlen, unsigned char key[32])
{
    for (const char *at = keyring; at && *at;) {
        while (*at == ' ' || *at == ',')
            at++;
        const char *end = strchr(at, ','), *colon = strchr(at, ':');
        size_t len = end ? (size_t)(end - at) : strlen(at);
        if (colon && colon < at + len && (size_t)(colon - at) == idlen && strncmp(at, id, idlen) == 0) {
            size_t blen = len - idlen - 1;
            while (blen > 0 && colon[blen] == ' ')
                blen--;
            gnutls_datum_t b64 = { (unsigned char *)colon + 1, (unsigned)blen }, raw = { NULL, 0 };
            int ok = gnutls_base64_decode2(&b64, &raw) == 0 && raw.size == 32;
            if (ok)
                memcpy(key, raw.data, 32);
            gnutls_free(raw.data);
            return ok ? 0 : -1;
        }
        at = end;
    }
    return -1;
}

char *hx_unseal(const char *keyring, const char *tenant, const char *webhook_id, const char *field,
                const char *sealed)
{
    const size_t plen = strlen(SEALED_PREFIX);
    if (sealed == NULL || strncmp(sealed, SEALED_PREFIX, plen) != 0)
        return NULL;
    const char *id = sealed + plen, *colon = strchr(id, ':');
    unsigned char key[32];
    if (colon == NULL || sealed_key(keyring, id, (size_t)(colon - id), key) < 0)
        return NULL;
    gnutls_datum_t b64 = { (unsigned char *)colon + 1, (unsigned)strlen(colon + 1) }, raw = { NULL, 0 };
    if (gnutls_base64_decode2(&b64, &raw) < 0 || raw.size < 12 + 16) {
        gnutls_free(raw.data);
        return NULL;
    }
    char *aad = NULL, *plain = malloc(raw.size);
    int aadlen = asprintf(&aad, "%.*s" SEALED_AAD_TAG "\x1f%s\x1f%s\x1f%s", (int)(colon + 1 - sealed), sealed, tenant,
                          webhook_id, field);
    gnutls_aead_cipher_hd_t hd = NULL;
    gnutls_datum_t k = { key, sizeof(key) };
    size_t len = raw.size;
    bool ok = aadlen > 0 && plain != NULL && gnutls_aead_cipher_init(&hd, GNUTLS_CIPHER_AES_256_GCM, &k) == 0 &&
              gnutls_aead_cipher_decrypt(hd, raw.data, 12, aad, (size_t)aadlen, 16, raw.data + 12, raw.size - 12, plain,
                                         &len) == 0;
    if (hd)
        gnutls_aead_cipher_deinit(hd);
    gnutls_free(raw.data);
    free(aad);
    if (!ok) {
        free(plain);
        return NULL;
    }
    plain[len] = '\0';
    return plain;
}
