/* upgrade_e2e.h: the previous release's database, for test_ops_upgrade.c.
 *
 * Builds the directory of the migrations up to UPG_FROM, starts a stack on
 * it and fills it the way the previous release did (its api through REST,
 * its dispatcher's rows with its SQL), snapshots what tenants read through
 * the api, and runs the upgrade commands on the whole sql/ directory. A new
 * migration adds here the settings it needs (upg_env), the command it
 * needs after --migrate (upg_commands) and the old rows it transforms.
 *
 * The previous release stored webhook secrets and header values plain
 * (006 seals them): the rows this tree's api wrote sealed are opened back
 * with the harness's own opener (upg_populate_plain), so the webhooks and
 * the outbox hold what that release wrote. The messages already on
 * hookline.webhooks stay as this tree's api published them.
 *
 * Header-only (static inline) like the other e2e helpers; nothing here is
 * hookline code.
 */
#ifndef HL_UPGRADE_E2E_H
#define HL_UPGRADE_E2E_H

#include <dirent.h>
#include <sys/stat.h>

#include "dispatch_e2e.h"

#ifndef HOOKLINE_SOURCE_SQL_DIR
#error "HOOKLINE_SOURCE_SQL_DIR must be defined by the build"
#endif

#define UPG_FROM "004" /* the previous release: its last migration */
#define UPG_MID "009"  /* the release before this one: the database is migrated to it and filled again */
#define UPG_TENANT "acme"
#define UPG_WAIT_MS 15000
#define UPG_FUTURE_S 12  /* the later retry is due this long after it was written */
#define UPG_NONE INT_MIN /* no pending retry / never claimed */
#define UPG_MID_DUE "evt_mid_due"     /* UPG_MID: deferred to the slow lane of W_MULTI's second endpoint */
#define UPG_MID_TAKEN "evt_mid_taken" /* UPG_MID: taken from W_LIMITED's lane by a dispatcher that died */

/* Every hookline process of the test gets these, before and after. */
static const char *const upg_env[] = {"HOOKLINE_RETRY_SCHEDULE=1s,2s,5s", NULL};
/* The upgrade: hookline-api with each argument list in turn, each exiting 0. */
static const char *const upg_commands[][4] = {{"--migrate", NULL}};

enum { W_MULTI, W_LIMITED, W_DISABLED, W_ROTATED, W_GONE, W_N };
static const char *const upg_paths[W_N][2] = {
    {"/multi-a", "/multi-b"}, {"/limited"}, {"/disabled"}, {"/rotated"}, {"/gone"},
};

/* What the old dispatcher left behind for one event and endpoint: 'failed'
 * failed attempts answered 'status', then a success or (due_s) a pending
 * retry, claimed or not under an old lease (lease_s, from now). */
struct old_delivery {
    const char *event;
    int wh, ep, failed;
    bool succeeded;
    int status, due_s, lease_s;
};

static const struct old_delivery upg_old[] = {
    {"evt_old_ok", W_MULTI, 0, 0, true, 0, UPG_NONE, UPG_NONE},
    {"evt_old_ok", W_MULTI, 1, 0, true, 0, UPG_NONE, UPG_NONE},
    {"evt_old_due", W_MULTI, 0, 1, false, 500, -30, UPG_NONE},
    {"evt_old_stale", W_MULTI, 1, 1, false, 503, -20, -300}, /* its dispatcher died long ago */
    {"evt_old_exhausted", W_LIMITED, 0, 3, false, 500, UPG_NONE, UPG_NONE},
    {"evt_old_future", W_LIMITED, 0, 1, false, 500, UPG_FUTURE_S, UPG_NONE},
    {"evt_old_parked", W_DISABLED, 0, 1, false, 500, -60, UPG_NONE},
    {"evt_old_leased", W_ROTATED, 0, 2, false, 500, -10, 60}, /* died mid-delivery just now */
    {"evt_old_gone", W_GONE, 0, 1, false, 410, UPG_NONE, UPG_NONE},
};
#define UPG_OLD_N (sizeof(upg_old) / sizeof(upg_old[0]))

struct upg_fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    PGconn *pg;
    char key[128], ro_key[128], revoked_key[128], other_key[128];
    struct de_webhook wh[W_N], other;
    char old_secret[128]; /* W_ROTATED's secret before the rotation */
    char old_dir[PATH_MAX], mid_dir[PATH_MAX];
    int old_files, mid_files;
    char early[64]; /* published before the upgrade, never delivered before it */
    long long future_due_ms;
    long last_seq; /* the last outbox row before the upgrade */
    long first_unsent; /* the first outbox row Kafka had not taken before the upgrade */
    long plain_webhooks, plain_outbox; /* rows holding plain secrets before the upgrade */
    const char *authz[W_N]; /* the Authorization each webhook's deliveries carry (011); NULL: none */
};

/* ---- SQL and the migrations' directories ---- */

static inline PGresult *upg_query(struct upg_fx *fx, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(fx->pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        hx_die("%s: %s", sql, PQerrorMessage(fx->pg));
    return res;
}

static inline void upg_exec(struct upg_fx *fx, const char *sql, int n, const char *const *params)
{
    PQclear(upg_query(fx, sql, n, params));
}

static inline long upg_long(struct upg_fx *fx, const char *sql, const char *p1)
{
    return de_pg_long(fx->pg, sql, p1, NULL, NULL);
}

static inline bool upg_is_migration(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && strcmp(name + len - 4, ".sql") == 0 && name[0] >= '0' && name[0] <= '9';
}

static inline void upg_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    CHECK_FATAL(in != NULL && out != NULL);
    char buf[8192];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), in)) > 0;)
        CHECK_FATAL(fwrite(buf, 1, n, out) == n);
    fclose(in);
    CHECK_FATAL(fclose(out) == 0);
}

static char upg_dir_paths[2][PATH_MAX];

/* At exit, whatever the outcome: the directories of the old migrations go. */
static inline void upg_old_dir_remove(void)
{
    for (int i = 0; i < 2; i++) {
        DIR *d = upg_dir_paths[i][0] ? opendir(upg_dir_paths[i]) : NULL;
        if (d == NULL)
            continue;
        for (struct dirent *de; (de = readdir(d)) != NULL;) {
            char path[2 * PATH_MAX + 300];
            snprintf(path, sizeof(path), "%s/%s", upg_dir_paths[i], de->d_name);
            if (de->d_name[0] != '.')
                unlink(path);
        }
        closedir(d);
        rmdir(upg_dir_paths[i]);
    }
}

/* A fresh directory 'dir' (PATH_MAX) with the migrations up to and
 * including 'upto'; returns how many. */
static inline int upg_dir_upto(const char *upto, char *dir, int slot)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, PATH_MAX, "%s/hl_upgrade_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK_FATAL(mkdtemp(dir) != NULL);
    snprintf(upg_dir_paths[slot], sizeof(upg_dir_paths[slot]), "%s", dir);
    if (slot == 0)
        atexit(upg_old_dir_remove);
    DIR *d = opendir(HOOKLINE_SOURCE_SQL_DIR);
    CHECK_FATAL(d != NULL);
    bool last = false;
    int files = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (!upg_is_migration(de->d_name) || strncmp(de->d_name, upto, strlen(upto)) > 0)
            continue;
        char from[PATH_MAX + 300], to[PATH_MAX + 300];
        snprintf(from, sizeof(from), "%s/%s", HOOKLINE_SOURCE_SQL_DIR, de->d_name);
        snprintf(to, sizeof(to), "%s/%s", dir, de->d_name);
        upg_copy(from, to);
        last = last || (strncmp(de->d_name, upto, strlen(upto)) == 0 && de->d_name[strlen(upto)] == '_');
        files++;
    }
    closedir(d);
    CHECK_FATAL(last);
    return files;
}

/* A fresh directory with the migrations up to and including UPG_FROM. */
static inline void upg_old_dir(struct upg_fx *fx)
{
    fx->old_files = upg_dir_upto(UPG_FROM, fx->old_dir, 0);
}

static inline int upg_count_migrations(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK_FATAL(d != NULL);
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += upg_is_migration(de->d_name);
    closedir(d);
    return n;
}

/* ---- the previous release at work ---- */

/* The stack on the previous release's schema; no dispatcher yet. */
static inline void upg_start(struct upg_fx *fx)
{
    upg_old_dir(fx);
    struct hx_stack_opts opts = {.dispatchers = 0};
    char sqlenv[PATH_MAX + 32];
    snprintf(sqlenv, sizeof(sqlenv), "HOOKLINE_SQL_DIR=%s", fx->old_dir);
    size_t n = 0;
    opts.env[n++] = sqlenv;
    for (size_t i = 0; upg_env[i] && n + 1 < sizeof(opts.env) / sizeof(opts.env[0]); i++)
        opts.env[n++] = upg_env[i];
    fx->st = hx_stack_start(&opts); /* the api applies the old migrations at start */
    fx->r = hx_receiver_start(NULL);
    fx->pg = hx_pg_connect(fx->st);
    CHECK_FATAL(upg_long(fx, "SELECT count(*) FROM schema_migrations", NULL) == fx->old_files);
}

static inline void upg_key_new(struct upg_fx *fx, const char *scopes, char *key, char *id_out)
{
    struct hx_resp resp;
    long status = e2e_send(fx->st, "POST", hx_admin_key(fx->st), &resp, "/v1/tenants/" UPG_TENANT "/keys",
                           "{\"scopes\":%s,\"label\":\"old\"}", scopes);
    if (status != 201 || !e2e_str(resp.json, "key") || !e2e_str(resp.json, "id"))
        hx_die("new key: %ld %s", status, resp.body);
    snprintf(key, 128, "%s", e2e_str(resp.json, "key"));
    snprintf(id_out, 64, "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
}

/* Tenants, keys, webhooks and an event, through the REST api. */
static inline void upg_populate_rest(struct upg_fx *fx)
{
    const char *url = hx_receiver_url(fx->r);
    char id[64];
    de_tenant_new(fx->st, UPG_TENANT, fx->key, sizeof(fx->key));
    upg_key_new(fx, "[\"webhooks:read\"]", fx->ro_key, id);
    upg_key_new(fx, "[\"webhooks:read\",\"webhooks:write\"]", fx->revoked_key, id);
    char path[160];
    snprintf(path, sizeof(path), "/v1/tenants/%s/keys/%s", UPG_TENANT, id);
    E2E_EXPECT(fx->st, "DELETE", hx_admin_key(fx->st), path, NULL, 200, NULL);
    de_tenant_new(fx->st, "other", fx->other_key, sizeof(fx->other_key));
    de_webhook_new(fx->st, fx->other_key, &fx->other, "{\"name\":\"o\",\"url\":\"%s/other\",\"events\":\"booking\"}",
                   url);

    de_webhook_new(fx->st, fx->key, &fx->wh[W_MULTI],
                   "{\"name\":\"multi\",\"description\":\"two endpoints\",\"endpoints\":[{\"url\":\"%s/multi-a\"},"
                   "{\"url\":\"%s/multi-b\",\"headers\":{\"x-endpoint\":\"b\"}}],\"events\":[\"booking\"],"
                   "\"headers\":{\"x-tag\":\"old\"}}",
                   url, url);
    de_webhook_new(fx->st, fx->key, &fx->wh[W_LIMITED],
                   "{\"name\":\"limited\",\"url\":\"%s/limited\",\"events\":\"booking\",\"rate_limit\":5,"
                   "\"max_retries\":3}",
                   url);
    de_webhook_new(fx->st, fx->key, &fx->wh[W_DISABLED],
                   "{\"name\":\"disabled\",\"url\":\"%s/disabled\",\"events\":[\"booking.scheduled\"],"
                   "\"is_active\":false}",
                   url);
    de_webhook_new(fx->st, fx->key, &fx->wh[W_ROTATED],
                   "{\"name\":\"rotated\",\"url\":\"%s/rotated\","
                   "\"events\":\"booking\"}",
                   url);
    de_webhook_new(fx->st, fx->key, &fx->wh[W_GONE], "{\"name\":\"gone\",\"url\":\"%s/gone\",\"events\":\"booking\"}",
                   url);
    struct hx_resp resp;
    snprintf(fx->old_secret, sizeof(fx->old_secret), "%s", fx->wh[W_ROTATED].secret);
    long status = hx_api(fx->st, "POST", fx->key, NULL, &resp, "/v1/webhooks/%s/rotate-secret", fx->wh[W_ROTATED].id);
    if (status != 200 || !e2e_str(resp.json, "secret"))
        hx_die("rotate-secret: %ld %s", status, resp.body);
    snprintf(fx->wh[W_ROTATED].secret, sizeof(fx->wh[W_ROTATED].secret), "%s", e2e_str(resp.json, "secret"));
    hx_resp_free(&resp);

    /* in Kafka, not yet read by any dispatcher; its Idempotency-Key row is
     * written by upg_populate_sql(): this tree's api claims keys with
     * columns of a later migration (008) */
    status = hx_api(fx->st, "POST", fx->key, "{\"type\":\"booking.scheduled\",\"data\":{\"early\":true}}", &resp,
                    "/v1/events");
    if (status != 202 || !e2e_str(resp.json, "id"))
        hx_die("POST /v1/events: %ld %s", status, resp.body);
    snprintf(fx->early, sizeof(fx->early), "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
}

static inline const char *upg_ep(const struct upg_fx *fx, int wh, int ep)
{
    return fx->wh[wh].ep[ep];
}

/* The exact body the old dispatcher signed and stored for 'event'; the caller frees it. */
static inline char *upg_payload(const char *event)
{
    return de_envelope(event, "booking.scheduled", UPG_TENANT, "{\"old\":true}");
}

static inline void upg_attempt_id(const struct old_delivery *o, int k, char *out, size_t cap)
{
    snprintf(out, cap, "dlv_%s_%d_%d", o->event + 4, o->ep, k);
}

static inline void upg_old_rows(struct upg_fx *fx, const struct old_delivery *o)
{
    char url[300], did[96], num[3][16];
    snprintf(url, sizeof(url), "%s%s", hx_receiver_url(fx->r), upg_paths[o->wh][o->ep]);
    char *payload = upg_payload(o->event);
    int total = o->failed + (o->succeeded ? 1 : 0);
    for (int k = 1; k <= total; k++) {
        bool ok = k > o->failed, last = k == total;
        char status[16];
        upg_attempt_id(o, k, did, sizeof(did));
        snprintf(num[0], sizeof(num[0]), "%d", k);
        snprintf(status, sizeof(status), "%d", ok ? 200 : o->status);
        snprintf(num[1], sizeof(num[1]), "%d", (total - k + 1) * 100 + o->ep * 5);
        snprintf(num[2], sizeof(num[2]), "%d", o->due_s);
        char error[32];
        snprintf(error, sizeof(error), "HTTP %d", o->status);
        /* the failed attempt before a pending retry says when it is due */
        const char *params[13] = {did,
                                  fx->wh[o->wh].id,
                                  upg_ep(fx, o->wh, o->ep),
                                  url,
                                  o->event,
                                  payload,
                                  num[0],
                                  status,
                                  ok ? "ok" : "nope",
                                  ok ? NULL : error,
                                  ok ? "t" : "f",
                                  num[1],
                                  last && o->due_s != UPG_NONE ? num[2] : NULL};
        upg_exec(fx,
                 "INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
                 "payload, "
                 "attempt, status_code, response, error, success, sent_at, duration_ms, next_attempt_at, dispatcher) "
                 "VALUES ($1, '" UPG_TENANT "', $2, $3, $4, $5, 'booking.scheduled', $6, $7::int, $8::int, $9, $10, "
                 "$11::boolean, now() - make_interval(secs => $12::int), 42, now() + make_interval(secs => $13::int), "
                 "'old-host-1')",
                 13, params);
    }
    if (o->due_s != UPG_NONE) {
        snprintf(num[0], sizeof(num[0]), "%d", o->failed + 1);
        snprintf(num[1], sizeof(num[1]), "%d", o->due_s);
        snprintf(num[2], sizeof(num[2]), "%d", o->lease_s);
        const char *params[7] = {fx->wh[o->wh].id,
                                 upg_ep(fx, o->wh, o->ep),
                                 o->event,
                                 payload,
                                 num[0],
                                 num[1],
                                 o->lease_s != UPG_NONE ? num[2] : NULL};
        upg_exec(
            fx,
            "INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, payload, attempt, due_at, "
            "lease_until, created_at) VALUES ('" UPG_TENANT "', $1, $2, $3, 'booking.scheduled', $4, $5::int, "
            "now() + make_interval(secs => $6::int), now() + make_interval(secs => $7::int), "
            "now() - interval '10 minutes')",
            7, params);
    }
    free(payload);
}

/* What the old dispatcher wrote, with its SQL, in one transaction (so a
 * failed attempt's next_attempt_at is its retry's due_at): attempts,
 * pending retries, endpoint health, and W_GONE disabled on a 410 with its
 * outbox event. */
static inline void upg_populate_sql(struct upg_fx *fx)
{
    upg_exec(fx, "BEGIN", 0, NULL);
    for (size_t i = 0; i < UPG_OLD_N; i++)
        upg_old_rows(fx, &upg_old[i]);
    for (int w = 0; w < W_N; w++) {
        for (int e = 0; e < fx->wh[w].neps; e++) {
            const char *params[3] = {upg_ep(fx, w, e), fx->wh[w].id, w == W_LIMITED ? "f" : "t"};
            upg_exec(fx,
                     "INSERT INTO endpoint_health (endpoint_id, webhook_id, failing_since, last_success_at, "
                     "last_failure_at) "
                     "VALUES ($1, $2, CASE WHEN $3::boolean THEN now() - interval '5 minutes' END, "
                     "now() - interval '1 hour', now() - interval '1 minute')",
                     3, params);
        }
    }
    char url[300];
    snprintf(url, sizeof(url), "%s/gone", hx_receiver_url(fx->r));
    const char *gone[2] = {fx->wh[W_GONE].id, url};
    upg_exec(fx,
             "UPDATE webhooks w SET is_active = false, disabled_reason = 'endpoint ' || $2 || ' answered 410 Gone', "
             "version = w.version + 1, updated_at = now() WHERE w.id = $1 AND w.is_active",
             2, gone);
    upg_exec(fx, "SELECT hl_outbox_webhook($1, 'webhook.disabled')", 1, gone);
    /* the old api's Idempotency-Keys: one answered (the early event's), one
     * whose request was still running */
    const char *early[1] = {fx->early};
    upg_exec(fx,
             "INSERT INTO idempotency_keys (tenant_id, key, status, response) "
             "VALUES ('" UPG_TENANT "', 'upg-early', 202, jsonb_build_object('id', $1::text))",
             1, early);
    upg_exec(fx, "INSERT INTO idempotency_keys (tenant_id, key) VALUES ('" UPG_TENANT "', 'upg-running')", 0, NULL);
    upg_exec(fx, "COMMIT", 0, NULL);
    fx->future_due_ms = upg_long(fx,
                                 "SELECT (extract(epoch FROM due_at) * 1000)::bigint FROM retries "
                                 "WHERE event_id = 'evt_old_future'",
                                 NULL);
}

/* Open, in 'doc' (a webhook document), every value sealed for its place:
 * secret, previous_secret, headers/<name>, endpoints/<id>/headers/<name>. */
static inline void upg_doc_plain(struct upg_fx *fx, json_t *doc)
{
    const char *tenant = e2e_str(doc, "tenant"), *id = e2e_str(doc, "id");
    CHECK_FATAL(tenant != NULL && id != NULL);
    const char *fields[] = {"secret", "previous_secret"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = e2e_str(doc, fields[i]);
        if (v == NULL)
            continue;
        char *plain = hx_unseal(hx_secrets_key(fx->st), tenant, id, fields[i], v);
        CHECK_FATAL(plain != NULL);
        json_object_set_new(doc, fields[i], json_string(plain));
        free(plain);
    }
    json_t *eps = json_object_get(doc, "endpoints");
    for (size_t i = 0; i <= json_array_size(eps); i++) {
        /* the webhook's headers, then each endpoint's */
        json_t *h = i == 0 ? json_object_get(doc, "headers")
                           : json_object_get(json_array_get(eps, i - 1), "headers");
        char prefix[128];
        if (i == 0)
            snprintf(prefix, sizeof(prefix), "headers/");
        else
            snprintf(prefix, sizeof(prefix), "endpoints/%s/headers/", e2e_str(json_array_get(eps, i - 1), "id"));
        const char *name;
        json_t *v;
        json_object_foreach(h, name, v)
        {
            char field[300];
            snprintf(field, sizeof(field), "%s%s", prefix, name);
            char *plain = hx_unseal(hx_secrets_key(fx->st), tenant, id, field, json_string_value(v));
            CHECK_FATAL(plain != NULL);
            json_object_set_new(h, name, json_string(plain));
            free(plain);
        }
    }
}

/* The previous release kept secrets and header values plain: open back
 * what this tree's api sealed, in every webhook and outbox row. */
static inline void upg_populate_plain(struct upg_fx *fx)
{
    upg_exec(fx, "BEGIN", 0, NULL);
    PGresult *res = upg_query(fx,
                              "SELECT id, tenant_id, secret, previous_secret, headers::text, endpoints::text "
                              "FROM webhooks ORDER BY id",
                              0, NULL);
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *doc = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "id", PQgetvalue(res, i, 0), "tenant",
                                PQgetvalue(res, i, 1), "secret", PQgetvalue(res, i, 2), "previous_secret",
                                PQgetisnull(res, i, 3) ? json_null() : json_string(PQgetvalue(res, i, 3)), "headers",
                                json_loads(PQgetvalue(res, i, 4), 0, NULL), "endpoints",
                                json_loads(PQgetvalue(res, i, 5), 0, NULL));
        CHECK_FATAL(doc != NULL);
        upg_doc_plain(fx, doc);
        char *headers = json_dumps(json_object_get(doc, "headers"), JSON_COMPACT);
        char *eps = json_dumps(json_object_get(doc, "endpoints"), JSON_COMPACT);
        const char *params[5] = {e2e_str(doc, "id"), e2e_str(doc, "secret"), e2e_str(doc, "previous_secret"), headers,
                                 eps};
        upg_exec(fx,
                 "UPDATE webhooks SET secret = $2, previous_secret = $3, headers = $4::jsonb, endpoints = $5::jsonb "
                 "WHERE id = $1",
                 5, params);
        free(headers);
        free(eps);
        json_decref(doc);
        fx->plain_webhooks++;
    }
    PQclear(res);
    res = upg_query(fx, "SELECT seq, payload::text FROM outbox WHERE payload->'webhook' ? 'secret'", 0, NULL);
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *payload = json_loads(PQgetvalue(res, i, 1), 0, NULL);
        CHECK_FATAL(payload != NULL);
        upg_doc_plain(fx, json_object_get(payload, "webhook"));
        char *text = json_dumps(payload, JSON_COMPACT);
        const char *params[2] = {PQgetvalue(res, i, 0), text};
        upg_exec(fx, "UPDATE outbox SET payload = $2::jsonb WHERE seq = $1::bigint", 2, params);
        free(text);
        json_decref(payload);
        fx->plain_outbox++;
    }
    PQclear(res);
    upg_exec(fx, "COMMIT", 0, NULL);
}

/* The previous release at work: REST, then Kafka goes down, a webhook
 * changes and the old dispatcher's rows are written, so two outbox rows
 * are still unpublished when the upgrade comes. */
static inline void upg_populate(struct upg_fx *fx)
{
    upg_populate_rest(fx);
    /* the relay publishes what came before: only what follows stays unsent */
    CHECK_FATAL(HX_WAIT(upg_long(fx, "SELECT count(*) FROM outbox WHERE sent_at IS NULL", NULL) == 0, UPG_WAIT_MS));
    hx_broker_down(fx->st);
    char path[160];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->wh[W_MULTI].id);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, "{\"description\":\"changed while Kafka was down\"}", 200, NULL);
    upg_populate_sql(fx);
    upg_populate_plain(fx);
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM outbox WHERE sent_at IS NULL", NULL), 2);
    fx->last_seq = upg_long(fx, "SELECT max(seq) FROM outbox", NULL);
    fx->first_unsent = upg_long(fx, "SELECT min(seq) FROM outbox WHERE sent_at IS NULL", NULL);
}

/* ---- the upgrade ---- */

static inline void upg_snap_get(struct upg_fx *fx, json_t *snap, const char *who, const char *key, const char *path)
{
    struct hx_resp resp;
    long status = hx_api(fx->st, "GET", key, NULL, &resp, "%s", path);
    char label[256];
    snprintf(label, sizeof(label), "%s %s", who, path);
    json_object_set_new(snap, label, json_pack("{s:I,s:O*}", "status", (json_int_t)status, "body", resp.json));
    hx_resp_free(&resp);
}

/* A webhook's delivery log (one page of 100) as the previous releases'
 * route built it from their attempts table, which held each attempt's
 * payload: this tree's api reads the bodies of 010 and answers only on
 * the new schema. */
static inline void upg_snap_old_log(struct upg_fx *fx, json_t *snap, const char *wid, const char *path)
{
    const char *params[1] = {wid};
    PGresult *res = upg_query(
        fx,
        "SELECT json_build_object('entities', 'Delivery', 'count', count(*), 'per_page', 100, 'pages', "
        "json_build_object('current', 1, 'max', greatest(1, (count(*) + 99) / 100)), 'elements', "
        "coalesce(json_agg(json_build_object('id', id, 'webhook_id', webhook_id, 'endpoint_id', endpoint_id, "
        "'endpoint_url', endpoint_url, 'event_id', event_id, 'event_type', event_type, 'payload', payload::json, "
        "'attempt', attempt, 'status_code', status_code, 'response', response, 'error', error, 'success', success, "
        "'sent_at', hl_ts(sent_at), 'duration_ms', duration_ms, 'next_attempt_at', hl_ts(next_attempt_at)) "
        "ORDER BY sent_at DESC, id DESC), '[]'))::text "
        "FROM attempts WHERE tenant_id = '" UPG_TENANT "' AND webhook_id = $1",
        1, params);
    char label[256];
    snprintf(label, sizeof(label), UPG_TENANT " %s", path);
    json_object_set_new(snap, label, json_pack("{s:i,s:o}", "status", 200, "body",
                                               json_loads(PQgetvalue(res, 0, 0), 0, NULL)));
    PQclear(res);
}

/* Everything the tenants read through the api, by "<tenant> <path>":
 * {"status","body"}; on the old schema ('old') the delivery logs as the
 * old route read them. New reference. */
static inline json_t *upg_snapshot(struct upg_fx *fx, bool old)
{
    json_t *snap = json_object();
    char path[160];
    upg_snap_get(fx, snap, UPG_TENANT, fx->key, "/v1/webhooks?size=100");
    upg_snap_get(fx, snap, "other", fx->other_key, "/v1/webhooks?size=100");
    for (int w = 0; w < W_N; w++) {
        snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->wh[w].id);
        upg_snap_get(fx, snap, UPG_TENANT, fx->key, path);
        snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?size=100", fx->wh[w].id);
        if (old)
            upg_snap_old_log(fx, snap, fx->wh[w].id, path);
        else
            upg_snap_get(fx, snap, UPG_TENANT, fx->key, path);
    }
    return snap;
}

/* hookline-api with 'args' and the migrations of 'sqldir', exiting 0. */
static inline void upg_run(struct upg_fx *fx, const char *sqldir, const char *const *args, const char *tag)
{
    char db[1200], brokers[300], sqlenv[PATH_MAX + 32];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(fx->st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(fx->st));
    snprintf(sqlenv, sizeof(sqlenv), "HOOKLINE_SQL_DIR=%s", sqldir);
    const char *env[33] = {db, brokers, sqlenv};
    size_t n = 3;
    for (size_t i = 0; upg_env[i] && n < 32; i++)
        env[n++] = upg_env[i];
    struct e2e_run run;
    e2e_run_api(hx_artifacts_dir(fx->st), tag, args, env, 60000, &run);
    if (run.status != 0)
        fprintf(stderr, "hookline-api %s: status %d\n%s", args[0], run.status, run.err);
    CHECK_EQ_INT(run.status, 0);
}

/* The release before this one (UPG_MID): the database migrated to it,
 * then what its dispatcher wrote there with its SQL: a delivery deferred to
 * its endpoint's slow lane (due now, no attempt yet), and one taken from
 * a lane under a lease whose dispatcher died, after a failed attempt. */
static inline void upg_populate_mid(struct upg_fx *fx)
{
    fx->mid_files = upg_dir_upto(UPG_MID, fx->mid_dir, 1);
    static const char *const migrate[] = {"--migrate", NULL};
    upg_run(fx, fx->mid_dir, migrate, "migrate-" UPG_MID);
    CHECK_FATAL(upg_long(fx, "SELECT count(*) FROM schema_migrations", NULL) == fx->mid_files);
    char url[300];
    snprintf(url, sizeof(url), "%s/limited", hx_receiver_url(fx->r));
    char *due = upg_payload(UPG_MID_DUE), *taken = upg_payload(UPG_MID_TAKEN);
    const char *params[6] = {fx->wh[W_MULTI].id, upg_ep(fx, W_MULTI, 1), due, fx->wh[W_LIMITED].id,
                             upg_ep(fx, W_LIMITED, 0), taken};
    upg_exec(fx, "BEGIN", 0, NULL);
    upg_exec(fx,
             "INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, payload, attempt, due_at) "
             "VALUES ('" UPG_TENANT "', $1, $2, '" UPG_MID_DUE "', 'booking.scheduled', $3, 1, now())",
             3, params);
    const char *attempt[4] = {fx->wh[W_LIMITED].id, upg_ep(fx, W_LIMITED, 0), url, taken};
    upg_exec(fx,
             "INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
             "payload, attempt, status_code, response, error, success, sent_at, duration_ms, next_attempt_at, "
             "dispatcher) VALUES ('dlv_mid_taken_1', '" UPG_TENANT "', $1, $2, $3, '" UPG_MID_TAKEN "', "
             "'booking.scheduled', $4, 1, 503, 'busy', 'HTTP 503', false, now() - interval '30 seconds', 17, "
             "now() - interval '25 seconds', 'old-host-2')",
             4, attempt);
    upg_exec(fx,
             "INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, payload, attempt, due_at, "
             "epoch) VALUES ('" UPG_TENANT "', $1, $2, '" UPG_MID_TAKEN "', 'booking.scheduled', $3, 2, "
             "now() - interval '25 seconds', 7)",
             3, params + 3);
    const char *lane[1] = {upg_ep(fx, W_LIMITED, 0)};
    upg_exec(fx,
             "UPDATE lanes SET owner = 'old-host-2', lease_until = now() - interval '5 seconds', epoch = 7 "
             "WHERE endpoint_id = $1",
             1, lane);
    upg_exec(fx, "COMMIT", 0, NULL);
    CHECK_FATAL(upg_long(fx, "SELECT count(*) FROM lanes WHERE owner = 'old-host-2'", NULL) == 1);
    free(due);
    free(taken);
}

/* Run every upgrade command with the whole sql/ directory. */
static inline void upg_upgrade(struct upg_fx *fx)
{
    char db[1200], brokers[300], sqlenv[PATH_MAX + 32];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(fx->st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(fx->st));
    snprintf(sqlenv, sizeof(sqlenv), "HOOKLINE_SQL_DIR=%s", HOOKLINE_SOURCE_SQL_DIR);
    const char *env[33] = {db, brokers, sqlenv};
    size_t n = 3;
    for (size_t i = 0; upg_env[i] && n < 32; i++)
        env[n++] = upg_env[i];
    for (size_t i = 0; i < sizeof(upg_commands) / sizeof(upg_commands[0]); i++) {
        char tag[32];
        struct e2e_run run;
        snprintf(tag, sizeof(tag), "upgrade-%zu", i);
        e2e_run_api(hx_artifacts_dir(fx->st), tag, upg_commands[i], env, 60000, &run);
        if (run.status != 0)
            fprintf(stderr, "hookline-api %s: status %d\n%s", upg_commands[i][0], run.status, run.err);
        CHECK_EQ_INT(run.status, 0);
    }
}

#endif
