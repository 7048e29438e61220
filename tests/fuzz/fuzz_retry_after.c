/* fuzz_retry_after.c: deliver_retry_after on arbitrary response header
 * lines (a receiver's answer is outside input).
 *
 * Input: one header line as libcurl hands it over. Checks the contract:
 * the wait is -1 or 0 to a day; only a Retry-After line gives one, its
 * name in any case; a value of plain delay-seconds gives that number
 * (clamped); and an HTTP date some seconds ahead, in the preferred and
 * the asctime format, gives those seconds. The line is read only up to
 * its length (an exact-size buffer, so ASan sees any read past it).
 */
#include <ctype.h>
#include <stdbool.h>
#include <time.h>

#include "deliver_outcome.h"
#include "fuzz.h"

#define FUZZ_NOW 1764064800     /* Tue, 25 Nov 2025 10:00:00 GMT */

static long fuzz_wait(const char *line, size_t len)
{
    /* an exact copy, so that reading past 'len' is caught */
    char *copy = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(copy != NULL);
    if (len > 0)
        memcpy(copy, line, len);
    long secs = deliver_retry_after(copy, len, FUZZ_NOW);
    free(copy);
    FUZZ_CHECK(secs == -1 || (secs >= 0 && secs <= DELIVER_RETRY_AFTER_MAX_S));
    return secs;
}

/* A value of OWS, 1 to 18 digits, OWS and an optional CR LF: *n is its number. */
static bool fuzz_delay_seconds(const char *v, size_t len, long *n)
{
    size_t i = 0, digits = 0;
    *n = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    while (i < len && isdigit((unsigned char)v[i]) && digits < 18) {
        *n = *n * 10 + (v[i++] - '0');
        digits++;
    }
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (i + 2 == len && v[i] == '\r' && v[i + 1] == '\n')
        i += 2;
    return digits > 0 && i == len;
}

static void fuzz_date(long ahead, const char *format)
{
    char line[128];
    struct tm tm;
    time_t when = FUZZ_NOW + ahead;
    gmtime_r(&when, &tm);
    size_t n = strftime(line, sizeof(line), format, &tm);
    FUZZ_CHECK(n > 0);
    long want = ahead > DELIVER_RETRY_AFTER_MAX_S ? DELIVER_RETRY_AFTER_MAX_S : ahead;
    FUZZ_CHECK(fuzz_wait(line, n) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    long secs = fuzz_wait(line, size);
    bool named = size > 12 && strncasecmp(line, "Retry-After:", 12) == 0;
    if (!named)
        FUZZ_CHECK(secs == -1);

    /* the header's name in any case */
    if (named) {
        char *flipped = fuzz_cstr(data, size);
        for (size_t i = 0; i < 11; i++)
            if (isalpha((unsigned char)flipped[i]))
                flipped[i] ^= 0x20;
        FUZZ_CHECK(fuzz_wait(flipped, size) == secs);
        free(flipped);
    }

    /* delay-seconds, as long as the value is within what is read */
    long n;
    if (named && size - 12 <= 127 && fuzz_delay_seconds(line + 12, size - 12, &n))
        FUZZ_CHECK(secs == (n > DELIVER_RETRY_AFTER_MAX_S ? DELIVER_RETRY_AFTER_MAX_S : n));

    /* an HTTP date this many seconds ahead */
    if (size >= 3) {
        long ahead = (long)(((unsigned long)data[0] << 16 | (unsigned long)data[1] << 8 | data[2]) % 200000);
        fuzz_date(ahead, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n");
        fuzz_date(ahead, "retry-after:%a %b %e %H:%M:%S %Y");
    }
    return 0;
}
