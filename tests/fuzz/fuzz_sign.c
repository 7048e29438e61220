/* fuzz_sign.c: the Standard Webhooks signature code on arbitrary secrets,
 * ids, bodies and webhook-signature headers.
 *
 * Input: "<secret>\n<msg id>\n<header>\n<body>" (missing parts are empty).
 * Checks: a secret that is not "whsec_" + base64 of 1 to 256 bytes is
 * HL_EINVAL everywhere; otherwise the signature is "v1," + base64 of
 * HMAC-SHA256(key, "<id>.<timestamp>.<body>") computed here with GnuTLS
 * directly; sign_verify accepts a header exactly when one of its
 * space-separated entries is that signature; and what sign_header writes,
 * alone or behind another secret's signature, verifies.
 */
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdbool.h>

#include "base64.h"
#include "fuzz.h"
#include "sign.h"

#define FUZZ_TS 1764064800

/* Split off the next '\n'-terminated part of [*p, end) as a C string. */
static char *fuzz_part(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl ? nl : end;
    char *s = fuzz_cstr(*p, (size_t)(stop - *p));
    *p = nl ? nl + 1 : end;
    return s;
}

/* The signature by the rule, or false for a secret that is not one. */
static bool fuzz_expected(const char *secret, const char *id, const char *body, size_t blen, char out[SIGN_V1_MAX])
{
    unsigned char key[256], mac[32];
    size_t keylen = 0;
    if (strncmp(secret, "whsec_", 6) != 0 ||
        base64_decode(secret + 6, strlen(secret) - 6, key, sizeof(key), &keylen) < 0 || keylen == 0)
        return false;
    size_t mlen = strlen(id) + 32 + blen;
    char *msg = malloc(mlen);
    FUZZ_CHECK(msg != NULL);
    int n = snprintf(msg, mlen, "%s.%d.", id, FUZZ_TS);
    memcpy(msg + n, body, blen);
    FUZZ_CHECK(gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, msg, (size_t)n + blen, mac) == 0);
    free(msg);
    memcpy(out, "v1,", 3);
    base64_encode(mac, sizeof(mac), out + 3);
    return true;
}

static bool fuzz_header_has(const char *header, const char *sig)
{
    size_t len = strlen(sig);
    for (const char *p = header; *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, sig, n) == 0)
            return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *secret = fuzz_part(&p, end), *id = fuzz_part(&p, end), *header = fuzz_part(&p, end);
    const char *body = (const char *)p;
    size_t blen = (size_t)(end - p);
    char want[SIGN_V1_MAX], got[SIGN_V1_MAX], both[3 * SIGN_V1_MAX];
    bool ok = fuzz_expected(secret, id, body, blen, want);

    int rc = sign_v1(secret, id, FUZZ_TS, body, blen, got, sizeof(got));
    FUZZ_CHECK(ok ? rc == 0 && strcmp(got, want) == 0 : rc == HL_EINVAL && got[0] == '\0');
    int verdict = sign_verify(secret, id, FUZZ_TS, body, blen, header);
    FUZZ_CHECK(ok ? verdict == fuzz_header_has(header, want) : verdict == HL_EINVAL);
    if (ok) {
        const char *secrets[2] = { "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", secret };
        FUZZ_CHECK(sign_header(secrets + 1, 1, id, FUZZ_TS, body, blen, both, sizeof(both)) == 0);
        FUZZ_CHECK(strcmp(both, want) == 0 && sign_verify(secret, id, FUZZ_TS, body, blen, both) == 1);
        FUZZ_CHECK(sign_header(secrets, 2, id, FUZZ_TS, body, blen, both, sizeof(both)) == 0);
        FUZZ_CHECK(sign_verify(secret, id, FUZZ_TS, body, blen, both) == 1);
        FUZZ_CHECK(sign_verify(secrets[0], id, FUZZ_TS, body, blen, both) == 1);
    }
    free(header);
    free(id);
    free(secret);
    return 0;
}
