/* endpoint_auth.c: check, show and send an endpoint's Basic or Bearer
 * credentials. */
#include "endpoint_auth.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "hl_limits.h"

/* A control character (C0 or DEL) anywhere in the 'n' bytes of 's'? A CR
 * or LF would end the header; a NUL would cut the value short. */
static bool auth_has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/* Bearer tokens: visible ASCII without spaces. RFC 6750's b64token is
 * narrower, but opaque tokens in use go beyond it; nothing here can break
 * the header line. */
static bool auth_token_valid(const char *s, size_t n)
{
    if (n == 0 || n > LIMIT_AUTH_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool auth_username_valid(const char *s, size_t n)
{
    /* RFC 7617: the user-id cannot hold a colon, the password may */
    return n >= 1 && n <= LIMIT_AUTH_USERNAME_MAX && memchr(s, ':', n) == NULL && !auth_has_control(s, n);
}

static bool auth_password_valid(const char *s, size_t n)
{
    return n <= LIMIT_AUTH_PASSWORD_MAX && !auth_has_control(s, n);
}

const char *endpoint_auth_type(const json_t *auth)
{
    return json_string_value(json_object_get(auth, "type"));
}

int endpoint_auth_check(const json_t *auth, const char *what, struct hl_error *err)
{
    if (json_is_null(auth))
        return ENDPOINT_AUTH_NONE;
    if (!json_is_object(auth))
        return hl_error_set(err, HL_EINVAL,
                            "\"%s\" must be null or an object: {\"type\":\"basic\",\"username\",\"password\"} or "
                            "{\"type\":\"bearer\",\"token\"}.", what);
    const char *type = endpoint_auth_type(auth);
    bool basic = type && strcmp(type, "basic") == 0, bearer = type && strcmp(type, "bearer") == 0;
    if (!basic && !bearer)
        return hl_error_set(err, HL_EINVAL, "\"%s.type\" must be \"basic\" or \"bearer\".", what);
    if (json_object_size(auth) == 1)
        return ENDPOINT_AUTH_KEEP;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)auth, k, v) {
        bool known = strcmp(k, "type") == 0 || (basic && (strcmp(k, "username") == 0 || strcmp(k, "password") == 0)) ||
                     (bearer && strcmp(k, "token") == 0);
        if (!known)
            return hl_error_set(err, HL_EINVAL, "\"%s.%.40s\" is not a field of %s credentials.", what, k, type);
    }
    if (basic) {
        json_t *user = json_object_get(auth, "username"), *pass = json_object_get(auth, "password");
        if (!json_is_string(user) || !auth_username_valid(json_string_value(user), json_string_length(user)))
            return hl_error_set(err, HL_EINVAL,
                                "\"%s.username\" must be a string of 1 to %d bytes without ':' or control "
                                "characters.", what, LIMIT_AUTH_USERNAME_MAX);
        if (!json_is_string(pass) || !auth_password_valid(json_string_value(pass), json_string_length(pass)))
            return hl_error_set(err, HL_EINVAL,
                                "\"%s.password\" must be a string of at most %d bytes without control characters "
                                "(\"\" for none).", what, LIMIT_AUTH_PASSWORD_MAX);
    } else {
        json_t *token = json_object_get(auth, "token");
        if (!json_is_string(token) || !auth_token_valid(json_string_value(token), json_string_length(token)))
            return hl_error_set(err, HL_EINVAL,
                                "\"%s.token\" must be a string of 1 to %d visible ASCII characters without spaces.",
                                what, LIMIT_AUTH_TOKEN_MAX);
    }
    return ENDPOINT_AUTH_SET;
}

json_t *endpoint_auth_public(const json_t *auth)
{
    const char *type = endpoint_auth_type(auth);
    return type ? json_pack("{s:s}", "type", type) : json_null();
}

char *endpoint_auth_header_new(const json_t *auth, struct hl_error *err)
{
    const char *type = endpoint_auth_type(auth);
    const char *token = json_string_value(json_object_get(auth, "token"));
    const char *user = json_string_value(json_object_get(auth, "username"));
    const char *pass = json_string_value(json_object_get(auth, "password"));
    char *line = NULL;
    int rc = -1;
    if (type && strcmp(type, "bearer") == 0 && token) {
        rc = asprintf(&line, "Authorization: Bearer %s", token);
    } else if (type && strcmp(type, "basic") == 0 && user && pass) {
        size_t n = strlen(user) + 1 + strlen(pass);
        char *plain = malloc(n + 1), *enc = malloc(BASE64_ENCODED_SIZE(n));
        if (plain && enc) {
            snprintf(plain, n + 1, "%s:%s", user, pass);
            base64_encode((const unsigned char *)plain, n, enc);
            rc = asprintf(&line, "Authorization: Basic %s", enc);
        }
        /* the credentials leave no copy behind but the line itself */
        if (plain)
            memset(plain, 0, n);
        if (enc)
            memset(enc, 0, BASE64_ENCODED_SIZE(n));
        free(plain);
        free(enc);
    } else {
        hl_error_set(err, HL_EINVAL, "credentials of an unknown type, or with a field missing");
        return NULL;
    }
    if (rc < 0) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        return NULL;
    }
    return line;
}
