/* base64.c: standard base64 (RFC 4648 section 4), strict decoding.
 *
 * Used for webhook secrets and signatures. The decoder accepts only the
 * canonical form: length a multiple of 4, '=' padding at the end only,
 * and no characters outside the alphabet (no whitespace).
 */
#include "base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one alphabet character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

int base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int last = (i + 4 == len);
        int pad = 0;
        if (last && s[i + 3] == '=') {
            pad = 1;
            if (s[i + 2] == '=')
                pad = 2;
        }
        int v[4];
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = b64_value(s[i + k]);
            if (v[k] < 0)
                return -1;
        }
        for (int k = 4 - pad; k < 4; k++)
            v[k] = 0;
        /* canonical form only: the bits that padding drops must be zero */
        if ((pad == 1 && (v[2] & 0x03) != 0) || (pad == 2 && (v[1] & 0x0f) != 0))
            return -1;
        if (o + (size_t)(3 - pad) > cap)
            return -1;
        unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
                          ((unsigned long)v[2] << 6) | (unsigned long)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    *outlen = o;
    return 0;
}
