/* test_dispatch_ops_events.c: operational events reach the tenant they are
 * about, signed, once per cause, never another tenant, and none is lost
 * when a dispatcher is killed while producing them.
 *
 * Tenant opsa has a watcher webhook subscribed to the group "operational"
 * and webhooks whose endpoints misbehave on cue (each takes only the
 * events whose data.to names it); tenant opsb has its own watcher.
 * - t1 fails 9 times: 3 events, 3 attempts each: one endpoint.failing
 *   across the 9 failures, and one delivery.exhausted per event;
 * - t1 answers again: endpoint.recovered; it fails once more within the
 *   hour: no second endpoint.failing (and so no endpoint.recovered);
 * - t2 answers 410: webhook.disabled (reason "gone"), no delivery.exhausted;
 * - t3 fails always and subscribes to the operational events itself: the
 *   ones about t3 go to the watcher, never to t3, and its failures to take
 *   the others' (for good: max_retries 0) raise no delivery.exhausted;
 * - opsb's webhook fails: opsb's watcher hears of it, opsa's does not, and
 *   opsb's watcher hears nothing of opsa's;
 * - t4 fails 60 deliveries slowly; the dispatcher is killed with SIGKILL
 *   while it is producing their delivery.exhausted: after a successor takes
 *   over, every one of the 60 reaches the watcher, each under one id.
 * The api refuses an operational type on POST /v1/events and lists the
 * four in GET /v1/webhook-types under "operational". In a stack of its
 * own, with HOOKLINE_FAILING_NOTICE_EVERY=3s: an endpoint failing again
 * within the window after a notice is told once the window is over, for
 * its new failure period.
 */
#include <signal.h>

#include "dispatch_e2e.h"

#define WAIT_MS 30000
#define KILL_EVENTS 60

struct fx {
    struct hx_stack *st;
    struct hx_receiver *r, *slow;
    struct de_producer *p;
    PGconn *pg;
    char key_a[128], key_b[128];
    struct de_webhook wa, t1, t2, t3, t4, wb, tb;
};

static bool fx_is_ops(const char *type)
{
    return strcmp(type, "webhook.disabled") == 0 || strcmp(type, "endpoint.failing") == 0 ||
           strcmp(type, "endpoint.recovered") == 0 || strcmp(type, "delivery.exhausted") == 0;
}

/* Operational events of 'type' (NULL: any) about webhook 'about' (NULL:
 * any) that 'path' of 'r' received: how many requests, their distinct ids
 * into 'ids' (may be NULL), and in *bad those not signed by 'secret' or
 * not of 'tenant'. */
static size_t fx_seen(struct hx_receiver *r, const char *path, const char *type, const char *about,
                      const char *secret, const char *tenant, json_t *ids, size_t *bad)
{
    size_t n = 0, total = hx_receiver_count(r, NULL);
    for (size_t i = 0; i < total; i++) {
        struct hx_received *rec = hx_receiver_get(r, i);
        if (rec == NULL)
            break;
        json_t *env = json_loadb(rec->body, rec->len, 0, NULL);
        json_t *data = json_object_get(env, "data");
        const char *t = e2e_str(env, "type"), *w = e2e_str(data, "webhook_id");
        if (strcmp(rec->path, path) == 0 && t && (type ? strcmp(t, type) == 0 : fx_is_ops(t)) &&
            (about == NULL || (w && strcmp(w, about) == 0))) {
            n++;
            if (ids)
                json_object_set_new(ids, de_hdr(rec, "webhook-id") ? de_hdr(rec, "webhook-id") : "?", json_true());
            if (bad && (!de_signed_by(rec, secret) || !e2e_str(env, "tenant") ||
                        strcmp(e2e_str(env, "tenant"), tenant) != 0))
                (*bad)++;
        }
        json_decref(env);
        hx_received_free(rec);
    }
    return n;
}

/* The first received operational event of 'type' about 'about' at 'path'
 * (its envelope, new reference), or NULL. */
static json_t *fx_first(struct hx_receiver *r, const char *path, const char *type, const char *about)
{
    size_t total = hx_receiver_count(r, NULL);
    for (size_t i = 0; i < total; i++) {
        struct hx_received *rec = hx_receiver_get(r, i);
        if (rec == NULL)
            break;
        json_t *env = json_loadb(rec->body, rec->len, 0, NULL);
        const char *t = e2e_str(env, "type"), *w = e2e_str(json_object_get(env, "data"), "webhook_id");
        bool hit = strcmp(rec->path, path) == 0 && t && strcmp(t, type) == 0 && w && strcmp(w, about) == 0;
        hx_received_free(rec);
        if (hit)
            return env;
        json_decref(env);
    }
    return NULL;
}

/* Operational events of 'type' about webhook 'about' produced (outbox rows). */
static long fx_produced(struct fx *fx, const char *type, const char *about)
{
    return de_pg_long(fx->pg,
                      "SELECT count(*) FROM outbox WHERE kind = 'event' AND payload->>'type' = $1 "
                      "AND payload->'data'->>'webhook_id' = $2",
                      type, about, NULL);
}

static long fx_produced_distinct(struct fx *fx, const char *type, const char *about, const char *what)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT %s) FROM outbox WHERE kind = 'event' AND payload->>'type' = $1 "
             "AND payload->'data'->>'webhook_id' = $2", what);
    return de_pg_long(fx->pg, sql, type, about, NULL);
}

static void fx_event(struct fx *fx, const char *tenant, const char *to, char *id)
{
    char data[64];
    snprintf(data, sizeof(data), "{\"to\":\"%s\"}", to);
    de_produce_event(fx->p, tenant, strcmp(to, "t3") == 0 ? "conversation.started" : "booking.scheduled", data, id,
                     NULL);
}


static void fx_start(struct fx *fx)
{
    struct hx_stack_opts opts = { .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s", "HOOKLINE_MAX_IN_FLIGHT_PER_ENDPOINT=2",
                                           NULL } };
    fx->st = hx_stack_start(&opts);
    fx->pg = hx_pg_connect(fx->st);
    fx->r = hx_receiver_start(NULL);
    fx->slow = hx_receiver_start(NULL);
    de_tenant_new(fx->st, "opsa", fx->key_a, sizeof(fx->key_a));
    de_tenant_new(fx->st, "opsb", fx->key_b, sizeof(fx->key_b));
    const char *u = hx_receiver_url(fx->r);
    de_webhook_new(fx->st, fx->key_a, &fx->wa,
                   "{\"name\":\"watch\",\"url\":\"%s/a-watch\",\"events\":[\"operational\"]}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->t1,
                   "{\"name\":\"t1\",\"url\":\"%s/t1\",\"events\":\"booking\",\"max_retries\":2,"
                   "\"filter\":{\"data.to\":\"t1\"}}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->t2,
                   "{\"name\":\"t2\",\"url\":\"%s/t2\",\"events\":\"booking\",\"filter\":{\"data.to\":\"t2\"}}", u);
    /* t3 takes the conversation events (no other webhook of opsa does) and
     * every operational one */
    de_webhook_new(fx->st, fx->key_a, &fx->t3,
                   "{\"name\":\"t3\",\"url\":\"%s/t3\",\"events\":[\"conversation\",\"operational\"],"
                   "\"max_retries\":0}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->t4,
                   "{\"name\":\"t4\",\"url\":\"%s/t4\",\"events\":\"booking\",\"max_retries\":0,"
                   "\"filter\":{\"data.to\":\"t4\"}}", hx_receiver_url(fx->slow));
    de_webhook_new(fx->st, fx->key_b, &fx->wb,
                   "{\"name\":\"watch\",\"url\":\"%s/b-watch\",\"events\":\"operational\"}", u);
    de_webhook_new(fx->st, fx->key_b, &fx->tb,
                   "{\"name\":\"tb\",\"url\":\"%s/tb\",\"events\":\"booking\",\"max_retries\":0}", u);
    hx_receiver_respond(fx->r, "/t3", 500, 1000000, NULL);
    hx_receiver_respond(fx->slow, "/t4", 500, 1000000, NULL);
    /* the dispatcher loads every webhook at start */
    hx_dispatcher_start(fx->st, NULL);
    fx->p = de_producer_new(hx_brokers(fx->st));
}

static void test_catalog(struct fx *fx)
{
    E2E_SECTION("the catalog lists the operational types; a tenant cannot publish one");
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhook-types"), 200);
    const char *want[] = { "webhook.disabled", "endpoint.failing", "endpoint.recovered", "delivery.exhausted" };
    int found = 0;
    size_t i;
    json_t *el;
    json_array_foreach(json_object_get(resp.json, "elements"), i, el) {
        for (int k = 0; k < 4; k++)
            if (strcmp(e2e_str(el, "name"), want[k]) == 0 && strcmp(e2e_str(el, "group"), "operational") == 0)
                found++;
    }
    CHECK_EQ_INT(found, 4);
    json_t *groups = json_object_get(resp.json, "groups"), *ops = NULL;
    json_array_foreach(groups, i, el) {
        if (strcmp(e2e_str(el, "name"), "operational") == 0)
            ops = el;
    }
    CHECK(ops != NULL && json_array_size(json_object_get(ops, "types")) == 4);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, "{\"type\":\"endpoint.failing\",\"data\":{\"webhook_id\":\"x\"}}",
                        &resp, "/v1/events"), 422);
    CHECK(e2e_error(&resp) && strstr(e2e_error(&resp), "operational") != NULL);
    hx_resp_free(&resp);
    /* their group is "operational", not their prefix */
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, "{\"name\":\"pfx\",\"url\":\"https://127.0.0.1:1/x\","
                                                   "\"events\":[\"endpoint\"]}", &resp, "/v1/webhooks"), 422);
    hx_resp_free(&resp);
}

static void test_failing_exhausted_recovered(struct fx *fx)
{
    E2E_SECTION("9 failures of t1 (3 events x 3 attempts): one endpoint.failing, three delivery.exhausted");
    hx_receiver_respond(fx->r, "/t1", 500, 9, NULL);
    char ev[3][64];
    for (int i = 0; i < 3; i++)
        fx_event(fx, "opsa", "t1", ev[i]);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_produced(fx, "delivery.exhausted", fx->t1.id) == 3, WAIT_MS));
    CHECK_EQ_INT(de_count(fx->r, "/t1", NULL), 9);
    CHECK_EQ_INT(fx_produced(fx, "endpoint.failing", fx->t1.id), 1);
    json_t *ids = json_object();
    size_t bad = 0;
    CHECK(HX_WAIT(fx_seen(fx->r, "/a-watch", "delivery.exhausted", fx->t1.id, fx->wa.secret, "opsa", NULL, NULL) >= 3 &&
                      fx_seen(fx->r, "/a-watch", "endpoint.failing", fx->t1.id, fx->wa.secret, "opsa", NULL, NULL) >= 1,
                  WAIT_MS));
    fx_seen(fx->r, "/a-watch", "delivery.exhausted", fx->t1.id, fx->wa.secret, "opsa", ids, &bad);
    CHECK_EQ_INT(json_object_size(ids), 3);
    CHECK_EQ_INT(bad, 0);
    json_t *f = fx_first(fx->r, "/a-watch", "endpoint.failing", fx->t1.id);
    json_t *d = json_object_get(f, "data");
    CHECK(d && strcmp(e2e_str(d, "endpoint_id"), fx->t1.ep[0]) == 0);
    CHECK(d && e2e_str(d, "endpoint_url") && strstr(e2e_str(d, "endpoint_url"), "/t1") != NULL);
    CHECK(d && strcmp(e2e_str(d, "webhook_name"), "t1") == 0);
    CHECK(d && e2e_int(d, "status_code") == 500 && e2e_str(d, "failing_since") != NULL);
    char failing_since[64] = "";
    if (d && e2e_str(d, "failing_since"))
        snprintf(failing_since, sizeof(failing_since), "%s", e2e_str(d, "failing_since"));
    json_decref(f);
    for (int i = 0; i < 3; i++) {
        /* each event's, with its last attempt */
        json_t *seen = NULL;
        size_t total = hx_receiver_count(fx->r, NULL);
        for (size_t k = 0; k < total && seen == NULL; k++) {
            struct hx_received *rec = hx_receiver_get(fx->r, k);
            json_t *env = rec ? json_loadb(rec->body, rec->len, 0, NULL) : NULL;
            json_t *data = json_object_get(env, "data");
            if (rec && strcmp(rec->path, "/a-watch") == 0 && strcmp(e2e_str(env, "type"), "delivery.exhausted") == 0 &&
                strcmp(e2e_str(data, "event_id"), ev[i]) == 0)
                seen = json_incref(data);
            json_decref(env);
            hx_received_free(rec);
        }
        CHECK(seen != NULL);
        CHECK(seen && e2e_int(seen, "attempts") == 3 && e2e_int(seen, "last_status_code") == 500);
        CHECK(seen && strcmp(e2e_str(seen, "event_type"), "booking.scheduled") == 0);
        CHECK(seen && e2e_str(seen, "last_delivery_id") && strncmp(e2e_str(seen, "last_delivery_id"), "dlv_", 4) == 0);
        json_decref(seen);
    }
    json_decref(ids);

    E2E_SECTION("t1 answers again: endpoint.recovered");
    char ok[64];
    fx_event(fx, "opsa", "t1", ok);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_produced(fx, "endpoint.recovered", fx->t1.id) == 1, WAIT_MS));
    CHECK(HX_WAIT(fx_seen(fx->r, "/a-watch", "endpoint.recovered", fx->t1.id, fx->wa.secret, "opsa", NULL, NULL) == 1,
                  WAIT_MS));
    json_t *rv = fx_first(fx->r, "/a-watch", "endpoint.recovered", fx->t1.id);
    CHECK(rv && strcmp(e2e_str(json_object_get(rv, "data"), "failing_since"), failing_since) == 0);
    CHECK(rv && e2e_str(json_object_get(rv, "data"), "recovered_at") != NULL);
    json_decref(rv);

    E2E_SECTION("t1 fails again within the hour, then succeeds on retry: no second endpoint.failing");
    hx_receiver_respond(fx->r, "/t1", 500, 1, NULL);
    char again[64];
    fx_event(fx, "opsa", "t1", again);
    de_flush(fx->p);
    /* the retry's success is recorded: whatever the failure raised is in the outbox by then */
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND success", again, NULL,
                             NULL) == 1, WAIT_MS));
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND NOT success", again, NULL,
                            NULL), 1);
    CHECK_EQ_INT(fx_produced(fx, "endpoint.failing", fx->t1.id), 1);
    CHECK_EQ_INT(fx_produced(fx, "endpoint.recovered", fx->t1.id), 1);
}

static void test_gone(struct fx *fx)
{
    E2E_SECTION("t2 answers 410: webhook.disabled (gone), no delivery.exhausted");
    hx_receiver_respond(fx->r, "/t2", 410, 1, NULL);
    char ev[64];
    fx_event(fx, "opsa", "t2", ev);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_seen(fx->r, "/a-watch", "webhook.disabled", fx->t2.id, fx->wa.secret, "opsa", NULL, NULL) == 1,
                  WAIT_MS));
    json_t *env = fx_first(fx->r, "/a-watch", "webhook.disabled", fx->t2.id);
    json_t *d = json_object_get(env, "data");
    CHECK(d && strcmp(e2e_str(d, "reason"), "gone") == 0);
    CHECK(d && strcmp(e2e_str(d, "endpoint_id"), fx->t2.ep[0]) == 0);
    CHECK(d && strstr(e2e_str(d, "detail"), "410") != NULL && e2e_str(d, "disabled_at") != NULL);
    json_decref(env);
    CHECK_EQ_INT(fx_produced(fx, "webhook.disabled", fx->t2.id), 1);
    CHECK_EQ_INT(fx_produced(fx, "delivery.exhausted", fx->t2.id), 0);
}

static void test_self(struct fx *fx)
{
    E2E_SECTION("t3, failing and subscribed to operational events: those about t3 never go to t3");
    char ev[64];
    fx_event(fx, "opsa", "t3", ev);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_seen(fx->r, "/a-watch", "delivery.exhausted", fx->t3.id, fx->wa.secret, "opsa", NULL, NULL) == 1 &&
                      fx_seen(fx->r, "/a-watch", "endpoint.failing", fx->t3.id, fx->wa.secret, "opsa", NULL, NULL) == 1,
                  WAIT_MS));
    /* t3 took the others' (about t1, t2) and failed them */
    CHECK(fx_seen(fx->r, "/t3", NULL, NULL, fx->t3.secret, "opsa", NULL, NULL) >= 1);
}

static void test_tenants(struct fx *fx)
{
    E2E_SECTION("opsb's failures go to opsb's watcher only");
    hx_receiver_respond(fx->r, "/tb", 500, 1, NULL);
    char ev[64];
    fx_event(fx, "opsb", "tb", ev);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_seen(fx->r, "/b-watch", "delivery.exhausted", fx->tb.id, fx->wb.secret, "opsb", NULL, NULL) == 1 &&
                      fx_seen(fx->r, "/b-watch", "endpoint.failing", fx->tb.id, fx->wb.secret, "opsb", NULL, NULL) == 1,
                  WAIT_MS));
}

static void test_kill(struct fx *fx)
{
    E2E_SECTION("SIGKILL of the dispatcher while it produces delivery.exhausted for 60 failures: none is lost");
    hx_receiver_set_delay(fx->slow, 300);
    char ev[KILL_EVENTS][64];
    for (int i = 0; i < KILL_EVENTS; i++)
        fx_event(fx, "opsa", "t4", ev[i]);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_produced(fx, "delivery.exhausted", fx->t4.id) >= 4, WAIT_MS));
    pid_t pids[4];
    CHECK_FATAL(hx_dispatcher_pids(fx->st, pids, 4) == 1);
    CHECK_EQ_INT(hx_proc_kill(fx->st, pids[0], SIGKILL), 0);
    long at_kill = fx_produced(fx, "delivery.exhausted", fx->t4.id);
    printf("killed with %ld of %d delivery.exhausted produced\n", at_kill, KILL_EVENTS);
    CHECK(at_kill < KILL_EVENTS);
    hx_dispatcher_start(fx->st, NULL);
    CHECK(HX_WAIT(fx_produced_distinct(fx, "delivery.exhausted", fx->t4.id, "payload->'data'->>'event_id'") ==
                      KILL_EVENTS, 90000));
    /* one id per cause, whatever was produced twice */
    CHECK_EQ_INT(fx_produced_distinct(fx, "delivery.exhausted", fx->t4.id, "payload->>'id'"), KILL_EVENTS);
    json_t *ids = json_object();
    CHECK(HX_WAIT((json_object_clear(ids), fx_seen(fx->r, "/a-watch", "delivery.exhausted", fx->t4.id, fx->wa.secret,
                                                   "opsa", ids, NULL),
                   json_object_size(ids) == KILL_EVENTS),
                  WAIT_MS));
    printf("after the kill: %ld rows for %d causes, %zu requests to the watcher\n",
           fx_produced(fx, "delivery.exhausted", fx->t4.id), KILL_EVENTS,
           fx_seen(fx->r, "/a-watch", "delivery.exhausted", fx->t4.id, fx->wa.secret, "opsa", NULL, NULL));
    json_decref(ids);
    hx_receiver_set_delay(fx->slow, 0);
    hx_receiver_release(fx->slow);
}

static void test_boundaries(struct fx *fx)
{
    E2E_SECTION("no operational event crossed a tenant, reached its own webhook, or came from one");
    size_t bad = 0;
    size_t a_all = fx_seen(fx->r, "/a-watch", NULL, NULL, fx->wa.secret, "opsa", NULL, &bad);
    CHECK(a_all > 0);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(fx_seen(fx->r, "/a-watch", NULL, fx->tb.id, fx->wa.secret, "opsa", NULL, NULL), 0);
    CHECK_EQ_INT(fx_seen(fx->r, "/a-watch", NULL, fx->wa.id, fx->wa.secret, "opsa", NULL, NULL), 0);
    bad = 0;
    size_t b_all = fx_seen(fx->r, "/b-watch", NULL, NULL, fx->wb.secret, "opsb", NULL, &bad);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(b_all, fx_seen(fx->r, "/b-watch", NULL, fx->tb.id, fx->wb.secret, "opsb", NULL, NULL));
    CHECK(b_all >= 2);
    CHECK_EQ_INT(fx_seen(fx->r, "/t3", NULL, fx->t3.id, fx->t3.secret, "opsa", NULL, NULL), 0);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts a JOIN outbox o ON o.kind = 'event' "
                                    "AND o.payload->>'id' = a.event_id "
                                    "AND o.payload->'data'->>'webhook_id' = a.webhook_id",
                            NULL, NULL, NULL), 0);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM outbox WHERE kind = 'event' AND payload->>'type' = "
                                    "'delivery.exhausted' AND payload->'data'->>'event_type' IN ('webhook.disabled', "
                                    "'endpoint.failing', 'endpoint.recovered', 'delivery.exhausted')",
                            NULL, NULL, NULL), 0);
    /* t3 did fail operational events for good (max_retries 0) */
    CHECK(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1 "
                             "AND event_type <> 'conversation.started' "
                             "AND NOT success AND next_attempt_at IS NULL", fx->t3.id, NULL, NULL) >= 1);
}

/* Operational events of 'type' about 'about', produced, as "<failing_since>|<created_at ms>" lines in
 * creation order (caller frees). */
static char *fx_produced_list(PGconn *pg, const char *type, const char *about)
{
    const char *params[2] = { type, about };
    PGresult *res = PQexecParams(pg,
                                 "SELECT string_agg((payload->'data'->>'failing_since') || '|' || "
                                 "(extract(epoch FROM created_at) * 1000)::bigint, ',' ORDER BY seq) FROM outbox "
                                 "WHERE kind = 'event' AND payload->>'type' = $1 "
                                 "AND payload->'data'->>'webhook_id' = $2",
                                 2, NULL, params, NULL, NULL, 0);
    char *out = strdup(PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return out;
}

/* With HOOKLINE_FAILING_NOTICE_EVERY=3s: an endpoint that fails, recovers,
 * and fails again within the window gets no endpoint.failing at once; if it
 * still fails once the window is over, it gets one then, for its new
 * failure period, and an endpoint.recovered when that ends. */
static void test_notice_window(void)
{
    E2E_SECTION("HOOKLINE_FAILING_NOTICE_EVERY=3s: a failure within the window after a notice is told once the "
                "window is over, if the endpoint still fails");
    struct hx_stack_opts opts = { .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s,1s,1s,1s,1s,1s",
                                           "HOOKLINE_FAILING_NOTICE_EVERY=3s", NULL } };
    struct hx_stack *st = hx_stack_start(&opts);
    PGconn *pg = hx_pg_connect(st);
    struct hx_receiver *r = hx_receiver_start(NULL);
    char key[128];
    struct de_webhook watch, w;
    de_tenant_new(st, "opsw", key, sizeof(key));
    de_webhook_new(st, key, &watch, "{\"name\":\"watch\",\"url\":\"%s/watch\",\"events\":\"operational\"}",
                   hx_receiver_url(r));
    de_webhook_new(st, key, &w, "{\"name\":\"w\",\"url\":\"%s/w\",\"events\":\"booking\",\"max_retries\":8}",
                   hx_receiver_url(r));
    hx_dispatcher_start(st, NULL);
    struct de_producer *p = de_producer_new(hx_brokers(st));
    const char *failing_sql = "SELECT count(*) FROM outbox WHERE kind = 'event' AND payload->>'type' = "
                              "'endpoint.failing' AND payload->'data'->>'webhook_id' = $1";
    const char *recovered_sql = "SELECT count(*) FROM outbox WHERE kind = 'event' AND payload->>'type' = "
                                "'endpoint.recovered' AND payload->'data'->>'webhook_id' = $1";
    char e1[64], e2[64];
    hx_receiver_respond(r, "/w", 500, 1, NULL);
    de_produce_event(p, "opsw", "booking.scheduled", NULL, e1, NULL);
    de_flush(p);
    CHECK(HX_WAIT(de_pg_long(pg, recovered_sql, w.id, NULL, NULL) == 1, WAIT_MS));
    CHECK_EQ_INT(de_pg_long(pg, failing_sql, w.id, NULL, NULL), 1);
    /* fails again at once, 6 attempts a second apart, then succeeds */
    hx_receiver_respond(r, "/w", 500, 6, NULL);
    de_produce_event(p, "opsw", "booking.scheduled", NULL, e2, NULL);
    de_flush(p);
    CHECK(HX_WAIT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND success", e2, NULL, NULL) == 1,
                  WAIT_MS));
    CHECK_EQ_INT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND NOT success", e2, NULL, NULL),
                 6);
    CHECK_EQ_INT(de_pg_long(pg, failing_sql, w.id, NULL, NULL), 2);
    CHECK_EQ_INT(de_pg_long(pg, recovered_sql, w.id, NULL, NULL), 2);
    /* the second notice came 3 s or more after the first, and reports the
     * second failure period from its start: e2's first attempt */
    char *list = fx_produced_list(pg, "endpoint.failing", w.id);
    char since1[64] = "", since2[64] = "";
    long long at1 = 0, at2 = 0;
    CHECK(sscanf(list, "%63[^|]|%lld,%63[^|]|%lld", since1, &at1, since2, &at2) == 4);
    printf("endpoint.failing: %s\n", list);
    CHECK(at2 - at1 >= 3000);
    CHECK(de_iso_ms(since2) > de_iso_ms(since1));
    CHECK_EQ_INT(de_pg_long(pg, "SELECT (extract(epoch FROM min(sent_at)) * 1000)::bigint FROM attempts "
                                "WHERE event_id = $1", e2, NULL, NULL),
                 de_iso_ms(since2));
    free(list);
    CHECK(HX_WAIT(fx_seen(r, "/watch", "endpoint.failing", w.id, watch.secret, "opsw", NULL, NULL) == 2 &&
                      fx_seen(r, "/watch", "endpoint.recovered", w.id, watch.secret, "opsw", NULL, NULL) == 2,
                  WAIT_MS));
    de_producer_free(p);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(r);
}

int main(void)
{
    struct fx fx = { 0 };
    fx_start(&fx);
    test_catalog(&fx);
    test_failing_exhausted_recovered(&fx);
    test_gone(&fx);
    test_self(&fx);
    test_tenants(&fx);
    test_kill(&fx);
    test_boundaries(&fx);
    de_producer_free(fx.p);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    hx_receiver_stop(fx.slow);
    test_notice_window();
    return check_exit();
}
