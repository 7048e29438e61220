/* test_webhook_seal.c: a webhook document's secret fields sealed for their
 * place and opened again: every secret field and header value sealed, the
 * rest untouched; plain values of before still read; a value moved to
 * another field, header, endpoint, webhook or tenant does not open; which
 * documents are sealed under the current key. */
#include <string.h>

#include "check.h"
#include "webhook_seal.h"

#define KEY_A "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define KEY_B "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="

static const char doc_text[] =
    "{\"id\":\"wh_1\",\"tenant\":\"acme\",\"name\":\"n\",\"secret\":\"whsec_current\","
    "\"previous_secret\":\"whsec_previous\",\"previous_secret_expires_at\":\"2026-11-26T10:00:00.000Z\","
    "\"headers\":{\"Authorization\":\"Bearer web\",\"X-Literal\":\"hlenc:v1:k1:looks-sealed\"},"
    "\"endpoints\":[{\"id\":\"ep_a\",\"url\":\"https://a.example.com\",\"headers\":{\"X-Api-Key\":\"key-a\","
    "\"X-Other\":\"other-a\"},\"auth\":{\"type\":\"basic\",\"username\":\"user-a\",\"password\":\"pass-a\"}},"
    "{\"id\":\"ep_b\",\"url\":\"https://b.example.com\",\"headers\":{},"
    "\"auth\":{\"type\":\"bearer\",\"token\":\"token-b\"}}],"
    "\"events\":[\"booking\"],\"version\":3}";

static struct secretbox *ring(const char *spec)
{
    struct hl_error err = { 0 };
    struct secretbox *sb = secretbox_new(spec, &err);
    CHECK_FATAL(sb != NULL);
    return sb;
}

static json_t *doc_new(void)
{
    json_t *doc = json_loads(doc_text, 0, NULL);
    CHECK_FATAL(doc != NULL);
    return doc;
}

static const char *at(const json_t *doc, const char *path)
{
    if (strcmp(path, "secret") == 0 || strcmp(path, "previous_secret") == 0)
        return json_string_value(json_object_get(doc, path));
    if (strncmp(path, "headers/", 8) == 0)
        return json_string_value(json_object_get(json_object_get(doc, "headers"), path + 8));
    /* endpoints/<i>/<header name>, auth/<i>/<name> */
    bool auth = strncmp(path, "auth/", 5) == 0;
    size_t skip = auth ? 5 : 10;
    const json_t *ep = json_array_get(json_object_get(doc, "endpoints"), (size_t)(path[skip] - '0'));
    return json_string_value(json_object_get(json_object_get(ep, auth ? "auth" : "headers"), path + skip + 2));
}

static const char *const secret_paths[] = {
    "secret", "previous_secret", "headers/Authorization", "headers/X-Literal", "endpoints/0/X-Api-Key",
    "endpoints/0/X-Other", "auth/0/username", "auth/0/password", "auth/1/token",
};
#define NPATHS (sizeof(secret_paths) / sizeof(secret_paths[0]))

/* Every secret field is sealed under the current key and its value shows
 * nowhere; everything else is as it was, the input untouched; opening
 * gives the document back. */
static void test_seal_and_open(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    json_t *doc = doc_new(), *orig = doc_new();
    struct hl_error err = { 0 };
    json_t *sealed = webhook_seal_copy(doc, sb, &err);
    CHECK_FATAL(sealed != NULL);
    CHECK(json_equal(doc, orig));
    for (size_t i = 0; i < NPATHS; i++) {
        CHECK(strncmp(at(sealed, secret_paths[i]), "hlenc:v1:k1:", 12) == 0);
        CHECK(strcmp(at(sealed, secret_paths[i]), at(doc, secret_paths[i])) != 0);
    }
    char *text = json_dumps(sealed, JSON_COMPACT);
    static const char *const hidden[] = { "whsec_current", "whsec_previous", "Bearer web", "looks-sealed", "key-a",
                                          "other-a", "user-a", "pass-a", "token-b" };
    for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
        CHECK(strstr(text, hidden[i]) == NULL);
    free(text);
    CHECK_EQ_STR(json_string_value(json_object_get(sealed, "name")), "n");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(sealed, "endpoints"), 0), "url")),
                 "https://a.example.com");
    /* the type of credentials is not secret: it says which fields there are */
    CHECK_EQ_STR(at(sealed, "auth/1/type"), "bearer");
    CHECK(webhook_sealed_current(sealed, sb));
    CHECK(!webhook_sealed_current(doc, sb));

    int plain = -1;
    CHECK_EQ_INT(webhook_open(sealed, sb, &plain, &err), 0);
    CHECK_EQ_INT(plain, 0);
    CHECK(json_equal(sealed, orig));
    char *v = webhook_field_open(sb, "acme", "wh_1", "secret", "whsec_plain", &err);
    CHECK_EQ_STR(v, "whsec_plain");
    free(v);
    json_decref(sealed);
    json_decref(doc);
    json_decref(orig);
    secretbox_free(sb);
}

/* A document written before sealing (plain values) opens as it is, its
 * plain values counted; a mix opens too. */
static void test_plain_of_before(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    json_t *doc = doc_new(), *orig = doc_new();
    json_object_set_new(json_object_get(doc, "headers"), "X-Literal", json_string("plain"));
    json_object_set_new(json_object_get(orig, "headers"), "X-Literal", json_string("plain"));
    struct hl_error err = { 0 };
    int plain = 0;
    CHECK_EQ_INT(webhook_open(doc, sb, &plain, &err), 0);
    CHECK_EQ_INT(plain, (int)NPATHS);
    CHECK(json_equal(doc, orig));
    json_t *sealed = webhook_seal_copy(doc, sb, &err);
    json_object_set_new(sealed, "previous_secret", json_string("whsec_previous"));
    CHECK(!webhook_sealed_current(sealed, sb));
    CHECK_EQ_INT(webhook_open(sealed, sb, &plain, &err), 0);
    CHECK_EQ_INT(plain, 1);
    CHECK(json_equal(sealed, orig));
    json_decref(sealed);
    json_decref(doc);
    json_decref(orig);
    secretbox_free(sb);
}

/* Open a copy of 'sealed' with field 'to' set to the sealed value of
 * field 'from' (of 'src'), expecting HL_ESECRET naming the webhook. */
static void expect_moved_fails(const struct secretbox *sb, const json_t *src, const char *from, json_t *sealed,
                               const char *to_parent, const char *to_key)
{
    json_t *copy = json_deep_copy(sealed);
    json_t *parent = copy;
    if (strcmp(to_parent, "headers") == 0)
        parent = json_object_get(copy, "headers");
    else if (strncmp(to_parent, "endpoints/", 10) == 0)
        parent = json_object_get(json_array_get(json_object_get(copy, "endpoints"), (size_t)(to_parent[10] - '0')),
                                 "headers");
    else if (strncmp(to_parent, "auth/", 5) == 0)
        parent = json_object_get(json_array_get(json_object_get(copy, "endpoints"), (size_t)(to_parent[5] - '0')),
                                 "auth");
    json_object_set_new(parent, to_key, json_string(at(src, from)));
    struct hl_error err = { 0 };
    CHECK_EQ_INT(webhook_open(copy, sb, NULL, &err), HL_ESECRET);
    CHECK(strstr(err.msg, json_string_value(json_object_get(copy, "id"))) != NULL);
    CHECK(strstr(err.msg, "whsec_") == NULL);
    json_decref(copy);
}

/* A sealed value moved anywhere else does not open. */
static void test_moved_values_fail(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    struct hl_error err = { 0 };
    json_t *doc = doc_new();
    json_t *sealed = webhook_seal_copy(doc, sb, &err);
    /* the same document under another webhook id, and another tenant */
    json_t *other_wh = json_deep_copy(doc), *other_tenant = json_deep_copy(doc);
    json_object_set_new(other_wh, "id", json_string("wh_2"));
    json_object_set_new(other_tenant, "tenant", json_string("globex"));
    json_t *sealed_wh = webhook_seal_copy(other_wh, sb, &err), *sealed_tenant = webhook_seal_copy(other_tenant, sb, &err);
    CHECK_FATAL(sealed && sealed_wh && sealed_tenant);

    expect_moved_fails(sb, sealed, "previous_secret", sealed, "", "secret");                 /* between fields */
    expect_moved_fails(sb, sealed, "headers/Authorization", sealed, "headers", "X-Literal"); /* between headers */
    expect_moved_fails(sb, sealed, "headers/Authorization", sealed, "endpoints/0", "X-Api-Key");
    expect_moved_fails(sb, sealed, "endpoints/0/X-Api-Key", sealed, "endpoints/1", "X-Api-Key"); /* endpoints */
    expect_moved_fails(sb, sealed_wh, "secret", sealed, "", "secret");                       /* webhooks */
    expect_moved_fails(sb, sealed_tenant, "secret", sealed, "", "secret");                   /* tenants */
    expect_moved_fails(sb, sealed_tenant, "endpoints/0/X-Api-Key", sealed, "endpoints/0", "X-Api-Key");
    expect_moved_fails(sb, sealed, "auth/0/password", sealed, "auth/0", "username");        /* credentials */
    expect_moved_fails(sb, sealed, "auth/1/token", sealed, "auth/0", "password");           /* endpoints */
    expect_moved_fails(sb, sealed, "endpoints/0/X-Api-Key", sealed, "auth/0", "password");  /* header to auth */
    expect_moved_fails(sb, sealed_wh, "auth/1/token", sealed, "auth/1", "token");           /* webhooks */

    /* the same value sealed for its own place still opens */
    json_t *copy = json_deep_copy(sealed);
    CHECK_EQ_INT(webhook_open(copy, sb, NULL, &err), 0);
    json_decref(copy);
    json_decref(sealed);
    json_decref(sealed_wh);
    json_decref(sealed_tenant);
    json_decref(other_wh);
    json_decref(other_tenant);
    json_decref(doc);
    secretbox_free(sb);
}

/* After a new key is put first, a document sealed under the old one opens
 * but is no longer current; once the old key is gone it does not open. */
static void test_key_change(void)
{
    struct secretbox *v1 = ring("k1:" KEY_A), *v2 = ring("k2:" KEY_B ",k1:" KEY_A), *v3 = ring("k2:" KEY_B);
    struct hl_error err = { 0 };
    json_t *doc = doc_new();
    json_t *old = webhook_seal_copy(doc, v1, &err);
    CHECK(webhook_sealed_current(old, v1) && !webhook_sealed_current(old, v2));
    json_t *resealed = webhook_seal_copy(doc, v2, &err);
    CHECK(webhook_sealed_current(resealed, v2) && webhook_sealed_current(resealed, v3));
    json_t *copy = json_deep_copy(old);
    CHECK_EQ_INT(webhook_open(copy, v2, NULL, &err), 0);
    CHECK(json_equal(copy, doc));
    json_decref(copy);
    copy = json_deep_copy(old);
    hl_error_clear(&err);
    CHECK_EQ_INT(webhook_open(copy, v3, NULL, &err), HL_ESECRET);
    CHECK(strstr(err.msg, "\"k1\"") != NULL);
    json_decref(copy);
    json_decref(old);
    json_decref(resealed);
    json_decref(doc);
    secretbox_free(v1);
    secretbox_free(v2);
    secretbox_free(v3);
}

/* Without an id or a tenant nothing can be bound to its place. */
static void test_needs_id_and_tenant(void)
{
    struct secretbox *sb = ring("k1:" KEY_A);
    json_t *doc = doc_new();
    json_object_del(doc, "tenant");
    struct hl_error err = { 0 };
    CHECK(webhook_seal_copy(doc, sb, &err) == NULL);
    CHECK_EQ_INT(err.code, HL_EINVAL);
    json_decref(doc);
    secretbox_free(sb);
}

int main(void)
{
    test_seal_and_open();
    test_plain_of_before();
    test_moved_values_fail();
    test_key_change();
    test_needs_id_and_tenant();
    return check_exit();
}
