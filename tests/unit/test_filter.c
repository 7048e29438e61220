/* test_filter.c: payload filters. Data-driven from
 * tests/data/filter/cases.json (each case: a filter, an optional envelope,
 * and match, nomatch or invalid), plus the size limits, which are easier
 * to build in code than to write out. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "filter.h"

#define PREFIX "A valid \"filter\" must be specified. "

/* Every case in cases.json validates (or is refused) and matches as
 * listed. A refusal is HL_EINVAL with a reason. */
static void test_filter_cases(void)
{
    json_error_t jerr;
    json_t *doc = json_load_file(HL_TEST_DATA "/filter/cases.json", 0, &jerr);
    if (doc == NULL)
        fprintf(stderr, "cases.json:%d: %s\n", jerr.line, jerr.text);
    CHECK_FATAL(doc != NULL);
    json_t *def_env = json_object_get(doc, "envelope");
    json_t *cases = json_object_get(doc, "cases");
    CHECK_FATAL(json_is_object(def_env) && json_is_array(cases));
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *expect = json_string_value(json_object_get(c, "expect"));
        json_t *filter = json_object_get(c, "filter");
        json_t *env = json_object_get(c, "envelope");
        CHECK_FATAL(name != NULL && expect != NULL && filter != NULL);
        CHECK_FATAL(!strcmp(expect, "match") || !strcmp(expect, "nomatch") || !strcmp(expect, "invalid"));
        if (env == NULL)
            env = def_env;
        struct hl_error err = { 0 };
        int rc = filter_validate(filter, &err);
        if (strcmp(expect, "invalid") == 0) {
            if (rc == 0)
                fprintf(stderr, "case \"%s\": filter accepted, expected invalid\n", name);
            CHECK_EQ_INT(rc, HL_EINVAL);
            CHECK(strncmp(err.msg, PREFIX, strlen(PREFIX)) == 0 && strlen(err.msg) > strlen(PREFIX));
            continue;
        }
        if (rc != 0)
            fprintf(stderr, "case \"%s\": filter refused: %s\n", name, err.msg);
        CHECK_EQ_INT(rc, 0);
        bool want = strcmp(expect, "match") == 0;
        bool got = filter_match(filter, env);
        if (got != want)
            fprintf(stderr, "case \"%s\": expected %s\n", name, expect);
        CHECK_EQ_INT(got, want);
    }
    fprintf(stderr, "cases.json: %zu cases\n", json_array_size(cases));
    CHECK(json_array_size(cases) >= 40);
    json_decref(doc);
}

/* FILTER_MAX_CONDITIONS conditions are accepted, one more is refused. */
static void test_condition_limit(void)
{
    json_t *filter = json_object();
    char path[32];
    for (int i = 0; i < FILTER_MAX_CONDITIONS; i++) {
        snprintf(path, sizeof(path), "data.k%d", i);
        json_object_set_new(filter, path, json_integer(i));
    }
    struct hl_error err = { 0 };
    CHECK_EQ_INT(filter_validate(filter, &err), 0);
    json_object_set_new(filter, "data.one_more", json_true());
    CHECK_EQ_INT(filter_validate(filter, &err), HL_EINVAL);
    CHECK(strstr(err.msg, "32") != NULL);
    json_decref(filter);
}

/* An array of FILTER_MAX_VALUES values is accepted, one more is refused;
 * the last value of a full array still matches. */
static void test_values_limit(void)
{
    json_t *values = json_array();
    for (int i = 0; i < FILTER_MAX_VALUES; i++)
        json_array_append_new(values, json_integer(i));
    json_t *filter = json_pack("{s:O}", "data.n", values);
    json_t *env = json_pack("{s:{s:i}}", "data", "n", FILTER_MAX_VALUES - 1);
    struct hl_error err = { 0 };
    CHECK_EQ_INT(filter_validate(filter, &err), 0);
    CHECK(filter_match(filter, env));
    json_array_append_new(values, json_integer(FILTER_MAX_VALUES));
    CHECK_EQ_INT(filter_validate(filter, &err), HL_EINVAL);
    json_decref(values);
    json_decref(filter);
    json_decref(env);
}

/* A path of FILTER_MAX_PATH characters is accepted, one more is refused. */
static void test_path_limit(void)
{
    char path[FILTER_MAX_PATH + 2];
    memset(path, 'a', sizeof(path));
    path[FILTER_MAX_PATH] = '\0';
    json_t *filter = json_object();
    json_object_set_new(filter, path, json_string("x"));
    struct hl_error err = { 0 };
    CHECK_EQ_INT(filter_validate(filter, &err), 0);
    json_decref(filter);
    path[FILTER_MAX_PATH] = 'a';
    path[FILTER_MAX_PATH + 1] = '\0';
    filter = json_object();
    json_object_set_new(filter, path, json_string("x"));
    CHECK_EQ_INT(filter_validate(filter, &err), HL_EINVAL);
    json_decref(filter);
}

/* A filter of FILTER_MAX_BYTES as compact JSON is accepted, one byte more
 * is refused with a reason naming the limit; its value still matches. */
static void test_bytes_limit(void)
{
    /* {"data.s":"sss..."}: 13 bytes around the value */
    size_t n = FILTER_MAX_BYTES - 13;
    char *value = malloc(n + 2);
    CHECK_FATAL(value != NULL);
    memset(value, 's', n + 1);
    value[n] = '\0';
    json_t *filter = json_pack("{s:s}", "data.s", value);
    char *text = json_dumps(filter, JSON_COMPACT);
    CHECK_EQ_INT(strlen(text), FILTER_MAX_BYTES);
    free(text);
    struct hl_error err = { 0 };
    CHECK_EQ_INT(filter_validate(filter, &err), 0);
    json_t *env = json_pack("{s:{s:s}}", "data", "s", value);
    CHECK(filter_match(filter, env));
    json_decref(env);
    json_decref(filter);
    value[n] = 's';
    value[n + 1] = '\0';
    filter = json_pack("{s:s}", "data.s", value);
    CHECK_EQ_INT(filter_validate(filter, &err), HL_EINVAL);
    CHECK(strstr(err.msg, "16384 bytes") != NULL);
    json_decref(filter);
    free(value);
}

/* A path with a NUL inside ("data\0x", possible with jansson's length
 * keys) is refused rather than silently shortened. */
static void test_path_with_nul(void)
{
    json_t *filter = json_object();
    json_object_setn_new(filter, "data\0x", 6, json_string("x"));
    struct hl_error err = { 0 };
    CHECK_EQ_INT(filter_validate(filter, &err), HL_EINVAL);
    json_decref(filter);
}

/* C NULL is a valid filter and matches everything, even a NULL envelope;
 * a non-object filter (not validated) matches nothing. */
static void test_null_and_unvalidated(void)
{
    struct hl_error err = { 0 };
    CHECK_EQ_INT(filter_validate(NULL, &err), 0);
    CHECK(filter_match(NULL, NULL));
    json_t *env = json_pack("{s:s}", "type", "t");
    CHECK(filter_match(json_null(), env));
    json_t *bad = json_string("type");
    CHECK(!filter_match(bad, env));
    json_t *one = json_pack("{s:s}", "type", "t");
    CHECK(!filter_match(one, NULL));
    json_decref(one);
    json_decref(bad);
    json_decref(env);
}

/* Reals that no integer can equal (huge, fractional) never equal one. */
static void test_number_edges(void)
{
    json_t *env = json_pack("{s:I}", "n", (json_int_t)9223372036854775807LL);
    json_t *f = json_pack("{s:f}", "n", 9223372036854775808.0);
    CHECK(!filter_match(f, env));
    json_decref(f);
    f = json_pack("{s:f}", "n", 1e300);
    CHECK(!filter_match(f, env));
    json_decref(f);
    json_decref(env);
    env = json_pack("{s:I}", "n", (json_int_t)(-9223372036854775807LL - 1));
    f = json_pack("{s:f}", "n", -9223372036854775808.0);
    CHECK(filter_match(f, env));
    json_decref(f);
    json_decref(env);
}

int main(void)
{
    test_filter_cases();
    test_condition_limit();
    test_values_limit();
    test_path_limit();
    test_bytes_limit();
    test_path_with_nul();
    test_null_and_unvalidated();
    test_number_edges();
    return check_exit();
}
