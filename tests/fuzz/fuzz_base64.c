/* fuzz_base64.c: base64_decode and base64_encode on arbitrary input
 * (webhook secrets given at create are decoded; signatures are encoded).
 *
 * Checks against the rule written out here (RFC 4648 section 4, canonical
 * form only: length a multiple of 4, '=' only as the last one or two
 * characters, the bits padding drops zero), that what decodes encodes
 * back to the same text, that a buffer one byte short is refused, and
 * that any bytes encode to text that decodes back to them.
 */
#include <stdbool.h>

#include "base64.h"
#include "fuzz.h"

static int fuzz_b64_value(uint8_t c)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *at = c ? strchr(alphabet, c) : NULL;
    return at ? (int)(at - alphabet) : -1;
}

static bool fuzz_canonical(const uint8_t *s, size_t n)
{
    if (n % 4 != 0)
        return false;
    size_t pad = n >= 1 && s[n - 1] == '=' ? (n >= 2 && s[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++)
        if (fuzz_b64_value(s[i]) < 0)
            return false;
    if (pad == 1)
        return (fuzz_b64_value(s[n - 2]) & 0x03) == 0;
    if (pad == 2)
        return (fuzz_b64_value(s[n - 3]) & 0x0f) == 0;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = size / 4 * 3 + 3;     /* room for what 'size' characters decode to */
    size_t room = cap > size ? cap : size;
    unsigned char *out = malloc(room);
    char *text = malloc(BASE64_ENCODED_SIZE(room));
    FUZZ_CHECK(out != NULL && text != NULL);

    /* decode */
    size_t n = 0;
    bool ok = fuzz_canonical(data, size);
    FUZZ_CHECK((base64_decode((const char *)data, size, out, cap, &n) == 0) == ok);
    if (ok) {
        FUZZ_CHECK(n <= size / 4 * 3 && n + 2 >= size / 4 * 3);
        FUZZ_CHECK(base64_encode(out, n, text) == size && memcmp(text, data, size) == 0);
        size_t m = 0;
        FUZZ_CHECK(base64_decode((const char *)data, size, out, n, &m) == 0 && m == n);
        if (n > 0)
            FUZZ_CHECK(base64_decode((const char *)data, size, out, n - 1, &m) < 0);
    }

    /* encode */
    size_t len = base64_encode(data, size, text);
    FUZZ_CHECK(len == BASE64_ENCODED_SIZE(size) - 1 && text[len] == '\0' && fuzz_canonical((uint8_t *)text, len));
    FUZZ_CHECK(base64_decode(text, len, out, size, &n) == 0 && n == size && memcmp(out, data, size) == 0);

    free(text);
    free(out);
    return 0;
}
