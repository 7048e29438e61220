/* time_param.c: RFC 3339 timestamps from clients (see time_param.h). */
#include "time_param.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Read exactly 'n' digits at *p into *out and advance *p. */
static bool time_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int time_month_days(int year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* See time_param.h. */
bool time_rfc3339_normalize(const char *s, char *out, size_t cap)
{
    const char *p = s;
    if (strlen(s) > TIME_PARAM_MAX)
        return false;
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    char sign = '+';
    if (!time_digits(&p, 4, &y) || *p++ != '-' || !time_digits(&p, 2, &mo) || *p++ != '-' ||
        !time_digits(&p, 2, &d))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if (!time_digits(&p, 2, &h) || *p++ != ':' || !time_digits(&p, 2, &mi) || *p++ != ':' ||
        !time_digits(&p, 2, &sec))
        return false;
    const char *frac = p;
    size_t nfrac = 0;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)p[nfrac]))
            nfrac++;
        if (nfrac == 0 || nfrac > 9)
            return false;
        p += nfrac;
        nfrac++; /* with the dot */
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-' || *p == ' ') {
        sign = *p == '-' ? '-' : '+';
        p++;
        if (!time_digits(&p, 2, &oh) || *p++ != ':' || !time_digits(&p, 2, &om))
            return false;
    } else {
        return false;
    }
    /* year 0 does not exist for PostgreSQL; offsets beyond 15 h it refuses
     * (real ones stay within 14 h); 60 s is a leap second */
    if (*p != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 || d > time_month_days(y, mo) || h > 23 ||
        mi > 59 || sec > 60 || oh > 15 || om > 59)
        return false;
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%.*s%c%02d:%02d", y, mo, d, h, mi, sec, (int)nfrac,
                     frac, sign, oh, om);
    return n > 0 && (size_t)n < cap;
}
