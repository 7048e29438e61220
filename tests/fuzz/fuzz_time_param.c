/* fuzz_time_param.c: time_rfc3339_normalize on arbitrary timestamps (the
 * since/until of the delivery log's query and of recover's body).
 *
 * Checks the contract: nothing longer than TIME_PARAM_MAX is accepted; an
 * accepted value comes out in the one form
 * YYYY-MM-DDTHH:MM:SS[.fraction](+|-)HH:MM with fields in range, within the
 * buffer and NUL-terminated; that form is accepted again and comes out the
 * same; a buffer too small refuses rather than cuts.
 */
#include <ctype.h>
#include <stdbool.h>

#include "fuzz.h"
#include "time_param.h"

static int fuzz_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(isdigit((unsigned char)s[i]));
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* 'out' is in the normalized form, its fields in range. */
static void fuzz_check_form(const char *out)
{
    size_t len = strlen(out);
    FUZZ_CHECK(len >= 25 && len < TIME_PARAM_OUT);
    FUZZ_CHECK(out[4] == '-' && out[7] == '-' && out[10] == 'T' && out[13] == ':' && out[16] == ':');
    int mo = fuzz_num(out + 5, 2), d = fuzz_num(out + 8, 2), h = fuzz_num(out + 11, 2), mi = fuzz_num(out + 14, 2),
        sec = fuzz_num(out + 17, 2);
    FUZZ_CHECK(fuzz_num(out, 4) >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60);
    const char *p = out + 19;
    if (*p == '.') {
        size_t nfrac = strspn(p + 1, "0123456789");
        FUZZ_CHECK(nfrac >= 1 && nfrac <= 9);
        p += 1 + nfrac;
    }
    FUZZ_CHECK((p[0] == '+' || p[0] == '-') && p[3] == ':' && p[6] == '\0');
    FUZZ_CHECK(fuzz_num(p + 1, 2) <= 15 && fuzz_num(p + 4, 2) <= 59);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char out[TIME_PARAM_OUT + 8], again[TIME_PARAM_OUT];
    memset(out, 'x', sizeof(out));
    bool ok = time_rfc3339_normalize(s, out, TIME_PARAM_OUT);
    if (strlen(s) > TIME_PARAM_MAX)
        FUZZ_CHECK(!ok);
    if (ok) {
        /* nothing written past the buffer it was given */
        for (size_t i = TIME_PARAM_OUT; i < sizeof(out); i++)
            FUZZ_CHECK(out[i] == 'x');
        fuzz_check_form(out);
        FUZZ_CHECK(time_rfc3339_normalize(out, again, sizeof(again)) && strcmp(out, again) == 0);
        /* one byte short of what it needs: refused, never cut */
        char small[TIME_PARAM_OUT];
        FUZZ_CHECK(!time_rfc3339_normalize(s, small, strlen(out)));
    }
    free(s);
    return 0;
}
