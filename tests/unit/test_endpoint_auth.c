/* test_endpoint_auth.c: an endpoint's credentials (common/endpoint_auth.c):
 * what a request may give, each refusal naming its field; what a client
 * sees of them; the Authorization line the dispatcher sends. */
#include <string.h>

#include "check.h"
#include "endpoint_auth.h"
#include "hl_limits.h"

/* endpoint_auth_check of the JSON text 'text'; the reason goes to 'err'. */
static int check_text(const char *text, struct hl_error *err)
{
    json_t *auth = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK_FATAL(auth != NULL);
    memset(err, 0, sizeof(*err));
    int rc = endpoint_auth_check(auth, "auth", err);
    json_decref(auth);
    return rc;
}

static void expect_refused(const char *text, const char *field)
{
    struct hl_error err;
    int rc = check_text(text, &err);
    CHECK_EQ_INT(rc, HL_EINVAL);
    if (rc == HL_EINVAL && strncmp(err.msg, field, strlen(field)) != 0)
        fprintf(stderr, "%s: the reason does not start with %s: %s\n", text, field, err.msg);
    CHECK(rc != HL_EINVAL || strncmp(err.msg, field, strlen(field)) == 0);
}

static void test_kinds(void)
{
    struct hl_error err;
    CHECK_EQ_INT(check_text("null", &err), ENDPOINT_AUTH_NONE);
    CHECK_EQ_INT(check_text("{\"type\":\"basic\"}", &err), ENDPOINT_AUTH_KEEP);
    CHECK_EQ_INT(check_text("{\"type\":\"bearer\"}", &err), ENDPOINT_AUTH_KEEP);
    CHECK_EQ_INT(check_text("{\"type\":\"basic\",\"username\":\"u\",\"password\":\"p:w\"}", &err), ENDPOINT_AUTH_SET);
    /* an empty password is a password (API keys sent as the user name) */
    CHECK_EQ_INT(check_text("{\"type\":\"basic\",\"username\":\"sk_live_1\",\"password\":\"\"}", &err),
                 ENDPOINT_AUTH_SET);
    CHECK_EQ_INT(check_text("{\"type\":\"basic\",\"username\":\"j\\u00fcrgen\",\"password\":\"\\u00e9t\\u00e9\"}", &err),
                 ENDPOINT_AUTH_SET);
    CHECK_EQ_INT(check_text("{\"type\":\"bearer\",\"token\":\"eyJ.a-b_c~d+e/f==\"}", &err), ENDPOINT_AUTH_SET);
}

static void test_refusals(void)
{
    expect_refused("\"Bearer x\"", "\"auth\"");
    expect_refused("[]", "\"auth\"");
    expect_refused("{}", "\"auth.type\"");
    expect_refused("{\"type\":\"Basic\",\"username\":\"u\",\"password\":\"p\"}", "\"auth.type\"");
    expect_refused("{\"type\":\"digest\"}", "\"auth.type\"");
    expect_refused("{\"username\":\"u\",\"password\":\"p\"}", "\"auth.type\"");
    expect_refused("{\"type\":\"basic\",\"token\":\"t\"}", "\"auth.token\"");
    expect_refused("{\"type\":\"bearer\",\"token\":\"t\",\"username\":\"u\"}", "\"auth.username\"");
    expect_refused("{\"type\":\"basic\",\"username\":\"u\"}", "\"auth.password\"");
    expect_refused("{\"type\":\"basic\",\"password\":\"p\"}", "\"auth.username\"");
    expect_refused("{\"type\":\"basic\",\"username\":\"\",\"password\":\"p\"}", "\"auth.username\"");
    expect_refused("{\"type\":\"basic\",\"username\":\"a:b\",\"password\":\"p\"}", "\"auth.username\"");
    expect_refused("{\"type\":\"basic\",\"username\":7,\"password\":\"p\"}", "\"auth.username\"");
    expect_refused("{\"type\":\"basic\",\"username\":\"u\",\"password\":null}", "\"auth.password\"");
    expect_refused("{\"type\":\"bearer\",\"token\":\"\"}", "\"auth.token\"");
    expect_refused("{\"type\":\"bearer\",\"token\":\"a b\"}", "\"auth.token\"");
    expect_refused("{\"type\":\"bearer\",\"token\":\"\\u00e9\"}", "\"auth.token\"");
    /* every control character, in each field: a CR or LF would end the header line */
    for (unsigned c = 0; c < 0x20; c++) {
        char text[256];
        snprintf(text, sizeof(text), "{\"type\":\"basic\",\"username\":\"a\\u%04xb\",\"password\":\"p\"}", c);
        expect_refused(text, "\"auth.username\"");
        snprintf(text, sizeof(text), "{\"type\":\"basic\",\"username\":\"u\",\"password\":\"a\\u%04xb\"}", c);
        expect_refused(text, "\"auth.password\"");
        snprintf(text, sizeof(text), "{\"type\":\"bearer\",\"token\":\"a\\u%04xb\"}", c);
        expect_refused(text, "\"auth.token\"");
    }
    expect_refused("{\"type\":\"bearer\",\"token\":\"a\\u007fb\"}", "\"auth.token\"");
}

/* Each length up to its limit passes, one byte more is refused. */
static void test_lengths(void)
{
    static const struct {
        const char *field;
        size_t max;
    } lim[] = { { "username", LIMIT_AUTH_USERNAME_MAX }, { "password", LIMIT_AUTH_PASSWORD_MAX },
                { "token", LIMIT_AUTH_TOKEN_MAX } };
    for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
        for (size_t n = lim[i].max; n <= lim[i].max + 1; n++) {
            char *v = malloc(n + 1);
            CHECK_FATAL(v != NULL);
            memset(v, 'x', n);
            v[n] = '\0';
            json_t *auth = strcmp(lim[i].field, "token") == 0
                               ? json_pack("{s:s,s:s}", "type", "bearer", "token", v)
                               : json_pack("{s:s,s:s,s:s}", "type", "basic", "username", "u", "password", "p");
            if (strcmp(lim[i].field, "token") != 0)
                json_object_set_new(auth, lim[i].field, json_string(v));
            struct hl_error err = { 0 };
            int rc = endpoint_auth_check(auth, "endpoints.auth", &err);
            char field[64];
            snprintf(field, sizeof(field), "\"endpoints.auth.%s\"", lim[i].field);
            CHECK_EQ_INT(rc, n <= lim[i].max ? ENDPOINT_AUTH_SET : HL_EINVAL);
            CHECK(n <= lim[i].max || strncmp(err.msg, field, strlen(field)) == 0);
            json_decref(auth);
            free(v);
        }
    }
}

static void test_public(void)
{
    json_t *auth = json_pack("{s:s,s:s,s:s}", "type", "basic", "username", "u", "password", "secret-pass");
    json_t *pub = endpoint_auth_public(auth);
    CHECK_EQ_INT((int)json_object_size(pub), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(pub, "type")), "basic");
    json_decref(pub);
    pub = endpoint_auth_public(NULL);
    CHECK(json_is_null(pub));
    json_decref(pub);
    json_decref(auth);
}

static void test_header_line(void)
{
    struct hl_error err = { 0 };
    /* RFC 7617's example: Aladdin / open sesame */
    json_t *auth = json_pack("{s:s,s:s,s:s}", "type", "basic", "username", "Aladdin", "password", "open sesame");
    char *line = endpoint_auth_header_new(auth, &err);
    CHECK_EQ_STR(line, "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    free(line);
    json_decref(auth);
    /* UTF-8 as it is (RFC 7617 charset="UTF-8"), a colon in the password */
    auth = json_pack("{s:s,s:s,s:s}", "type", "basic", "username", "test", "password", "123\xc2\xa3:x");
    line = endpoint_auth_header_new(auth, &err);
    CHECK_EQ_STR(line, "Authorization: Basic dGVzdDoxMjPCozp4");
    free(line);
    json_decref(auth);
    auth = json_pack("{s:s,s:s}", "type", "bearer", "token", "mF_9.B5f-4.1JqM");
    line = endpoint_auth_header_new(auth, &err);
    CHECK_EQ_STR(line, "Authorization: Bearer mF_9.B5f-4.1JqM");
    free(line);
    json_decref(auth);
    auth = json_pack("{s:s}", "type", "bearer");
    CHECK(endpoint_auth_header_new(auth, &err) == NULL);
    CHECK_EQ_INT(err.code, HL_EINVAL);
    json_decref(auth);
}

int main(void)
{
    test_kinds();
    test_refusals();
    test_lengths();
    test_public();
    test_header_line();
    return check_exit();
}
