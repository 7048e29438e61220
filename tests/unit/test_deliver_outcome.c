/* test_deliver_outcome.c: the status and error text recorded for a
 * finished delivery (dispatcher/deliver_outcome.c).
 *
 * The facts of each case are what libcurl 7.88 reports for that situation
 * (checked with CURLOPT_RESOLVE giving a name an IPv6 and an IPv4 address
 * and an open-socket callback refusing one family): CURLINFO_PRIMARY_IP is
 * set once a TCP connection is made, even if TLS then fails, and stays ""
 * when no connection was made. An end-to-end test cannot build this case:
 * every address a test may reach locally (loopback) is itself forbidden.
 */
#include <string.h>

#include "check.h"
#include "deliver_outcome.h"

#define REFUSAL "refused to connect to "

static long outcome(CURLcode rc, long status, const char *curl_error, const char *refused_ip,
                    const char *primary_ip, char *error, size_t cap)
{
    struct deliver_facts f = { .rc = rc, .status = status, .curl_error = curl_error, .refused_ip = refused_ip,
                               .primary_ip = primary_ip };
    memset(error, 'x', cap);
    return deliver_outcome(&f, error, cap);
}

/* A name with a forbidden AAAA and an allowed A: the IPv6 socket is
 * refused, libcurl connects over IPv4, and that answer is the outcome. */
static void test_refused_then_connected(void)
{
    char error[256];
    CHECK_EQ_INT(outcome(CURLE_OK, 200, "", "fd00::1", "93.184.215.14", error, sizeof(error)), 200);
    CHECK_EQ_STR(error, "");
    CHECK_EQ_INT(outcome(CURLE_OK, 204, "", "::1", "93.184.215.14", error, sizeof(error)), 204);
    CHECK_EQ_STR(error, "");
    /* a failing answer over the allowed address fails as that answer */
    CHECK_EQ_INT(outcome(CURLE_OK, 503, "", "fd00::1", "93.184.215.14", error, sizeof(error)), 503);
    CHECK_EQ_STR(error, "HTTP 503");
    CHECK_EQ_INT(outcome(CURLE_OK, 301, "", "fd00::1", "93.184.215.14", error, sizeof(error)), 301);
    CHECK_EQ_STR(error, "HTTP 301");
    /* connected, then TLS failed: that failure, not the refusal */
    CHECK_EQ_INT(outcome(CURLE_SSL_CONNECT_ERROR, 0, "TLS handshake failed", "fd00::1", "93.184.215.14", error,
                         sizeof(error)), 0);
    CHECK_EQ_STR(error, "TLS handshake failed");
    CHECK_EQ_INT(outcome(CURLE_OPERATION_TIMEDOUT, 0, "", "fd00::1", "93.184.215.14", error, sizeof(error)), 0);
    CHECK_EQ_STR(error, curl_easy_strerror(CURLE_OPERATION_TIMEDOUT));
}

/* No connection anywhere: the refusal is the outcome, naming the address. */
static void test_refused_only(void)
{
    char error[256];
    /* every address forbidden */
    CHECK_EQ_INT(outcome(CURLE_COULDNT_CONNECT, 0, "Failed to connect", "169.254.169.254", "", error,
                         sizeof(error)), 0);
    CHECK(strncmp(error, REFUSAL "169.254.169.254: ", strlen(REFUSAL "169.254.169.254: ")) == 0);
    CHECK(strstr(error, "HOOKLINE_ALLOW_PRIVATE_TARGETS") != NULL);
    /* one forbidden, the allowed one did not accept the connection */
    CHECK_EQ_INT(outcome(CURLE_COULDNT_CONNECT, 0, "Connection refused", "fd00::1", NULL, error, sizeof(error)), 0);
    CHECK(strncmp(error, REFUSAL "fd00::1: ", strlen(REFUSAL "fd00::1: ")) == 0);
}

/* Without a refusal: libcurl's message, else its text for the code; a
 * 2xx is "", anything else "HTTP <status>". */
static void test_no_refusal(void)
{
    char error[256];
    CHECK_EQ_INT(outcome(CURLE_OK, 200, NULL, NULL, "93.184.215.14", error, sizeof(error)), 200);
    CHECK_EQ_STR(error, "");
    CHECK_EQ_INT(outcome(CURLE_OK, 299, "", "", "93.184.215.14", error, sizeof(error)), 299);
    CHECK_EQ_STR(error, "");
    CHECK_EQ_INT(outcome(CURLE_OK, 199, "", "", "93.184.215.14", error, sizeof(error)), 199);
    CHECK_EQ_STR(error, "HTTP 199");
    CHECK_EQ_INT(outcome(CURLE_OK, 410, "", "", "93.184.215.14", error, sizeof(error)), 410);
    CHECK_EQ_STR(error, "HTTP 410");
    CHECK_EQ_INT(outcome(CURLE_COULDNT_CONNECT, 0, "Failed to connect to x port 443", NULL, NULL, error,
                         sizeof(error)), 0);
    CHECK_EQ_STR(error, "Failed to connect to x port 443");
    CHECK_EQ_INT(outcome(CURLE_COULDNT_RESOLVE_HOST, 0, NULL, NULL, NULL, error, sizeof(error)), 0);
    CHECK_EQ_STR(error, curl_easy_strerror(CURLE_COULDNT_RESOLVE_HOST));
    /* a timeout after the status line keeps the status it read */
    CHECK_EQ_INT(outcome(CURLE_OPERATION_TIMEDOUT, 200, "Operation timed out", NULL, "93.184.215.14", error,
                         sizeof(error)), 200);
    CHECK_EQ_STR(error, "Operation timed out");
}

/* The text is cut to the buffer, always NUL-terminated. */
static void test_small_buffer(void)
{
    char error[12];
    outcome(CURLE_COULDNT_CONNECT, 0, "", "169.254.169.254", "", error, sizeof(error));
    CHECK_EQ_STR(error, "refused to ");
    outcome(CURLE_OK, 500, "", NULL, "93.184.215.14", error, 5);
    CHECK_EQ_STR(error, "HTTP");
}

static long retry_after(const char *line, time_t now)
{
    return deliver_retry_after(line, strlen(line), now);
}

/* Retry-After: seconds or an HTTP date, clamped to a day; anything else
 * asks for nothing. */
static void test_retry_after(void)
{
    const time_t now = 1764064800; /* Tue, 25 Nov 2025 10:00:00 GMT */
    CHECK_EQ_INT(retry_after("Retry-After: 120\r\n", now), 120);
    CHECK_EQ_INT(retry_after("retry-after:5", now), 5);
    CHECK_EQ_INT(retry_after("RETRY-AFTER: 0\r\n", now), 0);
    CHECK_EQ_INT(retry_after("Retry-After: 999999999\r\n", now), DELIVER_RETRY_AFTER_MAX_S);
    CHECK_EQ_INT(retry_after("Retry-After: 99999999999999999999999\r\n", now), DELIVER_RETRY_AFTER_MAX_S);
    CHECK_EQ_INT(retry_after("Retry-After: Tue, 25 Nov 2025 10:01:30 GMT\r\n", now), 90);
    CHECK_EQ_INT(retry_after("Retry-After: Wed, 26 Nov 2025 10:00:01 GMT\r\n", now), DELIVER_RETRY_AFTER_MAX_S);
    /* nothing to wait for */
    CHECK_EQ_INT(retry_after("Retry-After: Tue, 25 Nov 2025 09:59:59 GMT\r\n", now), -1);
    CHECK_EQ_INT(retry_after("Retry-After: -5\r\n", now), -1);
    CHECK_EQ_INT(retry_after("Retry-After: soon\r\n", now), -1);
    CHECK_EQ_INT(retry_after("Retry-After: \r\n", now), -1);
    CHECK_EQ_INT(retry_after("Retry-After:", now), -1);
    CHECK_EQ_INT(retry_after("Retry-Afte: 5\r\n", now), -1);
    CHECK_EQ_INT(retry_after("X-Retry-After: 5\r\n", now), -1);
    CHECK_EQ_INT(retry_after("HTTP/1.1 503 Service Unavailable\r\n", now), -1);
    /* the line is not NUL-terminated: only 'len' bytes are read */
    CHECK_EQ_INT(deliver_retry_after("Retry-After: 42", 14, now), 4);
}

int main(void)
{
    test_refused_then_connected();
    test_refused_only();
    test_no_refusal();
    test_small_buffer();
    test_retry_after();
    return check_exit();
}
