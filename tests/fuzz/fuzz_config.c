/* fuzz_config.c: the parsers of HOOKLINE_* values on arbitrary text.
 *
 * Input: one selector byte, then the value. Selector 0: a duration
 * (config_parse_duration_ms), 1: a retry schedule (config_parse_schedule),
 * otherwise: the value of one variable (the next byte picks which, from
 * config_print_reference's list) through config_load. Checks durations
 * and schedules against the rule written out here (an integer and one of
 * ms, s, m, h, d, at most ten years; a schedule is 1 to
 * CONFIG_RETRY_STEPS_MAX comma-separated durations of at most a day each,
 * leading blanks allowed), and that config_load either succeeds or names
 * the variable it refuses.
 */
#include <ctype.h>
#include <stdbool.h>

#include "config.h"
#include "fuzz.h"

#define FUZZ_VARS_MAX 64
#define FUZZ_TEN_YEARS_MS (3650L * 86400000)

static char fuzz_vars[FUZZ_VARS_MAX][64];
static int fuzz_nvars;

/* The variable names, read from the reference table: none is missed. */
static void fuzz_vars_load(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FUZZ_CHECK(f != NULL);
    config_print_reference(f);
    fclose(f);
    for (char *line = strtok(text, "\n"); line && fuzz_nvars < FUZZ_VARS_MAX; line = strtok(NULL, "\n")) {
        char *end;
        if (strncmp(line, "| `", 3) == 0 && (end = strchr(line + 3, '`')) != NULL && end - line - 3 < 64)
            snprintf(fuzz_vars[fuzz_nvars++], 64, "%.*s", (int)(end - line - 3), line + 3);
    }
    free(text);
    FUZZ_CHECK(fuzz_nvars > 10);
}

/* The duration rule: returns whether 's' (len bytes) is one, and its ms. */
static bool fuzz_duration(const char *s, size_t len, long *ms)
{
    static const struct { const char *unit; long mul; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    size_t digits = 0;
    while (digits < len && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    if (digits == 0)
        return false;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (len - digits != strlen(units[u].unit) || memcmp(s + digits, units[u].unit, len - digits) != 0)
            continue;
        long v = 0;
        for (size_t i = 0; i < digits; i++) {
            v = v * 10 + (s[i] - '0');
            if (v > FUZZ_TEN_YEARS_MS / units[u].mul)
                return false;
        }
        *ms = v * units[u].mul;
        return true;
    }
    return false;
}

static void fuzz_check_duration(const char *s)
{
    long ms = -1, want = -1;
    bool ok = fuzz_duration(s, strlen(s), &want);
    FUZZ_CHECK((config_parse_duration_ms(s, &ms) == 0) == ok);
    FUZZ_CHECK(!ok || ms == want);
}

static void fuzz_check_schedule(const char *s)
{
    long got[CONFIG_RETRY_STEPS_MAX], want[CONFIG_RETRY_STEPS_MAX];
    int n = -1, count = 0;
    bool ok = strlen(s) < 512;
    for (const char *tok = s; ok;) {
        const char *end = strchr(tok, ',');
        size_t len = end ? (size_t)(end - tok) : strlen(tok);
        while (len > 0 && isspace((unsigned char)*tok))
            tok++, len--;
        ok = count < CONFIG_RETRY_STEPS_MAX && fuzz_duration(tok, len, &want[count]) && want[count] <= 86400000L;
        count++;
        if (end == NULL)
            break;
        tok = end + 1;
    }
    int rc = config_parse_schedule(s, got, CONFIG_RETRY_STEPS_MAX, &n);
    FUZZ_CHECK((rc == 0) == ok);
    if (ok) {
        FUZZ_CHECK(n == count);
        for (int i = 0; i < n; i++)
            FUZZ_CHECK(got[i] == want[i]);
    }
}

static void fuzz_check_load(const char *name, const char *value)
{
    struct hl_config cfg;
    struct hl_error err = { 0 };
    setenv("HOOKLINE_DATABASE_URL", "postgresql:///hookline", 1);
    setenv("HOOKLINE_KAFKA_BROKERS", "127.0.0.1:9092", 1);
    setenv(name, value, 1);
    int rc = config_load(&cfg, &err);
    FUZZ_CHECK(rc == 0 || (rc == HL_EINVAL && err.code == rc && strncmp(err.msg, "HOOKLINE_", 9) == 0));
    if (rc == 0) {
        FUZZ_CHECK(cfg.retry_steps >= 1 && cfg.retry_steps <= CONFIG_RETRY_STEPS_MAX);
        FUZZ_CHECK(memchr(cfg.database_url, '\0', sizeof(cfg.database_url)) != NULL);
    }
    unsetenv(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_nvars == 0)
        fuzz_vars_load();
    if (size < 2)
        return 0;
    char *value = fuzz_cstr(data + 2, size - 2);
    switch (data[0] % 3) {
    case 0:
        fuzz_check_duration(value);
        break;
    case 1:
        fuzz_check_schedule(value);
        break;
    default:
        fuzz_check_load(fuzz_vars[data[1] % fuzz_nvars], value);
        break;
    }
    free(value);
    return 0;
}
