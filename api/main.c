/* main.c: hookline-api, the REST service: tenants, keys, webhooks, events.
 *
 *   hookline-api                      apply migrations, then serve
 *   hookline-api --migrate            apply migrations and exit
 *   hookline-api create-tenant NAME   create (or reuse) tenant NAME, print a new key
 *   hookline-api rotate-secrets-key   seal every webhook secret again under the first key
 *                                     of HOOKLINE_SECRETS_KEY, print the counts
 *   hookline-api --print-config       the configuration reference
 *   hookline-api --print-limits       the length and count limits of every input
 *
 * Configuration comes from HOOKLINE_* variables (common/config.c). Serving
 * and rotate-secrets-key need HOOKLINE_SECRETS_KEY; at start the api seals
 * the plain secrets a previous release left (secrets_rekey.h).
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "doc_cache.h"
#include "log.h"
#include "publish.h"
#include "retention.h"
#include "wait_gate.h"
#include "secretbox.h"
#include "secrets_rekey.h"

static int api_usage(FILE *out)
{
    fprintf(out,
        "usage: hookline-api [--migrate | create-tenant NAME | rotate-secrets-key | --print-config | --print-limits |\n"
        "                     --version]\n"
        "Serves the hookline REST API on HOOKLINE_HTTP_PORT; see --print-config.\n");
    return out == stderr ? 2 : 0;
}

/* Print {"tenant":..., "key":...} for a new key with every tenant scope. */
static int api_create_tenant(struct api_ctx *ctx, PGconn *pg, const char *name)
{
    (void)ctx;
    struct hl_error err = { 0 };
    json_t *tenant = tenant_create(pg, name, name, true, &err);
    json_t *scopes = json_pack("[sss]", "webhooks:read", "webhooks:write", "events:write");
    json_t *key = tenant ? auth_key_issue(pg, name, scopes, "create-tenant", &err) : NULL;
    int rc = 1;
    if (key != NULL) {
        printf("{\"tenant\":\"%s\",\"key\":\"%s\"}\n", name, json_string_value(json_object_get(key, "key")));
        rc = 0;
    } else {
        fprintf(stderr, "hookline-api: create-tenant %s: %s\n", name, err.msg);
    }
    json_decref(key);
    json_decref(scopes);
    json_decref(tenant);
    return rc;
}

/* Seal again what is not sealed under the current key: in REKEY_PLAIN mode
 * (at start) the plain values of a previous release, in REKEY_ALL mode
 * (rotate-secrets-key) everything under an older key too. On a session of
 * its own: batches may wait on row locks of live writers. */
static int api_rekey(struct api_ctx *ctx, enum rekey_mode mode, struct rekey_counts *c, struct hl_error *err)
{
    PGconn *pg = db_connect_session(ctx->cfg.database_url, DB_TIMEOUT_BATCH_MS, err);
    int rc = pg ? secrets_rekey(pg, ctx->sb, mode, c, err) : HL_EDB;
    PQfinish(pg);
    return rc;
}

/* Print {"key","checked","webhooks","outbox","failed"}: the rows read, how
 * many were sealed again under the current key, how many did not open (exit
 * status 1 then). */
static int api_rotate_secrets_key(struct api_ctx *ctx)
{
    struct hl_error err = { 0 };
    struct rekey_counts c = { 0 };
    if (api_rekey(ctx, REKEY_ALL, &c, &err) < 0) {
        fprintf(stderr, "hookline-api: rotate-secrets-key: %s\n", err.msg);
        return 1;
    }
    printf("{\"key\":\"%s\",\"checked\":%ld,\"webhooks\":%ld,\"outbox\":%ld,\"failed\":%ld}\n",
           secretbox_key_id(ctx->sb), c.checked, c.webhooks, c.outbox, c.failed);
    if (c.failed > 0) {
        fprintf(stderr, "hookline-api: rotate-secrets-key: %ld rows do not open with HOOKLINE_SECRETS_KEY and were "
                "left as they were (their ids are logged above)\n", c.failed);
        return 1;
    }
    return 0;
}

static int api_serve(struct api_ctx *ctx)
{
    struct hl_error err = { 0 };
    struct _u_instance inst;
    int rc = 1;
    /* before the relay starts: plain lifecycle events still unsent go out sealed */
    struct rekey_counts c = { 0 };
    if (api_rekey(ctx, REKEY_PLAIN, &c, &err) < 0) {
        fprintf(stderr, "hookline-api: sealing the secrets of a previous release: %s\n", err.msg);
        return 1;
    }
    if (c.webhooks > 0 || c.outbox > 0)
        log_info("secrets: sealed the plain secrets of %ld webhooks and %ld outbox rows under key \"%s\"",
                 c.webhooks, c.outbox, secretbox_key_id(ctx->sb));
    if (c.failed > 0)
        log_error("secrets: %ld rows with plain secrets could not be sealed (logged above); they are used as they "
                  "are", c.failed);
    ctx->kp = kafka_producer_new(ctx->cfg.kafka_brokers, API_KAFKA_TIMEOUT_MS, &err);
    if (ctx->kp == NULL) {
        fprintf(stderr, "hookline-api: %s\n", err.msg);
        return 1;
    }
    /* half the workers at most wait on Kafka or an endpoint: the rest serve everything else */
    ctx->workers = wait_gate_new(ctx->cfg.http_threads);
    ctx->outside = wait_gate_new(ctx->cfg.http_threads / 2);
    ctx->pub = ctx->workers && ctx->outside ? publisher_start(ctx, &err) : NULL;
    if (ctx->pub == NULL) {
        fprintf(stderr, "hookline-api: %s\n", ctx->workers && ctx->outside ? err.msg : "out of memory");
        goto out;
    }
    ctx->relay = outbox_relay_start(ctx, &err);
    if (ctx->relay == NULL) {
        fprintf(stderr, "hookline-api: %s\n", err.msg);
        goto out;
    }
    ctx->retention = retention_start(ctx, &err);
    if (ctx->retention == NULL) {
        fprintf(stderr, "hookline-api: %s\n", err.msg);
        goto out;
    }
    /* off until its listener is LISTENing: GETs read PostgreSQL meanwhile */
    ctx->docs = doc_cache_new();
    ctx->docs_listener = ctx->docs ? doc_cache_listener_start(ctx->docs, ctx->cfg.database_url, &err) : NULL;
    if (ctx->docs_listener == NULL) {
        fprintf(stderr, "hookline-api: %s\n", ctx->docs ? err.msg : "document cache: out of memory");
        goto out;
    }
    if (server_start(ctx, &inst) < 0) {
        fprintf(stderr, "hookline-api: cannot listen on port %d\n", ctx->cfg.http_port);
        goto out;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("signal %d: stopping", sig);
    server_stop(&inst);
    rc = 0;
out:
    doc_cache_listener_stop(ctx->docs_listener);
    ctx->docs_listener = NULL;
    doc_cache_free(ctx->docs);
    ctx->docs = NULL;
    retention_stop(ctx->retention);
    outbox_relay_stop(ctx->relay);
    /* delivers the reports still due, late ones to the publisher */
    kafka_producer_free(ctx->kp);
    ctx->kp = NULL;
    publisher_stop(ctx->pub);
    ctx->pub = NULL;
    wait_gate_free(ctx->outside);
    ctx->outside = NULL;
    wait_gate_free(ctx->workers);
    ctx->workers = NULL;
    return rc;
}

int main(int argc, char **argv)
{
    struct api_ctx ctx = { 0 };
    struct hl_error err = { 0 };
    enum log_level level = LOG_LVL_INFO;
    const char *mode = argc > 1 ? argv[1] : "serve";

    if (!strcmp(mode, "--help") || !strcmp(mode, "-h"))
        return api_usage(stdout);
    if (!strcmp(mode, "--version")) {
        printf("hookline-api %s\n", HOOKLINE_VERSION);
        return 0;
    }
    if (!strcmp(mode, "--print-config")) {
        config_print_reference(stdout);
        return 0;
    }
    if (!strcmp(mode, "--print-limits")) {
        hl_limits_print_reference(stdout);
        return 0;
    }
    bool service = !strcmp(mode, "serve") || !strcmp(mode, "rotate-secrets-key");
    if (!service && strcmp(mode, "--migrate") && !(strcmp(mode, "create-tenant") == 0 && argc == 3))
        return api_usage(stderr);
    if (!strcmp(mode, "rotate-secrets-key") && argc != 2)
        return api_usage(stderr);

    /* every thread started from here on inherits the blocked signals */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (config_load(&ctx.cfg, &err) < 0 || (service && config_require_service(&ctx.cfg, &err) < 0)) {
        fprintf(stderr, "hookline-api: %s\n", err.msg);
        return 1;
    }
    if (service && (ctx.sb = secretbox_new(ctx.cfg.secrets_key, &err)) == NULL) {
        fprintf(stderr, "hookline-api: HOOKLINE_SECRETS_KEY: %s\n", err.msg);
        return 1;
    }
    log_level_parse(ctx.cfg.log_level, &level);
    log_init("api", level);
    ctx.policy.allow_http = ctx.cfg.allow_http;
    ctx.policy.allow_private = ctx.cfg.allow_private_targets;
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int rc = 1;
    /* no statement timeout: migrations wait for each other's lock and may take long */
    PGconn *pg = db_connect_session(ctx.cfg.database_url, DB_TIMEOUT_NONE, &err);
    if (pg == NULL || db_migrate(pg, db_sql_dir(), &err) < 0) {
        fprintf(stderr, "hookline-api: %s\n", err.msg);
        goto out;
    }
    if (!strcmp(mode, "--migrate")) {
        rc = 0;
        goto out;
    }
    if (!strcmp(mode, "create-tenant")) {
        rc = api_create_tenant(&ctx, pg, argv[2]);
        goto out;
    }
    if (!strcmp(mode, "rotate-secrets-key")) {
        rc = api_rotate_secrets_key(&ctx);
        goto out;
    }
    ctx.pool = db_pool_new(ctx.cfg.database_url, DB_TIMEOUT_REQUEST_MS, ctx.cfg.db_pool_size, &err);
    if (ctx.pool == NULL) {
        fprintf(stderr, "hookline-api: %s\n", err.msg);
        goto out;
    }
    PQfinish(pg);
    pg = NULL;
    rc = api_serve(&ctx);
out:
    PQfinish(pg);
    db_pool_free(ctx.pool);
    secretbox_free(ctx.sb);
    curl_global_cleanup();
    return rc;
}
