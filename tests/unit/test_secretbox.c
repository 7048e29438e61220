/* test_secretbox.c: AES-256-GCM sealing under a key ring: the key spec
 * (good and bad, reasons without key material), round trips, the text
 * format, wrong key, every tampered byte, another place's associated
 * data, an unknown key id, older keys that still open, and one ring used
 * by several threads at once. */
#include <pthread.h>
#include <string.h>

#include "base64.h"
#include "check.h"
#include "secretbox.h"

/* 32 bytes each, base64 */
#define KEY_A "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define KEY_B "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
#define AAD "hookline webhook v1\x1f" "acme\x1fwh_1\x1fsecret"

static struct secretbox *ring(const char *spec)
{
    struct hl_error err = { 0 };
    struct secretbox *sb = secretbox_new(spec, &err);
    if (sb == NULL)
        fprintf(stderr, "secretbox_new(%s): %s\n", spec, err.msg);
    CHECK_FATAL(sb != NULL);
    return sb;
}

static char *seal(const struct secretbox *sb, const char *plain, const char *aad)
{
    struct hl_error err = { 0 };
    char *text = secretbox_seal(sb, plain, strlen(plain), aad, strlen(aad), &err);
    CHECK_FATAL(text != NULL);
    return text;
}

/* NULL and the reason in *err when 'text' does not open. */
static char *open_text(const struct secretbox *sb, const char *text, const char *aad, struct hl_error *err)
{
    hl_error_clear(err);
    return secretbox_open(sb, text, aad, strlen(aad), NULL, err);
}

/* A valid spec, alone or with older keys and blanks, makes a ring whose
 * first key seals. */
static void test_spec_valid(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    CHECK_EQ_STR(secretbox_key_id(sb), "k1");
    secretbox_free(sb);
    sb = ring(" 2026-11.b_x:" KEY_B " , k1:" KEY_A " ");
    CHECK_EQ_STR(secretbox_key_id(sb), "2026-11.b_x");
    secretbox_free(sb);
}

/* Every malformed spec is refused with a reason that names the entry and
 * never shows key material. */
static void test_spec_invalid(void)
{
    static const char *const bad[][2] = {
        { "", "no key" },
        { KEY_A, "key 1" },                                       /* no id */
        { ":" KEY_A, "key 1" },                                   /* empty id */
        { "k1:", "key 1" },                                       /* no key */
        { "k1:" KEY_A ",", "key 2" },                             /* empty entry */
        { "k 1:" KEY_A, "key 1" },                                /* bad id character */
        { "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ==", "\"k1\"" },          /* 31 bytes */
        { "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWZ4", "\"k1\"" },          /* 33 bytes */
        { "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", "\"k1\"" },           /* no padding */
        { "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk*WY=", "\"k1\"" },          /* not base64 */
        { "k1:" KEY_A ",k1:" KEY_B, "given twice" },
        { "k123456789012345678901234567890123:" KEY_A, "key 1" },                 /* id of 33 */
        { "a:" KEY_A ",b:" KEY_A ",c:" KEY_A ",d:" KEY_A ",e:" KEY_A ",f:" KEY_A ",g:" KEY_A ",h:" KEY_A
          ",i:" KEY_A, "more than 8" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hl_error err = { 0 };
        struct secretbox *sb = secretbox_new(bad[i][0], &err);
        CHECK(sb == NULL);
        CHECK_EQ_INT(err.code, HL_EINVAL);
        if (strstr(err.msg, bad[i][1]) == NULL)
            fprintf(stderr, "spec %zu: \"%s\" lacks \"%s\"\n", i, err.msg, bad[i][1]);
        CHECK(strstr(err.msg, bad[i][1]) != NULL);
        CHECK(strstr(err.msg, "MDEy") == NULL && strstr(err.msg, "ZmVk") == NULL);
        secretbox_free(sb);
    }
    struct hl_error err = { 0 };
    CHECK(secretbox_new(NULL, &err) == NULL);
}

/* Sealed text is "hlenc:v1:<id>:<base64 of 12 + n + 16 bytes>", opens to
 * the same bytes, and never repeats for the same value (random nonce). */
static void test_round_trip(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    const char *values[] = { "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", "Bearer t0k\xc3\xa9n", "hlenc:v1:k1:AAAA" };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char *a = seal(sb, values[i], AAD), *b = seal(sb, values[i], AAD);
        CHECK(strncmp(a, "hlenc:v1:k1:", 12) == 0);
        CHECK(strcmp(a, b) != 0);
        unsigned char raw[256];
        size_t n = 0;
        CHECK_EQ_INT(base64_decode(a + 12, strlen(a + 12), raw, sizeof(raw), &n), 0);
        CHECK_EQ_INT(n, 12 + strlen(values[i]) + 16);
        CHECK(secretbox_is_sealed(a) && secretbox_is_current(sb, a));
        struct hl_error err = { 0 };
        size_t len = 99;
        char *plain = secretbox_open(sb, a, AAD, strlen(AAD), &len, &err);
        CHECK_EQ_STR(plain, values[i]);
        CHECK_EQ_INT(len, strlen(values[i]));
        free(plain);
        plain = open_text(sb, b, AAD, &err);
        CHECK_EQ_STR(plain, values[i]);
        free(plain);
        free(a);
        free(b);
    }
    CHECK(!secretbox_is_sealed("whsec_abc") && !secretbox_is_sealed(NULL) && secretbox_is_sealed("hlenc:x"));
    secretbox_free(sb);
}

/* The longest value seals and opens; one byte more is refused. */
static void test_length_bound(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    char *big = malloc(SECRETBOX_PLAIN_MAX + 2);
    CHECK_FATAL(big != NULL);
    memset(big, 'x', SECRETBOX_PLAIN_MAX + 1);
    big[SECRETBOX_PLAIN_MAX] = '\0';
    char *text = seal(sb, big, AAD);
    struct hl_error err = { 0 };
    char *plain = open_text(sb, text, AAD, &err);
    CHECK(plain != NULL && strcmp(plain, big) == 0);
    free(plain);
    free(text);
    big[SECRETBOX_PLAIN_MAX] = 'x';
    big[SECRETBOX_PLAIN_MAX + 1] = '\0';
    hl_error_clear(&err);
    CHECK(secretbox_seal(sb, big, strlen(big), AAD, strlen(AAD), &err) == NULL);
    CHECK_EQ_INT(err.code, HL_EINVAL);
    free(big);
    secretbox_free(sb);
}

/* Another key under the same id does not open it. */
static void test_wrong_key(void)
{
    struct secretbox *a = ring("k1:" KEY_A), *b = ring("k1:" KEY_B);
    char *text = seal(a, "whsec_secret", AAD);
    struct hl_error err = { 0 };
    CHECK(open_text(b, text, AAD, &err) == NULL);
    CHECK_EQ_INT(err.code, HL_ESECRET);
    CHECK(strstr(err.msg, "\"k1\"") != NULL);
    CHECK(strstr(err.msg, "whsec_") == NULL);
    free(text);
    secretbox_free(a);
    secretbox_free(b);
}

/* Changing any one byte of the nonce, ciphertext or tag, or of the text
 * before them, makes it fail; so does cutting it short. */
static void test_tampered(void)
{
    struct secretbox *sb = ring("k1:" KEY_A ",k2:" KEY_A);
    char *text = seal(sb, "whsec_secret-value", AAD);
    unsigned char raw[128];
    size_t n = 0;
    CHECK_FATAL(base64_decode(text + 12, strlen(text + 12), raw, sizeof(raw), &n) == 0);
    int opened = 0;
    for (size_t i = 0; i < n; i++) {
        char forged[256];
        raw[i] ^= 0x01;
        memcpy(forged, text, 12);
        base64_encode(raw, n, forged + 12);
        raw[i] ^= 0x01;
        struct hl_error err = { 0 };
        char *plain = open_text(sb, forged, AAD, &err);
        opened += plain != NULL;
        CHECK_EQ_INT(err.code, HL_ESECRET);
        free(plain);
    }
    CHECK_EQ_INT(opened, 0);
    struct hl_error err = { 0 };
    /* the same key under another id: the id is authenticated too */
    char *other = strdup(text);
    other[10] = '2';
    CHECK(open_text(sb, other, AAD, &err) == NULL);
    CHECK_EQ_INT(err.code, HL_ESECRET);
    free(other);
    /* cut short, and not the format at all */
    char *cut = strndup(text, 12 + 20);
    CHECK(open_text(sb, cut, AAD, &err) == NULL);
    CHECK_EQ_INT(err.code, HL_ESECRET);
    free(cut);
    const char *junk[] = { "whsec_plain", "hlenc:v2:k1:AAAA", "hlenc:v1:k1", "hlenc:v1::AAAA", "hlenc:v1:k1:!!!!" };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        CHECK(open_text(sb, junk[i], AAD, &err) == NULL);
        CHECK_EQ_INT(err.code, HL_ESECRET);
    }
    free(text);
    secretbox_free(sb);
}

/* Sealed for one place, it opens nowhere else. */
static void test_other_aad(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    char *text = seal(sb, "whsec_secret", AAD);
    struct hl_error err = { 0 };
    CHECK(open_text(sb, text, "hookline webhook v1\x1f" "acme\x1fwh_2\x1fsecret", &err) == NULL);
    CHECK_EQ_INT(err.code, HL_ESECRET);
    CHECK(open_text(sb, text, "hookline webhook v1\x1f" "other\x1fwh_1\x1fsecret", &err) == NULL);
    CHECK(open_text(sb, text, "hookline webhook v1\x1f" "acme\x1fwh_1\x1fprevious_secret", &err) == NULL);
    CHECK(open_text(sb, text, "", &err) == NULL);
    char *plain = open_text(sb, text, AAD, &err);
    CHECK_EQ_STR(plain, "whsec_secret");
    free(plain);
    free(text);
    secretbox_free(sb);
}

/* A key id the ring does not hold is named in the reason. */
static void test_unknown_key_id(void)
{
    struct secretbox *old = ring("k0:" KEY_A), *sb = ring("k1:" KEY_A);
    char *text = seal(old, "whsec_secret", AAD);
    struct hl_error err = { 0 };
    CHECK(open_text(sb, text, AAD, &err) == NULL);
    CHECK_EQ_INT(err.code, HL_ESECRET);
    CHECK(strstr(err.msg, "\"k0\"") != NULL && strstr(err.msg, "HOOKLINE_SECRETS_KEY") != NULL);
    free(text);
    secretbox_free(old);
    secretbox_free(sb);
}

/* After a new key is put first, values sealed under the old one still
 * open, new ones are sealed under the new one, and only those are current. */
static void test_rotation(void)
{
    struct secretbox *v1 = ring("k1:" KEY_A), *v2 = ring("k2:" KEY_B ",k1:" KEY_A), *v3 = ring("k2:" KEY_B);
    char *old = seal(v1, "whsec_old", AAD), *fresh = seal(v2, "whsec_new", AAD);
    CHECK(strncmp(fresh, "hlenc:v1:k2:", 12) == 0);
    CHECK(!secretbox_is_current(v2, old) && secretbox_is_current(v2, fresh) && secretbox_is_current(v1, old));
    CHECK(!secretbox_is_current(v2, "hlenc:v1:k2x:AAAA") && !secretbox_is_current(v2, "whsec_x"));
    struct hl_error err = { 0 };
    char *a = open_text(v2, old, AAD, &err), *b = open_text(v2, fresh, AAD, &err);
    CHECK_EQ_STR(a, "whsec_old");
    CHECK_EQ_STR(b, "whsec_new");
    free(a);
    free(b);
    CHECK(open_text(v3, old, AAD, &err) == NULL);   /* the old key removed */
    free(old);
    free(fresh);
    secretbox_free(v1);
    secretbox_free(v2);
    secretbox_free(v3);
}

struct worker {
    const struct secretbox *sb;
    int failures;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    char plain[64], aad[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(plain, sizeof(plain), "whsec_value-%p-%d", (void *)w, i);
        snprintf(aad, sizeof(aad), "aad-%p-%d", (void *)w, i);
        struct hl_error err = { 0 };
        char *text = secretbox_seal(w->sb, plain, strlen(plain), aad, strlen(aad), &err);
        char *back = text ? secretbox_open(w->sb, text, aad, strlen(aad), NULL, &err) : NULL;
        w->failures += back == NULL || strcmp(back, plain) != 0;
        free(text);
        free(back);
    }
    return NULL;
}

/* One ring used by several threads at once (the api's workers): every
 * value sealed opens again. */
static void test_threads(void)
{
    struct secretbox *sb = ring("k1:" KEY_A ",k0:" KEY_B);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ .sb = sb };
        CHECK_FATAL(pthread_create(&t[i], NULL, worker_run, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(w[i].failures, 0);
    }
    secretbox_free(sb);
}

int main(void)
{
    test_spec_valid();
    test_spec_invalid();
    test_round_trip();
    test_length_bound();
    test_wrong_key();
    test_tampered();
    test_other_aad();
    test_unknown_key_id();
    test_rotation();
    test_threads();
    secretbox_free(NULL);
    return check_exit();
}
