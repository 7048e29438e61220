/* test_ops_openapi.c: api/openapi.json against the code and the real api.
 *
 * 1. The document lists exactly the routes of the api's route tables (read
 *    from the api/ sources), and GET /openapi.json serves that document.
 * 2. Redocly CLI lints it (tests/openapi, ruleset recommended-strict).
 *    Without node or tests/openapi/node_modules this part is skipped with a
 *    message, unless HOOKLINE_REQUIRE_OPENAPI_LINT is set: then it fails.
 * 3. Contract: an end-to-end run calls every operation (successes and the
 *    usual errors) and checks each real answer against the document: the
 *    status is documented for the operation, the media type is, and a JSON
 *    body satisfies the schema. The schema check below implements the JSON
 *    Schema keywords the document uses and refuses any other, so a keyword
 *    it does not know cannot pass unchecked. Every operation must have been
 *    answered with a documented 2xx at least once.
 */
#include <dirent.h>
#include <regex.h>
#include <signal.h>
#include <time.h>

#include "ops_e2e.h"

#define SCHEMA_DEPTH_MAX 64
#define BIG_BODY_BYTES 300000   /* over the default HOOKLINE_MAX_BODY_BYTES */
#define EVENT_BODY "{\"type\":\"booking.scheduled\",\"data\":{\"n\":1}}"

static json_t *doc;             /* api/openapi.json */
static json_t *seen;            /* "METHOD /path" -> array of statuses answered */

/* ---- a JSON Schema subset (2020-12 keywords as OpenAPI 3.1 uses them) ------ */

static const char *const schema_annotations[] = {
    "description", "title", "examples", "example", "default", "deprecated", "readOnly", "writeOnly", NULL
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* The value at JSON pointer 'ref' ("#/components/schemas/X") in the document. */
static const json_t *schema_resolve(const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0)
        return NULL;
    const json_t *node = doc;
    char part[256];
    for (const char *p = ref + 2; node && *p;) {
        size_t n = strcspn(p, "/"), k = 0;
        for (size_t i = 0; i < n && k + 1 < sizeof(part); i++) {
            if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
                part[k++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                part[k++] = p[i];
            }
        }
        part[k] = '\0';
        node = json_object_get(node, part);
        p += n + (p[n] == '/');
    }
    return node;
}

static bool schema_type_is(const json_t *v, const char *type)
{
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v));
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "null"))
        return json_is_null(v);
    return false;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool regex_matches(const char *pattern, const char *s)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

#define FAIL(...) do { snprintf(why, cap, __VA_ARGS__); return -1; } while (0)

/* 0 if 'v' satisfies 'schema', else -1 with the first reason in 'why'. */
static int schema_check(const json_t *schema, const json_t *v, const char *at, char *why, size_t cap, int depth)
{
    if (depth > SCHEMA_DEPTH_MAX)
        FAIL("%s: schema nested too deep", at);
    if (json_is_true(schema))
        return 0;
    if (!json_is_object(schema))
        FAIL("%s: schema is not an object", at);
    const char *kw;
    const json_t *arg;
    char sub[512];
    json_object_foreach((json_t *)schema, kw, arg) {
        if (in_list(schema_annotations, kw))
            continue;
        if (!strcmp(kw, "$ref")) {
            const json_t *target = schema_resolve(json_string_value(arg));
            if (target == NULL)
                FAIL("%s: unresolved $ref %s", at, json_string_value(arg));
            if (schema_check(target, v, at, why, cap, depth + 1) < 0)
                return -1;
        } else if (!strcmp(kw, "type")) {
            bool ok = false;
            if (json_is_string(arg)) {
                ok = schema_type_is(v, json_string_value(arg));
            } else {
                size_t i;
                const json_t *t;
                json_array_foreach(arg, i, t) ok = ok || schema_type_is(v, json_string_value(t));
            }
            if (!ok) {
                char *want = json_dumps(arg, JSON_ENCODE_ANY);
                snprintf(why, cap, "%s: not of type %s", at, want ? want : "?");
                free(want);
                return -1;
            }
        } else if (!strcmp(kw, "enum")) {
            bool ok = false;
            size_t i;
            const json_t *e;
            json_array_foreach(arg, i, e) ok = ok || json_equal(e, v);
            if (!ok)
                FAIL("%s: not one of the enum values", at);
        } else if (!strcmp(kw, "const")) {
            if (!json_equal(arg, v))
                FAIL("%s: not the const value", at);
        } else if (!strcmp(kw, "properties")) {
            const char *name;
            const json_t *ps;
            if (!json_is_object(v))
                continue;
            json_object_foreach((json_t *)arg, name, ps) {
                const json_t *pv = json_object_get(v, name);
                if (pv == NULL)
                    continue;
                snprintf(sub, sizeof(sub), "%s.%s", at, name);
                if (schema_check(ps, pv, sub, why, cap, depth + 1) < 0)
                    return -1;
            }
        } else if (!strcmp(kw, "required")) {
            size_t i;
            const json_t *r;
            if (!json_is_object(v))
                continue;
            json_array_foreach(arg, i, r) {
                if (json_object_get(v, json_string_value(r)) == NULL)
                    FAIL("%s: required \"%s\" is missing", at, json_string_value(r));
            }
        } else if (!strcmp(kw, "additionalProperties")) {
            const char *name;
            const json_t *pv;
            if (!json_is_object(v))
                continue;
            const json_t *props = json_object_get(schema, "properties");
            json_object_foreach((json_t *)v, name, pv) {
                if (json_object_get(props, name) != NULL)
                    continue;
                if (json_is_false(arg))
                    FAIL("%s: \"%s\" is not in the document", at, name);
                snprintf(sub, sizeof(sub), "%s.%s", at, name);
                if (schema_check(arg, pv, sub, why, cap, depth + 1) < 0)
                    return -1;
            }
        } else if (!strcmp(kw, "items")) {
            size_t i;
            const json_t *e;
            if (!json_is_array(v))
                continue;
            json_array_foreach(v, i, e) {
                snprintf(sub, sizeof(sub), "%s[%zu]", at, i);
                if (schema_check(arg, e, sub, why, cap, depth + 1) < 0)
                    return -1;
            }
        } else if (!strcmp(kw, "minItems") || !strcmp(kw, "maxItems")) {
            if (json_is_array(v) && (kw[1] == 'i' ? (json_int_t)json_array_size(v) < json_integer_value(arg)
                                                  : (json_int_t)json_array_size(v) > json_integer_value(arg)))
                FAIL("%s: %zu items breaks %s %lld", at, json_array_size(v), kw, (long long)json_integer_value(arg));
        } else if (!strcmp(kw, "minLength") || !strcmp(kw, "maxLength")) {
            size_t n = json_is_string(v) ? utf8_chars(json_string_value(v)) : 0;
            if (json_is_string(v) && (kw[1] == 'i' ? (json_int_t)n < json_integer_value(arg)
                                                   : (json_int_t)n > json_integer_value(arg)))
                FAIL("%s: length %zu breaks %s %lld", at, n, kw, (long long)json_integer_value(arg));
        } else if (!strcmp(kw, "minimum") || !strcmp(kw, "maximum")) {
            if (json_is_number(v) && (kw[1] == 'i' ? json_number_value(v) < json_number_value(arg)
                                                   : json_number_value(v) > json_number_value(arg)))
                FAIL("%s: %g breaks %s %g", at, json_number_value(v), kw, json_number_value(arg));
        } else if (!strcmp(kw, "pattern")) {
            if (json_is_string(v) && !regex_matches(json_string_value(arg), json_string_value(v)))
                FAIL("%s: \"%.80s\" does not match %s", at, json_string_value(v), json_string_value(arg));
        } else if (!strcmp(kw, "format")) {
            const char *f = json_string_value(arg);
            const char *re = !strcmp(f, "date-time")
                ? "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
                : !strcmp(f, "uri") ? "^[A-Za-z][A-Za-z0-9+.-]*:[^ ]+$" : NULL;
            if (re == NULL)
                FAIL("%s: format \"%s\" is not supported by this checker", at, f);
            if (json_is_string(v) && !regex_matches(re, json_string_value(v)))
                FAIL("%s: \"%.80s\" is not a %s", at, json_string_value(v), f);
        } else if (!strcmp(kw, "allOf") || !strcmp(kw, "anyOf") || !strcmp(kw, "oneOf")) {
            size_t i, passed = 0;
            const json_t *s;
            char first[512] = "";
            json_array_foreach(arg, i, s) {
                char r[512];
                if (schema_check(s, v, at, r, sizeof(r), depth + 1) == 0)
                    passed++;
                else if (!first[0])
                    snprintf(first, sizeof(first), "%s", r);
            }
            if (!strcmp(kw, "allOf") && passed != json_array_size(arg))
                FAIL("%s", first);
            if (!strcmp(kw, "anyOf") && passed == 0)
                FAIL("%s: no anyOf branch matches (first: %.300s)", at, first);
            if (!strcmp(kw, "oneOf") && passed != 1)
                FAIL("%s: %zu oneOf branches match, not 1 (%.300s)", at, passed, first);
        } else {
            FAIL("%s: schema keyword \"%s\" is not supported by this checker", at, kw);
        }
    }
    return 0;
}

#undef FAIL

/* ---- checking answers against the document ---------------------------------------- */

static const json_t *deref(const json_t *node)
{
    const char *ref = json_string_value(json_object_get(node, "$ref"));
    return ref ? schema_resolve(ref) : node;
}

/* Check the answer 'resp' of 'method' on the documented path 'tmpl'. */
static void contract_check(const char *method, const char *tmpl, const struct hx_resp *resp)
{
    char lower[16], op_name[300], status[8];
    size_t i;
    for (i = 0; method[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)(method[i] | 0x20);
    lower[i] = '\0';
    snprintf(op_name, sizeof(op_name), "%s %s", method, tmpl);
    snprintf(status, sizeof(status), "%ld", resp->status);

    const json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), tmpl), lower);
    if (op == NULL) {
        fprintf(stderr, "contract: %s is not in the document\n", op_name);
        CHECK(op != NULL);
        return;
    }
    json_t *list = json_object_get(seen, op_name);
    if (list == NULL)
        json_object_set_new(seen, op_name, list = json_array());
    json_array_append_new(list, json_integer(resp->status));

    const json_t *r = deref(json_object_get(json_object_get(op, "responses"), status));
    if (r == NULL) {
        fprintf(stderr, "contract: %s answered %ld, not documented\n", op_name, resp->status);
        CHECK(r != NULL);
        return;
    }
    const json_t *content = json_object_get(r, "content");
    char ctype[128] = "";
    hx_resp_header(resp, "content-type", ctype, sizeof(ctype));
    ctype[strcspn(ctype, "; ")] = '\0';
    if (content == NULL) {
        CHECK(resp->len == 0);
        return;
    }
    const json_t *media = json_object_get(content, ctype);
    if (media == NULL) {
        fprintf(stderr, "contract: %s %ld: media type \"%s\" not documented\n", op_name, resp->status, ctype);
        CHECK(media != NULL);
        return;
    }
    if (strcmp(ctype, "application/json") != 0)
        return;     /* text: the document says type string, any text is one */
    CHECK(resp->json != NULL);
    char why[512];
    int rc = resp->json ? schema_check(json_object_get(media, "schema"), resp->json, "body", why, sizeof(why), 0) : -1;
    if (rc < 0)
        fprintf(stderr, "contract: %s %ld: %s\n  body: %.600s\n", op_name, resp->status, resp->json ? why : "not JSON",
                resp->body ? resp->body : "");
    CHECK(rc == 0);
}

/* Call the api, expect 'want', check the answer against operation 'tmpl'.
 * The answer stays in *resp (caller frees). */
static long call(struct hx_stack *st, struct hx_resp *resp, const char *method, const char *tmpl, const char *key,
                 const char *const *headers, long want, const char *body, const char *path_fmt, ...)
    __attribute__((format(printf, 9, 10)));
static long call(struct hx_stack *st, struct hx_resp *resp, const char *method, const char *tmpl, const char *key,
                 const char *const *headers, long want, const char *body, const char *path_fmt, ...)
{
    char path[1024], url[1200];
    va_list ap;
    va_start(ap, path_fmt);
    vsnprintf(path, sizeof(path), path_fmt, ap);
    va_end(ap);
    snprintf(url, sizeof(url), "%s%s", hx_api_url(st), path);
    long status = hx_http(method, url, key, body, headers, resp);
    if (status != want)
        fprintf(stderr, "contract: %s %s: %ld, wanted %ld: %.400s\n", method, path, status, want,
                resp->body ? resp->body : "");
    CHECK_EQ_INT(status, want);
    contract_check(method, tmpl, resp);
    return status;
}

/* call() for answers the caller does not need. */
#define CALL(st, method, tmpl, key, want, body, ...) do {                              \
        struct hx_resp call_resp_;                                                     \
        call(st, &call_resp_, method, tmpl, key, NULL, want, body, __VA_ARGS__);       \
        hx_resp_free(&call_resp_);                                                     \
    } while (0)

/* ---- 1: the document and the route tables ------------------------------------------ */

/* Every { "METHOD", "/path", ... } of the route tables in the api/ sources, as
 * "METHOD /path/{param}" -> true. */
static json_t *routes_in_code(void)
{
    json_t *routes = json_object();
    char dirpath[4096];
    snprintf(dirpath, sizeof(dirpath), "%s/api", OPS_SOURCE_ROOT);
    DIR *d = opendir(dirpath);
    CHECK_FATAL(d != NULL);
    regex_t re;
    CHECK_FATAL(regcomp(&re, "\\{ *\"(GET|POST|PUT|PATCH|DELETE|HEAD)\", *\"(/[^\"]*)\"", REG_EXTENDED) == 0);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 3 || strcmp(de->d_name + n - 2, ".c") != 0)
            continue;
        char rel[600];
        snprintf(rel, sizeof(rel), "api/%s", de->d_name);
        char *text = ops_source_file(rel);
        CHECK_FATAL(text != NULL);
        regmatch_t m[3];
        for (const char *p = text; regexec(&re, p, 3, m, 0) == 0; p += m[0].rm_eo) {
            char route[512], *o = route;
            o += snprintf(route, sizeof(route), "%.*s ", (int)(m[1].rm_eo - m[1].rm_so), p + m[1].rm_so);
            /* ":id" segments are "{id}" in OpenAPI */
            for (const char *c = p + m[2].rm_so; c < p + m[2].rm_eo && o < route + sizeof(route) - 3; c++) {
                if (*c == ':' && c[-1] == '/') {
                    *o++ = '{';
                    while (c + 1 < p + m[2].rm_eo && c[1] != '/' && o < route + sizeof(route) - 3)
                        *o++ = *++c;
                    *o++ = '}';
                } else {
                    *o++ = *c;
                }
            }
            *o = '\0';
            json_object_set_new(routes, route, json_true());
        }
        free(text);
    }
    regfree(&re);
    closedir(d);
    return routes;
}

static void check_document_matches_code(void)
{
    OPS_SECTION("the document lists exactly the routes of the api's route tables");
    CHECK_EQ_STR(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *code = routes_in_code();
    CHECK(json_object_size(code) >= 20);
    json_t *documented = json_object();
    const char *path, *method;
    json_t *item, *op;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            char name[512], upper[16];
            size_t i;
            for (i = 0; method[i] && i + 1 < sizeof(upper); i++)
                upper[i] = (char)(method[i] & ~0x20);
            upper[i] = '\0';
            snprintf(name, sizeof(name), "%s %s", upper, path);
            json_object_set_new(documented, name, json_true());
            CHECK(json_string_value(json_object_get(op, "operationId")) != NULL);
        }
    }
    const char *name;
    json_t *v;
    json_object_foreach(code, name, v) {
        if (!json_object_get(documented, name))
            fprintf(stderr, "route %s is not in api/openapi.json\n", name);
        CHECK(json_object_get(documented, name) != NULL);
    }
    json_object_foreach(documented, name, v) {
        if (!json_object_get(code, name))
            fprintf(stderr, "api/openapi.json documents %s, which no route table has\n", name);
        CHECK(json_object_get(code, name) != NULL);
    }
    json_decref(documented);
    json_decref(code);
}

/* ---- 2: the linter ----------------------------------------------------------------- */

static void check_lint(const char *dir)
{
    OPS_SECTION("Redocly CLI lints api/openapi.json clean (recommended-strict)");
    char cli[4096];
    snprintf(cli, sizeof(cli), "%s/tests/openapi/node_modules/@redocly/cli/bin/cli.js", OPS_SOURCE_ROOT);
    struct ops_run run;
    const char *const probe[] = { "node", "--version", NULL };
    ops_run_path(dir, "node-version", "/usr/bin/env", probe, NULL, 10000, &run);
    if (run.status != 0 || access(cli, R_OK) != 0) {
        const char *why = run.status != 0 ? "node is not installed (apt-get install nodejs npm)"
                                          : "tests/openapi/node_modules is missing (cd tests/openapi && npm ci)";
        if (getenv("HOOKLINE_REQUIRE_OPENAPI_LINT")) {
            fprintf(stderr, "HOOKLINE_REQUIRE_OPENAPI_LINT is set but %s\n", why);
            CHECK(!"the OpenAPI linter is available");
        } else {
            printf("   skipped: %s\n", why);
        }
        return;
    }
    char config[4096], file[4096];
    snprintf(config, sizeof(config), "--config=%s/tests/openapi/redocly.yaml", OPS_SOURCE_ROOT);
    snprintf(file, sizeof(file), "%s/api/openapi.json", OPS_SOURCE_ROOT);
    const char *const args[] = { "node", cli, "lint", config, "--format=stylish", file, NULL };
    const char *const env[] = { "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1", NULL };
    ops_run_path(dir, "redocly", "/usr/bin/env", args, env, 120000, &run);
    if (run.status != 0)
        fprintf(stderr, "redocly lint (exit %d):\n%s\n%s\n", run.status, run.out, run.err);
    CHECK_EQ_INT(run.status, 0);
}

/* ---- 3: the contract ---------------------------------------------------------------- */

int main(void)
{
    char *text = ops_source_file("api/openapi.json");
    CHECK_FATAL(text != NULL);
    json_error_t jerr;
    doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        fprintf(stderr, "api/openapi.json: %s (line %d)\n", jerr.text, jerr.line);
    CHECK_FATAL(doc != NULL);
    free(text);
    seen = json_object();
    check_document_matches_code();

    struct hx_stack_opts opts = { .dispatchers = 1, .env = { "HOOKLINE_RETRY_SCHEDULE=1s", NULL } };
    struct hx_stack *st = hx_stack_start(&opts);
    check_lint(hx_artifacts_dir(st));
    struct hx_receiver *rcv = hx_receiver_start(NULL);
    const char *admin = hx_admin_key(st);
    struct hx_resp resp;
    char key[128], ro_key[128], ro_key_id[64], wh[64], did[64], body[2048];

    OPS_SECTION("operations: health, readiness, metrics, this document, the console");
    CALL(st, "GET", "/healthz", NULL, 200, NULL, "/healthz");
    CALL(st, "GET", "/readyz", NULL, 200, NULL, "/readyz");
    CALL(st, "GET", "/metrics", NULL, 200, NULL, "/metrics");
    call(st, &resp, "GET", "/openapi.json", NULL, NULL, 200, NULL, "/openapi.json");
    CHECK(resp.json != NULL && json_equal(resp.json, doc));
    hx_resp_free(&resp);
    CALL(st, "GET", "/", NULL, 200, NULL, "/");
    CALL(st, "GET", "/portal", NULL, 200, NULL, "/portal");
    CALL(st, "GET", "/console/{file}", NULL, 200, NULL, "/console/app.js");
    CALL(st, "GET", "/console/{file}", NULL, 404, NULL, "/console/nothing-here.js");

    OPS_SECTION("admin: tenants and keys");
    CALL(st, "POST", "/v1/tenants", admin, 201, "{\"id\":\"contract\",\"name\":\"Contract\"}", "/v1/tenants");
    CALL(st, "POST", "/v1/tenants", admin, 409, "{\"id\":\"contract\"}", "/v1/tenants");
    CALL(st, "POST", "/v1/tenants", admin, 201, "{}", "/v1/tenants");
    CALL(st, "POST", "/v1/tenants", admin, 400, "{\"id\":\"-no\"}", "/v1/tenants");
    CALL(st, "POST", "/v1/tenants", NULL, 401, "{\"id\":\"x\"}", "/v1/tenants");
    call(st, &resp, "POST", "/v1/tenants/{tenant}/keys", admin, NULL, 201, "{\"label\":\"all\"}",
         "/v1/tenants/contract/keys");
    snprintf(key, sizeof(key), "%s", ops_str(resp.json, "key") ? ops_str(resp.json, "key") : "");
    hx_resp_free(&resp);
    call(st, &resp, "POST", "/v1/tenants/{tenant}/keys", admin, NULL, 201, "{\"scopes\":[\"webhooks:read\"]}",
         "/v1/tenants/contract/keys");
    snprintf(ro_key, sizeof(ro_key), "%s", ops_str(resp.json, "key") ? ops_str(resp.json, "key") : "");
    snprintf(ro_key_id, sizeof(ro_key_id), "%s", ops_str(resp.json, "id") ? ops_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    CHECK_FATAL(key[0] && ro_key[0] && ro_key_id[0]);
    CALL(st, "POST", "/v1/tenants/{tenant}/keys", admin, 404, "{}", "/v1/tenants/nobody/keys");
    CALL(st, "POST", "/v1/tenants/{tenant}/keys", admin, 400, "{\"scopes\":[\"root\"]}", "/v1/tenants/contract/keys");
    CALL(st, "POST", "/v1/tenants", key, 403, "{\"id\":\"y\"}", "/v1/tenants");

    OPS_SECTION("portal sessions");
    call(st, &resp, "POST", "/v1/portal-sessions", admin, NULL, 201, "{\"tenant\":\"contract\",\"ttl_s\":600}",
         "/v1/portal-sessions");
    char ps_id[128];
    snprintf(ps_id, sizeof(ps_id), "%s", ops_str(resp.json, "id") ? ops_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    CALL(st, "POST", "/v1/portal-sessions", key, 201, "{\"scopes\":[\"webhooks:read\"]}", "/v1/portal-sessions");
    CALL(st, "POST", "/v1/portal-sessions", key, 400, "{\"ttl_s\":1}", "/v1/portal-sessions");
    CALL(st, "POST", "/v1/portal-sessions", key, 404, "{\"tenant\":\"nobody\"}", "/v1/portal-sessions");
    CALL(st, "POST", "/v1/portal-sessions", ro_key, 403, "{}", "/v1/portal-sessions");
    CALL(st, "POST", "/v1/portal-sessions", NULL, 401, "{}", "/v1/portal-sessions");
    CALL(st, "DELETE", "/v1/portal-sessions/{id}", key, 200, NULL, "/v1/portal-sessions/%s", ps_id);
    CALL(st, "DELETE", "/v1/portal-sessions/{id}", key, 404, NULL, "/v1/portal-sessions/ps_absent");

    OPS_SECTION("the event catalog");
    CALL(st, "GET", "/v1/webhook-types", key, 200, NULL, "/v1/webhook-types");
    CALL(st, "GET", "/v1/webhook-types", NULL, 401, NULL, "/v1/webhook-types");

    OPS_SECTION("webhooks: create, list, get, replace, change");
    snprintf(body, sizeof(body),
             "{\"name\":\"Contract\",\"url\":\"%s/hook\",\"events\":[\"booking\",\"conversation.closed\"],"
             "\"headers\":{\"x-env\":\"test\"},\"filter\":{\"data.team\":[\"sales\",\"ops\"]},\"rate_limit\":50}",
             hx_receiver_url(rcv));
    call(st, &resp, "POST", "/v1/webhooks", key, NULL, 201, body, "/v1/webhooks");
    snprintf(wh, sizeof(wh), "%s", ops_str(resp.json, "id") ? ops_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    CHECK_FATAL(wh[0]);
    CALL(st, "POST", "/v1/webhooks", key, 409, body, "/v1/webhooks");
    CALL(st, "POST", "/v1/webhooks", ro_key, 403, body, "/v1/webhooks");
    CALL(st, "POST", "/v1/webhooks", key, 400, "{\"name\":\"no url\",\"events\":[\"booking\"]}", "/v1/webhooks");
    CALL(st, "POST", "/v1/webhooks", key, 400, "not json", "/v1/webhooks");
    snprintf(body, sizeof(body),
             "{\"webhook\":{\"name\":\"Unknown\",\"url\":\"%s/x\",\"events\":[\"booking\",\"nope.never\"]}}",
             hx_receiver_url(rcv));
    call(st, &resp, "POST", "/v1/webhooks", key, NULL, 422, body, "/v1/webhooks");
    CHECK(json_array_size(json_object_get(resp.json, "unavailable")) == 1);
    hx_resp_free(&resp);
    {
        char *big = malloc(BIG_BODY_BYTES + 64);
        CHECK_FATAL(big != NULL);
        int n = snprintf(big, 64, "{\"name\":\"");
        memset(big + n, 'a', BIG_BODY_BYTES);
        strcpy(big + n + BIG_BODY_BYTES, "\"}");
        CALL(st, "POST", "/v1/webhooks", key, 413, big, "/v1/webhooks");
        free(big);
    }
    CALL(st, "GET", "/v1/webhooks", key, 200, NULL, "/v1/webhooks?page=1&size=10&active=true&event=booking.scheduled");
    CALL(st, "GET", "/v1/webhooks", key, 400, NULL, "/v1/webhooks?size=0");
    CALL(st, "GET", "/v1/webhooks", key, 400, NULL, "/v1/webhooks?skip=1&page=1");
    CALL(st, "GET", "/v1/webhooks", NULL, 401, NULL, "/v1/webhooks");
    CALL(st, "GET", "/v1/webhooks/{id}", key, 200, NULL, "/v1/webhooks/%s", wh);
    CALL(st, "GET", "/v1/webhooks/{id}", key, 404, NULL, "/v1/webhooks/wh_absent");
    snprintf(body, sizeof(body),
             "{\"name\":\"Contract\",\"endpoints\":[{\"url\":\"%s/hook\",\"headers\":{\"x-a\":\"1\"}}],"
             "\"events\":\"booking\",\"max_retries\":1}",
             hx_receiver_url(rcv));
    CALL(st, "PUT", "/v1/webhooks/{id}", key, 200, body, "/v1/webhooks/%s", wh);
    CALL(st, "PUT", "/v1/webhooks/{id}", key, 400, "{\"name\":\"only a name\"}", "/v1/webhooks/%s", wh);
    CALL(st, "PATCH", "/v1/webhooks/{id}", key, 200, "{\"description\":\"changed\",\"rate_limit\":null}",
         "/v1/webhooks/%s", wh);
    CALL(st, "PATCH", "/v1/webhooks/{id}", key, 422, "{\"events\":[\"nope.never\"]}", "/v1/webhooks/%s", wh);
    CALL(st, "PATCH", "/v1/webhooks/{id}", key, 404, "{\"description\":\"x\"}", "/v1/webhooks/wh_absent");

    OPS_SECTION("events: publish, replay by Idempotency-Key, errors");
    const char *const idem[] = { "Idempotency-Key: contract-1", NULL };
    call(st, &resp, "POST", "/v1/events", key, idem, 202, EVENT_BODY, "/v1/events");
    hx_resp_free(&resp);
    call(st, &resp, "POST", "/v1/events", key, idem, 202, EVENT_BODY, "/v1/events");
    char replayed[16] = "";
    hx_resp_header(&resp, "idempotent-replayed", replayed, sizeof(replayed));
    CHECK_EQ_STR(replayed, "true");
    hx_resp_free(&resp);
    CALL(st, "POST", "/v1/events", key, 422, "{\"type\":\"nope.never\"}", "/v1/events");
    CALL(st, "POST", "/v1/events", key, 400, "{\"data\":{}}", "/v1/events");
    CALL(st, "POST", "/v1/events", ro_key, 403, "{\"type\":\"booking.scheduled\"}", "/v1/events");

    OPS_SECTION("deliveries: the log, redelivery, test events, deleting a record");
    CHECK(HX_WAIT(hx_receiver_count(rcv, "/hook") >= 1, 20000));
    did[0] = '\0';
    CHECK(HX_WAIT((call(st, &resp, "GET", "/v1/webhooks/{id}/deliveries", key, NULL, 200, NULL,
                        "/v1/webhooks/%s/deliveries?size=5&success=true", wh),
                   snprintf(did, sizeof(did), "%s",
                            ops_str(json_array_get(json_object_get(resp.json, "elements"), 0), "id")
                                ? ops_str(json_array_get(json_object_get(resp.json, "elements"), 0), "id") : ""),
                   hx_resp_free(&resp), did[0] != '\0'), 20000));
    CALL(st, "GET", "/v1/webhooks/{id}/deliveries", key, 400, NULL, "/v1/webhooks/%s/deliveries?success=maybe", wh);
    CALL(st, "GET", "/v1/webhooks/{id}/deliveries", key, 200, NULL, "/v1/webhooks/%s/deliveries?skip=0&take=2&sort=sent_at",
         wh);
    CALL(st, "GET", "/v1/webhooks/{id}/deliveries", key, 400, NULL, "/v1/webhooks/%s/deliveries?sort=name", wh);
    /* with an attempt recorded: the embedded deliveries meet their schema */
    CALL(st, "GET", "/v1/webhooks", key, 200, NULL, "/v1/webhooks?include=deliveries&skip=0&take=5&sort=-created_at");
    CALL(st, "GET", "/v1/webhooks/{id}/deliveries", key, 404, NULL, "/v1/webhooks/wh_absent/deliveries");
    CALL(st, "POST", "/v1/webhooks/{id}/deliveries/{did}/retry", key, 202, NULL, "/v1/webhooks/%s/deliveries/%s/retry",
         wh, did);
    CALL(st, "POST", "/v1/webhooks/{id}/deliveries/{did}/retry", key, 404, NULL,
         "/v1/webhooks/%s/deliveries/dlv_absent/retry", wh);
    CHECK(HX_WAIT(hx_receiver_count(rcv, "/hook") >= 2, 20000));
    CALL(st, "POST", "/v1/webhooks/{id}/test", key, 202, NULL, "/v1/webhooks/%s/test", wh);
    CALL(st, "POST", "/v1/webhooks/{id}/test", key, 202, "{\"payload\":{\"hello\":\"world\"}}", "/v1/webhooks/%s/test",
         wh);
    CALL(st, "POST", "/v1/webhooks/{id}/test", key, 400, "{\"payload\":3}", "/v1/webhooks/%s/test", wh);
    CHECK(HX_WAIT(hx_receiver_count(rcv, "/hook") >= 4, 20000));
    /* every kind of attempt in the log satisfies the schema, failures included */
    hx_receiver_respond(rcv, "/hook", 503, 1, "Retry-After: 1");
    CALL(st, "POST", "/v1/webhooks/{id}/test", key, 202, NULL, "/v1/webhooks/%s/test", wh);
    CHECK(HX_WAIT((call(st, &resp, "GET", "/v1/webhooks/{id}/deliveries", key, NULL, 200, NULL,
                        "/v1/webhooks/%s/deliveries?success=false", wh),
                   json_integer_value(json_object_get(resp.json, "count")) >= 1 ? (hx_resp_free(&resp), true)
                                                                                 : (hx_resp_free(&resp), false)),
                  20000));
    /* one attempt as sent, and the delivery health (failures included) */
    CALL(st, "GET", "/v1/webhooks/{id}/deliveries/{did}", key, 200, NULL, "/v1/webhooks/%s/deliveries/%s", wh, did);
    CALL(st, "GET", "/v1/webhooks/{id}/deliveries/{did}", key, 404, NULL, "/v1/webhooks/%s/deliveries/dlv_absent", wh);
    CALL(st, "GET", "/v1/webhooks/{id}/stats", key, 200, NULL, "/v1/webhooks/%s/stats", wh);
    CALL(st, "GET", "/v1/webhooks/{id}/stats", key, 200, NULL, "/v1/webhooks/%s/stats?bucket=1d", wh);
    CALL(st, "GET", "/v1/webhooks/{id}/stats", key, 400, NULL, "/v1/webhooks/%s/stats?bucket=1w", wh);
    CALL(st, "GET", "/v1/webhooks/{id}/stats", key, 404, NULL, "/v1/webhooks/wh_absent/stats");
    CALL(st, "DELETE", "/v1/webhooks/{id}/deliveries/{did}", key, 200, NULL, "/v1/webhooks/%s/deliveries/%s", wh, did);
    CALL(st, "DELETE", "/v1/webhooks/{id}/deliveries/{did}", key, 404, NULL, "/v1/webhooks/%s/deliveries/%s", wh, did);

    OPS_SECTION("poll endpoints: a poll webhook, its events fetched, the errors");
    {
        char pwh[64] = "";
        call(st, &resp, "POST", "/v1/webhooks", key, NULL, 201,
             "{\"name\":\"Contract poll\",\"endpoints\":[{\"kind\":\"poll\"}],\"events\":\"booking\"}", "/v1/webhooks");
        snprintf(pwh, sizeof(pwh), "%s", ops_str(resp.json, "id") ? ops_str(resp.json, "id") : "wh_none");
        hx_resp_free(&resp);
        CALL(st, "GET", "/v1/webhooks/{id}", key, 200, NULL, "/v1/webhooks/%s", pwh);
        CALL(st, "POST", "/v1/webhooks/{id}/test", key, 202, NULL, "/v1/webhooks/%s/test", pwh);
        CHECK(HX_WAIT((call(st, &resp, "GET", "/v1/webhooks/{id}/poll", key, NULL, 200, NULL,
                            "/v1/webhooks/%s/poll?limit=10", pwh),
                       json_array_size(json_object_get(resp.json, "data")) >= 1 ? (hx_resp_free(&resp), true)
                                                                                : (hx_resp_free(&resp), false)),
                      20000));
        CALL(st, "GET", "/v1/webhooks/{id}/poll", key, 200, NULL, "/v1/webhooks/%s/poll?cursor=pc_1", pwh);
        CALL(st, "GET", "/v1/webhooks/{id}/poll", key, 400, NULL, "/v1/webhooks/%s/poll?limit=0", pwh);
        CALL(st, "GET", "/v1/webhooks/{id}/poll", key, 400, NULL, "/v1/webhooks/%s/poll?cursor=nope", pwh);
        CALL(st, "GET", "/v1/webhooks/{id}/poll", key, 404, NULL, "/v1/webhooks/wh_absent/poll");
        CALL(st, "GET", "/v1/webhooks/{id}/poll", key, 409, NULL, "/v1/webhooks/%s/poll", wh);
        CALL(st, "GET", "/v1/webhooks/{id}/poll", NULL, 401, NULL, "/v1/webhooks/%s/poll", pwh);
        /* as if retention had removed its event: the cursor before it is stale */
        PGconn *pg = hx_pg_connect(st);
        const char *params[1] = { pwh };
        PGresult *res = PQexecParams(pg, "UPDATE poll_state SET purged = last_seq WHERE webhook_id = $1", 1, NULL,
                                     params, NULL, NULL, 0);
        CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
        PQclear(res);
        PQfinish(pg);
        CALL(st, "GET", "/v1/webhooks/{id}/poll", key, 410, NULL, "/v1/webhooks/%s/poll?cursor=pc_0", pwh);
    }

    OPS_SECTION("an endpoint disabled alone by a 410: its state in GET, its attempt 409, enabled again");
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/hook\"},{\"url\":\"%s/gone\"}]}",
             hx_receiver_url(rcv), hx_receiver_url(rcv));
    CALL(st, "PATCH", "/v1/webhooks/{id}", key, 200, body, "/v1/webhooks/%s", wh);
    hx_receiver_respond(rcv, "/gone", 410, 1, NULL);
    /* the dispatcher has the new endpoint once it has read the change (the
     * lifecycle stream, another topic than the test event's): test events
     * until one reaches it */
    long long until = hx_now_ms() + 20000;
    do {
        CALL(st, "POST", "/v1/webhooks/{id}/test", key, 202, NULL, "/v1/webhooks/%s/test", wh);
    } while (!HX_WAIT(hx_receiver_count(rcv, "/gone") >= 1, 2000) && hx_now_ms() < until);
    CHECK(HX_WAIT((call(st, &resp, "GET", "/v1/webhooks/{id}", key, NULL, 200, NULL, "/v1/webhooks/%s", wh),
                   json_is_false(json_object_get(json_array_get(json_object_get(resp.json, "endpoints"), 1),
                                                 "is_active")) ? (hx_resp_free(&resp), true)
                                                               : (hx_resp_free(&resp), false)),
                  20000));
    CALL(st, "GET", "/v1/webhooks", key, 200, NULL, "/v1/webhooks?size=100");
    char gone[64] = "";
    call(st, &resp, "GET", "/v1/webhooks/{id}/deliveries", key, NULL, 200, NULL,
         "/v1/webhooks/%s/deliveries?size=100&success=false", wh);
    {
        size_t i;
        json_t *el;
        json_array_foreach(json_object_get(resp.json, "elements"), i, el) {
            if (json_integer_value(json_object_get(el, "status_code")) == 410 && ops_str(el, "id"))
                snprintf(gone, sizeof(gone), "%s", ops_str(el, "id"));
        }
    }
    hx_resp_free(&resp);
    CHECK(gone[0] != '\0');
    CALL(st, "POST", "/v1/webhooks/{id}/deliveries/{did}/retry", key, 409, NULL, "/v1/webhooks/%s/deliveries/%s/retry",
         wh, gone);
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/hook\",\"is_active\":false},{\"url\":\"%s/gone\"}]}",
             hx_receiver_url(rcv), hx_receiver_url(rcv));
    CALL(st, "PATCH", "/v1/webhooks/{id}", key, 400, body, "/v1/webhooks/%s", wh);
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/hook\"},{\"url\":\"%s/gone\",\"is_active\":true}]}",
             hx_receiver_url(rcv), hx_receiver_url(rcv));
    CALL(st, "PATCH", "/v1/webhooks/{id}", key, 200, body, "/v1/webhooks/%s", wh);

    OPS_SECTION("recover: the 410 failure of the last hour scheduled again; the usual errors");
    {
        char since[32];
        time_t hour_ago = time(NULL) - 3600;
        struct tm tm;
        strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&hour_ago, &tm));
        snprintf(body, sizeof(body), "{\"since\":\"%s\"}", since);
    }
    CALL(st, "POST", "/v1/webhooks/{id}/recover", key, 202, body, "/v1/webhooks/%s/recover", wh);
    CALL(st, "POST", "/v1/webhooks/{id}/recover", key, 400, "{}", "/v1/webhooks/%s/recover", wh);
    CALL(st, "POST", "/v1/webhooks/{id}/recover", ro_key, 403, body, "/v1/webhooks/%s/recover", wh);
    CALL(st, "POST", "/v1/webhooks/{id}/recover", key, 404, body, "/v1/webhooks/wh_absent/recover");

    OPS_SECTION("ordered webhooks: the lines, a held head skipped; the errors");
    {
        char owh[64] = "", head_did[64] = "", obody[256];
        snprintf(obody, sizeof(obody), "{\"name\":\"Contract ordered\",\"url\":\"%s/ordered\",\"events\":\"booking\","
                 "\"ordered\":true}", hx_receiver_url(rcv));
        call(st, &resp, "POST", "/v1/webhooks", key, NULL, 201, obody, "/v1/webhooks");
        snprintf(owh, sizeof(owh), "%s", ops_str(resp.json, "id") ? ops_str(resp.json, "id") : "wh_none");
        hx_resp_free(&resp);
        /* its endpoint answers 503 with Retry-After: 60: the first test event is held at the head */
        hx_receiver_respond(rcv, "/ordered", 503, 1000, "Retry-After: 60");
        CALL(st, "POST", "/v1/webhooks/{id}/test", key, 202, NULL, "/v1/webhooks/%s/test", owh);
        CALL(st, "POST", "/v1/webhooks/{id}/test", key, 202, NULL, "/v1/webhooks/%s/test", owh);
        CHECK(HX_WAIT((call(st, &resp, "GET", "/v1/webhooks/{id}/waiting", key, NULL, 200, NULL,
                            "/v1/webhooks/%s/waiting", owh),
                       snprintf(head_did, sizeof(head_did), "%s",
                                ops_str(json_object_get(json_array_get(json_object_get(resp.json, "endpoints"), 0),
                                                        "head"), "delivery_id")
                                    ? ops_str(json_object_get(json_array_get(json_object_get(resp.json, "endpoints"),
                                                                             0), "head"), "delivery_id") : ""),
                       hx_resp_free(&resp), head_did[0] != '\0'), 20000));
        CALL(st, "GET", "/v1/webhooks/{id}/waiting", key, 404, NULL, "/v1/webhooks/wh_absent/waiting");
        CALL(st, "POST", "/v1/webhooks/{id}/deliveries/{did}/skip", ro_key, 403, NULL,
             "/v1/webhooks/%s/deliveries/%s/skip", owh, head_did);
        CALL(st, "POST", "/v1/webhooks/{id}/deliveries/{did}/skip", key, 404, NULL,
             "/v1/webhooks/%s/deliveries/dlv_absent/skip", owh);
        CALL(st, "POST", "/v1/webhooks/{id}/deliveries/{did}/skip", key, 200, NULL,
             "/v1/webhooks/%s/deliveries/%s/skip", owh, head_did);
        CALL(st, "POST", "/v1/webhooks/{id}/deliveries/{did}/skip", key, 409, NULL,
             "/v1/webhooks/%s/deliveries/%s/skip", owh, head_did);
        hx_receiver_forget(rcv, "/ordered");
    }

    OPS_SECTION("secrets, disabling, deleting, revoking");
    CALL(st, "POST", "/v1/webhooks/{id}/rotate-secret", key, 200, NULL, "/v1/webhooks/%s/rotate-secret", wh);
    CALL(st, "POST", "/v1/webhooks/{id}/rotate-secret", ro_key, 403, NULL, "/v1/webhooks/%s/rotate-secret", wh);
    CALL(st, "PATCH", "/v1/webhooks/{id}", key, 200, "{\"is_active\":false}", "/v1/webhooks/%s", wh);
    CALL(st, "POST", "/v1/webhooks/{id}/test", key, 409, NULL, "/v1/webhooks/%s/test", wh);
    CALL(st, "POST", "/v1/webhooks/{id}/recover", key, 409, body, "/v1/webhooks/%s/recover", wh);
    CALL(st, "DELETE", "/v1/webhooks/{id}", key, 200, NULL, "/v1/webhooks/%s", wh);
    CALL(st, "DELETE", "/v1/webhooks/{id}", key, 404, NULL, "/v1/webhooks/%s", wh);
    CALL(st, "DELETE", "/v1/tenants/{tenant}/keys/{key_id}", admin, 200, NULL, "/v1/tenants/contract/keys/%s",
         ro_key_id);
    CALL(st, "DELETE", "/v1/tenants/{tenant}/keys/{key_id}", admin, 404, NULL, "/v1/tenants/contract/keys/key_absent");
    CALL(st, "GET", "/v1/webhooks", ro_key, 401, NULL, "/v1/webhooks");

    OPS_SECTION("Kafka down: /readyz answers 503 as documented");
    hx_broker_down(st);
    CALL(st, "GET", "/readyz", NULL, 503, NULL, "/readyz");
    hx_broker_up(st);

    OPS_SECTION("every documented operation was answered with a documented 2xx");
    const char *path, *method;
    json_t *item, *op;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            char name[512], upper[16];
            size_t i;
            for (i = 0; method[i] && i + 1 < sizeof(upper); i++)
                upper[i] = (char)(method[i] & ~0x20);
            upper[i] = '\0';
            snprintf(name, sizeof(name), "%s %s", upper, path);
            bool ok = false;
            json_t *s;
            json_array_foreach(json_object_get(seen, name), i, s) ok = ok || json_integer_value(s) / 100 == 2;
            if (!ok)
                fprintf(stderr, "contract: %s was never answered with a 2xx\n", name);
            CHECK(ok);
        }
    }

    hx_receiver_stop(rcv);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    json_decref(seen);
    json_decref(doc);
    return check_exit();
}
