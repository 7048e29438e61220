/* test_limits.c: the table of input limits (common/hl_limits.c).
 *
 * Every row is complete and accepts its bounds and nothing past them, with
 * a 400 message naming the field; the tenant and event id rules; and the
 * places that repeat the numbers for readers (the README's table, the
 * OpenAPI document) say what the table says.
 */
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "hl_limits.h"

/* Every row: field, text, unit and place filled in; min <= max; at min
 * and max accepted; one past max (and one under a non-zero min) refused
 * with the field's name and both bounds in the reason. */
static void test_rows(void)
{
    CHECK(hl_limit_get(HL_LIMIT_COUNT) == NULL);
    CHECK(hl_limit_get((enum hl_limit)-1) == NULL);
    for (int i = 0; i < HL_LIMIT_COUNT; i++) {
        const struct hl_limit_def *def = hl_limit_get((enum hl_limit)i);
        CHECK_FATAL(def != NULL);
        CHECK(def->field && def->field[0] && def->what && def->what[0] && def->unit && def->unit[0] &&
              def->where && def->where[0]);
        CHECK(def->min >= 0 && def->min <= def->max);
        struct hl_error err = { 0 };
        CHECK_EQ_INT(hl_limit_check((enum hl_limit)i, (size_t)def->max, &err), 0);
        CHECK_EQ_INT(hl_limit_check((enum hl_limit)i, (size_t)def->min, &err), 0);
        CHECK_EQ_INT(err.code, 0);
        CHECK_EQ_INT(hl_limit_check((enum hl_limit)i, (size_t)def->max + 1, &err), HL_EINVAL);
        char want[256];
        if (def->min == 0)
            snprintf(want, sizeof(want), "\"%s\" must be at most %ld %s.", def->field, def->max, def->unit);
        else
            snprintf(want, sizeof(want), "\"%s\" must be %ld to %ld %s.", def->field, def->min, def->max, def->unit);
        CHECK_EQ_STR(err.msg, want);
        if (def->min > 0) {
            hl_error_clear(&err);
            CHECK_EQ_INT(hl_limit_check((enum hl_limit)i, (size_t)def->min - 1, &err), HL_EINVAL);
            CHECK_EQ_STR(err.msg, want);
        }
    }
}

/* The numbers the design and the schema fix. */
static void test_values(void)
{
    static const struct {
        enum hl_limit limit;
        long min, max;
    } fixed[] = {
        { HL_LIMIT_TENANT_ID, 1, 64 },          /* sql/001_init.sql's CHECK */
        { HL_LIMIT_EVENT_ID, 1, 128 },          /* DESIGN: 1-128 of [A-Za-z0-9_.:-] */
        { HL_LIMIT_EVENT_TYPE, 1, 128 },
        { HL_LIMIT_SECRET, 24, 64 },            /* DESIGN: base64 of 24+ random bytes */
        { HL_LIMIT_URL, 1, 2048 },
        { HL_LIMIT_WEBHOOK_NAME, 1, 128 },
        { HL_LIMIT_HEADER_NAME, 1, 128 },
        { HL_LIMIT_HEADER_VALUE, 0, 2048 },
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        const struct hl_limit_def *def = hl_limit_get(fixed[i].limit);
        CHECK_EQ_INT(def->min, fixed[i].min);
        CHECK_EQ_INT(def->max, fixed[i].max);
    }
    /* "whsec_" + base64 of the largest secret, padded */
    CHECK_EQ_INT(LIMIT_SECRET_MAX, 6 + 88);
}

static void test_tenant_id(void)
{
    char id[LIMIT_TENANT_ID_MAX + 2];
    memset(id, 'a', sizeof(id));
    CHECK(hl_limit_tenant_id_valid(id, LIMIT_TENANT_ID_MAX));
    CHECK(!hl_limit_tenant_id_valid(id, LIMIT_TENANT_ID_MAX + 1));
    CHECK(!hl_limit_tenant_id_valid(id, 0));
    CHECK(!hl_limit_tenant_id_valid(NULL, 0));
    CHECK(hl_limit_tenant_id_valid("a", 1));
    CHECK(hl_limit_tenant_id_valid("Acme_9-x", 8));
    CHECK(hl_limit_tenant_id_valid("9", 1));
    CHECK(!hl_limit_tenant_id_valid("_acme", 5));
    CHECK(!hl_limit_tenant_id_valid("-acme", 5));
    CHECK(!hl_limit_tenant_id_valid("ac.me", 5));
    CHECK(!hl_limit_tenant_id_valid("ac me", 5));
    CHECK(!hl_limit_tenant_id_valid("ac\x1fme", 5));
    CHECK(!hl_limit_tenant_id_valid("acm\xc3\xa9", 5));
    CHECK(!hl_limit_tenant_id_valid("ac\0me", 5));
}

static void test_event_id(void)
{
    char id[LIMIT_EVENT_ID_MAX + 2];
    memset(id, 'e', sizeof(id));
    CHECK(hl_limit_event_id_valid(id, LIMIT_EVENT_ID_MAX));
    CHECK(!hl_limit_event_id_valid(id, LIMIT_EVENT_ID_MAX + 1));
    CHECK(!hl_limit_event_id_valid(id, 0));
    CHECK(hl_limit_event_id_valid("evt_A-1.b:2", 11));
    CHECK(hl_limit_event_id_valid("_", 1));
    CHECK(!hl_limit_event_id_valid("evt 1", 5));
    CHECK(!hl_limit_event_id_valid("evt/1", 5));
    CHECK(!hl_limit_event_id_valid("evt\n1", 5));
    CHECK(!hl_limit_event_id_valid("evt\0001", 5));
    CHECK(!hl_limit_event_id_valid("\xc3\xa9", 2));
}

/* The README's "### Limits" table is exactly the reference output. */
static void test_readme_table(void)
{
    char *want = NULL;
    size_t want_len = 0;
    FILE *mem = open_memstream(&want, &want_len);
    CHECK_FATAL(mem != NULL);
    hl_limits_print_reference(mem);
    fclose(mem);

    FILE *f = fopen(HL_TEST_DATA "/../../README.md", "r");
    CHECK_FATAL(f != NULL);
    char line[2048];
    int state = 0;      /* 0 before the heading, 1 before the rows, 2 in them */
    size_t cap = 1 << 16, len = 0;
    char *got = calloc(1, cap);
    CHECK_FATAL(got != NULL);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (state == 0 && strcmp(line, "### Limits\n") == 0)
            state = 1;
        else if (state == 1 && strcmp(line, "|---|---|---|---|\n") == 0)
            state = 2;
        else if (state == 2 && line[0] != '|')
            break;
        else if (state == 2 && len + strlen(line) < cap)
            len += (size_t)sprintf(got + len, "%s", line);
    }
    fclose(f);
    CHECK_EQ_INT(state, 2);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "README.md's limits table differs from hookline-api --print-limits:\n%s", want);
    CHECK_EQ_STR(got, want);
    free(got);
    free(want);
}

/* The OpenAPI document's bounds on request fields are the table's. */
static void test_openapi(void)
{
    json_error_t jerr;
    json_t *doc = json_load_file(HL_TEST_DATA "/../../api/openapi.json", 0, &jerr);
    CHECK_FATAL(doc != NULL);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    static const struct {
        const char *schema, *property, *keyword;
        long want;
    } bounds[] = {
        { "TenantInput", "id", "maxLength", LIMIT_TENANT_ID_MAX },
        { "TenantInput", "name", "maxLength", LIMIT_TENANT_NAME_MAX },
        { "KeyInput", "label", "maxLength", LIMIT_KEY_LABEL_MAX },
        { "WebhookInput", "name", "maxLength", LIMIT_WEBHOOK_NAME_MAX },
        { "WebhookInput", "description", "maxLength", LIMIT_DESCRIPTION_MAX },
        { "WebhookInput", "url", "maxLength", LIMIT_URL_MAX },
        { "WebhookInput", "endpoints", "maxItems", LIMIT_ENDPOINTS_MAX },
        { "WebhookInput", "rate_limit", "maximum", LIMIT_RATE_LIMIT_MAX },
        { "WebhookInput", "secret", "maxLength", LIMIT_SECRET_MAX },
        { "EndpointInput", "url", "maxLength", LIMIT_URL_MAX },
        { "EventInput", "type", "maxLength", LIMIT_EVENT_TYPE_MAX },
        { "EventInput", "id", "maxLength", LIMIT_EVENT_ID_MAX },
        { "EventInput", "occurred_at", "maxLength", LIMIT_OCCURRED_AT_MAX },
    };
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        json_t *prop = json_object_get(json_object_get(json_object_get(schemas, bounds[i].schema), "properties"),
                                       bounds[i].property);
        json_t *v = json_object_get(prop, bounds[i].keyword);
        if (!json_is_integer(v) || json_integer_value(v) != bounds[i].want)
            fprintf(stderr, "openapi.json: %s.%s %s is not %ld\n", bounds[i].schema, bounds[i].property,
                    bounds[i].keyword, bounds[i].want);
        CHECK(json_is_integer(v) && json_integer_value(v) == bounds[i].want);
    }
    /* the events array and each of its names */
    json_t *events = json_object_get(json_object_get(json_object_get(schemas, "WebhookInput"), "properties"), "events");
    json_t *arr = json_array_get(json_object_get(events, "oneOf"), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(arr, "maxItems")), LIMIT_EVENTS_MAX);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(arr, "items"), "maxLength")), LIMIT_EVENT_TYPE_MAX);
    json_t *hdr = json_object_get(json_object_get(json_object_get(json_object_get(schemas, "WebhookInput"),
                                                                  "properties"), "headers"), "additionalProperties");
    CHECK_EQ_INT(json_integer_value(json_object_get(hdr, "maxLength")), LIMIT_HEADER_VALUE_MAX);
    json_decref(doc);
}

int main(void)
{
    test_rows();
    test_values();
    test_tenant_id();
    test_event_id();
    test_readme_table();
    test_openapi();
    return check_exit();
}
