/* test_dest_policy.c: which endpoint URLs and connected addresses are
 * allowed. Data-driven from tests/data/dest_policy/urls.txt (URL verdicts
 * under each policy) and ips.txt (dest_policy_ip_forbidden), plus the
 * error texts and limits that a case file cannot express. */
#include <ctype.h>
#include <string.h>

#include "check.h"
#include "dest_policy.h"

#define PREFIX "A valid \"url\" must be specified. "

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Cut a trailing " # comment" (whitespace then "# ") off 'line'. */
static void cut_comment(char *line)
{
    for (char *p = line; (p = strstr(p, "# ")) != NULL; p++) {
        if (p > line && isspace((unsigned char)p[-1])) {
            *p = '\0';
            return;
        }
    }
}

/* Every case in urls.txt gets its verdict; a rejection is HL_EINVAL with
 * a reason that starts with the API's sentence; an acceptance leaves no
 * error behind. */
static void test_url_cases(void)
{
    FILE *f = fopen(HL_TEST_DATA "/dest_policy/urls.txt", "r");
    CHECK_FATAL(f != NULL);
    char line[4096];
    int lineno = 0, cases = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        cut_comment(s);
        char verdict[16], flags[64];
        int used = 0;
        CHECK_FATAL(sscanf(s, "%15s %63s %n", verdict, flags, &used) == 2);
        char *url = trim(s + used);
        struct dest_policy policy = {
            .allow_http = strstr(flags, "allow_http") != NULL,
            .allow_private = strstr(flags, "allow_private") != NULL,
        };
        CHECK_FATAL(strcmp(verdict, "ok") == 0 || strcmp(verdict, "reject") == 0);
        struct hl_error err = { 0 };
        int rc = dest_policy_check_url(&policy, url, &err);
        bool want_ok = strcmp(verdict, "ok") == 0;
        if ((rc == 0) != want_ok)
            fprintf(stderr, "urls.txt:%d: expected %s for \"%s\" [%s], got rc %d (%s)\n", lineno, verdict, url,
                    flags, rc, err.msg);
        CHECK_EQ_INT(rc, want_ok ? 0 : HL_EINVAL);
        if (want_ok) {
            CHECK_EQ_INT(err.code, 0);
        } else {
            CHECK_EQ_INT(err.code, HL_EINVAL);
            CHECK(strncmp(err.msg, PREFIX, strlen(PREFIX)) == 0 && strlen(err.msg) > strlen(PREFIX));
        }
        cases++;
    }
    fclose(f);
    fprintf(stderr, "urls.txt: %d cases\n", cases);
    CHECK(cases >= 50);
}

/* Every address in ips.txt is classified as listed. */
static void test_ip_cases(void)
{
    FILE *f = fopen(HL_TEST_DATA "/dest_policy/ips.txt", "r");
    CHECK_FATAL(f != NULL);
    char line[512];
    int lineno = 0, cases = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char verdict[16];
        int used = 0;
        CHECK_FATAL(sscanf(s, "%15s %n", verdict, &used) == 1);
        CHECK_FATAL(strcmp(verdict, "forbidden") == 0 || strcmp(verdict, "allowed") == 0);
        char *ip = trim(s + used);
        if (strcmp(ip, "<empty>") == 0)
            ip = "";
        bool want = strcmp(verdict, "forbidden") == 0;
        bool got = dest_policy_ip_forbidden(ip);
        if (got != want)
            fprintf(stderr, "ips.txt:%d: expected %s for \"%s\"\n", lineno, verdict, ip);
        CHECK_EQ_INT(got, want);
        cases++;
    }
    fclose(f);
    fprintf(stderr, "ips.txt: %d cases\n", cases);
    CHECK(cases >= 40);
    CHECK(dest_policy_ip_forbidden(NULL));
}

/* The reason names the actual problem, after the fixed first sentence. */
static void test_error_texts(void)
{
    static const struct {
        struct dest_policy policy;
        const char *url;
        const char *reason;
    } cases[] = {
        { { false, false }, "http://example.com/", PREFIX "Only https:// URLs are accepted." },
        { { true, false }, "ftp://example.com/", PREFIX "Only http:// and https:// URLs are accepted." },
        { { false, false }, "https://u:p@example.com/", PREFIX "Credentials in the URL are not accepted." },
        { { false, false }, "https://example.com/#x", PREFIX "The URL must not have a fragment (#...)." },
        { { false, false }, "https://10.0.0.1/", PREFIX "Loopback, private, link-local and other non-public addresses are not accepted." },
        { { false, false }, "https://metadata.google.internal/", PREFIX "Local and cloud metadata host names are not accepted." },
        { { false, false }, "https://exa mple.com/", PREFIX "The URL could not be parsed." },
        { { false, false }, "", PREFIX "The URL is empty." },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hl_error err = { 0 };
        CHECK_EQ_INT(dest_policy_check_url(&cases[i].policy, cases[i].url, &err), HL_EINVAL);
        CHECK_EQ_STR(err.msg, cases[i].reason);
    }
}

/* A URL of exactly DEST_URL_MAX characters is accepted; one more is
 * refused with a reason naming the limit. */
static void test_length_limit(void)
{
    static char url[DEST_URL_MAX + 2];
    const char *head = "https://example.com/";
    memset(url, 'a', sizeof(url) - 1);
    memcpy(url, head, strlen(head));
    url[DEST_URL_MAX] = '\0';
    struct dest_policy policy = { false, false };
    struct hl_error err = { 0 };
    CHECK_EQ_INT(dest_policy_check_url(&policy, url, &err), 0);
    url[DEST_URL_MAX] = 'a';
    url[DEST_URL_MAX + 1] = '\0';
    CHECK_EQ_INT(dest_policy_check_url(&policy, url, &err), HL_EINVAL);
    CHECK_EQ_STR(err.msg, PREFIX "The URL is longer than 2048 characters.");
}

/* NULL arguments: a NULL URL is refused; a NULL policy is the strictest
 * one; a NULL error pointer is allowed. */
static void test_null_arguments(void)
{
    struct hl_error err = { 0 };
    CHECK_EQ_INT(dest_policy_check_url(NULL, NULL, &err), HL_EINVAL);
    CHECK_EQ_INT(dest_policy_check_url(NULL, "https://example.com/", NULL), 0);
    CHECK_EQ_INT(dest_policy_check_url(NULL, "http://example.com/", NULL), HL_EINVAL);
    CHECK_EQ_INT(dest_policy_check_url(NULL, "https://127.0.0.1/", NULL), HL_EINVAL);
}

/* An error already recorded is kept (first error wins). */
static void test_first_error_wins(void)
{
    struct hl_error err = { 0 };
    hl_error_set(&err, HL_EINVAL, "earlier");
    struct dest_policy policy = { false, false };
    CHECK_EQ_INT(dest_policy_check_url(&policy, "http://x/", &err), HL_EINVAL);
    CHECK_EQ_STR(err.msg, "earlier");
}

int main(void)
{
    test_url_cases();
    test_ip_cases();
    test_error_texts();
    test_length_limit();
    test_null_arguments();
    test_first_error_wins();
    return check_exit();
}
