/* deliver_outcome.c: the status and error text of a finished transfer. */
#include "deliver_outcome.h"

#include <stdbool.h>
#include <stdio.h>

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
