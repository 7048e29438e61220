/* fuzz_envelope.c: envelope_parse on arbitrary Kafka message values.
 *
 * Besides memory errors, it checks the contract: an accepted envelope has
 * non-empty string id, type and tenant within their limits, an id of the
 * allowed characters only (it becomes a header), and survives a
 * dump and re-parse; a refusal carries HL_EINVAL and a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_string(const json_t *env, const char *name, size_t max)
{
    const json_t *value = json_object_get(env, name);
    if (!json_is_string(value) || json_string_length(value) == 0 || json_string_length(value) > max)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hl_error err = { 0 };
    json_t *env = envelope_parse((const char *)data, size, &err);
    if (env == NULL) {
        if (err.code != HL_EINVAL || err.msg[0] == '\0')
            abort();
        return 0;
    }
    fuzz_check_string(env, "id", ENVELOPE_ID_MAX);
    const json_t *id = json_object_get(env, "id");
    if (!hl_limit_event_id_valid(json_string_value(id), json_string_length(id)))
        abort();
    fuzz_check_string(env, "type", ENVELOPE_TYPE_MAX);
    fuzz_check_string(env, "tenant", ENVELOPE_TENANT_MAX);
    char *text = json_dumps(env, JSON_COMPACT);
    if (text != NULL) {
        json_t *again = envelope_parse(text, strlen(text), NULL);
        if (again == NULL || !json_equal(again, env))
            abort();
        json_decref(again);
        free(text);
    }
    json_decref(env);
    return 0;
}
