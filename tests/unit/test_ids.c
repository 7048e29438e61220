/* test_ids.c: ids, secrets and API keys have the documented shape, do not
 * repeat, use the whole base62 alphabet; key hashing and constant-time
 * comparison give the right answers. */
#include <stdbool.h>
#include <string.h>

#include "base64.h"
#include "check.h"
#include "ids.h"

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static bool all_base62(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(base62, s[i]) == NULL)
            return false;
    return true;
}

/* hl_id_new writes the prefix and exactly 22 base62 characters. */
static void test_id_shape(void)
{
    static const char *const prefixes[] = { "wh_", "evt_", "dlv_", "", "tenant_" };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        char id[HL_ID_MAX];
        CHECK_EQ_INT(hl_id_new(prefixes[i], id, sizeof(id)), 0);
        size_t plen = strlen(prefixes[i]);
        CHECK(strncmp(id, prefixes[i], plen) == 0);
        CHECK_EQ_INT(strlen(id), plen + 22);
        CHECK(all_base62(id + plen, 22));
    }
}

/* A buffer too small for the id is HL_EINVAL and leaves an empty string;
 * the exact size needed works. */
static void test_id_capacity(void)
{
    char id[HL_ID_MAX];
    memset(id, 'x', sizeof(id));
    CHECK_EQ_INT(hl_id_new("wh_", id, 3 + 22), HL_EINVAL);
    CHECK_EQ_STR(id, "");
    CHECK_EQ_INT(hl_id_new("wh_", id, 3 + 22 + 1), 0);
    CHECK_EQ_INT(strlen(id), 25);
}

/* 2000 ids are all different and, together, use every base62 character
 * in every position but the first (whose range 2^128 / 62^21 limits it),
 * so the encoding is neither stuck nor biased to a sub-alphabet. */
static void test_id_unique_and_spread(void)
{
    enum { N = 2000 };
    static char ids[N][HL_ID_MAX];
    static int seen[22][128];
    for (int i = 0; i < N; i++) {
        CHECK_FATAL(hl_id_new("", ids[i], sizeof(ids[i])) == 0);
        for (int p = 0; p < 22; p++)
            seen[p][(unsigned char)ids[i][p]]++;
    }
    int dup = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                dup++;
    CHECK_EQ_INT(dup, 0);
    int missing = 0;
    for (int p = 1; p < 22; p++)
        for (const char *c = base62; *c; c++)
            if (seen[p][(unsigned char)*c] == 0)
                missing++;
    CHECK_EQ_INT(missing, 0);
    /* the leading digit covers 0..floor(2^128/62^21) = 0..'7': never beyond */
    int beyond = 0;
    for (const char *c = base62 + 8; *c; c++)
        beyond += seen[0][(unsigned char)*c];
    CHECK_EQ_INT(beyond, 0);
}

/* A secret is "whsec_" + base64 of exactly 24 bytes, and secrets differ. */
static void test_secret_shape(void)
{
    char a[HL_SECRET_MAX], b[HL_SECRET_MAX];
    CHECK_EQ_INT(hl_secret_new(a, sizeof(a)), 0);
    CHECK_EQ_INT(hl_secret_new(b, sizeof(b)), 0);
    CHECK(strncmp(a, "whsec_", 6) == 0);
    CHECK_EQ_INT(strlen(a), 6 + 32);
    unsigned char key[64];
    size_t n = 0;
    CHECK_EQ_INT(base64_decode(a + 6, strlen(a + 6), key, sizeof(key), &n), 0);
    CHECK_EQ_INT(n, 24);
    CHECK(strcmp(a, b) != 0);
    char small[20];
    CHECK_EQ_INT(hl_secret_new(small, sizeof(small)), HL_EINVAL);
}

/* An API key is "hlk_" + exactly 43 base62 characters, and keys differ. */
static void test_apikey_shape(void)
{
    char a[HL_APIKEY_MAX], b[HL_APIKEY_MAX];
    CHECK_EQ_INT(hl_apikey_new(a, sizeof(a)), 0);
    CHECK_EQ_INT(hl_apikey_new(b, sizeof(b)), 0);
    CHECK(strncmp(a, "hlk_", 4) == 0);
    CHECK_EQ_INT(strlen(a), 4 + 43);
    CHECK(all_base62(a + 4, 43));
    CHECK(strcmp(a, b) != 0);
}

/* hl_apikey_hash is lower-case hex SHA-256 (FIPS 180-2 "abc" vector and
 * the empty string). */
static void test_apikey_hash_vectors(void)
{
    char h[HL_KEYHASH_LEN + 1];
    hl_apikey_hash("abc", h);
    CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hl_apikey_hash("", h);
    CHECK_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* hl_random_bytes fills the buffer (two draws of 32 bytes differ) and
 * accepts a zero length. */
static void test_random_bytes(void)
{
    unsigned char a[32] = { 0 }, b[32] = { 0 };
    CHECK_EQ_INT(hl_random_bytes(a, sizeof(a)), 0);
    CHECK_EQ_INT(hl_random_bytes(b, sizeof(b)), 0);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK_EQ_INT(hl_random_bytes(a, 0), 0);
}

/* hl_str_equal_ct: equal strings are equal; a prefix, a longer string, a
 * one-character change and the empty string are not. */
static void test_str_equal_ct(void)
{
    CHECK_EQ_INT(hl_str_equal_ct("hlk_abc", "hlk_abc"), 1);
    CHECK_EQ_INT(hl_str_equal_ct("", ""), 1);
    CHECK_EQ_INT(hl_str_equal_ct("hlk_abc", "hlk_ab"), 0);
    CHECK_EQ_INT(hl_str_equal_ct("hlk_ab", "hlk_abc"), 0);
    CHECK_EQ_INT(hl_str_equal_ct("hlk_abc", "hlk_abd"), 0);
    CHECK_EQ_INT(hl_str_equal_ct("Xlk_abc", "hlk_abc"), 0);
    CHECK_EQ_INT(hl_str_equal_ct("", "a"), 0);
}

int main(void)
{
    test_id_shape();
    test_id_capacity();
    test_id_unique_and_spread();
    test_secret_shape();
    test_apikey_shape();
    test_apikey_hash_vectors();
    test_random_bytes();
    test_str_equal_ct();
    return check_exit();
}
