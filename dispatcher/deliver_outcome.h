/* deliver_outcome.h: what a finished delivery transfer reports.
 *
 * From what libcurl said about one transfer and what the destination check
 * refused on the way, the HTTP status and the error text recorded in the
 * attempt; and the wait a Retry-After response header asks for. Pure (no
 * libcurl handle, no state), so each is tested on its own
 * (tests/unit/test_deliver_outcome.c, tests/fuzz/fuzz_retry_after.c).
 */
#ifndef HL_DELIVER_OUTCOME_H
#define HL_DELIVER_OUTCOME_H

#include <curl/curl.h>
#include <stddef.h>
#include <time.h>

#define DELIVER_RETRY_AFTER_MAX_S 86400     /* a Retry-After is clamped to a day */

struct deliver_facts {
    CURLcode rc;                /* the transfer's result */
    long status;                /* CURLINFO_RESPONSE_CODE: 0 if no response */
    const char *curl_error;     /* CURLOPT_ERRORBUFFER; "" or NULL: curl_easy_strerror(rc) */
    const char *refused_ip;     /* first address the destination policy refused; "" or NULL: none */
    const char *primary_ip;     /* CURLINFO_PRIMARY_IP: the address connected to; "" or NULL: none */
};

/* Write the attempt's error into 'error' (at most 'cap' bytes with the
 * NUL; "" for a 2xx answer) and return the status to record (0 when no
 * answer counts). A refused address is the outcome only when the transfer
 * failed without connecting anywhere: a name with a forbidden and an
 * allowed address that answered over the allowed one is judged by that
 * answer, and a failure after connecting (TLS, timeout) reports itself. */
long deliver_outcome(const struct deliver_facts *f, char *error, size_t cap);

/* The wait the response header line 'line' asks for, if it is a
 * Retry-After header. 'line' is one header line as libcurl's header
 * callback gets it ('len' bytes, not NUL-terminated, usually ending in
 * CR LF); 'now' is the current Unix time, for the HTTP-date form. The
 * value (its first 127 bytes) is read as delay-seconds (leading digits,
 * as strtol() reads them) or else as an HTTP date. Returns the seconds,
 * clamped to DELIVER_RETRY_AFTER_MAX_S, or -1 when the line is another
 * header, or its value is negative, unparsable or a date in the past. */
long deliver_retry_after(const char *line, size_t len, time_t now);

#endif
