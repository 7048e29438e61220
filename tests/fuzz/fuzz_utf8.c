/* fuzz_utf8.c: utf8_seq_len on arbitrary bytes (endpoint responses and
 * peers' text go through it before JSON or PostgreSQL see them).
 *
 * Checks it at every offset against a decoder written out here (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF, no sequence
 * cut short by the end), never reading past the end, and that the walk
 * over the whole input calls it valid exactly when jansson does.
 */
#include <jansson.h>
#include <stdbool.h>

#include "fuzz.h"
#include "utf8.h"

static size_t fuzz_seq_len(const uint8_t *s, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, cp = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, cp = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool valid = true;
    for (size_t i = 0; i < size; i++)
        FUZZ_CHECK(utf8_seq_len(data + i, size - i) == fuzz_seq_len(data + i, size - i));
    for (size_t i = 0; i < size;) {
        size_t len = utf8_seq_len(data + i, size - i);
        if (len == 0) {
            valid = false;
            break;
        }
        i += len;
    }
    json_t *str = json_stringn((const char *)data, size);
    FUZZ_CHECK((str != NULL) == valid);
    json_decref(str);
    return 0;
}
