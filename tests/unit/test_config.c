/* test_config.c: configuration from HOOKLINE_* variables: defaults,
 * required variables, one clear line naming the variable for each kind of
 * bad value, and the duration and schedule parsers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

extern char **environ;

/* Unset every HOOKLINE_* variable, then set the two required ones, so the
 * test does not depend on the caller's environment. */
static void env_reset(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "HOOKLINE_", 9) == 0) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof(name)) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        }
        if (name[0] == '\0')
            break;
        unsetenv(name);
    }
    setenv("HOOKLINE_DATABASE_URL", "postgresql://localhost/hookline", 1);
    setenv("HOOKLINE_KAFKA_BROKERS", "localhost:9092", 1);
}

/* With only the required variables set, every field has its default. */
static void test_defaults(void)
{
    env_reset();
    struct hl_config cfg;
    struct hl_error err = { 0 };
    CHECK_EQ_INT(config_load(&cfg, &err), 0);
    CHECK_EQ_STR(cfg.database_url, "postgresql://localhost/hookline");
    CHECK_EQ_STR(cfg.kafka_brokers, "localhost:9092");
    CHECK_EQ_INT(cfg.http_port, 8080);
    CHECK_EQ_STR(cfg.admin_key, "");
    CHECK(!cfg.allow_http);
    CHECK(!cfg.allow_private_targets);
    CHECK_EQ_STR(cfg.ca_file, "");
    CHECK_EQ_STR(cfg.log_level, "info");
    CHECK(cfg.tls_check);
    CHECK_EQ_INT(cfg.delivery_timeout_ms, 15000);
    CHECK_EQ_INT(cfg.connect_timeout_ms, 5000);
    CHECK_EQ_INT(cfg.disable_after_ms, 5LL * 86400000);
    /* the Standard Webhooks schedule from the design */
    static const long sched[] = { 5000, 300000, 1800000, 7200000, 18000000, 36000000, 50400000, 72000000, 86400000 };
    CHECK_EQ_INT(cfg.retry_steps, 9);
    for (int i = 0; i < 9 && i < cfg.retry_steps; i++)
        CHECK_EQ_INT(cfg.retry_schedule_ms[i], sched[i]);
}

/* Values given in the environment replace the defaults; an empty value
 * counts as unset. */
static void test_overrides(void)
{
    env_reset();
    setenv("HOOKLINE_HTTP_PORT", "9000", 1);
    setenv("HOOKLINE_ALLOW_HTTP", "yes", 1);
    setenv("HOOKLINE_ALLOW_PRIVATE_TARGETS", "TRUE", 1);
    setenv("HOOKLINE_LOG_LEVEL", "debug", 1);
    setenv("HOOKLINE_DELIVERY_TIMEOUT", "2500ms", 1);
    setenv("HOOKLINE_RETRY_SCHEDULE", "1s, 2s,3s", 1);
    setenv("HOOKLINE_ADMIN_KEY", "0123456789abcdef", 1);
    setenv("HOOKLINE_CA_FILE", "", 1);
    setenv("HOOKLINE_MAX_BODY_BYTES", "1024", 1);
    struct hl_config cfg;
    struct hl_error err = { 0 };
    CHECK_EQ_INT(config_load(&cfg, &err), 0);
    CHECK_EQ_INT(cfg.http_port, 9000);
    CHECK(cfg.allow_http);
    CHECK(cfg.allow_private_targets);
    CHECK_EQ_STR(cfg.log_level, "debug");
    CHECK_EQ_INT(cfg.delivery_timeout_ms, 2500);
    CHECK_EQ_INT(cfg.retry_steps, 3);
    CHECK_EQ_INT(cfg.retry_schedule_ms[2], 3000);
    CHECK_EQ_STR(cfg.admin_key, "0123456789abcdef");
    CHECK_EQ_STR(cfg.ca_file, "");
    CHECK_EQ_INT(cfg.max_body_bytes, 1024);
}

/* A required variable that is missing (or empty) stops the load with a
 * line that names it. */
static void test_required_missing(void)
{
    static const char *const required[] = { "HOOKLINE_DATABASE_URL", "HOOKLINE_KAFKA_BROKERS" };
    for (size_t i = 0; i < 2; i++) {
        for (int empty = 0; empty < 2; empty++) {
            env_reset();
            if (empty)
                setenv(required[i], "", 1);
            else
                unsetenv(required[i]);
            struct hl_config cfg;
            struct hl_error err = { 0 };
            CHECK_EQ_INT(config_load(&cfg, &err), HL_EINVAL);
            CHECK(strstr(err.msg, required[i]) != NULL);
            CHECK(strstr(err.msg, "required") != NULL);
        }
    }
}

/* HOOKLINE_SECRETS_KEY: the one-off commands load without it, the
 * services refuse to start without it (one line naming it); a good ring
 * loads; a bad one fails the load with a line naming the variable and the
 * key's place, never the key's bytes. */
static void test_secrets_key(void)
{
    struct hl_config cfg;
    struct hl_error err = { 0 };
    env_reset();
    CHECK_EQ_INT(config_load(&cfg, &err), 0);
    CHECK_EQ_STR(cfg.secrets_key, "");
    CHECK_EQ_INT(config_require_service(&cfg, &err), HL_EINVAL);
    CHECK(strstr(err.msg, "HOOKLINE_SECRETS_KEY") != NULL && strstr(err.msg, "required") != NULL);
    CHECK(strchr(err.msg, '\n') == NULL);

    const char *good = "k2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=,k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    setenv("HOOKLINE_SECRETS_KEY", good, 1);
    hl_error_clear(&err);
    CHECK_EQ_INT(config_load(&cfg, &err), 0);
    CHECK_EQ_STR(cfg.secrets_key, good);
    CHECK_EQ_INT(config_require_service(&cfg, &err), 0);

    static const char *const bad[] = {
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",          /* no id */
        "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ==",        /* 31 bytes */
        "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=,k1:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("HOOKLINE_SECRETS_KEY", bad[i], 1);
        hl_error_clear(&err);
        CHECK_EQ_INT(config_load(&cfg, &err), HL_EINVAL);
        CHECK(strncmp(err.msg, "HOOKLINE_SECRETS_KEY: ", 22) == 0);
        CHECK(strstr(err.msg, "MDEy") == NULL && strstr(err.msg, "ZmVk") == NULL);
    }
}

/* One bad value of each kind: the load fails with HL_EINVAL and a single
 * line that names the variable and quotes the value where there is one. */
static void test_bad_values(void)
{
    static char long_value[600];
    memset(long_value, 'k', sizeof(long_value) - 1);
    static const struct {
        const char *name;
        const char *value;
    } cases[] = {
        { "HOOKLINE_HTTP_PORT", "http" },                /* int: not a number */
        { "HOOKLINE_HTTP_PORT", "70000" },               /* int: above max */
        { "HOOKLINE_HTTP_PORT", "0" },                   /* int: below min */
        { "HOOKLINE_HTTP_PORT", "80x" },                 /* int: trailing garbage */
        { "HOOKLINE_MAX_BODY_BYTES", "12" },             /* long: below min */
        { "HOOKLINE_ALLOW_HTTP", "maybe" },              /* bool */
        { "HOOKLINE_DELIVERY_TIMEOUT", "15" },           /* duration: no unit */
        { "HOOKLINE_DELIVERY_TIMEOUT", "15 s" },
        { "HOOKLINE_DELIVERY_TIMEOUT", "1h" },           /* duration: above max */
        { "HOOKLINE_CONNECT_TIMEOUT", "-5s" },
        { "HOOKLINE_RETRY_SCHEDULE", "5s,soon" },        /* schedule */
        { "HOOKLINE_RETRY_SCHEDULE", "," },
        { "HOOKLINE_CA_FILE", "/nonexistent/ca.pem" },   /* path */
        { "HOOKLINE_LOG_LEVEL", "verbose" },             /* level */
        { "HOOKLINE_ADMIN_KEY", "short" },               /* admin key too short */
        { "HOOKLINE_KAFKA_BROKERS", long_value },        /* string too long */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_reset();
        setenv(cases[i].name, cases[i].value, 1);
        struct hl_config cfg;
        struct hl_error err = { 0 };
        int rc = config_load(&cfg, &err);
        if (rc != HL_EINVAL || strstr(err.msg, cases[i].name) == NULL)
            fprintf(stderr, "%s=%.20s: rc %d, \"%s\"\n", cases[i].name, cases[i].value, rc, err.msg);
        CHECK_EQ_INT(rc, HL_EINVAL);
        CHECK(strstr(err.msg, cases[i].name) != NULL);
        CHECK(strchr(err.msg, '\n') == NULL);
        CHECK(strlen(err.msg) > strlen(cases[i].name) + 5);
    }
}

/* A readable CA file is accepted. */
static void test_ca_file_readable(void)
{
    env_reset();
    setenv("HOOKLINE_CA_FILE", HL_TEST_DATA "/dest_policy/urls.txt", 1);
    struct hl_config cfg;
    struct hl_error err = { 0 };
    CHECK_EQ_INT(config_load(&cfg, &err), 0);
    CHECK_EQ_STR(cfg.ca_file, HL_TEST_DATA "/dest_policy/urls.txt");
}

/* config_parse_duration_ms: each unit, zero, and refusals. */
static void test_parse_duration(void)
{
    static const struct {
        const char *s;
        long ms;
    } good[] = {
        { "500ms", 500 }, { "90s", 90000 }, { "5m", 300000 }, { "2h", 7200000 },
        { "1d", 86400000 }, { "0s", 0 }, { "3650d", 3650L * 86400000 },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long ms = -1;
        CHECK_EQ_INT(config_parse_duration_ms(good[i].s, &ms), 0);
        CHECK_EQ_INT(ms, good[i].ms);
    }
    static const char *const bad[] = { "", "5", "s", "5x", "5sec", "-1s", "1.5s", "5 m", "3651d",
                                       "99999999999999999999ms", "5ms5" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long ms = 0;
        if (config_parse_duration_ms(bad[i], &ms) != -1)
            fprintf(stderr, "duration \"%s\" accepted\n", bad[i]);
        CHECK_EQ_INT(config_parse_duration_ms(bad[i], &ms), -1);
    }
}

/* config_parse_schedule: lists with spaces after commas, the capacity
 * limit, and refusals. */
static void test_parse_schedule(void)
{
    long out[4];
    int n = 0;
    CHECK_EQ_INT(config_parse_schedule("5s", out, 4, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0], 5000);
    CHECK_EQ_INT(config_parse_schedule("100ms, 1s,2m", out, 4, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(out[0], 100);
    CHECK_EQ_INT(out[1], 1000);
    CHECK_EQ_INT(out[2], 120000);
    CHECK_EQ_INT(config_parse_schedule("1s,1s,1s,1s", out, 4, &n), 0);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(config_parse_schedule("1s,1s,1s,1s,1s", out, 4, &n), -1);
    CHECK_EQ_INT(config_parse_schedule("", out, 4, &n), -1);
    CHECK_EQ_INT(config_parse_schedule("1s,x", out, 4, &n), -1);
    CHECK_EQ_INT(config_parse_schedule("1s;2s", out, 4, &n), -1);
}

/* HOOKLINE_PORTAL_FRAME_ANCESTORS: origins only, written space-separated
 * for a CSP directive; HOOKLINE_PUBLIC_URL: a base URL without its
 * trailing '/'. Anything that could add a directive or a path is refused. */
static void test_portal_settings(void)
{
    struct hl_config cfg;
    struct hl_error err = { 0 };
    env_reset();
    CHECK_EQ_INT(config_load(&cfg, &err), 0);
    CHECK_EQ_STR(cfg.portal_frame_ancestors, "");
    CHECK_EQ_STR(cfg.public_url, "");

    static const char *const good[][2] = {
        { "https://app.example.com", "https://app.example.com" },
        { " https://app.example.com/ ,http://localhost:*,,https://*.example.org:8443 ",
          "https://app.example.com http://localhost:* https://*.example.org:8443" },
        { "HTTP://127.0.0.1:8080", "HTTP://127.0.0.1:8080" },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setenv("HOOKLINE_PORTAL_FRAME_ANCESTORS", good[i][0], 1);
        hl_error_clear(&err);
        CHECK_EQ_INT(config_load(&cfg, &err), 0);
        CHECK_EQ_STR(cfg.portal_frame_ancestors, good[i][1]);
    }
    static const char *const bad[] = {
        "*", "'self'", "'none'", "https://a.example; script-src *", "https://a.example/x", "a.example",
        "https://", "https://:443", "https://a.example:0", "https://a.example:65536", "https://a..example.",
        "https://*.", "https://a.*.example", "data:", "https://a.example\"", "https://a.example:*x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("HOOKLINE_PORTAL_FRAME_ANCESTORS", bad[i], 1);
        hl_error_clear(&err);
        CHECK_EQ_INT(config_load(&cfg, &err), HL_EINVAL);
        CHECK(strncmp(err.msg, "HOOKLINE_PORTAL_FRAME_ANCESTORS: ", 33) == 0);
        CHECK(strchr(err.msg, '\n') == NULL);
    }
    unsetenv("HOOKLINE_PORTAL_FRAME_ANCESTORS");

    static const char *const urls[][2] = {
        { "https://hooks.example.com", "https://hooks.example.com" },
        { "https://hooks.example.com/", "https://hooks.example.com" },
        { "http://127.0.0.1:8080/hookline//", "http://127.0.0.1:8080/hookline" },
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        setenv("HOOKLINE_PUBLIC_URL", urls[i][0], 1);
        hl_error_clear(&err);
        CHECK_EQ_INT(config_load(&cfg, &err), 0);
        CHECK_EQ_STR(cfg.public_url, urls[i][1]);
    }
    static const char *const bad_urls[] = {
        "hooks.example.com", "ftp://hooks.example.com", "https://hooks.example.com/?a=1", "https://h.example/#x",
        "https://h.example/a b", "https://h.example:99999", "https://user@h.example", "https://h.example/<x>",
    };
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        setenv("HOOKLINE_PUBLIC_URL", bad_urls[i], 1);
        hl_error_clear(&err);
        CHECK_EQ_INT(config_load(&cfg, &err), HL_EINVAL);
        CHECK(strncmp(err.msg, "HOOKLINE_PUBLIC_URL: ", 21) == 0);
    }
    unsetenv("HOOKLINE_PUBLIC_URL");
}

int main(void)
{
    test_defaults();
    test_overrides();
    test_required_missing();
    test_secrets_key();
    test_bad_values();
    test_ca_file_readable();
    test_parse_duration();
    test_parse_schedule();
    test_portal_settings();
    return check_exit();
}
