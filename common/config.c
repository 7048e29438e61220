/* config.c: the HOOKLINE_* variables, their defaults and bounds. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secretbox.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_LONG, CFG_BOOL, CFG_DURATION, CFG_SCHEDULE, CFG_PATH, CFG_LEVEL, CFG_KEYRING, CFG_BASE_URL,
               CFG_ORIGINS };

struct cfg_var {
    const char *name;
    enum cfg_type type;
    size_t offset;
    size_t size;          /* for strings */
    const char *def;      /* NULL: required */
    long min, max;        /* for numbers and durations (ms) */
    const char *help;
};

/* def of a variable required by the services, not by the one-off commands
 * that touch no secret (--migrate, create-tenant): config_require_service */
static const char cfg_service_required[] = "";

#define F(field) offsetof(struct hl_config, field), sizeof(((struct hl_config *)0)->field)

static const struct cfg_var cfg_vars[] = {
    { "HOOKLINE_DATABASE_URL", CFG_STR, F(database_url), NULL, 0, 0,
      "PostgreSQL connection (URI or key=value conninfo)" },
    { "HOOKLINE_KAFKA_BROKERS", CFG_STR, F(kafka_brokers), NULL, 0, 0,
      "Kafka bootstrap servers, host:port[,host:port]" },
    { "HOOKLINE_HTTP_PORT", CFG_INT, F(http_port), "8080", 1, 65535,
      "TCP port of the api's REST server" },
    { "HOOKLINE_ADMIN_KEY", CFG_STR, F(admin_key), "", 0, 0,
      "admin key for /v1/tenants (16+ chars); empty disables admin routes" },
    { "HOOKLINE_ALLOW_HTTP", CFG_BOOL, F(allow_http), "false", 0, 0,
      "accept http:// endpoint URLs (development only)" },
    { "HOOKLINE_ALLOW_PRIVATE_TARGETS", CFG_BOOL, F(allow_private_targets), "false", 0, 0,
      "allow loopback, private and link-local endpoint addresses" },
    { "HOOKLINE_CA_FILE", CFG_PATH, F(ca_file), "", 0, 0,
      "PEM CA bundle used to verify endpoint certificates (default: system CAs)" },
    { "HOOKLINE_LOG_LEVEL", CFG_LEVEL, F(log_level), "info", 0, 0,
      "debug, info, warn or error" },
    { "HOOKLINE_TLS_CHECK", CFG_BOOL, F(tls_check), "true", 0, 0,
      "check an endpoint's TLS certificate when a webhook is created or its URL changes" },
    { "HOOKLINE_DB_POOL_SIZE", CFG_INT, F(db_pool_size), "8", 1, 256,
      "PostgreSQL connections per process" },
    { "HOOKLINE_HTTP_THREADS", CFG_INT, F(http_threads), "4", 1, 256,
      "REST requests run at once (workers); half as many more may wait on Kafka or an endpoint's TLS check" },
    { "HOOKLINE_MAX_BODY_BYTES", CFG_LONG, F(max_body_bytes), "262144", 1024, 16777216,
      "largest REST request body; larger answers 413" },
    { "HOOKLINE_EVENT_MAX_BYTES", CFG_LONG, F(event_max_bytes), "262144", 1024, 16777216,
      "largest event envelope accepted by POST /v1/events" },
    { "HOOKLINE_MAX_IN_FLIGHT", CFG_INT, F(max_in_flight), "512", 1, 65536,
      "dispatcher: deliveries in flight per process" },
    { "HOOKLINE_MAX_IN_FLIGHT_PER_ENDPOINT", CFG_INT, F(max_in_flight_per_endpoint), "16", 1, 4096,
      "dispatcher: deliveries in flight per endpoint" },
    { "HOOKLINE_MAX_IN_FLIGHT_PER_TENANT", CFG_INT, F(max_in_flight_per_tenant), "256", 1, 65536,
      "dispatcher: deliveries in flight per tenant (slots go round-robin over tenants)" },
    { "HOOKLINE_LANE_SIZE", CFG_INT, F(lane_size), "32", 1, 65536,
      "dispatcher: deliveries waiting in memory per busy endpoint; more go to PostgreSQL (the slow lane)" },
    { "HOOKLINE_LANE_LEASE", CFG_DURATION, F(lane_lease_ms), "10s", 2000, 600000,
      "dispatcher: lease on an endpoint's slow lane; a dead dispatcher's lanes pass on after it" },
    { "HOOKLINE_DELIVERY_TIMEOUT", CFG_DURATION, F(delivery_timeout_ms), "15s", 100, 300000,
      "dispatcher: total time allowed for one delivery" },
    { "HOOKLINE_CONNECT_TIMEOUT", CFG_DURATION, F(connect_timeout_ms), "5s", 100, 60000,
      "dispatcher: time allowed to connect" },
    { "HOOKLINE_RETRY_SCHEDULE", CFG_SCHEDULE, F(retry_schedule_ms), "5s,5m,30m,2h,5h,10h,14h,20h,24h", 0, 86400000,
      "delays before retries 1..N after a failed first attempt (each +-20% jitter)" },
    { "HOOKLINE_DISABLE_AFTER", CFG_DURATION, F(disable_after_ms), "5d", 1000, 365L * 86400000,
      "disable an endpoint whose deliveries have all failed for this long" },
    { "HOOKLINE_FAILING_NOTICE_EVERY", CFG_DURATION, F(failing_notice_ms), "1h", 1000, 7L * 86400000,
      "dispatcher: at most one endpoint.failing event per endpoint in this long" },
    { "HOOKLINE_KAFKA_FETCH_WAIT", CFG_DURATION, F(kafka_fetch_wait_ms), "10ms", 0, 10000,
      "dispatcher: longest a Kafka fetch waits for new events (fetch.wait.max.ms)" },
    { "HOOKLINE_RESYNC_INTERVAL", CFG_DURATION, F(resync_interval_ms), "5m", 1000, 86400000,
      "dispatcher: full reload of the subscription index" },
    { "HOOKLINE_RESPONSE_EXCERPT_BYTES", CFG_LONG, F(response_excerpt_bytes), "4096", 0, 65536,
      "bytes of an endpoint's response body kept in the attempt record" },
    { "HOOKLINE_METRICS_PORT", CFG_INT, F(metrics_port), "9090", 0, 65535,
      "dispatcher: TCP port of /metrics, /healthz and /readyz; 0 turns the listener off" },
    { "HOOKLINE_RETENTION", CFG_DURATION, F(retention_ms), "30d", 1000, 3650L * 86400000,
      "api: attempt records, poll endpoints' events and sent outbox rows older than this are deleted" },
    { "HOOKLINE_RETENTION_INTERVAL", CFG_DURATION, F(retention_interval_ms), "1h", 1000, 86400000,
      "api: how often the retention job runs (one api instance at a time)" },
    { "HOOKLINE_PUBLISH_TIMEOUT", CFG_DURATION, F(publish_timeout_ms), "2s", 100, 10000,
      "api: longest POST /v1/events and /test wait for Kafka's acknowledgement before answering 503" },
    { "HOOKLINE_PUBLIC_URL", CFG_BASE_URL, F(public_url), "", 0, 0,
      "api: the console's address as browsers reach it (http(s)://host[:port][/path]), the base of portal "
      "links; empty: http:// and the request's Host" },
    { "HOOKLINE_PORTAL_FRAME_ANCESTORS", CFG_ORIGINS, F(portal_frame_ancestors), "", 0, 0,
      "api: origins (scheme://host[:port], '*.' and ':*' allowed) whose pages may frame the console opened by "
      "a portal link, space- or comma-separated; empty: never framed" },
    { "HOOKLINE_SECRETS_KEY", CFG_KEYRING, F(secrets_key), cfg_service_required, 0, 0,
      "keys that seal webhook secrets and header values at rest: id:base64 of 32 random bytes, older keys "
      "after commas; the first seals, every one opens (see Secrets at rest)" },
};

#undef F

int config_parse_duration_ms(const char *s, long *ms)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno != 0 || v < 0)
        return -1;
    long mul;
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else if (strcmp(end, "d") == 0)
        mul = 86400000;
    else
        return -1;
    if (v > 3650L * 86400000 / mul)
        return -1;
    *ms = v * mul;
    return 0;
}

int config_parse_schedule(const char *s, long *out, int cap, int *n)
{
    char buf[512];
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    int count = 0;
    char *rest = buf;
    for (char *tok; (tok = strsep(&rest, ",")) != NULL;) {
        while (isspace((unsigned char)*tok))
            tok++;
        /* every step is a duration of at most a day; empty steps are errors */
        if (count == cap || config_parse_duration_ms(tok, &out[count]) < 0 || out[count] > 86400000L)
            return -1;
        count++;
    }
    if (count == 0)
        return -1;
    *n = count;
    return 0;
}

static int cfg_parse_bool(const char *s, bool *b)
{
    if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
        *b = true;
    else if (!strcmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
        *b = false;
    else
        return -1;
    return 0;
}

static bool cfg_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Length of "http://" or "https://" at 's', or 0. */
static size_t cfg_scheme_len(const char *s)
{
    return strncasecmp(s, "https://", 8) == 0 ? 8 : strncasecmp(s, "http://", 7) == 0 ? 7 : 0;
}

/* Length of the host[:port] at 's' (a '*.' wildcard first and a '*' port
 * only if 'wild'), or 0 when it is not one. */
static size_t cfg_host_port_len(const char *s, bool wild)
{
    size_t i = 0;
    if (wild && s[0] == '*' && s[1] == '.')
        i = 2;
    size_t host = i;
    while (cfg_host_char(s[i]))
        i++;
    if (i == host || s[host] == '.' || s[i - 1] == '.')
        return 0;
    if (s[i] == ':') {
        i++;
        if (wild && s[i] == '*')
            return i + 1;
        size_t port = i;
        long n = 0;
        while (s[i] >= '0' && s[i] <= '9' && i - port < 6)
            n = n * 10 + (s[i++] - '0');
        if (i == port || n < 1 || n > 65535)
            return 0;
    }
    return i;
}

/* HOOKLINE_PUBLIC_URL: http(s)://host[:port][/path], no query, fragment,
 * space or quote; a trailing '/' is dropped into 'out' (cap bytes). */
static int cfg_base_url(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s), sch = cfg_scheme_len(s);
    if (sch == 0 || n >= cap)
        return -1;
    size_t hp = cfg_host_port_len(s + sch, false);
    if (hp == 0)
        return -1;
    const char *path = s + sch + hp;
    if (*path != '\0' && *path != '/')
        return -1;
    for (const char *p = path; *p; p++)
        if (!(cfg_host_char(*p) || *p == '/' || *p == '_' || *p == '~'))
            return -1;
    while (n > 0 && s[n - 1] == '/')
        n--;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* HOOKLINE_PORTAL_FRAME_ANCESTORS: origins separated by spaces or commas,
 * each scheme://host[:port] (a '*.' subdomain and a ':*' port allowed);
 * written space-separated into 'out' (cap bytes), ready for a CSP
 * frame-ancestors directive. Nothing else passes: no quote, ';' or path. */
static int cfg_origins(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    while (*s) {
        if (*s == ' ' || *s == ',') {
            s++;
            continue;
        }
        size_t sch = cfg_scheme_len(s), hp = sch ? cfg_host_port_len(s + sch, true) : 0;
        if (hp == 0)
            return -1;
        size_t len = sch + hp;
        if (s[len] != '\0' && s[len] != ' ' && s[len] != ',' && !(s[len] == '/' && (s[len + 1] == '\0' ||
                                                                       s[len + 1] == ' ' || s[len + 1] == ',')))
            return -1;
        if (o + len + 2 > cap)
            return -1;
        if (o)
            out[o++] = ' ';
        memcpy(out + o, s, len);
        o += len;
        out[o] = '\0';
        s += len + (s[len] == '/');
    }
    return 0;
}

static int cfg_set(struct hl_config *cfg, const struct cfg_var *v, const char *s, struct hl_error *err)
{
    char *field = (char *)cfg + v->offset;
    char *end;
    long n;
    switch (v->type) {
    case CFG_STR:
    case CFG_PATH:
    case CFG_LEVEL:
    case CFG_KEYRING:
        if (strlen(s) >= v->size)
            return hl_error_set(err, HL_EINVAL, "%s: value longer than %zu characters", v->name, v->size - 1);
        if (v->type == CFG_PATH && *s && access(s, R_OK) != 0)
            return hl_error_set(err, HL_EINVAL, "%s: cannot read file '%s'", v->name, s);
        if (v->type == CFG_LEVEL && strcmp(s, "debug") && strcmp(s, "info") && strcmp(s, "warn") && strcmp(s, "error"))
            return hl_error_set(err, HL_EINVAL, "%s: '%s' is not one of debug, info, warn, error", v->name, s);
        if (v->type == CFG_KEYRING && *s) {
            /* parsed here so a bad key stops the process at start; the
             * reason names the key by place and id, never its bytes */
            struct hl_error why = { 0 };
            struct secretbox *sb = secretbox_new(s, &why);
            secretbox_free(sb);
            if (sb == NULL)
                return hl_error_set(err, HL_EINVAL, "%s: %s", v->name, why.msg);
        }
        strcpy(field, s);
        return 0;
    case CFG_INT:
    case CFG_LONG:
        errno = 0;
        n = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno != 0 || n < v->min || n > v->max)
            return hl_error_set(err, HL_EINVAL, "%s: '%s' is not an integer from %ld to %ld", v->name, s, v->min, v->max);
        if (v->type == CFG_INT)
            *(int *)field = (int)n;
        else
            *(long *)field = n;
        return 0;
    case CFG_BOOL:
        if (cfg_parse_bool(s, (bool *)field) < 0)
            return hl_error_set(err, HL_EINVAL, "%s: '%s' is not a boolean (true/false)", v->name, s);
        return 0;
    case CFG_DURATION:
        if (config_parse_duration_ms(s, &n) < 0 || n < v->min || n > v->max)
            return hl_error_set(err, HL_EINVAL, "%s: '%s' is not a duration like 500ms, 5s, 5m, 2h, 1d within bounds", v->name, s);
        *(long *)field = n;
        return 0;
    case CFG_BASE_URL:
        if (*s && cfg_base_url(s, field, v->size) < 0)
            return hl_error_set(err, HL_EINVAL, "%s: '%.200s' is not http(s)://host[:port][/path]", v->name, s);
        return 0;
    case CFG_ORIGINS:
        if (cfg_origins(s, field, v->size) < 0)
            return hl_error_set(err, HL_EINVAL,
                                "%s: '%.200s' is not a list of origins like https://app.example.com "
                                "(scheme://host[:port], '*.' and ':*' allowed, no path)", v->name, s);
        return 0;
    case CFG_SCHEDULE:
        if (config_parse_schedule(s, cfg->retry_schedule_ms, CONFIG_RETRY_STEPS_MAX, &cfg->retry_steps) < 0)
            return hl_error_set(err, HL_EINVAL, "%s: '%s' is not a comma-separated list of 1 to %d durations",
                                v->name, s, CONFIG_RETRY_STEPS_MAX);
        return 0;
    }
    return hl_error_set(err, HL_EINVAL, "%s: unknown type", v->name);
}

int config_load(struct hl_config *cfg, struct hl_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < sizeof(cfg_vars) / sizeof(cfg_vars[0]); i++) {
        const struct cfg_var *v = &cfg_vars[i];
        const char *s = getenv(v->name);
        if (s == NULL || *s == '\0')
            s = v->def;
        if (s == NULL)
            return hl_error_set(err, HL_EINVAL, "%s is required and not set", v->name);
        if (cfg_set(cfg, v, s, err) < 0)
            return HL_EINVAL;
    }
    if (cfg->admin_key[0] && strlen(cfg->admin_key) < 16)
        return hl_error_set(err, HL_EINVAL, "HOOKLINE_ADMIN_KEY: must be at least 16 characters");
    return 0;
}

int config_require_service(const struct hl_config *cfg, struct hl_error *err)
{
    for (size_t i = 0; i < sizeof(cfg_vars) / sizeof(cfg_vars[0]); i++) {
        const struct cfg_var *v = &cfg_vars[i];
        const char *field = (const char *)cfg + v->offset;
        if (v->def == cfg_service_required && *field == '\0')
            return hl_error_set(err, HL_EINVAL, "%s is required and not set%s", v->name,
                                v->type == CFG_KEYRING ? ": <id>:<base64 of 32 random bytes>, e.g. "
                                "k1:$(head -c 32 /dev/urandom | base64) (see README, Secrets at rest)" : "");
    }
    return 0;
}

void config_print_reference(FILE *out)
{
    for (size_t i = 0; i < sizeof(cfg_vars) / sizeof(cfg_vars[0]); i++) {
        const struct cfg_var *v = &cfg_vars[i];
        bool required = v->def == NULL || v->def == cfg_service_required;
        fprintf(out, "| `%s` | %s | %s |\n", v->name, required ? "required" : *v->def ? v->def : "(empty)", v->help);
    }
}
