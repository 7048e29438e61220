/* test_base64.c: base64 round trips, the RFC 4648 vectors and strict
 * rejection of malformed input (length, alphabet, padding, capacity). */
#include <string.h>

#include "base64.h"
#include "check.h"

/* RFC 4648 section 10 test vectors encode as published. */
static void test_encode_rfc4648_vectors(void)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char out[BASE64_ENCODED_SIZE(6)];
        size_t n = base64_encode((const unsigned char *)plain[i], strlen(plain[i]), out);
        CHECK_EQ_STR(out, coded[i]);
        CHECK_EQ_INT(n, strlen(coded[i]));
    }
}

/* The RFC 4648 vectors decode back to their plain text. */
static void test_decode_rfc4648_vectors(void)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        unsigned char out[16];
        size_t n = 99;
        CHECK_EQ_INT(base64_decode(coded[i], strlen(coded[i]), out, sizeof(out), &n), 0);
        CHECK_EQ_INT(n, strlen(plain[i]));
        CHECK(memcmp(out, plain[i], n) == 0);
    }
}

/* Every byte value survives encode then decode, for every length 0..64,
 * and the '+' and '/' characters appear where they must. */
static void test_round_trip_all_bytes(void)
{
    unsigned char in[64], back[64];
    char enc[BASE64_ENCODED_SIZE(64)];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 250);
    for (size_t len = 0; len <= sizeof(in); len++) {
        size_t n = base64_encode(in, len, enc);
        CHECK_EQ_INT(n, BASE64_ENCODED_SIZE(len) - 1);
        size_t outlen = 0;
        CHECK_EQ_INT(base64_decode(enc, n, back, sizeof(back), &outlen), 0);
        CHECK_EQ_INT(outlen, len);
        CHECK(memcmp(in, back, len) == 0);
    }
    const unsigned char hi[3] = { 0xfb, 0xff, 0xbf };
    base64_encode(hi, 3, enc);
    CHECK_EQ_STR(enc, "+/+/");
}

/* Malformed input is refused: bad length, foreign characters, padding in
 * the middle, too much padding, non-zero bits under the padding. */
static void test_decode_rejects_malformed(void)
{
    static const char *const bad[] = {
        "Zg=",       /* length not a multiple of 4 */
        "Zm9",       /* missing padding */
        "Zm9v\n",    /* whitespace */
        "Zm 9",      /* space */
        "Zm9-",      /* url-safe alphabet */
        "Zm9_",
        "Zg==Zg==",  /* padding before the end */
        "Z===",      /* three padding characters */
        "====",
        "Zh==",      /* non-canonical: low bits set under the padding */
        "Zm9=",
        "Zm9v\xc3\xa9==",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char out[16];
        size_t n = 0;
        int rc = base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n);
        if (rc != -1)
            fprintf(stderr, "accepted malformed input \"%s\"\n", bad[i]);
        CHECK_EQ_INT(rc, -1);
    }
}

/* An output buffer one byte too small is an error, never an overflow;
 * exactly enough room succeeds. */
static void test_decode_respects_capacity(void)
{
    unsigned char out[6];
    size_t n = 0;
    CHECK_EQ_INT(base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
    CHECK_EQ_INT(base64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
    CHECK_EQ_INT(n, 6);
    CHECK_EQ_INT(base64_decode("Zm9vYg==", 8, out, 3, &n), -1);
    CHECK_EQ_INT(base64_decode("Zm9vYg==", 8, out, 4, &n), 0);
    CHECK_EQ_INT(n, 4);
}

/* Only 'len' characters are read: the input need not be NUL-terminated. */
static void test_decode_reads_only_len(void)
{
    unsigned char out[8];
    size_t n = 0;
    CHECK_EQ_INT(base64_decode("Zm9vGARBAGE", 4, out, sizeof(out), &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK(memcmp(out, "foo", 3) == 0);
}

int main(void)
{
    test_encode_rfc4648_vectors();
    test_decode_rfc4648_vectors();
    test_round_trip_all_bytes();
    test_decode_rejects_malformed();
    test_decode_respects_capacity();
    test_decode_reads_only_len();
    return check_exit();
}
