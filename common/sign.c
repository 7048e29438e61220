/* sign.c: Standard Webhooks signatures (HMAC-SHA256, "v1,<base64>").
 *
 * The signed content is "<msg_id>.<timestamp>.<body>"; the key is the
 * base64-decoded part of the "whsec_" secret. The body is fed to the MAC
 * in place, never copied, since it can be up to the largest event size.
 */
#include "sign.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"

#define SIGN_SECRET_PREFIX "whsec_"
#define SIGN_KEY_MAX 256      /* decoded secret bytes we accept */
#define SIGN_MAC_LEN 32       /* SHA-256 */

/* Decode "whsec_<base64>" into 'key'. Returns 0 or HL_EINVAL. */
static int sign_key_decode(const char *secret, unsigned char key[SIGN_KEY_MAX], size_t *keylen)
{
    const size_t plen = sizeof(SIGN_SECRET_PREFIX) - 1;
    if (secret == NULL || strncmp(secret, SIGN_SECRET_PREFIX, plen) != 0)
        return HL_EINVAL;
    const char *b64 = secret + plen;
    if (base64_decode(b64, strlen(b64), key, SIGN_KEY_MAX, keylen) < 0 || *keylen == 0)
        return HL_EINVAL;
    return 0;
}

/* HMAC-SHA256 of "<msg_id>.<timestamp>.<body>" under 'key' into 'mac'. */
static int sign_mac(const unsigned char *key, size_t keylen, const char *msg_id, int64_t timestamp,
                    const char *body, size_t body_len, unsigned char mac[SIGN_MAC_LEN])
{
    gnutls_hmac_hd_t hd = NULL;
    char ts[32];
    int rc = HL_EINVAL;

    int tslen = snprintf(ts, sizeof(ts), ".%" PRId64 ".", timestamp);
    if (gnutls_hmac_init(&hd, GNUTLS_MAC_SHA256, key, keylen) < 0) {
        hd = NULL;
        goto out;
    }
    if (gnutls_hmac(hd, msg_id, strlen(msg_id)) < 0 || gnutls_hmac(hd, ts, (size_t)tslen) < 0 ||
        (body_len > 0 && gnutls_hmac(hd, body, body_len) < 0))
        goto out;
    gnutls_hmac_output(hd, mac);
    rc = 0;
out:
    if (hd != NULL)
        gnutls_hmac_deinit(hd, NULL);
    return rc;
}

/* Compute "v1,<base64>" for 'secret' into 'out' (SIGN_V1_MAX bytes). */
static int sign_v1_compute(const char *secret, const char *msg_id, int64_t timestamp,
                           const char *body, size_t body_len, char out[SIGN_V1_MAX])
{
    unsigned char key[SIGN_KEY_MAX];
    unsigned char mac[SIGN_MAC_LEN];
    size_t keylen = 0;
    int rc = HL_EINVAL;

    out[0] = '\0';
    if (msg_id == NULL || (body == NULL && body_len > 0))
        goto out;
    rc = sign_key_decode(secret, key, &keylen);
    if (rc < 0)
        goto out;
    rc = sign_mac(key, keylen, msg_id, timestamp, body, body_len, mac);
    if (rc < 0)
        goto out;
    memcpy(out, "v1,", 3);
    base64_encode(mac, sizeof(mac), out + 3);
out:
    gnutls_memset(key, 0, sizeof(key));
    return rc;
}

int sign_v1(const char *secret, const char *msg_id, int64_t timestamp,
            const char *body, size_t body_len, char *out, size_t cap)
{
    char sig[SIGN_V1_MAX];
    int rc = HL_EINVAL;

    if (cap > 0)
        out[0] = '\0';
    if (cap < SIGN_V1_MAX)
        goto out;
    rc = sign_v1_compute(secret, msg_id, timestamp, body, body_len, sig);
    if (rc < 0)
        goto out;
    memcpy(out, sig, strlen(sig) + 1);
out:
    return rc;
}

/* An empty list of secrets is HL_EINVAL too: nothing could verify it. */
int sign_header(const char *const *secrets, size_t n, const char *msg_id, int64_t timestamp,
                const char *body, size_t body_len, char *out, size_t cap)
{
    char sig[SIGN_V1_MAX];
    size_t used = 0;
    int rc = HL_EINVAL;

    if (cap > 0)
        out[0] = '\0';
    if (n == 0 || secrets == NULL || cap == 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        rc = sign_v1_compute(secrets[i], msg_id, timestamp, body, body_len, sig);
        if (rc < 0)
            goto out;
        size_t len = strlen(sig);
        size_t need = len + (i > 0 ? 1 : 0);
        if (used + need + 1 > cap) {
            rc = HL_EINVAL;
            goto out;
        }
        if (i > 0)
            out[used++] = ' ';
        memcpy(out + used, sig, len + 1);
        used += len;
    }
    rc = 0;
out:
    if (rc < 0 && cap > 0)
        out[0] = '\0';
    return rc;
}

/* Every entry is compared in full, so the time does not reveal how much
 * of a forged signature was right. */
int sign_verify(const char *secret, const char *msg_id, int64_t timestamp,
                const char *body, size_t body_len, const char *header)
{
    char expected[SIGN_V1_MAX];
    int matched = 0;

    int rc = sign_v1_compute(secret, msg_id, timestamp, body, body_len, expected);
    if (rc < 0)
        return rc;
    if (header == NULL)
        return 0;
    size_t elen = strlen(expected);
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ' ')
            p++;
        size_t len = (size_t)(p - start);
        if (len == elen && gnutls_memcmp(start, expected, elen) == 0)
            matched = 1;
    }
    return matched;
}
