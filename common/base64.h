/* base64.h: standard base64 (RFC 4648, '+/' alphabet, '=' padding). */
#ifndef HL_BASE64_H
#define HL_BASE64_H

#include <stddef.h>

/* Bytes needed to encode 'n' bytes, including the NUL. */
#define BASE64_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)

/* Encode 'n' bytes of 'in' into 'out' (BASE64_ENCODED_SIZE(n) bytes),
 * NUL-terminated. Returns the length without the NUL. */
size_t base64_encode(const unsigned char *in, size_t n, char *out);

/* Decode 'len' chars of 'in' (padding required) into 'out' (at most
 * 'cap' bytes); sets *outlen. Returns 0, or -1 on a bad character,
 * bad length or an 'out' too small. */
int base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen);

#endif
