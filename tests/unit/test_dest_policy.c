/* test_dest_policy.c: which endpoint URLs and connected addresses are
 * allowed. Data-driven from tests/data/dest_policy/urls.txt (URL verdicts
 * under each policy), ips.txt (dest_policy_ip_forbidden) and ranges.txt
 * (every row of the table of special-purpose ranges: addresses inside it,
 * at delivery and at create, and just outside it), plus the error texts
 * and limits that a case file cannot express. */
#include <ctype.h>
#include <stdlib.h>
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
        { { false, false }, "https://10.0.0.1/", PREFIX "The address is not a public one (10.0.0.0/8: private use (RFC 1918))." },
        { { false, false }, "https://[2002:a9fe:a9fe::1]/",
          PREFIX "The address is not a public one (2002::/16: 6to4 (RFC 3056), reaching 169.254.169.254, in "
                 "169.254.0.0/16: link local (RFC 3927); cloud metadata at 169.254.169.254)." },
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

/* The row of the table whose prefix is 'prefix', or NULL. */
static const struct dest_range *row_named(const char *prefix)
{
    for (size_t i = 0; dest_policy_range(i) != NULL; i++)
        if (strcmp(dest_policy_range(i)->prefix, prefix) == 0)
            return dest_policy_range(i);
    return NULL;
}

/* One address of ranges.txt: at delivery (dest_policy_ip_explain) and at
 * create (the URL with it as a literal host) it is refused (naming 'row'
 * first, unless 'row' is NULL), or allowed. */
static void check_range_address(const char *row, const char *addr, bool want_forbidden, int lineno)
{
    char why[256] = "", url[128], prefix[80];
    bool got = dest_policy_ip_explain(addr, why, sizeof(why));
    if (got != want_forbidden)
        fprintf(stderr, "ranges.txt:%d: %s: expected %s, got %s (%s)\n", lineno, addr,
                want_forbidden ? "refused" : "allowed", got ? "refused" : "allowed", why);
    CHECK_EQ_INT(got, want_forbidden);
    CHECK_EQ_INT(dest_policy_ip_forbidden(addr), want_forbidden);
    snprintf(prefix, sizeof(prefix), "%s: ", row ? row : "");
    if (row && want_forbidden && strncmp(why, prefix, strlen(prefix)) != 0)
        fprintf(stderr, "ranges.txt:%d: %s: decided by \"%s\", not by %s\n", lineno, addr, why, row);
    if (row && want_forbidden)
        CHECK(strncmp(why, prefix, strlen(prefix)) == 0);

    /* create time: the same verdict for the URL, with the same reason */
    snprintf(url, sizeof(url), strchr(addr, ':') ? "https://[%s]/hook" : "https://%s/hook", addr);
    struct dest_policy strict = { false, false }, lax = { false, true };
    struct hl_error err = { 0 };
    int rc = dest_policy_check_url(&strict, url, &err);
    CHECK_EQ_INT(rc, want_forbidden ? HL_EINVAL : 0);
    if (want_forbidden) {
        char want[sizeof(PREFIX) + 64 + sizeof(why)];
        snprintf(want, sizeof(want), PREFIX "The address is not a public one (%s).", why);
        CHECK_EQ_STR(err.msg, want);
    }
    CHECK_EQ_INT(dest_policy_check_url(&lax, url, NULL), 0);
}

/* Every row of the table has a line in ranges.txt, and every address there
 * gets the row's verdict. */
static void test_range_rows(void)
{
    FILE *f = fopen(HL_TEST_DATA "/dest_policy/ranges.txt", "r");
    CHECK_FATAL(f != NULL);
    size_t nrows = 0;
    while (dest_policy_range(nrows) != NULL)
        nrows++;
    CHECK(nrows >= 30);
    bool *seen = calloc(nrows, sizeof(*seen));
    CHECK_FATAL(seen != NULL);
    char line[1024];
    int lineno = 0, addresses = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *save = NULL, *tok = strtok_r(s, " \t", &save);
        const struct dest_range *r = row_named(tok);
        if (r == NULL)
            fprintf(stderr, "ranges.txt:%d: no row %s in the table\n", lineno, tok);
        CHECK_FATAL(r != NULL);
        seen[r - dest_policy_range(0)] = true;
        CHECK(r->reason != NULL && r->reason[0] != '\0');
        bool allow_row = r->verdict == DEST_ALLOW, inside = true;
        int n_in = 0;
        tok = strtok_r(NULL, " \t", &save);
        CHECK_FATAL(tok != NULL && strcmp(tok, "in") == 0);
        while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
            if (strcmp(tok, "out") == 0) {
                inside = false;
                continue;
            }
            /* inside: refused by this row (allowed for the allowing row); outside: the opposite */
            check_range_address(inside && !allow_row ? r->prefix : NULL, tok, inside != allow_row, lineno);
            n_in += inside;
            addresses++;
        }
        CHECK(n_in >= 1);
    }
    fclose(f);
    for (size_t i = 0; i < nrows; i++) {
        if (!seen[i])
            fprintf(stderr, "ranges.txt: row %s has no line\n", dest_policy_range(i)->prefix);
        CHECK(seen[i]);
    }
    fprintf(stderr, "ranges.txt: %zu rows, %d addresses\n", nrows, addresses);
    free(seen);
}

int main(void)
{
    test_url_cases();
    test_ip_cases();
    test_range_rows();
    test_error_texts();
    test_length_limit();
    test_null_arguments();
    test_first_error_wins();
    return check_exit();
}
