/* webhook_seal.c: walk a webhook document's secret fields, sealing or
 * opening each for its place (tenant, webhook, field). */
#include "webhook_seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_AAD_TAG "hookline webhook v1"

/* What one visit does to a string value found at 'field'. */
enum seal_op { SEAL_OP_SEAL, SEAL_OP_OPEN, SEAL_OP_CHECK };

struct seal_walk {
    const struct secretbox *sb;
    const char *tenant, *id;
    enum seal_op op;
    int plain;                  /* plain values met */
    bool stale;                 /* SEAL_OP_CHECK: a value not sealed under the current key */
    struct hl_error *err;
};

/* The associated data of 'field' of webhook 'id' of 'tenant'. New buffer. */
static char *seal_aad(const char *tenant, const char *id, const char *field, size_t *len)
{
    char *aad = NULL;
    int n = asprintf(&aad, SEAL_AAD_TAG "\x1f%s\x1f%s\x1f%s", tenant, id, field);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return aad;
}

char *webhook_field_open(const struct secretbox *sb, const char *tenant, const char *id, const char *field,
                         const char *value, struct hl_error *err)
{
    if (!secretbox_is_sealed(value)) {
        char *copy = strdup(value ? value : "");
        if (copy == NULL)
            hl_error_set(err, HL_ENOMEM, "out of memory");
        return copy;
    }
    size_t aad_len = 0;
    char *aad = seal_aad(tenant, id, field, &aad_len);
    if (aad == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        return NULL;
    }
    struct hl_error why = { 0 };
    size_t len = 0;
    char *plain = secretbox_open(sb, value, aad, aad_len, &len, &why);
    free(aad);
    if (plain != NULL && strlen(plain) != len) {
        /* a NUL inside: nothing hookline seals has one */
        free(plain);
        plain = NULL;
        hl_error_set(&why, HL_ESECRET, "opened to a value with a NUL byte");
    }
    if (plain == NULL)
        hl_error_set(err, why.code, "webhook %s: %s: %s", id, field, why.msg);
    return plain;
}

/* Seal, open or check 'v' (a string value of 'parent' under 'key'). */
static int seal_visit(struct seal_walk *w, json_t *parent, const char *key, json_t *v, const char *field)
{
    const char *s = json_string_value(v);
    if (s == NULL)
        return 0;   /* null previous_secret; the api lets no other kind in */
    if (w->op == SEAL_OP_CHECK) {
        w->stale = w->stale || !secretbox_is_current(w->sb, s);
        return 0;
    }
    if (w->op == SEAL_OP_OPEN && !secretbox_is_sealed(s)) {
        w->plain++;
        return 0;
    }
    char *out = NULL;
    if (w->op == SEAL_OP_OPEN) {
        out = webhook_field_open(w->sb, w->tenant, w->id, field, s, w->err);
    } else {
        size_t aad_len = 0;
        char *aad = seal_aad(w->tenant, w->id, field, &aad_len);
        struct hl_error why = { 0 };
        out = aad ? secretbox_seal(w->sb, s, json_string_length(v), aad, aad_len, &why) : NULL;
        if (out == NULL)
            hl_error_set(w->err, aad ? why.code : HL_ENOMEM, "webhook %s: %s: %s", w->id, field,
                         aad ? why.msg : "out of memory");
        free(aad);
    }
    if (out == NULL)
        return w->err && w->err->code ? w->err->code : HL_ESECRET;
    /* replacing the value of an existing key never moves the iteration */
    int rc = json_object_set_new(parent, key, json_string(out)) < 0 ? HL_ENOMEM : 0;
    free(out);
    if (rc < 0)
        hl_error_set(w->err, rc, "out of memory");
    return rc;
}

/* Every value of headers object 'h', as field "<prefix><name>". */
static int seal_headers(struct seal_walk *w, json_t *h, const char *prefix)
{
    const char *name;
    json_t *v;
    json_object_foreach(h, name, v) {
        char *field = NULL;
        if (asprintf(&field, "%s%s", prefix, name) < 0)
            return hl_error_set(w->err, HL_ENOMEM, "out of memory");
        int rc = seal_visit(w, h, name, v, field);
        free(field);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Every value of endpoint 'epid''s credentials object 'auth' but its
 * "type", as field "endpoints/<epid>/auth/<name>". */
static int seal_auth(struct seal_walk *w, json_t *auth, const char *epid)
{
    const char *name;
    json_t *v;
    json_object_foreach(auth, name, v) {
        if (strcmp(name, "type") == 0)
            continue;   /* shown to the tenant, and says which fields there are */
        char *field = NULL;
        if (asprintf(&field, "endpoints/%s/auth/%s", epid, name) < 0)
            return hl_error_set(w->err, HL_ENOMEM, "out of memory");
        int rc = seal_visit(w, auth, name, v, field);
        free(field);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Apply 'w->op' to every secret field of 'doc'. */
static int seal_walk(struct seal_walk *w, json_t *doc)
{
    w->id = json_string_value(json_object_get(doc, "id"));
    w->tenant = json_string_value(json_object_get(doc, "tenant"));
    if (w->id == NULL || w->tenant == NULL)
        return hl_error_set(w->err, HL_EINVAL, "a webhook document without \"id\" or \"tenant\"");
    static const char *const fields[] = { "secret", "previous_secret" };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(doc, fields[i]);
        int rc = v ? seal_visit(w, doc, fields[i], v, fields[i]) : 0;
        if (rc < 0)
            return rc;
    }
    int rc = seal_headers(w, json_object_get(doc, "headers"), "headers/");
    if (rc < 0)
        return rc;
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(doc, "endpoints"), i, ep) {
        const char *epid = json_string_value(json_object_get(ep, "id"));
        json_t *h = json_object_get(ep, "headers"), *auth = json_object_get(ep, "auth");
        if (json_object_size(h) == 0 && json_object_size(auth) == 0)
            continue;
        if (epid == NULL)
            return hl_error_set(w->err, HL_EINVAL, "webhook %s: an endpoint with headers or auth but no \"id\"",
                                w->id);
        char *prefix = NULL;
        if (asprintf(&prefix, "endpoints/%s/headers/", epid) < 0)
            return hl_error_set(w->err, HL_ENOMEM, "out of memory");
        rc = seal_headers(w, h, prefix);
        free(prefix);
        if (rc == 0 && json_is_object(auth))
            rc = seal_auth(w, auth, epid);
        if (rc < 0)
            return rc;
    }
    return 0;
}

json_t *webhook_seal_copy(const json_t *doc, const struct secretbox *sb, struct hl_error *err)
{
    /* deep: the headers objects may be shared with a request body */
    json_t *copy = json_deep_copy(doc);
    if (copy == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        return NULL;
    }
    struct seal_walk w = { .sb = sb, .op = SEAL_OP_SEAL, .err = err };
    if (seal_walk(&w, copy) < 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

int webhook_open(json_t *doc, const struct secretbox *sb, int *plain, struct hl_error *err)
{
    struct seal_walk w = { .sb = sb, .op = SEAL_OP_OPEN, .err = err };
    int rc = seal_walk(&w, doc);
    if (plain)
        *plain = w.plain;
    return rc;
}

bool webhook_sealed_current(const json_t *doc, const struct secretbox *sb)
{
    struct seal_walk w = { .sb = sb, .op = SEAL_OP_CHECK };
    /* the walk changes nothing when it only checks */
    return seal_walk(&w, (json_t *)doc) == 0 && !w.stale;
}
