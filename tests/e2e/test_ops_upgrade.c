/* test_ops_upgrade.c: a database holding the previous release's data,
 * upgraded to this tree's schema, loses nothing and keeps working.
 *
 * The stack starts on the migrations up to UPG_FROM (the previous release)
 * and is filled the way that release did it: tenants, keys and webhooks
 * through the REST api (two endpoints, a rate limit, one disabled, one with
 * a rotated secret); the old dispatcher's rows with SQL at the old schema
 * (attempts, endpoint_health, pending retries due now, due later, and
 * claimed under an old per-row lease that ran out or still runs, a webhook
 * it disabled on a 410 with its outbox event); an event waiting in Kafka,
 * Idempotency-Keys (one answered, one whose request still ran) with SQL at
 * the old schema, and outbox rows not yet published (Kafka down). Then the upgrade runs (`hookline-api --migrate` on the whole sql/
 * directory) and, through the product: every webhook, the list and every
 * delivery log read as before (secrets redacted); the secrets and header
 * values the previous release stored plain are still plain after
 * --migrate (SQL has no key), and sealed once the new api has started,
 * each opening to the same value, so the database holds no plain secret
 * and the outbox rows Kafka had not taken go out sealed; keys, revocation and
 * tenant isolation hold; the outbox goes out; a dispatcher started on the
 * upgraded database delivers every retry that is due, stale or live old
 * lease alike, with its webhook-id and body, signed by its webhook's
 * secret (and the previous one of the rotated webhook), keeps the disabled
 * webhook's row until the tenant enables it, holds the later one until it
 * is due; redeliver works, and a new event reaches every active webhook.
 * Endpoints stored before they had a state of their own (007) read as
 * active, and one of them answering 410 is disabled alone. The old
 * endpoint_health rows carry on (012): recovering from a failure the
 * tenant was never told of raises no endpoint.recovered, a new failure one
 * endpoint.failing. Portal
 * sessions (013) start empty: a key of the previous release with
 * webhooks:write opens one for its tenant, whose token reads that
 * tenant's old webhooks and deliveries alone, and stops at its revoke; a
 * read-only old key is refused and a revoked one stays revoked. The
 * delivery health (015) holds the old attempts: each webhook's stats and
 * the list's success_rate_24h agree with its attempt log, and an old
 * record opened says its signature was not recorded.
 *
 * Between the two, the database is migrated to the release before this
 * one (UPG_MID, 009) and its dispatcher's rows are added with its SQL: a
 * delivery deferred to a slow lane and one taken under a lane lease whose
 * dispatcher died, each carrying its payload, as 009's retries did. The
 * delivery logs before the upgrade are read with that release's SQL (the
 * payload was in each attempt row); after it (010: each body stored once,
 * the attempt log partitioned by day) the api must answer the same, and
 * every pending row goes out with the body it was written with.
 *
 * An old per-row lease (retries.lease_until, 002) holds nothing any more:
 * its dispatcher is gone once the upgrade has replaced them all.
 *
 * Extending it for a new migration (upgrade_e2e.h): settings it needs go
 * to upg_env, a command to run after --migrate to upg_commands, rows of
 * the previous release that it transforms to upg_populate_sql() (in that
 * release's SQL), and what must hold afterwards to the checks here. The
 * webhooks are written by this tree's api running at the old schema: once
 * the api needs the new schema to write them, write them in
 * upg_populate_sql() with the previous release's SQL instead.
 */
#include "upgrade_e2e.h"

#include <math.h>

/* ---- after the upgrade: reads ---- */

static const json_t *upg_snap_body(const json_t *snap, const char *fmt, const char *id)
{
    char label[256], path[160];
    snprintf(path, sizeof(path), fmt, id);
    snprintf(label, sizeof(label), UPG_TENANT " %s", path);
    return json_object_get(json_object_get(snap, label), "body");
}

static void upg_check_reads(struct upg_fx *fx, const json_t *before)
{
    E2E_SECTION("every webhook, the lists and every delivery log read as before the upgrade");
    json_t *after = upg_snapshot(fx, false);
    const char *label;
    json_t *was;
    json_object_foreach((json_t *)before, label, was)
    {
        json_t *now = json_object_get(after, label);
        /* success_rate_24h (015) is new in the list: null before (no table yet), a figure after */
        size_t i;
        json_t *el;
        bool list = strstr(label, "/v1/webhooks?") != NULL;
        json_array_foreach(json_object_get(json_object_get(was, "body"), "elements"), i, el) {
            CHECK(!list || json_is_null(json_object_get(el, "success_rate_24h")));
            json_object_del(el, "success_rate_24h");
        }
        json_array_foreach(json_object_get(json_object_get(now, "body"), "elements"), i, el) {
            CHECK(!list || json_object_del(el, "success_rate_24h") == 0);
            /* "ordered" (016) is new: false for every webhook from before */
            CHECK(!list || json_is_false(json_object_get(el, "ordered")));
            json_object_del(el, "ordered");
        }
        if (strstr(label, "/v1/webhooks/") != NULL && strstr(label, "/deliveries") == NULL) {
            CHECK(json_is_false(json_object_get(json_object_get(now, "body"), "ordered")));
            json_object_del(json_object_get(now, "body"), "ordered");
        }
        bool same = json_equal(was, now);
        CHECK(same);
        CHECK_EQ_INT(e2e_int(now, "status"), 200);
        if (!same) {
            char *a = json_dumps(was, JSON_COMPACT), *b = json_dumps(now, JSON_COMPACT);
            fprintf(stderr, "%s\n  before: %.2000s\n  after:  %.2000s\n", label, a, b ? b : "(none)");
            free(a);
            free(b);
        }
    }
    CHECK_EQ_INT(json_object_size(after), json_object_size(before));

    E2E_SECTION("the webhooks hold what their tenant set, secrets redacted");
    const json_t *doc[W_N];
    for (int w = 0; w < W_N; w++) {
        doc[w] = upg_snap_body(after, "/v1/webhooks/%s", fx->wh[w].id);
        CHECK_EQ_STR(e2e_str(doc[w], "id"), fx->wh[w].id);
        CHECK_EQ_STR(e2e_str(doc[w], "secret"), "redacted");
        CHECK(json_object_get(doc[w], "previous_secret") == NULL);
    }
    const json_t *eps = json_object_get(doc[W_MULTI], "endpoints");
    CHECK_EQ_INT(json_array_size(eps), 2);
    /* endpoints stored before they had a state of their own are active */
    for (size_t i = 0; i < json_array_size(eps); i++) {
        CHECK(json_is_true(json_object_get(json_array_get(eps, i), "is_active")));
        CHECK(json_is_null(json_object_get(json_array_get(eps, i), "disabled_reason")));
    }
    CHECK_EQ_STR(e2e_str(json_object_get(json_array_get(eps, 1), "headers"), "x-endpoint"), "b");
    CHECK_EQ_STR(e2e_str(json_object_get(doc[W_MULTI], "headers"), "x-tag"), "old");
    CHECK_EQ_STR(e2e_str(doc[W_MULTI], "description"), "changed while Kafka was down");
    CHECK_EQ_INT(e2e_int(doc[W_LIMITED], "rate_limit"), 5);
    CHECK_EQ_INT(e2e_int(doc[W_LIMITED], "max_retries"), 3);
    CHECK(json_is_false(json_object_get(doc[W_DISABLED], "is_active")));
    CHECK(json_is_true(json_object_get(doc[W_ROTATED], "is_active")));
    CHECK(json_is_false(json_object_get(doc[W_GONE], "is_active")));
    CHECK(strstr(e2e_str(doc[W_GONE], "disabled_reason") ? e2e_str(doc[W_GONE], "disabled_reason") : "", "410"));

    E2E_SECTION("each delivery log lists the old dispatcher's attempts as it recorded them");
    long want[W_N] = {0};
    for (size_t i = 0; i < UPG_OLD_N; i++) {
        const struct old_delivery *o = &upg_old[i];
        const json_t *log =
            json_object_get(upg_snap_body(after, "/v1/webhooks/%s/deliveries?size=100", fx->wh[o->wh].id), "elements");
        char *payload = upg_payload(o->event);
        json_t *sent = json_loads(payload, 0, NULL);
        int total = o->failed + (o->succeeded ? 1 : 0);
        for (int k = 1; k <= total; k++) {
            char did[96];
            const json_t *el = NULL, *it;
            size_t j;
            upg_attempt_id(o, k, did, sizeof(did));
            json_array_foreach(log, j, it)
            {
                if (e2e_str(it, "id") && strcmp(e2e_str(it, "id"), did) == 0)
                    el = it;
            }
            CHECK(el != NULL);
            if (el == NULL) {
                fprintf(stderr, "attempt %s is not in the log\n", did);
                continue;
            }
            bool ok = k > o->failed;
            CHECK_EQ_STR(e2e_str(el, "event_id"), o->event);
            CHECK_EQ_STR(e2e_str(el, "endpoint_id"), upg_ep(fx, o->wh, o->ep));
            CHECK_EQ_INT(e2e_int(el, "attempt"), k);
            CHECK_EQ_INT(e2e_int(el, "status_code"), ok ? 200 : o->status);
            CHECK(json_is_boolean(json_object_get(el, "success")) &&
                  json_is_true(json_object_get(el, "success")) == ok);
            CHECK(json_equal(json_object_get(el, "payload"), sent));
            /* the failed attempt before a pending retry says when it is due */
            CHECK((e2e_str(el, "next_attempt_at") != NULL) == (k == total && o->due_s != UPG_NONE));
        }
        want[o->wh] += total;
        json_decref(sent);
        free(payload);
    }
    want[W_LIMITED]++; /* UPG_MID's failed attempt of UPG_MID_TAKEN, compared with the rest above */
    for (int w = 0; w < W_N; w++)
        CHECK_EQ_INT(json_array_size(json_object_get(
                         upg_snap_body(after, "/v1/webhooks/%s/deliveries?size=100", fx->wh[w].id), "elements")),
                     want[w]);
    json_decref(after);
}

/* 015: the hourly delivery health is filled from the attempt log as it
 * stood, so each webhook's figures agree with its old records; those
 * records have no stored signature, and say so. Before any dispatcher of
 * this release records an attempt. */
static void upg_check_stats(struct upg_fx *fx)
{
    E2E_SECTION("015: the attempts from before the upgrade are in the delivery health and the list's rate");
    long total = 0;
    for (int w = 0; w < W_N; w++) {
        const char *id = fx->wh[w].id;
        long ok = upg_long(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND success", id);
        long bad = upg_long(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND NOT success", id);
        total += ok + bad;
        struct hx_resp resp;
        CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s/stats", id), 200);
        json_t *t = json_object_get(resp.json, "totals");
        CHECK_EQ_INT(e2e_int(t, "succeeded"), ok);
        CHECK_EQ_INT(e2e_int(t, "failed"), bad);
        /* every old attempt took 42 ms: within the histogram's 30-50 ms bucket, at most the longest */
        if (ok + bad > 0)
            CHECK(e2e_int(t, "p95_ms") >= 30 && e2e_int(t, "p95_ms") <= 42);
        hx_resp_free(&resp);
    }
    CHECK(total > 0);
    /* the list's rate of the webhook with successes and failures */
    long ok = upg_long(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND success", fx->wh[W_MULTI].id);
    long all = upg_long(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1", fx->wh[W_MULTI].id);
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks?size=100"), 200);
    size_t i;
    json_t *el;
    int seen = 0;
    json_array_foreach(json_object_get(resp.json, "elements"), i, el) {
        if (strcmp(e2e_str(el, "id"), fx->wh[W_MULTI].id) != 0)
            continue;
        seen++;
        CHECK(all > 0 && fabs(json_number_value(json_object_get(el, "success_rate_24h")) - (double)ok / (double)all) <
                             0.0001);
    }
    CHECK_EQ_INT(seen, 1);
    hx_resp_free(&resp);
    /* an old record opened: its headers, the signature not recorded */
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->wh[W_MULTI].id), 200);
    const char *did = e2e_str(json_array_get(json_object_get(resp.json, "elements"), 0), "id");
    char path[256];
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries/%s", fx->wh[W_MULTI].id, did ? did : "none");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "%s", path), 200);
    json_t *h = json_object_get(json_object_get(resp.json, "request"), "headers");
    CHECK(json_is_null(json_object_get(h, "webhook-signature")));
    CHECK(e2e_str(h, "webhook-id") != NULL);
    CHECK(json_array_size(json_object_get(resp.json, "history")) >= 1);
    hx_resp_free(&resp);
}

static void upg_check_keys(struct upg_fx *fx)
{
    char path[200];
    E2E_SECTION("keys keep their scopes, a revoked key stays revoked, another tenant's ids answer 404");
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->wh[W_MULTI].id);
    E2E_EXPECT(fx->st, "GET", fx->ro_key, path, NULL, 200, NULL);
    E2E_EXPECT(fx->st, "PATCH", fx->ro_key, path, "{\"description\":\"x\"}", 403, NULL);
    E2E_EXPECT(fx->st, "GET", fx->revoked_key, "/v1/webhooks", NULL, 401, NULL);
    E2E_EXPECT(fx->st, "GET", fx->other_key, path, NULL, 404, NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", fx->wh[W_MULTI].id);
    E2E_EXPECT(fx->st, "GET", fx->other_key, path, NULL, 404, NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries/dlv_old_ok_0_1/retry", fx->wh[W_MULTI].id);
    E2E_EXPECT(fx->st, "POST", fx->other_key, path, NULL, 404, NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->other.id);
    E2E_EXPECT(fx->st, "GET", fx->key, path, NULL, 404, NULL);
    E2E_EXPECT(fx->st, "GET", fx->other_key, path, NULL, 200, NULL);

    E2E_SECTION("an Idempotency-Key answered before the upgrade gets the same answer");
    struct hx_resp resp;
    long status = e2e_http_hdrs(fx->st, "POST", fx->key, "{\"type\":\"booking.scheduled\",\"data\":{\"early\":true}}",
                                (const char *const[]){"Idempotency-Key: upg-early", NULL}, &resp, "/v1/events");
    CHECK_EQ_INT(status, 202);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), fx->early);
    hx_resp_free(&resp);

    E2E_SECTION("an Idempotency-Key whose request was running at the upgrade is in progress, not in doubt: 409");
    status = e2e_http_hdrs(fx->st, "POST", fx->key, "{\"type\":\"booking.scheduled\"}",
                           (const char *const[]){"Idempotency-Key: upg-running", NULL}, &resp, "/v1/events");
    CHECK_EQ_INT(status, 409);
    CHECK(strstr(e2e_error(&resp), "in progress") != NULL);
    hx_resp_free(&resp);
}

/* Portal sessions (013) over the previous release's tenants and keys. */
static void upg_check_portal(struct upg_fx *fx)
{
    char path[200], token[128] = "", id[64] = "";
    struct hx_resp resp;
    E2E_SECTION("portal sessions (013): an old key opens one; its token reads its tenant's old data alone");
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM portal_sessions", NULL), 0);
    CHECK_EQ_INT(e2e_send(fx->st, "POST", fx->key, &resp, "/v1/portal-sessions", "{\"ttl_s\":600}"), 201);
    const char *url = e2e_str(resp.json, "url"), *frag = url ? strstr(url, "#token=") : NULL;
    CHECK(frag != NULL && e2e_str(resp.json, "id") != NULL);
    if (frag)
        snprintf(token, sizeof(token), "%s", frag + 7);
    if (e2e_str(resp.json, "id"))
        snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks?size=100"), 200);
    json_t *by_key = json_incref(resp.json);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", token, NULL, &resp, "/v1/webhooks?size=100"), 200);
    CHECK(json_integer_value(json_object_get(resp.json, "count")) >= W_N);
    CHECK(json_equal(json_object_get(resp.json, "elements"), json_object_get(by_key, "elements")));
    hx_resp_free(&resp);
    json_decref(by_key);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", fx->wh[W_MULTI].id);
    E2E_EXPECT(fx->st, "GET", token, path, NULL, 200, NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->other.id);
    E2E_EXPECT(fx->st, "GET", token, path, NULL, 404, NULL);
    E2E_EXPECT(fx->st, "POST", fx->ro_key, "/v1/portal-sessions", "{}", 403, NULL);
    E2E_EXPECT(fx->st, "POST", fx->revoked_key, "/v1/portal-sessions", "{}", 401, NULL);
    E2E_EXPECT(fx->st, "POST", fx->key, "/v1/portal-sessions", "{\"tenant\":\"other\"}", 404, NULL);
    snprintf(path, sizeof(path), "/v1/portal-sessions/%s", id);
    E2E_EXPECT(fx->st, "DELETE", fx->other_key, path, NULL, 404, NULL);
    E2E_EXPECT(fx->st, "DELETE", fx->key, path, NULL, 200, NULL);
    E2E_EXPECT(fx->st, "GET", token, "/v1/webhooks", NULL, 401, NULL);
}

/* Messages of hookline.webhooks carrying lifecycle event 'kind' of
 * webhook 'wid' at 'version'. */
static size_t upg_topic_count(const struct e2e_consumer *c, const char *kind, const char *wid, long long version)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(c->msgs, i, m)
    {
        const json_t *v = json_object_get(m, "value");
        const char *type = e2e_str(v, "type"), *id = e2e_str(json_object_get(v, "webhook"), "id");
        n += type && id && strcmp(type, kind) == 0 && strcmp(id, wid) == 0 && e2e_int(v, "version") == version;
    }
    return n;
}

/* Every message of lifecycle event 'kind' of webhook 'wid' at 'version'
 * carries the webhook's secret sealed for it: 1, else 0. */
static int upg_topic_sealed(struct upg_fx *fx, const struct e2e_consumer *c, const char *kind, const char *wid,
                            long long version)
{
    const char *secret = NULL;
    for (int w = 0; w < W_N; w++)
        if (strcmp(fx->wh[w].id, wid) == 0)
            secret = fx->wh[w].secret;
    size_t i, n = 0, ok = 0;
    json_t *m;
    json_array_foreach(c->msgs, i, m)
    {
        const json_t *v = json_object_get(m, "value"), *doc = json_object_get(v, "webhook");
        const char *type = e2e_str(v, "type"), *id = e2e_str(doc, "id");
        if (!type || !id || strcmp(type, kind) != 0 || strcmp(id, wid) != 0 || e2e_int(v, "version") != version)
            continue;
        n++;
        ok += secret && e2e_sealed_is(fx->st, UPG_TENANT, wid, "secret", e2e_str(doc, "secret"), secret);
    }
    return n > 0 && ok == n;
}

static void upg_check_outbox(struct upg_fx *fx)
{
    E2E_SECTION("every lifecycle event of the previous release is published, those Kafka had not taken too");
    char seq[32];
    snprintf(seq, sizeof(seq), "%ld", fx->last_seq);
    CHECK(HX_WAIT(upg_long(fx, "SELECT count(*) FROM outbox WHERE seq <= $1::bigint AND sent_at IS NULL", seq) == 0,
                  UPG_WAIT_MS));
    const char *params[1] = {seq};
    PGresult *res = upg_query(fx,
                              "SELECT kind, webhook_id, (payload->>'version')::bigint, seq FROM outbox "
                              "WHERE seq <= $1::bigint ORDER BY seq",
                              1, params);
    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(fx->st), "hookline.webhooks");
    int rows = PQntuples(res), found = 0, sealed = 0;
    CHECK_FATAL(rows >= 2);
    CHECK_EQ_INT(atol(PQgetvalue(res, rows - 2, 3)), fx->first_unsent);
    long long deadline = hx_now_ms() + UPG_WAIT_MS;
    for (int i = 0; i < rows; i++) {
        const char *kind = PQgetvalue(res, i, 0), *wid = PQgetvalue(res, i, 1);
        long long version = atoll(PQgetvalue(res, i, 2));
        bool seen =
            HX_WAIT((e2e_consumer_poll(c, 50), upg_topic_count(c, kind, wid, version) >= 1), deadline - hx_now_ms());
        if (!seen)
            fprintf(stderr, "outbox row %s of %s (version %lld) is not on hookline.webhooks\n", kind, wid, version);
        found += seen;
        if (seen && i >= rows - 2)
            sealed += upg_topic_sealed(fx, c, kind, wid, version);
    }
    /* the two Kafka had not taken before the upgrade went out sealed by the new api */
    CHECK_EQ_INT(sealed, 2);
    CHECK(rows >= W_N + 3); /* created, rotated, changed while Kafka was down, disabled */
    CHECK_EQ_INT(found, rows);
    e2e_consumer_free(c);
    PQclear(res);
}

/* ---- secrets: plain before, sealed after ---- */

#define UPG_PLAIN_WEBHOOKS                                                                                            \
    "SELECT count(*) FROM webhooks WHERE secret NOT LIKE 'hlenc:%' OR previous_secret NOT LIKE 'hlenc:%' "             \
    "OR jsonb_path_exists(headers, '$.* ? (!(@ starts with \"hlenc:\"))') "                                             \
    "OR jsonb_path_exists(endpoints, '$[*].headers.* ? (!(@ starts with \"hlenc:\"))')"
#define UPG_PLAIN_OUTBOX                                                                                              \
    "SELECT count(*) FROM outbox WHERE jsonb_path_exists(payload, '$.webhook.secret ? (!(@ starts with \"hlenc:\"))') " \
    "OR jsonb_path_exists(payload, '$.webhook.previous_secret ? (!(@ starts with \"hlenc:\"))') "                       \
    "OR jsonb_path_exists(payload, '$.webhook.headers.* ? (!(@ starts with \"hlenc:\"))') "                             \
    "OR jsonb_path_exists(payload, '$.webhook.endpoints[*].headers.* ? (!(@ starts with \"hlenc:\"))')"

static void upg_check_plain_after_migrate(struct upg_fx *fx)
{
    E2E_SECTION("after --migrate (no key in SQL) the previous release's secrets are still plain, and indexed");
    CHECK(fx->plain_webhooks == W_N + 1 && fx->plain_outbox >= W_N + 3);
    CHECK_EQ_INT(upg_long(fx, UPG_PLAIN_WEBHOOKS, NULL), fx->plain_webhooks);
    CHECK_EQ_INT(upg_long(fx, UPG_PLAIN_OUTBOX, NULL), fx->plain_outbox);
    CHECK_EQ_INT(upg_long(fx,
                          "SELECT count(*) FROM pg_indexes WHERE indexname IN "
                          "('webhooks_plain_secrets', 'outbox_plain_secrets')",
                          NULL),
                 2);
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM webhooks WHERE starts_with(secret, 'whsec_')", NULL),
                 fx->plain_webhooks);
}

/* The value of header 'name' of webhook 'wh' (endpoint 'ep', or -1 for the
 * webhook's own headers) opens to 'plain'. */
static bool upg_header_sealed_is(struct upg_fx *fx, int wh, int ep, const char *name, const char *plain)
{
    char sql[200], field[200];
    if (ep < 0) {
        snprintf(sql, sizeof(sql), "SELECT headers->>'%s' FROM webhooks WHERE id = $1", name);
        snprintf(field, sizeof(field), "headers/%s", name);
    } else {
        snprintf(sql, sizeof(sql), "SELECT endpoints->%d->'headers'->>'%s' FROM webhooks WHERE id = $1", ep, name);
        snprintf(field, sizeof(field), "endpoints/%s/headers/%s", upg_ep(fx, wh, ep), name);
    }
    const char *params[1] = {fx->wh[wh].id};
    PGresult *res = upg_query(fx, sql, 1, params);
    bool ok = PQntuples(res) == 1 &&
              e2e_sealed_is(fx->st, UPG_TENANT, fx->wh[wh].id, field, PQgetvalue(res, 0, 0), plain);
    PQclear(res);
    return ok;
}

static void upg_check_sealed(struct upg_fx *fx)
{
    E2E_SECTION("the new api sealed every plain secret and header value at start: the database holds none plain");
    CHECK_EQ_INT(upg_long(fx, UPG_PLAIN_WEBHOOKS, NULL), 0);
    CHECK_EQ_INT(upg_long(fx, UPG_PLAIN_OUTBOX, NULL), 0);
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM webhooks WHERE NOT starts_with(secret, 'hlenc:v1:t1:')", NULL), 0);
    for (int w = 0; w < W_N; w++)
        CHECK(e2e_db_sealed_is(fx->st, fx->wh[w].id, "secret", fx->wh[w].secret));
    CHECK(e2e_db_sealed_is(fx->st, fx->wh[W_ROTATED].id, "previous_secret", fx->old_secret));
    CHECK(e2e_db_sealed_is(fx->st, fx->other.id, "secret", fx->other.secret));
    CHECK(upg_header_sealed_is(fx, W_MULTI, -1, "x-tag", "old"));
    CHECK(upg_header_sealed_is(fx, W_MULTI, 1, "x-endpoint", "b"));
    char said[128];
    snprintf(said, sizeof(said), "sealed the plain secrets of %ld webhooks and %ld outbox rows", fx->plain_webhooks,
             fx->plain_outbox);
    CHECK(de_log_has(fx->st, hx_api_pid(fx->st), said));
}

/* rotate-secrets-key afterwards: every row opens, nothing left to seal. */
static void upg_check_rotation(struct upg_fx *fx)
{
    E2E_SECTION("rotate-secrets-key after the upgrade opens every row and finds nothing left to seal");
    char db[1200], brokers[300], keys[256];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(fx->st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(fx->st));
    snprintf(keys, sizeof(keys), "HOOKLINE_SECRETS_KEY=%s", hx_secrets_key(fx->st));
    struct e2e_run run;
    e2e_run_api(hx_artifacts_dir(fx->st), "rotate", (const char *const[]){"rotate-secrets-key", NULL},
                (const char *const[]){db, brokers, keys, NULL}, 60000, &run);
    CHECK_EQ_INT(run.status, 0);
    json_t *counts = json_loads(run.out, JSON_DISABLE_EOF_CHECK, NULL);
    CHECK(e2e_int(counts, "checked") >= fx->plain_webhooks + fx->plain_outbox);
    CHECK_EQ_INT(e2e_int(counts, "webhooks"), 0);
    CHECK_EQ_INT(e2e_int(counts, "outbox"), 0);
    CHECK_EQ_INT(e2e_int(counts, "failed"), 0);
    json_decref(counts);
}

/* ---- after the upgrade: a dispatcher at work ---- */

/* The first request to webhook 'wh' endpoint 'ep' with webhook-id 'event'
 * carries 'body' (NULL: an envelope of that id) and is signed by the
 * webhook's secret, and by its previous one too once rotated. */
static void upg_check_received(struct upg_fx *fx, int wh, int ep, const char *event, const char *body)
{
    struct hx_received *rec = de_find(fx->r, upg_paths[wh][ep], event, 0);
    CHECK(rec != NULL);
    if (rec == NULL) {
        fprintf(stderr, "%s never got %s\n", upg_paths[wh][ep], event);
        return;
    }
    if (body != NULL) {
        CHECK(rec->len == strlen(body) && memcmp(rec->body, body, rec->len) == 0);
    } else {
        json_t *env = json_loadb(rec->body, rec->len, 0, NULL);
        CHECK_EQ_STR(e2e_str(env, "id"), event);
        CHECK_EQ_STR(e2e_str(env, "tenant"), UPG_TENANT);
        json_decref(env);
    }
    const char *ts = de_hdr(rec, "webhook-timestamp"), *sigs = de_hdr(rec, "webhook-signature");
    int entries = 0;
    CHECK_EQ_INT(de_sig_matches(fx->wh[wh].secret, event, ts, rec->body, rec->len, sigs, &entries), 1);
    CHECK_EQ_INT(entries, wh == W_ROTATED ? 2 : 1);
    if (wh == W_ROTATED)
        CHECK_EQ_INT(de_sig_matches(fx->old_secret, event, ts, rec->body, rec->len, sigs, NULL), 1);
    /* credentials (011) only where the tenant set them after the upgrade */
    const char *authz = de_hdr(rec, "authorization");
    CHECK(fx->authz[wh] ? authz && strcmp(authz, fx->authz[wh]) == 0 : authz == NULL);
    if (wh == W_MULTI)
        CHECK_EQ_STR(de_hdr(rec, "x-tag"), "old");
    if (wh == W_MULTI && ep == 1)
        CHECK_EQ_STR(de_hdr(rec, "x-endpoint"), "b");
    hx_received_free(rec);
}

/* The log of 'event' on webhook 'wh' ends with a successful attempt 'n'
 * after n - 1 others. */
static bool upg_log_done(struct upg_fx *fx, int wh, const char *event, int n)
{
    json_t *log = de_attempts(fx->st, fx->key, fx->wh[wh].id, event);
    const json_t *last = json_array_get(log, json_array_size(log) - 1);
    bool done = json_array_size(log) == (size_t)n && e2e_int(last, "attempt") == n &&
                json_is_true(json_object_get(last, "success"));
    json_decref(log);
    return done;
}

static const struct old_delivery *upg_find_old(const char *event)
{
    for (size_t i = 0; i < UPG_OLD_N; i++)
        if (strcmp(upg_old[i].event, event) == 0)
            return &upg_old[i];
    hx_die("no old delivery %s", event);
}

/* The pending retry 'event' is delivered (within UPG_WAIT_MS) as the old
 * dispatcher stored it, recorded as its next attempt, and its row is gone. */
static void upg_check_retry_done(struct upg_fx *fx, const char *event)
{
    const struct old_delivery *o = upg_find_old(event);
    const char *path = upg_paths[o->wh][o->ep];
    bool delivered = HX_WAIT(de_count(fx->r, path, event) >= 1, UPG_WAIT_MS);
    CHECK(delivered);
    if (!delivered) {
        fprintf(stderr, "%s: the pending retry of %s was not delivered\n", path, event);
        return;
    }
    char *payload = upg_payload(event);
    upg_check_received(fx, o->wh, o->ep, event, payload);
    free(payload);
    CHECK(HX_WAIT(upg_log_done(fx, o->wh, event, o->failed + 1), UPG_WAIT_MS));
    CHECK(HX_WAIT(upg_long(fx, "SELECT count(*) FROM retries WHERE event_id = $1", event) == 0, UPG_WAIT_MS));
}

/* UPG_MID's row for 'event' to endpoint 'ep' of 'wh' is delivered with the
 * body that release stored in it, recorded as attempt 'n', and its row is gone. */
static void upg_check_mid_done(struct upg_fx *fx, int wh, int ep, const char *event, int n)
{
    bool delivered = HX_WAIT(de_count(fx->r, upg_paths[wh][ep], event) >= 1, UPG_WAIT_MS);
    CHECK(delivered);
    if (!delivered) {
        fprintf(stderr, "%s: the row of %s was not delivered\n", upg_paths[wh][ep], event);
        return;
    }
    char *payload = upg_payload(event);
    upg_check_received(fx, wh, ep, event, payload);
    free(payload);
    CHECK(HX_WAIT(upg_log_done(fx, wh, event, n), UPG_WAIT_MS));
    CHECK(HX_WAIT(upg_long(fx, "SELECT count(*) FROM retries WHERE event_id = $1", event) == 0, UPG_WAIT_MS));
}

static bool upg_healthy(struct upg_fx *fx, int wh, int ep)
{
    return upg_long(fx,
                    "SELECT count(*) FROM endpoint_health WHERE endpoint_id = $1 AND failing_since IS NULL "
                    "AND last_success_at > now() - interval '1 minute'",
                    upg_ep(fx, wh, ep)) == 1;
}

/* POST /v1/events as the tenant: the new event's id into 'id' (64 bytes). */
static void upg_publish(struct upg_fx *fx, char *id)
{
    struct hx_resp resp;
    id[0] = '\0';
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key, "{\"type\":\"booking.scheduled\",\"data\":{}}", &resp, "/v1/events"),
                 202);
    if (e2e_str(resp.json, "id"))
        snprintf(id, 64, "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
}

/* GET of webhook 'wh' (new reference, NULL unless 200). */
static json_t *upg_get(struct upg_fx *fx, int wh)
{
    struct hx_resp resp;
    json_t *doc = NULL;
    if (hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s", fx->wh[wh].id) == 200)
        doc = json_incref(resp.json);
    hx_resp_free(&resp);
    return doc;
}

/* Whether endpoint 'ep' of webhook 'wh' is shown disabled. */
static bool upg_ep_off(struct upg_fx *fx, int wh, int ep)
{
    json_t *doc = upg_get(fx, wh);
    bool off = json_is_false(json_object_get(json_array_get(json_object_get(doc, "endpoints"), (size_t)ep), "is_active"));
    json_decref(doc);
    return off;
}

static void upg_check_dispatch(struct upg_fx *fx)
{
    E2E_SECTION("a dispatcher delivers the old retries that are due: never claimed, stale lease, live lease");
    hx_dispatcher_start(fx->st, NULL);
    long long started_ms = hx_realtime_ms();
    upg_check_retry_done(fx, "evt_old_due");
    upg_check_retry_done(fx, "evt_old_stale");
    upg_check_retry_done(fx, "evt_old_leased");

    E2E_SECTION("the slow-lane rows of %s go out with their body: due, and taken by a dispatcher that died", UPG_MID);
    upg_check_mid_done(fx, W_MULTI, 1, UPG_MID_DUE, 1);
    upg_check_mid_done(fx, W_LIMITED, 0, UPG_MID_TAKEN, 2);
    CHECK(HX_WAIT(upg_healthy(fx, W_MULTI, 0) && upg_healthy(fx, W_MULTI, 1) && upg_healthy(fx, W_ROTATED, 0),
                  UPG_WAIT_MS));

    E2E_SECTION("the event waiting in Kafka since before the upgrade reaches every webhook then active");
    int early_to[][2] = {{W_MULTI, 0}, {W_MULTI, 1}, {W_LIMITED, 0}, {W_ROTATED, 0}};
    for (size_t i = 0; i < sizeof(early_to) / sizeof(early_to[0]); i++) {
        CHECK(HX_WAIT(de_count(fx->r, upg_paths[early_to[i][0]][early_to[i][1]], fx->early) >= 1, UPG_WAIT_MS));
        upg_check_received(fx, early_to[i][0], early_to[i][1], fx->early, NULL);
    }

    E2E_SECTION("the disabled webhook's pending row waits, and is delivered once the tenant enables it, as an "
                "ordered webhook (016): the row from before goes first");
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/disabled"), 0);
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM retries WHERE event_id = 'evt_old_parked'", NULL), 1);
    char path[200];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->wh[W_DISABLED].id);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, "{\"is_active\":true,\"ordered\":true}", 200, NULL);
    upg_check_retry_done(fx, "evt_old_parked");
    CHECK(HX_WAIT(upg_healthy(fx, W_DISABLED, 0), UPG_WAIT_MS));

    E2E_SECTION("an old attempt is redelivered on request");
    const struct old_delivery *ex = upg_find_old("evt_old_exhausted");
    char did[96];
    upg_attempt_id(ex, ex->failed, did, sizeof(did));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries/%s/retry", fx->wh[W_LIMITED].id, did);
    E2E_EXPECT(fx->st, "POST", fx->key, path, NULL, 202, NULL);
    CHECK(HX_WAIT(de_count(fx->r, "/limited", ex->event) >= 1, UPG_WAIT_MS));
    char *payload = upg_payload(ex->event);
    upg_check_received(fx, W_LIMITED, 0, ex->event, payload);
    free(payload);
    CHECK(HX_WAIT(upg_log_done(fx, W_LIMITED, ex->event, ex->failed + 1), UPG_WAIT_MS));

    E2E_SECTION("a new event reaches every active webhook, the rotated one signed by both secrets");
    struct hx_resp resp;
    char id[64] = "";
    long status = hx_api(fx->st, "POST", fx->key, "{\"type\":\"booking.scheduled\",\"data\":{\"new\":true}}", &resp,
                         "/v1/events");
    CHECK_EQ_INT(status, 202);
    if (e2e_str(resp.json, "id"))
        snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
    for (int w = 0; w < W_N; w++) {
        for (int e = 0; w != W_GONE && e < fx->wh[w].neps; e++) {
            CHECK(HX_WAIT(de_count(fx->r, upg_paths[w][e], id) >= 1, UPG_WAIT_MS));
            upg_check_received(fx, w, e, id, NULL);
        }
    }
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/gone"), 0);
    CHECK_EQ_INT(de_count(fx->r, "/disabled", fx->early), 0); /* it came while the webhook was disabled */
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/other"), 0);

    E2E_SECTION("016: the old webhook made ordered gets its next events one at a time, in order");
    char seq[5][64];
    for (int i = 0; i < 5; i++)
        upg_publish(fx, seq[i]);
    long long prev_ms = 0;
    for (int i = 0; i < 5; i++) {
        CHECK(HX_WAIT(de_count(fx->r, "/disabled", seq[i]) >= 1, UPG_WAIT_MS));
        struct hx_received *got = de_find(fx->r, "/disabled", seq[i], 0);
        CHECK(got != NULL && got->at_ms >= prev_ms);
        if (got != NULL)
            prev_ms = got->at_ms;
        hx_received_free(got);
    }
    CHECK(upg_long(fx, "SELECT count(*) FROM ordered_offsets WHERE endpoint_id = $1", upg_ep(fx, W_DISABLED, 0)) == 1);

    E2E_SECTION("the retry due later is delivered once due, not before");
    long long wait_ms = fx->future_due_ms - hx_realtime_ms() + UPG_WAIT_MS;
    printf("the dispatcher started %lld ms before the later retry was due\n", fx->future_due_ms - started_ms);
    CHECK(HX_WAIT(de_count(fx->r, "/limited", "evt_old_future") >= 1, wait_ms > 0 ? wait_ms : 0));
    struct hx_received *rec = de_find(fx->r, "/limited", "evt_old_future", 0);
    if (rec != NULL) {
        printf("delivered %lld ms after it was due\n", rec->at_ms - fx->future_due_ms);
        CHECK(rec->at_ms >= fx->future_due_ms);
        hx_received_free(rec);
    }
    upg_check_retry_done(fx, "evt_old_future");

    E2E_SECTION("an endpoint of the old two-endpoint webhook answering 410 is disabled alone; the other still receives");
    hx_receiver_respond(fx->r, "/multi-b", 410, 1, NULL);
    char gone[64], marker[64], later[64];
    upg_publish(fx, gone);
    CHECK(HX_WAIT(upg_ep_off(fx, W_MULTI, 1), UPG_WAIT_MS));
    json_t *doc = upg_get(fx, W_MULTI);
    const json_t *eps = json_object_get(doc, "endpoints");
    CHECK(json_is_true(json_object_get(doc, "is_active")));
    CHECK(json_is_true(json_object_get(json_array_get(eps, 0), "is_active")));
    CHECK_EQ_STR(e2e_str(json_array_get(eps, 1), "disabled_reason"), "gone");
    json_decref(doc);
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM outbox WHERE webhook_id = $1 AND kind = 'endpoint.disabled'",
                          fx->wh[W_MULTI].id), 1);
    CHECK(HX_WAIT(de_count(fx->r, "/multi-a", gone) == 1, UPG_WAIT_MS));
    /* delivered to the other endpoint: the dispatcher has read the change */
    upg_publish(fx, marker);
    CHECK(HX_WAIT(de_count(fx->r, "/multi-a", marker) == 1, UPG_WAIT_MS));
    upg_publish(fx, later);
    CHECK(HX_WAIT(de_count(fx->r, "/multi-a", later) == 1, UPG_WAIT_MS));
    upg_check_received(fx, W_MULTI, 0, later, NULL);
    CHECK_EQ_INT(de_count(fx->r, "/multi-b", later), 0);

    E2E_SECTION("the previous release's endpoint health goes on: its failing endpoints recovered without an "
                "endpoint.recovered (none was told failing); the 410 after that raised one endpoint.failing");
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM outbox WHERE kind = 'event' "
                              "AND payload->>'type' = 'endpoint.recovered'", NULL), 0);
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM outbox WHERE kind = 'event' AND payload->>'type' = "
                              "'endpoint.failing' AND payload->'data'->>'endpoint_id' = $1", upg_ep(fx, W_MULTI, 1)),
                 1);
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM outbox WHERE kind = 'event' AND payload->>'tenant' <> $1",
                          UPG_TENANT), 0);
    CHECK(HX_WAIT(upg_long(fx, "SELECT count(*) FROM outbox WHERE kind = 'event' AND sent_at IS NULL", NULL) == 0,
                  UPG_WAIT_MS));
}

/* 011: an old webhook takes endpoint credentials; they are sealed, sent,
 * and PostgreSQL refuses a plain one. */
#define UPG_AUTH_BASIC "Basic dXBncmFkZS11c2VyOnVwZ3JhZGUtcGFzcy1acTgx" /* upgrade-user:upgrade-pass-Zq81 */

static void upg_check_auth(struct upg_fx *fx)
{
    E2E_SECTION("011: the old webhooks show no credentials, deliver without them, and take them by PATCH");
    CHECK_EQ_INT(upg_long(fx, "SELECT count(*) FROM pg_constraint WHERE conname IN "
                              "('webhooks_auth_sealed', 'outbox_auth_sealed')", NULL), 2);
    for (int w = 0; w < W_N; w++) {
        json_t *doc = upg_get(fx, w);
        CHECK(doc != NULL && json_is_null(json_object_get(doc, "auth")));
        size_t i;
        json_t *ep;
        json_array_foreach(json_object_get(doc, "endpoints"), i, ep) CHECK(json_is_null(json_object_get(ep, "auth")));
        json_decref(doc);
    }
    char path[200];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->wh[W_ROTATED].id);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path,
               "{\"auth\":{\"type\":\"basic\",\"username\":\"upgrade-user\",\"password\":\"upgrade-pass-Zq81\"}}",
               200, NULL);
    json_t *doc = upg_get(fx, W_ROTATED);
    const json_t *ep = json_array_get(json_object_get(doc, "endpoints"), 0);
    CHECK_EQ_STR(e2e_str(ep, "id"), upg_ep(fx, W_ROTATED, 0)); /* the same endpoint, its history kept */
    CHECK_EQ_STR(e2e_str(json_object_get(ep, "auth"), "type"), "basic");
    CHECK(json_object_get(json_object_get(ep, "auth"), "password") == NULL);
    json_decref(doc);
    char field[160];
    snprintf(field, sizeof(field), "endpoints/%s/auth/password", upg_ep(fx, W_ROTATED, 0));
    const char *params[1] = {fx->wh[W_ROTATED].id};
    PGresult *res = upg_query(fx, "SELECT endpoints->0->'auth'->>'password' FROM webhooks WHERE id = $1", 1, params);
    CHECK(PQntuples(res) == 1 && e2e_sealed_is(fx->st, UPG_TENANT, fx->wh[W_ROTATED].id, field, PQgetvalue(res, 0, 0),
                                               "upgrade-pass-Zq81"));
    PQclear(res);
    res = PQexecParams(fx->pg, "UPDATE webhooks SET endpoints = jsonb_set(endpoints, '{0,auth,password}', '\"plain\"') "
                               "WHERE id = $1", 1, NULL, params, NULL, NULL, 0);
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR && strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514") == 0);
    PQclear(res);

    E2E_SECTION("011: the next events reach the rotated webhook with its credentials, signed by both secrets");
    fx->authz[W_ROTATED] = UPG_AUTH_BASIC;
    /* until the dispatcher has read the change; then every event carries them */
    char id[64] = "";
    bool seen = false;
    long long deadline = hx_now_ms() + UPG_WAIT_MS;
    while (!seen && hx_now_ms() < deadline) {
        upg_publish(fx, id);
        CHECK_FATAL(HX_WAIT(de_count(fx->r, "/rotated", id) >= 1, UPG_WAIT_MS));
        struct hx_received *rec = de_find(fx->r, "/rotated", id, 0);
        seen = rec && de_hdr(rec, "authorization") && strcmp(de_hdr(rec, "authorization"), UPG_AUTH_BASIC) == 0;
        hx_received_free(rec);
    }
    CHECK(seen);
    upg_publish(fx, id);
    CHECK(HX_WAIT(de_count(fx->r, "/rotated", id) >= 1 && de_count(fx->r, "/multi-a", id) >= 1, UPG_WAIT_MS));
    upg_check_received(fx, W_ROTATED, 0, id, NULL);
    upg_check_received(fx, W_MULTI, 0, id, NULL);
}

/* Whether the list at GET /v1/webhooks/{wh}/'what' (its array 'key') has
 * an element whose 'field' is event 'id'. */
static bool upg_lists(struct upg_fx *fx, int wh, const char *what, const char *key, const char *field, const char *id)
{
    struct hx_resp resp;
    bool found = false;
    if (hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s/%s", fx->wh[wh].id, what) == 200) {
        size_t i;
        json_t *el;
        json_array_foreach(json_object_get(resp.json, key), i, el) found = found || strcmp(e2e_str(el, field), id) == 0;
    }
    hx_resp_free(&resp);
    return found;
}

/* Whether event 'id' is among webhook 'wh''s events to fetch (from the acknowledged position). */
static bool upg_polled(struct upg_fx *fx, int wh, const char *id)
{
    return upg_lists(fx, wh, "poll?limit=1000", "data", "id", id);
}

/* Whether webhook 'wh''s delivery log (its newest 100) holds an attempt for event 'id'. */
static bool upg_logged(struct upg_fx *fx, int wh, const char *id)
{
    return upg_lists(fx, wh, "deliveries?size=100", "elements", "event_id", id);
}

static void upg_check_poll(struct upg_fx *fx)
{
    E2E_SECTION("014: an old push webhook turned into a poll webhook keeps its log; its next events wait to be fetched");
    char path[200];
    snprintf(path, sizeof(path), "/v1/webhooks/%s/poll", fx->wh[W_MULTI].id);
    E2E_EXPECT(fx->st, "GET", fx->key, path, NULL, 409, NULL);
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->wh[W_LIMITED].id), 200);
    long long logged = e2e_int(resp.json, "count");
    CHECK(logged > 0);
    hx_resp_free(&resp);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->wh[W_LIMITED].id);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, "{\"endpoints\":[{\"kind\":\"poll\"}]}", 200, NULL);
    /* until the dispatcher has read the change; then the next event waits, unsent */
    char id[64] = "";
    bool polled = false;
    long long deadline = hx_now_ms() + UPG_WAIT_MS;
    while (!polled && hx_now_ms() < deadline) {
        upg_publish(fx, id);
        polled = HX_WAIT(upg_polled(fx, W_LIMITED, id), 2000);
    }
    CHECK(polled);
    /* The events published while the dispatcher had not yet read the change
     * were pushed and logged, maybe after 'logged' was read: the checks below
     * name the events the change applies to. */
    upg_publish(fx, id);
    CHECK(HX_WAIT(upg_polled(fx, W_LIMITED, id), UPG_WAIT_MS));
    CHECK(HX_WAIT(de_count(fx->r, "/multi-a", id) >= 1, UPG_WAIT_MS));     /* pushed to the others meanwhile */
    CHECK(HX_WAIT(upg_logged(fx, W_MULTI, id), UPG_WAIT_MS));
    CHECK_EQ_INT(de_count(fx->r, "/limited", id), 0);
    CHECK(!upg_logged(fx, W_LIMITED, id));
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->wh[W_LIMITED].id), 200);
    CHECK(e2e_int(resp.json, "count") >= logged);                           /* the log before the change is kept */
    hx_resp_free(&resp);
}

int main(void)
{
    struct upg_fx fx = {0};
    upg_start(&fx);
    E2E_SECTION("previous release (%s): Kafka down, a webhook changed, the old dispatcher's rows written", UPG_FROM);
    upg_populate(&fx);
    E2E_SECTION("migrated to the release before (%s): its dispatcher's slow-lane rows written", UPG_MID);
    upg_populate_mid(&fx);
    json_t *before = upg_snapshot(&fx, true);

    E2E_SECTION("the upgrade applies every migration of sql/ and exits 0");
    upg_upgrade(&fx);
    CHECK_EQ_INT(upg_long(&fx, "SELECT count(*) FROM schema_migrations", NULL),
                 upg_count_migrations(HOOKLINE_SOURCE_SQL_DIR));
    upg_check_plain_after_migrate(&fx);
    /* then the api, then the dispatchers; Kafka comes back once the new api
     * runs, so the rows it had not taken are published by the new api */
    CHECK_EQ_INT(hx_api_restart(fx.st), 0);
    hx_broker_up(fx.st);

    upg_check_sealed(&fx);
    upg_check_reads(&fx, before);
    upg_check_stats(&fx);
    upg_check_keys(&fx);
    upg_check_portal(&fx);
    upg_check_outbox(&fx);
    upg_check_dispatch(&fx);
    upg_check_auth(&fx);
    upg_check_rotation(&fx);
    upg_check_poll(&fx);

    json_decref(before);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    return check_exit();
}
