/* test_api_outbox.c: lifecycle events reach hookline.webhooks through the
 * outbox, in order, none lost and none for a failed write.
 *
 * A plain librdkafka consumer assigned every partition of
 * hookline.webhooks from the beginning sees, for one webhook created,
 * patched, rotated and deleted, webhook.created / updated / secret_rotated
 * / deleted in that order with versions 1-4, keyed by the webhook id, the
 * full document (secret included, sealed for this webhook) in all but the
 * deletion. Refused writes
 * publish nothing. With the broker down every write still answers 201 and
 * every lifecycle event arrives once it is back; an api restarted with
 * unsent outbox rows publishes them.
 */
#include "api_e2e.h"

#define OB_TOPIC "hookline.webhooks"
#define OB_DEADLINE_MS 60000

/* Lifecycle messages for webhook 'id', in the order read (new reference). */
static json_t *ob_events_of(const struct e2e_consumer *c, const char *id)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(c->msgs, i, m)
    {
        const char *got = e2e_str(json_object_get(json_object_get(m, "value"), "webhook"), "id");
        if (got && strcmp(got, id) == 0)
            json_array_append(out, m);
    }
    return out;
}

/* Distinct webhook ids among 'ids' with a webhook.created message in 'c'. */
static size_t ob_created_seen(const struct e2e_consumer *c, char ids[][64], size_t n)
{
    size_t seen = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i;
        json_t *m;
        json_array_foreach(c->msgs, i, m)
        {
            json_t *v = json_object_get(m, "value");
            const char *got = e2e_str(json_object_get(v, "webhook"), "id");
            if (got && strcmp(got, ids[k]) == 0 && e2e_str(v, "type") &&
                strcmp(e2e_str(v, "type"), "webhook.created") == 0) {
                seen++;
                break;
            }
        }
    }
    return seen;
}

static size_t ob_poll_created(struct e2e_consumer *c, char ids[][64], size_t n)
{
    e2e_consumer_poll(c, 100);
    return ob_created_seen(c, ids, n);
}

static long ob_unsent(struct hx_stack *st)
{
    return e2e_db_long(st, "SELECT count(*) FROM outbox WHERE sent_at IS NULL", NULL, NULL);
}

static void ob_lifecycle(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    struct hx_resp resp;
    char id[64], secret[128], new_secret[128] = "", path[128], rot[160];

    E2E_SECTION("created -> patched -> rotated -> deleted: four events in order, versions 1-4, keyed by id");
    CHECK_EQ_INT(e2e_webhook_new(st, key, "lifecycle", "https://hooks.example.com/life", id, secret), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    snprintf(rot, sizeof(rot), "%s/rotate-secret", path);
    CHECK_EQ_INT(
        e2e_send(st, "PATCH", key, &resp, path, "%s", "{\"description\":\"patched\",\"events\":\"conversation\"}"),
        200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "POST", key, NULL, &resp, "%s", rot), 200);
    snprintf(new_secret, sizeof(new_secret), "%s", e2e_str(resp.json, "secret") ? e2e_str(resp.json, "secret") : "");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "DELETE", key, NULL, &resp, "%s", path), 200);
    hx_resp_free(&resp);

    CHECK(e2e_consume_until(c, "webhook.id", id, 4, OB_DEADLINE_MS));
    json_t *evs = ob_events_of(c, id);
    CHECK_EQ_INT(json_array_size(evs), 4);
    static const char *const types[] = {"webhook.created", "webhook.updated", "webhook.secret_rotated",
                                        "webhook.deleted"};
    for (size_t i = 0; i < 4 && i < json_array_size(evs); i++) {
        json_t *m = json_array_get(evs, i), *v = json_object_get(m, "value"), *doc = json_object_get(v, "webhook");
        CHECK_EQ_STR(e2e_str(v, "type"), types[i]);
        CHECK_EQ_INT(e2e_int(v, "version"), (long long)i + 1);
        CHECK_EQ_STR(e2e_str(m, "key"), id);
        CHECK(e2e_str(v, "occurred_at") != NULL);
        CHECK_EQ_STR(e2e_str(doc, "id"), id);
        CHECK_EQ_STR(e2e_str(doc, "tenant"), "outbox-co");
        if (i > 0)
            CHECK_EQ_INT(e2e_int(json_array_get(evs, i), "partition"), e2e_int(json_array_get(evs, 0), "partition"));
        if (i == 3) {
            CHECK(json_object_get(doc, "secret") == NULL);
            CHECK(json_object_get(doc, "endpoints") == NULL);
            continue;
        }
        /* the full document: what a dispatcher needs to deliver and sign */
        CHECK_EQ_STR(e2e_str(doc, "name"), "lifecycle");
        CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(doc, "endpoints"), 0), "url"),
                     "https://hooks.example.com/life");
        CHECK(json_is_array(json_object_get(doc, "events")));
        CHECK(json_is_object(json_object_get(doc, "headers")));
        CHECK(json_is_integer(json_object_get(doc, "max_retries")));
        CHECK(json_is_boolean(json_object_get(doc, "is_active")));
        CHECK(json_object_get(doc, "filter") != NULL);
        CHECK_EQ_INT(e2e_int(doc, "version"), (long long)i + 1);
        CHECK(e2e_sealed_is(st, "outbox-co", id, "secret", e2e_str(doc, "secret"), i < 2 ? secret : new_secret));
    }
    if (json_array_size(evs) >= 2) {
        json_t *doc = json_object_get(json_object_get(json_array_get(evs, 1), "value"), "webhook");
        CHECK_EQ_STR(e2e_str(doc, "description"), "patched");
        CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(doc, "events"), 0)), "conversation");
    }
    json_decref(evs);

    E2E_SECTION("refused writes (409, 400, 422, 404) write no outbox row and publish nothing");
    char keep[64];
    CHECK_EQ_INT(e2e_webhook_new(st, key, "kept", "https://hooks.example.com/kept", keep, NULL), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", keep);
    long rows = e2e_db_long(st, "SELECT count(*) FROM outbox", NULL, NULL);
    E2E_EXPECT(st, "POST", key, "/v1/webhooks",
               "{\"name\":\"kept\",\"url\":\"https://hooks.example.com/2\",\"events\":\"booking\"}", 409, NULL);
    E2E_EXPECT(st, "PATCH", key, path, "{\"max_retries\":99}", 400, NULL);
    E2E_EXPECT(st, "PATCH", key, path, "{\"events\":[\"nope.nope\"]}", 422, NULL);
    E2E_EXPECT(st, "PUT", key, path, "{\"name\":\"kept\"}", 400, NULL);
    E2E_EXPECT(st, "DELETE", key, "/v1/webhooks/wh_0000000000000000000000", NULL, 404, NULL);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM outbox", NULL, NULL), rows);
    /* a later write of the same webhook is version 2: nothing came between */
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "%s", "{\"description\":\"after refusals\"}"), 200);
    hx_resp_free(&resp);
    CHECK(e2e_consume_until(c, "webhook.id", keep, 2, OB_DEADLINE_MS));
    evs = ob_events_of(c, keep);
    CHECK_EQ_INT(json_array_size(evs), 2);
    CHECK_EQ_INT(e2e_int(json_object_get(json_array_get(evs, 1), "value"), "version"), 2);
    json_decref(evs);
    CHECK(HX_WAIT(ob_unsent(st) == 0, 10000));
}

static void ob_broker_down(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    enum { N = 20 };
    char ids[N][64];

    hx_broker_down(st);
    E2E_SECTION("broker down: a burst of 20 creates all answer 201, promptly");
    long long t0 = hx_now_ms();
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "burst-%02d", i);
        CHECK_EQ_INT(e2e_webhook_new(st, key, name, "https://hooks.example.com/burst", ids[i], NULL), 201);
    }
    long long took = hx_now_ms() - t0;
    fprintf(stderr, "20 creates with the broker down: %lld ms\n", took);
    CHECK(took < 10000); /* no write waits for Kafka */
    CHECK_EQ_INT(ob_created_seen(c, ids, N), 0);

    E2E_SECTION("broker down past the producer's 10 s message timeout: the rows stay unsent, none is dropped");
    /* a negative wait: nothing may mark them sent while nothing acknowledged them */
    CHECK(!HX_WAIT(ob_unsent(st) < N, 12000));
    CHECK_EQ_INT(ob_unsent(st), N);

    hx_broker_up(st);
    E2E_SECTION("broker up: every lifecycle event of the burst arrives (distinct webhook ids), none missing");
    bool all = HX_WAIT(ob_poll_created(c, ids, N) == N, OB_DEADLINE_MS);
    fprintf(stderr, "burst events seen: %zu of %d\n", ob_created_seen(c, ids, N), N);
    CHECK(all);
    CHECK(HX_WAIT(ob_unsent(st) == 0, 10000));
}

static void ob_restart(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    enum { N = 5 };
    char ids[N][64];

    hx_broker_down(st);
    E2E_SECTION("api restarted with unsent outbox rows: the new process publishes them");
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "restart-%d", i);
        CHECK_EQ_INT(e2e_webhook_new(st, key, name, "https://hooks.example.com/restart", ids[i], NULL), 201);
    }
    pid_t old = hx_api_pid(st);
    CHECK_EQ_INT(hx_api_restart(st), 0); /* the old api also stops cleanly with the broker down */
    CHECK(hx_api_pid(st) != old);
    CHECK(ob_unsent(st) >= N);
    CHECK_EQ_INT(ob_created_seen(c, ids, N), 0);
    hx_broker_up(st);
    bool all = HX_WAIT(ob_poll_created(c, ids, N) == N, OB_DEADLINE_MS);
    fprintf(stderr, "events after restart seen: %zu of %d\n", ob_created_seen(c, ids, N), N);
    CHECK(all);
    CHECK(HX_WAIT(ob_unsent(st) == 0, 10000));

    E2E_SECTION("after the restart, writes publish as before");
    char id[64];
    CHECK_EQ_INT(e2e_webhook_new(st, key, "after restart", "https://hooks.example.com/after", id, NULL), 201);
    CHECK(e2e_consume_until(c, "webhook.id", id, 1, OB_DEADLINE_MS));
}

/* PostgreSQL drops every session of the api (a failover, an idle-session
 * reaper): the api and its relay reconnect, nothing is lost. */
static void ob_pg_sessions_lost(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    E2E_SECTION("PostgreSQL ends every api session: requests recover, the relay reconnects and publishes");
    long killed = e2e_db_long(st,
                              "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()",
                              NULL, NULL);
    CHECK(killed >= 2); /* at least a pooled connection and the relay's */
    int failures = 0;
    long status = 0;
    char id[64] = "";
    for (int i = 0; i < 20 && status != 201; i++) {
        status = e2e_webhook_new(st, key, "after sessions lost", "https://hooks.example.com/pg", id, NULL);
        failures += status != 201;
        CHECK(status == 201 || status == 503);
    }
    fprintf(stderr, "creates refused after the sessions were lost: %d\n", failures);
    CHECK_EQ_INT(status, 201);
    CHECK(e2e_consume_until(c, "webhook.id", id, 1, OB_DEADLINE_MS));
    CHECK(HX_WAIT(ob_unsent(st) == 0, 10000));
}

static long ob_get_status(const char *url)
{
    struct hx_resp resp;
    long status = hx_http("GET", url, NULL, NULL, NULL, &resp);
    hx_resp_free(&resp);
    return status;
}

/* Messages in 'c' for (webhook 'id', 'type'). */
static size_t ob_count(const struct e2e_consumer *c, const char *id, const char *type)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(c->msgs, i, m)
    {
        json_t *v = json_object_get(m, "value");
        const char *got = e2e_str(json_object_get(v, "webhook"), "id"), *t = e2e_str(v, "type");
        n += got && t && strcmp(got, id) == 0 && strcmp(t, type) == 0;
    }
    return n;
}

/* A second api process on the same database: one relay publishes at a
 * time; when the first process dies the second takes over. Ends with the
 * stack's own api killed (forgotten by the harness). */
static void ob_two_apis(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    char db[1200], brokers[300], port[64], admin[128], url2[64], id[64], keys[256];
    int p2 = hx_free_port();
    snprintf(keys, sizeof(keys), "HOOKLINE_SECRETS_KEY=%s", hx_secrets_key(st));
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(st));
    snprintf(port, sizeof(port), "HOOKLINE_HTTP_PORT=%d", p2);
    snprintf(admin, sizeof(admin), "HOOKLINE_ADMIN_KEY=%s", hx_admin_key(st));
    snprintf(url2, sizeof(url2), "http://127.0.0.1:%d", p2);
    const char *const env[] = {db, brokers, port, admin, keys, "HOOKLINE_TLS_CHECK=false", NULL};
    pid_t second = e2e_spawn_api(hx_artifacts_dir(st), "api-second", NULL, env);
    char health[128];
    snprintf(health, sizeof(health), "%s/healthz", url2);
    struct hx_resp resp;
    CHECK_FATAL(HX_WAIT(ob_get_status(health) == 200, 20000));

    E2E_SECTION("two api processes: a write through the second is published exactly once");
    char path[128], body[256];
    snprintf(path, sizeof(path), "%s/v1/webhooks", url2);
    snprintf(body, sizeof(body),
             "{\"name\":\"via second\",\"url\":\"https://hooks.example.com/2\",\"events\":\"booking\"}");
    CHECK_EQ_INT(hx_http("POST", path, key, body, NULL, &resp), 201);
    snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    CHECK(e2e_consume_until(c, "webhook.id", id, 1, OB_DEADLINE_MS));
    /* a marker written after it, on the same relay, bounds the wait for duplicates */
    char marker[64];
    CHECK_EQ_INT(e2e_webhook_new(st, key, "marker two apis", "https://hooks.example.com/m", marker, NULL), 201);
    CHECK(e2e_consume_until(c, "webhook.id", marker, 1, OB_DEADLINE_MS));
    CHECK_EQ_INT(ob_count(c, id, "webhook.created"), 1);

    E2E_SECTION("the first api dies (SIGKILL): the second takes the relay over and publishes");
    CHECK_EQ_INT(hx_proc_kill(st, hx_api_pid(st), SIGKILL), 0);
    snprintf(body, sizeof(body),
             "{\"name\":\"after takeover\",\"url\":\"https://hooks.example.com/3\",\"events\":\"booking\"}");
    CHECK_EQ_INT(hx_http("POST", path, key, body, NULL, &resp), 201);
    snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    CHECK(e2e_consume_until(c, "webhook.id", id, 1, OB_DEADLINE_MS));
    CHECK(HX_WAIT(ob_unsent(st) == 0, 10000));

    E2E_SECTION("the second api stops cleanly on SIGTERM");
    CHECK_FATAL(kill(second, SIGTERM) == 0);
    CHECK_EQ_INT(e2e_wait_api(second, 20000), 0);
}

/* Every outbox row was published: as many messages as rows, each row's
 * (webhook, type, version) seen. Duplicates are allowed (at least once). */
static void ob_totals(struct hx_stack *st, struct e2e_consumer *c)
{
    E2E_SECTION("every outbox row is on the topic; no message exists without its row");
    PGconn *pg = hx_pg_connect(st);
    PGresult *res = PQexec(pg, "SELECT webhook_id, kind, (payload->>'version') FROM outbox ORDER BY seq");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    int rows = PQntuples(res);
    CHECK(HX_WAIT(e2e_consumer_poll(c, 100) >= (size_t)rows, OB_DEADLINE_MS));
    json_t *seen = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(c->msgs, i, m)
    {
        json_t *v = json_object_get(m, "value");
        char k[256];
        snprintf(k, sizeof(k), "%s/%s/%lld", e2e_str(json_object_get(v, "webhook"), "id"), e2e_str(v, "type"),
                 e2e_int(v, "version"));
        json_object_set_new(seen, k, json_true());
    }
    int missing = 0;
    for (int r = 0; r < rows; r++) {
        char k[256];
        snprintf(k, sizeof(k), "%s/%s/%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
        if (json_object_get(seen, k) == NULL) {
            fprintf(stderr, "outbox row %s not on the topic\n", k);
            missing++;
        }
    }
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(json_object_size(seen), rows);
    fprintf(stderr, "%d outbox rows, %zu messages\n", rows, json_array_size(c->msgs));
    json_decref(seen);
    PQclear(res);
    PQfinish(pg);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128];
    CHECK_FATAL(hx_tenant_new(st, "outbox-co", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(st), OB_TOPIC);
    ob_lifecycle(st, key, c);
    ob_broker_down(st, key, c);
    ob_restart(st, key, c);
    ob_pg_sessions_lost(st, key, c);
    ob_two_apis(st, key, c);
    ob_totals(st, c);
    e2e_consumer_free(c);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
