/* fuzz_filter.c: filter_validate and filter_match on arbitrary JSON.
 *
 * Input: the filter JSON, then optionally a line "---" and the envelope
 * JSON (a default envelope is used without one). Checks that a refusal
 * carries a reason, that matching never crashes, and that a filter always
 * matches the envelope it was read from when it names only paths whose
 * values it copies (the self-match property).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_default_envelope[] =
    "{\"id\":\"evt_1\",\"type\":\"booking.scheduled\",\"tenant\":\"acme\","
    "\"data\":{\"owner\":\"u_42\",\"team\":\"sales\",\"n\":1,\"list\":[1,\"a\",null]}}";

/* Walk dotted 'path' the way filter.c documents: keys, or digits on arrays. */
static const json_t *fuzz_lookup(const json_t *root, const char *path)
{
    char buf[FILTER_MAX_PATH + 1];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *cur = root;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save)) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur) && seg[0] >= '0' && seg[0] <= '9' && strlen(seg) <= 9 &&
                   strspn(seg, "0123456789") == strlen(seg)) {
            cur = json_array_get(cur, (size_t)atol(seg));
        } else {
            cur = NULL;
        }
    }
    return cur;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t flen = size;
    json_t *env = NULL;
    json_t *filter = NULL;
    json_t *self = NULL;

    const uint8_t *sep = NULL;
    for (size_t i = 0; i + 5 <= size; i++)
        if (memcmp(data + i, "\n---\n", 5) == 0) {
            sep = data + i;
            break;
        }
    if (sep != NULL) {
        flen = (size_t)(sep - data);
        env = json_loadb((const char *)sep + 5, size - flen - 5, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    } else {
        env = json_loads(fuzz_default_envelope, 0, NULL);
    }
    filter = json_loadb(text, flen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (filter == NULL)
        goto out;

    struct hl_error err = { 0 };
    if (filter_validate(filter, &err) != 0) {
        if (err.code != HL_EINVAL || err.msg[0] == '\0')
            abort();
        goto out;
    }
    (void)filter_match(filter, env);

    /* self-match: copy the envelope's scalar at each filter path into a
     * new filter; it must match the envelope */
    if (json_is_object(filter) && env != NULL) {
        self = json_object();
        const char *path;
        json_t *value;
        json_object_foreach(filter, path, value) {
            const json_t *got = fuzz_lookup(env, path);
            if (got != NULL && !json_is_object(got) && !json_is_array(got))
                json_object_set_new(self, path, json_deep_copy(got));
        }
        if (filter_validate(self, NULL) == 0 && !filter_match(self, env))
            abort();
    }
out:
    json_decref(self);
    json_decref(filter);
    json_decref(env);
    return 0;
}
