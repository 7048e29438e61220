/* fuzz.h: what every fuzz target shares.
 *
 * A target is one LLVMFuzzerTestOneInput(); a broken contract stops it
 * with FUZZ_CHECK, which names the property before it aborts, so a
 * libFuzzer crash report (or a replay test's failure) says what went wrong.
 */
#ifndef HL_FUZZ_H
#define HL_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* A NUL-terminated copy of the input (an embedded NUL ends the string
 * early, as it would for any C caller); the caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
