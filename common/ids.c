/* ids.c: unguessable identifiers, webhook secrets and API keys.
 *
 * Random bytes come from gnutls_rnd(): GNUTLS_RND_KEY for secrets and API
 * keys, GNUTLS_RND_NONCE (unpredictable as well) for ids. Ids and API keys are
 * the random bytes read as one big-endian number written in base62 with a
 * fixed number of digits (16 bytes -> 22 chars, 32 bytes -> 43 chars), so
 * every byte string maps to exactly one text and no entropy is lost.
 */
#include "ids.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "base64.h"

#define IDS_ID_BYTES 16
#define IDS_ID_CHARS 22      /* ceil(128 / log2(62)) */
#define IDS_KEY_BYTES 32
#define IDS_KEY_CHARS 43     /* ceil(256 / log2(62)) */
#define IDS_SECRET_BYTES 24
#define IDS_SECRET_PREFIX "whsec_"
#define IDS_APIKEY_PREFIX "hlk_"
#define IDS_PORTAL_PREFIX "hlp_"

static const char ids_base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int hl_random_bytes(void *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (gnutls_rnd(GNUTLS_RND_KEY, buf, n) < 0)
        return HL_EIO;
    return 0;
}

/* Write the 'n' bytes of 'bytes' (a big-endian number) as exactly 'nchars'
 * base62 digits into 'out', most significant first, no NUL. 'nchars' must
 * be large enough for 62^nchars > 256^n. Destroys 'bytes' (it ends as 0). */
static void ids_base62_fixed(unsigned char *bytes, size_t n, char *out, size_t nchars)
{
    for (size_t pos = nchars; pos-- > 0;) {
        /* long division of the whole number by 62; the remainder is the next digit */
        unsigned int rem = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned int cur = (rem << 8) | bytes[i];
            bytes[i] = (unsigned char)(cur / 62);
            rem = cur % 62;
        }
        out[pos] = ids_base62[rem];
    }
}

/* ids_base62_fixed for 16 bytes into 22 digits, the same text: 128-bit
 * arithmetic, ten digits per 64-bit chunk (62^10 < 2^64), instead of 22
 * long divisions of 16 bytes each; ids are made for every delivery. */
static void ids_base62_16(const unsigned char bytes[16], char out[IDS_ID_CHARS])
{
    static const unsigned long long chunk = 839299365868340224ULL;     /* 62^10 */
    unsigned __int128 x = 0;
    for (int i = 0; i < 16; i++)
        x = (x << 8) | bytes[i];
    size_t pos = IDS_ID_CHARS;
    for (int c = 0; c < 2; c++) {
        unsigned long long low = (unsigned long long)(x % chunk);
        x /= chunk;
        for (int d = 0; d < 10; d++) {
            out[--pos] = ids_base62[low % 62];
            low /= 62;
        }
    }
    unsigned long long top = (unsigned long long)x;    /* < 62^2 */
    out[--pos] = ids_base62[top % 62];
    out[--pos] = ids_base62[top / 62];
}

/* Write 'prefix' + base62 of 'nbytes' random bytes ('nchars' digits),
 * drawn at 'level'. */
static int ids_new_base62(const char *prefix, size_t nbytes, size_t nchars, gnutls_rnd_level_t level, char *out,
                          size_t cap)
{
    unsigned char bytes[IDS_KEY_BYTES];
    int rc = HL_EINVAL;
    size_t plen = strlen(prefix);

    if (cap > 0)
        out[0] = '\0';
    if (nbytes > sizeof(bytes) || cap < plen + nchars + 1)
        goto out;
    rc = gnutls_rnd(level, bytes, nbytes) < 0 ? HL_EIO : 0;
    if (rc < 0)
        goto out;
    memcpy(out, prefix, plen);
    if (nbytes == IDS_ID_BYTES && nchars == IDS_ID_CHARS)
        ids_base62_16(bytes, out + plen);
    else
        ids_base62_fixed(bytes, nbytes, out + plen, nchars);
    out[plen + nchars] = '\0';
    rc = 0;
out:
    gnutls_memset(bytes, 0, sizeof(bytes));
    return rc;
}

int hl_id_new(const char *prefix, char *out, size_t cap)
{
    /* an id is unpredictable but grants nothing by itself: nonce level */
    return ids_new_base62(prefix ? prefix : "", IDS_ID_BYTES, IDS_ID_CHARS, GNUTLS_RND_NONCE, out, cap);
}

/* Also returns HL_EINVAL when 'cap' is too small for the secret. */
int hl_secret_new(char *out, size_t cap)
{
    unsigned char bytes[IDS_SECRET_BYTES];
    const size_t plen = sizeof(IDS_SECRET_PREFIX) - 1;
    int rc = HL_EINVAL;

    if (cap > 0)
        out[0] = '\0';
    if (cap < plen + BASE64_ENCODED_SIZE(IDS_SECRET_BYTES))
        goto out;
    rc = hl_random_bytes(bytes, sizeof(bytes));
    if (rc < 0)
        goto out;
    memcpy(out, IDS_SECRET_PREFIX, plen);
    base64_encode(bytes, sizeof(bytes), out + plen);
    rc = 0;
out:
    gnutls_memset(bytes, 0, sizeof(bytes));
    return rc;
}

/* Also returns HL_EINVAL when 'cap' is too small for the key. */
int hl_apikey_new(char *out, size_t cap)
{
    return ids_new_base62(IDS_APIKEY_PREFIX, IDS_KEY_BYTES, IDS_KEY_CHARS, GNUTLS_RND_KEY, out, cap);
}

int hl_portal_token_new(char *out, size_t cap)
{
    return ids_new_base62(IDS_PORTAL_PREFIX, IDS_KEY_BYTES, IDS_KEY_CHARS, GNUTLS_RND_KEY, out, cap);
}

/* On the (practically impossible) failure of the hash, 'out' is the empty
 * string, which never equals a stored hash. */
void hl_apikey_hash(const char *key, char out[HL_KEYHASH_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[32];

    out[0] = '\0';
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), digest) < 0)
        return;
    for (size_t i = 0; i < sizeof(digest); i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[HL_KEYHASH_LEN] = '\0';
}

/* The time taken depends on the lengths only, never on where the strings
 * first differ. */
int hl_str_equal_ct(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t n = la > lb ? la : lb;
    volatile unsigned char diff = (unsigned char)(la != lb);

    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        unsigned char cb = i < lb ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(ca ^ cb);
    }
    return diff == 0;
}
