/* db_params.c: the operator's conninfo plus our session defaults. */
#include "db_params.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

struct db_params {
    char **keys;            /* NULL-terminated */
    char **values;
    size_t n, cap;
    long statement_timeout_ms;  /* the caller's */
};

static long db_params_find(const struct db_params *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0)
            return (long)i;
    return -1;
}

int db_params_set(struct db_params *p, const char *key, const char *value)
{
    char *v = strdup(value);
    if (v == NULL)
        return HL_ENOMEM;
    long i = db_params_find(p, key);
    if (i >= 0) {
        free(p->values[i]);
        p->values[i] = v;
        return 0;
    }
    if (p->n + 1 >= p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        char **keys = realloc(p->keys, cap * sizeof(*keys));
        if (keys != NULL)
            p->keys = keys;
        char **values = keys ? realloc(p->values, cap * sizeof(*values)) : NULL;
        if (values == NULL) {
            free(v);
            return HL_ENOMEM;
        }
        p->values = values;
        p->cap = cap;
    }
    if ((p->keys[p->n] = strdup(key)) == NULL) {
        free(v);
        return HL_ENOMEM;
    }
    p->values[p->n++] = v;
    p->keys[p->n] = NULL;
    p->values[p->n] = NULL;
    return 0;
}

/* Set 'key' to our 'value' unless the conninfo or the environment
 * variable 'envvar' (may be NULL) already gives it one. */
static int db_params_default(struct db_params *p, const char *key, const char *envvar, const char *value)
{
    const char *env = envvar ? getenv(envvar) : NULL;
    if (db_params_find(p, key) >= 0 || (env != NULL && *env))
        return 0;
    return db_params_set(p, key, value);
}

/* The value of the last "-c name=value", "-cname=value" or "--name=value"
 * of libpq 'options' (words split at unescaped spaces, '\' escapes) whose
 * name is 'name' (case and '-'/'_' aside), copied into 'out'. Returns 1 if
 * found, 0 if not, -1 on allocation failure. */
static int db_options_lookup(const char *options, const char *name, char *out, size_t cap)
{
    char *buf = malloc(strlen(options) + 1);
    if (buf == NULL)
        return -1;
    int found = 0;
    bool after_c = false;
    const char *s = options;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        size_t len = 0;
        while (*s && !isspace((unsigned char)*s)) {
            if (*s == '\\' && s[1])
                s++;
            buf[len++] = *s++;
        }
        buf[len] = '\0';
        const char *setting = NULL;
        if (after_c)
            setting = buf;
        else if (strncmp(buf, "--", 2) == 0)
            setting = buf + 2;
        else if (strncmp(buf, "-c", 2) == 0 && buf[2])
            setting = buf + 2;
        after_c = strcmp(buf, "-c") == 0;
        const char *eq = setting ? strchr(setting, '=') : NULL;
        if (eq == NULL || (size_t)(eq - setting) != strlen(name))
            continue;
        bool same = true;
        for (size_t i = 0; same && i < strlen(name); i++) {
            char c = setting[i] == '-' ? '_' : (char)tolower((unsigned char)setting[i]);
            same = c == name[i];
        }
        if (same) {
            snprintf(out, cap, "%s", eq + 1);
            found = 1;
        }
    }
    free(buf);
    return found;
}

int db_params_option(struct db_params *p, const char *name, const char *value)
{
    const char *options = db_params_get(p, "options");
    char seen[64];
    int found = options ? db_options_lookup(options, name, seen, sizeof(seen)) : 0;
    if (found < 0)
        return HL_ENOMEM;
    if (found)
        return 0;
    char *text = NULL;
    /* ours first: a later setting of the same name would win anyway */
    if (asprintf(&text, "-c %s=%s%s%s", name, value, options && *options ? " " : "", options ? options : "") < 0)
        return HL_ENOMEM;
    int rc = db_params_set(p, "options", text);
    free(text);
    return rc;
}

struct db_params *db_params_new(const char *conninfo, long statement_timeout_ms, struct hl_error *err)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    if (opts == NULL) {
        if (errmsg == NULL) {
            hl_error_set(err, HL_ENOMEM, "PostgreSQL: out of memory");
            return NULL;
        }
        /* some messages quote the whole URI, password and all: not ours to log */
        char *quoted = *conninfo ? strstr(errmsg, conninfo) : NULL;
        if (quoted != NULL) {
            *quoted = '\0';
            while (quoted > errmsg && strchr(" :\"", quoted[-1]))
                *--quoted = '\0';
        }
        errmsg[strcspn(errmsg, "\n")] = '\0';
        hl_error_set(err, HL_EINVAL, "HOOKLINE_DATABASE_URL does not parse: %s", errmsg);
        PQfreemem(errmsg);
        return NULL;
    }
    struct db_params *p = calloc(1, sizeof(*p));
    int rc = p ? 0 : HL_ENOMEM;
    if (p)
        p->statement_timeout_ms = statement_timeout_ms > 0 ? statement_timeout_ms : 0;
    for (PQconninfoOption *o = opts; rc == 0 && o->keyword; o++)
        if (o->val != NULL)
            rc = db_params_set(p, o->keyword, o->val);
    PQconninfoFree(opts);
    const char *pgoptions = getenv("PGOPTIONS");
    if (rc == 0 && db_params_find(p, "options") < 0 && pgoptions && *pgoptions)
        rc = db_params_set(p, "options", pgoptions);    /* ours go beside, not over, the environment's */
    if (rc == 0)
        rc = db_params_default(p, "connect_timeout", "PGCONNECT_TIMEOUT", DB_PARAM_CONNECT_TIMEOUT);
    if (rc == 0)
        rc = db_params_default(p, "keepalives", NULL, "1");
    if (rc == 0)
        rc = db_params_default(p, "keepalives_idle", NULL, DB_PARAM_KEEPALIVES_IDLE);
    if (rc == 0)
        rc = db_params_default(p, "keepalives_interval", NULL, DB_PARAM_KEEPALIVES_INTERVAL);
    if (rc == 0)
        rc = db_params_default(p, "keepalives_count", NULL, DB_PARAM_KEEPALIVES_COUNT);
    if (rc == 0)
        rc = db_params_default(p, "tcp_user_timeout", NULL, DB_PARAM_TCP_USER_TIMEOUT);
    if (rc == 0 && p->statement_timeout_ms > 0) {
        char ms[32];
        snprintf(ms, sizeof(ms), "%ld", p->statement_timeout_ms);
        rc = db_params_option(p, "statement_timeout", ms);
    }
    if (rc != 0) {
        db_params_free(p);
        hl_error_set(err, HL_ENOMEM, "PostgreSQL: out of memory");
        return NULL;
    }
    return p;
}

void db_params_free(struct db_params *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->keys[i]);
        free(p->values[i]);
    }
    free(p->keys);
    free(p->values);
    free(p);
}

const char *db_params_get(const struct db_params *p, const char *key)
{
    long i = db_params_find(p, key);
    return i >= 0 ? p->values[i] : NULL;
}

const char *const *db_params_keys(const struct db_params *p)
{
    static const char *const none[] = { NULL };
    return p->keys ? (const char *const *)p->keys : none;
}

const char *const *db_params_values(const struct db_params *p)
{
    static const char *const none[] = { NULL };
    return p->values ? (const char *const *)p->values : none;
}

int db_params_parse_ms(const char *s, long *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = { { "", 1 }, { "us", 0.001 }, { "ms", 1 }, { "s", 1000 }, { "min", 60000 }, { "h", 3600000 },
                  { "d", 86400000 } };
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || !isfinite(v) || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double r = v * units[i].ms;
            if (r > 2147483647.0)   /* PostgreSQL's limit for the setting */
                return -1;
            *ms = lround(r);
            return 0;
        }
    }
    return -1;
}

long db_params_statement_timeout_ms(const struct db_params *p)
{
    const char *options = db_params_get(p, "options");
    char value[64];
    long ms;
    if (options && db_options_lookup(options, "statement_timeout", value, sizeof(value)) == 1 &&
        db_params_parse_ms(value, &ms) == 0)
        return ms;
    /* an unparsable value fails the connection anyway; until then, ours */
    return p->statement_timeout_ms;
}

long db_params_connect_timeout_ms(const struct db_params *p)
{
    const char *s = db_params_get(p, "connect_timeout");
    if (s == NULL)
        s = getenv("PGCONNECT_TIMEOUT");
    long secs = s ? strtol(s, NULL, 10) : 0;
    if (secs <= 0)
        return 0;
    return (secs < 2 ? 2 : secs) * 1000;
}
