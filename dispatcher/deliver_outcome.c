/* deliver_outcome.c: the status and error text of a finished transfer. */
#include "deliver_outcome.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool deliver_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

long deliver_outcome(const struct deliver_facts *f, char *error, size_t cap)
{
    long status = f->status;
    /* a refused address is one of the name's; only when no other one was
     * connected to did it decide the transfer */
    if (f->rc != CURLE_OK && deliver_set(f->refused_ip) && !deliver_set(f->primary_ip)) {
        status = 0;
        snprintf(error, cap,
                 "refused to connect to %s: a private, loopback or metadata address (HOOKLINE_ALLOW_PRIVATE_TARGETS)",
                 f->refused_ip);
    } else if (f->rc != CURLE_OK) {
        snprintf(error, cap, "%s", deliver_set(f->curl_error) ? f->curl_error : curl_easy_strerror(f->rc));
    } else if (status < 200 || status > 299) {
        snprintf(error, cap, "HTTP %ld", status);
    } else if (cap > 0) {
        error[0] = '\0';
    }
    return status;
}

long deliver_retry_after(const char *line, size_t len, time_t now)
{
    if (len <= 12 || strncasecmp(line, "Retry-After:", 12) != 0)
        return -1;
    char value[128];
    size_t vlen = len - 12 < sizeof(value) - 1 ? len - 12 : sizeof(value) - 1;
    memcpy(value, line + 12, vlen);
    value[vlen] = '\0';
    char *end;
    long secs = strtol(value, &end, 10);
    if (end == value) {
        time_t when = curl_getdate(value, NULL);
        secs = when > 0 ? (long)(when - now) : -1;
    }
    if (secs < 0)
        return -1;
    return secs > DELIVER_RETRY_AFTER_MAX_S ? DELIVER_RETRY_AFTER_MAX_S : secs;
}
