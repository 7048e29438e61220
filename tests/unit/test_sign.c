/* test_sign.c: Standard Webhooks signing: the published test vector,
 * multi-secret headers during rotation, and verification (match,
 * mismatch, tampered content, bad secrets, malformed headers). */
#include <string.h>

#include "check.h"
#include "ids.h"
#include "sign.h"

/* The test vector published with the Standard Webhooks specification. */
#define SV_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SV_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SV_TS 1614265330
#define SV_BODY "{\"test\": 2432232314}"
#define SV_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* sign_v1 reproduces the Standard Webhooks test vector exactly. */
static void test_sign_v1_standard_vector(void)
{
    char sig[SIGN_V1_MAX];
    CHECK_EQ_INT(sign_v1(SV_SECRET, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), sig, sizeof(sig)), 0);
    CHECK_EQ_STR(sig, SV_SIG);
}

/* Only the first body_len bytes are signed: the body need not be a
 * NUL-terminated string, and bytes after it do not count. */
static void test_sign_v1_uses_body_len(void)
{
    char sig[SIGN_V1_MAX];
    const char padded[] = SV_BODY "TRAILING";
    CHECK_EQ_INT(sign_v1(SV_SECRET, SV_ID, SV_TS, padded, strlen(SV_BODY), sig, sizeof(sig)), 0);
    CHECK_EQ_STR(sig, SV_SIG);
}

/* Every input takes part: changing the id, timestamp, body or key changes
 * the signature. */
static void test_sign_v1_depends_on_every_input(void)
{
    char sig[SIGN_V1_MAX];
    CHECK_EQ_INT(sign_v1(SV_SECRET, "msg_other", SV_TS, SV_BODY, strlen(SV_BODY), sig, sizeof(sig)), 0);
    CHECK(strcmp(sig, SV_SIG) != 0);
    CHECK_EQ_INT(sign_v1(SV_SECRET, SV_ID, SV_TS + 1, SV_BODY, strlen(SV_BODY), sig, sizeof(sig)), 0);
    CHECK(strcmp(sig, SV_SIG) != 0);
    CHECK_EQ_INT(sign_v1(SV_SECRET, SV_ID, SV_TS, "{\"test\": 2432232315}", strlen(SV_BODY), sig, sizeof(sig)), 0);
    CHECK(strcmp(sig, SV_SIG) != 0);
    CHECK_EQ_INT(sign_v1("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), sig,
                         sizeof(sig)), 0);
    CHECK(strcmp(sig, SV_SIG) != 0);
}

/* An empty body is signed (as "<id>.<ts>."), and a NULL body of length 0
 * gives the same signature. */
static void test_sign_v1_empty_body(void)
{
    char a[SIGN_V1_MAX], b[SIGN_V1_MAX];
    CHECK_EQ_INT(sign_v1(SV_SECRET, SV_ID, SV_TS, "", 0, a, sizeof(a)), 0);
    CHECK_EQ_INT(sign_v1(SV_SECRET, SV_ID, SV_TS, NULL, 0, b, sizeof(b)), 0);
    CHECK_EQ_STR(a, b);
    CHECK(strncmp(a, "v1,", 3) == 0);
    CHECK_EQ_INT(strlen(a), 3 + 44);
}

/* Secrets that are not "whsec_<base64>" are HL_EINVAL and leave "". */
static void test_sign_v1_rejects_bad_secret(void)
{
    static const char *const bad[] = {
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",          /* no prefix */
        "whsec_",                                     /* no key */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",      /* bad length */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w",     /* bad character */
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",     /* prefix is case-sensitive */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char sig[SIGN_V1_MAX] = "unchanged";
        CHECK_EQ_INT(sign_v1(bad[i], SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), sig, sizeof(sig)), HL_EINVAL);
        CHECK_EQ_STR(sig, "");
    }
    char sig[SIGN_V1_MAX];
    CHECK_EQ_INT(sign_v1(NULL, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), sig, sizeof(sig)), HL_EINVAL);
}

/* An output buffer under SIGN_V1_MAX is refused. */
static void test_sign_v1_small_buffer(void)
{
    char sig[SIGN_V1_MAX];
    CHECK_EQ_INT(sign_v1(SV_SECRET, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), sig, 40), HL_EINVAL);
}

/* A two-secret header is the current signature, a space, then the old
 * one, and each secret verifies against it. */
static void test_sign_header_two_secrets(void)
{
    char old_secret[HL_SECRET_MAX];
    CHECK_FATAL(hl_secret_new(old_secret, sizeof(old_secret)) == 0);
    const char *secrets[2] = { SV_SECRET, old_secret };
    char header[2 * SIGN_V1_MAX], old_sig[SIGN_V1_MAX];
    CHECK_EQ_INT(sign_header(secrets, 2, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header, sizeof(header)), 0);
    CHECK_EQ_INT(sign_v1(old_secret, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), old_sig, sizeof(old_sig)), 0);
    char expect[2 * SIGN_V1_MAX];
    snprintf(expect, sizeof(expect), "%s %s", SV_SIG, old_sig);
    CHECK_EQ_STR(header, expect);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header), 1);
    CHECK_EQ_INT(sign_verify(old_secret, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header), 1);

    /* one secret: just its signature */
    CHECK_EQ_INT(sign_header(secrets, 1, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header, sizeof(header)), 0);
    CHECK_EQ_STR(header, SV_SIG);
}

/* sign_header fails cleanly: a buffer that fits one signature but not
 * two, a bad secret anywhere in the list, and an empty list. */
static void test_sign_header_errors(void)
{
    const char *secrets[2] = { SV_SECRET, SV_SECRET };
    char header[2 * SIGN_V1_MAX];
    size_t one = strlen(SV_SIG) + 1;
    CHECK_EQ_INT(sign_header(secrets, 2, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header, 2 * one - 1), HL_EINVAL);
    CHECK_EQ_STR(header, "");
    CHECK_EQ_INT(sign_header(secrets, 2, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header, 2 * one), 0);
    CHECK_EQ_INT(strlen(header), 2 * one - 1);

    const char *with_bad[2] = { SV_SECRET, "not-a-secret" };
    CHECK_EQ_INT(sign_header(with_bad, 2, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header, sizeof(header)), HL_EINVAL);
    CHECK_EQ_STR(header, "");
    CHECK_EQ_INT(sign_header(secrets, 0, SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), header, sizeof(header)), HL_EINVAL);
}

/* sign_verify: the published header verifies; wrong secret, tampered
 * body, id or timestamp, and a truncated or altered signature do not. */
static void test_sign_verify_match_and_mismatch(void)
{
    size_t len = strlen(SV_BODY);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, SV_SIG), 1);

    char other[HL_SECRET_MAX];
    CHECK_FATAL(hl_secret_new(other, sizeof(other)) == 0);
    CHECK_EQ_INT(sign_verify(other, SV_ID, SV_TS, SV_BODY, len, SV_SIG), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, "{\"test\": 2432232315}", len, SV_SIG), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len - 1, SV_SIG), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJeK", SV_TS, SV_BODY, len, SV_SIG), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS - 1, SV_BODY, len, SV_SIG), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF="), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), 0);
}

/* The matching entry may be anywhere in a space-separated header, among
 * other versions and extra spaces; an empty or NULL header matches
 * nothing. */
static void test_sign_verify_header_lists(void)
{
    size_t len = strlen(SV_BODY);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, "v1,AAAA " SV_SIG), 1);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, "v1a,xyz  " SV_SIG "  "), 1);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, "v1,AAAA v1,BBBB"), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, ""), 0);
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, NULL), 0);
    /* a signature glued to another entry is not an entry */
    CHECK_EQ_INT(sign_verify(SV_SECRET, SV_ID, SV_TS, SV_BODY, len, "x" SV_SIG), 0);
}

/* A bad secret is an error, not a mismatch. */
static void test_sign_verify_bad_secret(void)
{
    CHECK_EQ_INT(sign_verify("secret", SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), SV_SIG), HL_EINVAL);
    CHECK_EQ_INT(sign_verify("whsec_***", SV_ID, SV_TS, SV_BODY, strlen(SV_BODY), SV_SIG), HL_EINVAL);
}

int main(void)
{
    test_sign_v1_standard_vector();
    test_sign_v1_uses_body_len();
    test_sign_v1_depends_on_every_input();
    test_sign_v1_empty_body();
    test_sign_v1_rejects_bad_secret();
    test_sign_v1_small_buffer();
    test_sign_header_two_secrets();
    test_sign_header_errors();
    test_sign_verify_match_and_mismatch();
    test_sign_verify_header_lists();
    test_sign_verify_bad_secret();
    return check_exit();
}
