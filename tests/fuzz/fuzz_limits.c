/* fuzz_limits.c: the limit checks of common/hl_limits.c on arbitrary
 * values: tenant ids and event ids (from requests and from Kafka; an event
 * id becomes the webhook-id header), and the length check every field and
 * header such as Idempotency-Key goes through.
 *
 * Input: one byte picking a limit row (or one past the table), then the
 * value. Checks each verdict against the rule written out here, that a
 * refusal names the field, and that an unknown row is refused.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "hl_limits.h"

static bool fuzz_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool fuzz_tenant_id(const char *s, size_t n)
{
    if (n < 1 || n > 64 || !fuzz_alnum(s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!fuzz_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static bool fuzz_event_id(const char *s, size_t n)
{
    if (n < 1 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!fuzz_alnum(s[i]) && !strchr("_.:-", s[i] ? s[i] : 'x'))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char *copy = calloc(n > 0 ? n : 1, 1);  /* exact size: ASan sees a read past it */
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, s, n);
    FUZZ_CHECK(hl_limit_tenant_id_valid(copy, n) == fuzz_tenant_id(s, n));
    FUZZ_CHECK(hl_limit_event_id_valid(copy, n) == fuzz_event_id(s, n));
    free(copy);

    /* the length check: the value's length, and a count from its bytes */
    int row = data[0] % (HL_LIMIT_COUNT + 1);
    const struct hl_limit_def *def = hl_limit_get((enum hl_limit)row);
    FUZZ_CHECK((def == NULL) == (row == HL_LIMIT_COUNT));
    size_t counts[2] = { n, 0 };
    for (size_t i = 0; i < n && i < sizeof(size_t); i++)
        counts[1] = counts[1] << 8 | data[1 + i];
    for (int k = 0; k < 2; k++) {
        struct hl_error err = { 0 };
        int rc = hl_limit_check((enum hl_limit)row, counts[k], &err);
        if (def == NULL) {
            FUZZ_CHECK(rc == HL_EINVAL && err.code == rc);
            continue;
        }
        bool within = counts[k] >= (size_t)def->min && counts[k] <= (size_t)def->max;
        FUZZ_CHECK((rc == 0) == within);
        if (rc != 0) {
            char quoted[64];
            snprintf(quoted, sizeof(quoted), "\"%s\" must be ", def->field);
            FUZZ_CHECK(rc == HL_EINVAL && err.code == rc && strncmp(err.msg, quoted, strlen(quoted)) == 0);
        }
    }
    return 0;
}
