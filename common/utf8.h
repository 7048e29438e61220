/* utf8.h: recognising valid UTF-8, for text that came from outside
 * (endpoint responses, log messages) before it goes into JSON or
 * PostgreSQL, neither of which takes invalid sequences. */
#ifndef HL_UTF8_H
#define HL_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at 's', which has 'n' bytes
 * left (n >= 1); 0 if it is not one: a stray continuation byte, an
 * overlong form, a surrogate, above U+10FFFF, or cut short by 'n'. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

#endif
