/* test_dispatch_endpoints.c: 410 Gone and the failing window disable one
 * endpoint, not its whole webhook.
 *
 * A webhook with two endpoints, one answering 410 once: that endpoint is
 * disabled (reason "gone"), its attempt failed for good; the webhook stays
 * active, GET and the list show both endpoints' states, hookline.webhooks
 * carries endpoint.disabled naming it, and the other endpoint receives
 * every later event while the disabled one gets none. Another tenant
 * cannot see or enable it (404), its attempt cannot be retried while it is
 * disabled (409), and a tenant cannot disable an active endpoint on its
 * own (400). Then the second endpoint answers 410 too: the webhook is
 * disabled, with one webhook.disabled row in the outbox and on the topic;
 * enabling the webhook enables both endpoints and both receive again.
 *
 * With HOOKLINE_DISABLE_AFTER=3s, an always failing endpoint of a
 * two-endpoint webhook is disabled alone (reason "failing") while its
 * sibling is served; its pending retry is kept, parked; enabling it again
 * ("is_active": true on the endpoint) brings the row back and starts its
 * failure window afresh: the next failure does not disable it at once, and
 * the delivery then succeeds.
 */
#include "dispatch_e2e.h"

#define WAIT_MS 20000

struct fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    struct de_producer *p;
    struct e2e_consumer *lc;
    PGconn *pg;
    char key[128], other_key[128];
};

/* GET /v1/webhooks/:id as 'key': the document (new reference) or NULL. */
static json_t *fx_get(struct fx *fx, const char *key, const char *id)
{
    struct hx_resp resp;
    json_t *doc = NULL;
    if (hx_api(fx->st, "GET", key, NULL, &resp, "/v1/webhooks/%s", id) == 200)
        doc = json_incref(resp.json);
    hx_resp_free(&resp);
    return doc;
}

static const json_t *fx_ep(const json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "endpoints"), i);
}

/* Whether endpoint 'i' of webhook 'id' is shown disabled. */
static bool fx_ep_disabled(struct fx *fx, const char *id, size_t i)
{
    json_t *doc = fx_get(fx, fx->key, id);
    bool off = json_is_false(json_object_get(fx_ep(doc, i), "is_active"));
    json_decref(doc);
    return off;
}

static void fx_event(struct fx *fx, const char *name, char *id)
{
    char data[64];
    snprintf(data, sizeof(data), "{\"case\":\"%s\"}", name);
    de_produce_event(fx->p, "acme", "booking.scheduled", data, id, NULL);
    de_flush(fx->p);
}

/* After enabling a webhook: an event produced before a dispatcher has read
 * that change is not for it (it was disabled then), so probe with events
 * of 'name' until one reaches 'path'. Whether one did within WAIT_MS. */
static bool fx_probe(struct fx *fx, const char *name, const char *path)
{
    long long deadline = hx_now_ms() + WAIT_MS;
    while (hx_now_ms() < deadline) {
        char id[64];
        fx_event(fx, name, id);
        if (HX_WAIT(de_count(fx->r, path, id) == 1, 1000))
            return true;
    }
    return false;
}

/* Messages of hookline.webhooks of 'kind' about webhook 'wid'. */
static size_t fx_lifecycle(struct fx *fx, const char *kind, const char *wid)
{
    e2e_consumer_poll(fx->lc, 50);
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(fx->lc->msgs, i, m) {
        const json_t *v = json_object_get(m, "value");
        const char *type = e2e_str(v, "type"), *id = e2e_str(json_object_get(v, "webhook"), "id");
        n += type && id && strcmp(type, kind) == 0 && strcmp(id, wid) == 0;
    }
    return n;
}

/* The last message of 'kind' about 'wid' (borrowed), or NULL. */
static const json_t *fx_lifecycle_last(struct fx *fx, const char *kind, const char *wid)
{
    const json_t *last = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(fx->lc->msgs, i, m) {
        const json_t *v = json_object_get(m, "value");
        const char *type = e2e_str(v, "type"), *id = e2e_str(json_object_get(v, "webhook"), "id");
        if (type && id && strcmp(type, kind) == 0 && strcmp(id, wid) == 0)
            last = v;
    }
    return last;
}

static long fx_outbox(struct fx *fx, const char *kind, const char *wid)
{
    return de_pg_long(fx->pg, "SELECT count(*) FROM outbox WHERE kind = $1 AND webhook_id = $2", kind, wid, NULL);
}

/* Whether the list shows webhook 'id' with endpoint states 'a' and 'b'. */
static bool fx_listed(struct fx *fx, const char *key, const char *id, bool a, bool b)
{
    struct hx_resp resp;
    bool ok = false;
    if (hx_api(fx->st, "GET", key, NULL, &resp, "/v1/webhooks?size=100") == 200) {
        size_t i;
        json_t *el;
        json_array_foreach(json_object_get(resp.json, "elements"), i, el) {
            if (e2e_str(el, "id") && strcmp(e2e_str(el, "id"), id) == 0)
                ok = json_is_boolean(json_object_get(fx_ep(el, 0), "is_active")) &&
                     json_is_true(json_object_get(fx_ep(el, 0), "is_active")) == a &&
                     json_is_true(json_object_get(fx_ep(el, 1), "is_active")) == b;
        }
    }
    hx_resp_free(&resp);
    return ok;
}

/* ---- 410 ---- */

static void test_gone(struct fx *fx)
{
    const char *url = hx_receiver_url(fx->r);
    struct de_webhook w;
    de_webhook_new(fx->st, fx->key, &w,
                   "{\"name\":\"pair\",\"endpoints\":[{\"url\":\"%s/a\"},{\"url\":\"%s/b\",\"headers\":{\"x-b\":\"1\"}}],"
                   "\"events\":\"booking\",\"filter\":{\"data.case\":\"pair\"}}", url, url);
    char path[160];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", w.id);

    E2E_SECTION("a new webhook's endpoints are active: GET says so for each");
    json_t *doc = fx_get(fx, fx->key, w.id);
    for (size_t i = 0; i < 2; i++) {
        CHECK(json_is_true(json_object_get(fx_ep(doc, i), "is_active")));
        CHECK(json_is_null(json_object_get(fx_ep(doc, i), "disabled_reason")));
        CHECK(json_is_null(json_object_get(fx_ep(doc, i), "disabled_at")));
    }
    json_decref(doc);

    E2E_SECTION("one endpoint answers 410: it alone is disabled (gone), the webhook stays active");
    hx_receiver_respond(fx->r, "/a", 410, 1, NULL);
    char e1[64];
    long long before = hx_realtime_ms();
    fx_event(fx, "pair", e1);
    CHECK(HX_WAIT(fx_ep_disabled(fx, w.id, 0), WAIT_MS));
    doc = fx_get(fx, fx->key, w.id);
    char *text = json_dumps(doc, JSON_COMPACT);
    printf("after the 410: %s\n", text);
    free(text);
    CHECK(json_is_true(json_object_get(doc, "is_active")));
    CHECK(json_is_null(json_object_get(doc, "disabled_reason")));
    const json_t *a = fx_ep(doc, 0), *b = fx_ep(doc, 1);
    CHECK_EQ_STR(e2e_str(a, "id"), w.ep[0]);
    CHECK(json_is_false(json_object_get(a, "is_active")));
    CHECK_EQ_STR(e2e_str(a, "disabled_reason"), "gone");
    long long at = de_iso_ms(e2e_str(a, "disabled_at"));
    CHECK(at >= before - 1000 && at <= hx_realtime_ms() + 1000);
    CHECK(json_is_true(json_object_get(b, "is_active")));
    CHECK(json_is_null(json_object_get(b, "disabled_reason")));
    CHECK_EQ_STR(e2e_str(json_object_get(b, "headers"), "x-b"), "1");
    json_decref(doc);
    CHECK(fx_listed(fx, fx->key, w.id, false, true));
    CHECK(HX_WAIT(de_count(fx->r, "/b", e1) == 1, WAIT_MS));

    E2E_SECTION("its 410 attempt failed for good; hookline.webhooks carries endpoint.disabled naming it");
    json_t *log = NULL;
    CHECK(HX_WAIT((json_decref(log), log = de_attempts(fx->st, fx->key, w.id, e1), json_array_size(log) == 2),
                  WAIT_MS));
    size_t i;
    json_t *el;
    json_array_foreach(log, i, el) {
        bool gone = strcmp(e2e_str(el, "endpoint_id"), w.ep[0]) == 0;
        CHECK_EQ_INT(e2e_int(el, "status_code"), gone ? 410 : 200);
        CHECK(json_is_true(json_object_get(el, "success")) == !gone);
        CHECK(json_is_null(json_object_get(el, "next_attempt_at")));
    }
    json_decref(log);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE webhook_id = $1", w.id, NULL, NULL), 0);
    CHECK(HX_WAIT(fx_lifecycle(fx, "endpoint.disabled", w.id) == 1, WAIT_MS));
    const json_t *ev = fx_lifecycle_last(fx, "endpoint.disabled", w.id);
    const json_t *named = json_object_get(ev, "endpoint");
    CHECK_EQ_STR(e2e_str(named, "id"), w.ep[0]);
    CHECK_EQ_STR(e2e_str(named, "disabled_reason"), "gone");
    CHECK(json_is_true(json_object_get(json_object_get(ev, "webhook"), "is_active")));
    CHECK(json_is_false(json_object_get(fx_ep(json_object_get(ev, "webhook"), 0), "is_active")));
    CHECK_EQ_INT(fx_lifecycle(fx, "webhook.disabled", w.id), 0);
    CHECK_EQ_INT(fx_outbox(fx, "webhook.disabled", w.id), 0);

    E2E_SECTION("every later event reaches the other endpoint, none the disabled one");
    /* the dispatcher has read the lifecycle event once an event produced
     * after it was on the topic has been delivered */
    CHECK(fx_probe(fx, "pair", "/b"));
    enum { LATER = 5 };
    char later[LATER][64];
    for (int k = 0; k < LATER; k++)
        fx_event(fx, "pair", later[k]);
    for (int k = 0; k < LATER; k++) {
        CHECK(HX_WAIT(de_count(fx->r, "/b", later[k]) == 1, WAIT_MS));
        CHECK_EQ_INT(de_count(fx->r, "/a", later[k]), 0);
    }
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE endpoint_id = $1", w.ep[0], NULL, NULL),
                 de_count(fx->r, "/a", NULL));
    doc = fx_get(fx, fx->key, w.id);
    CHECK(json_is_true(json_object_get(doc, "is_active")));
    json_decref(doc);

    E2E_SECTION("another tenant cannot see or enable it (404); its attempt is not retried while disabled (409)");
    E2E_EXPECT(fx->st, "GET", fx->other_key, path, NULL, 404, "Webhook not found");
    char body[600];
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/a\",\"is_active\":true},{\"url\":\"%s/b\"}]}", url,
             url);
    E2E_EXPECT(fx->st, "PATCH", fx->other_key, path, body, 404, "Webhook not found");
    CHECK(!fx_listed(fx, fx->other_key, w.id, false, true));
    CHECK(fx_ep_disabled(fx, w.id, 0));
    char did[64] = "";
    long long n = de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE endpoint_id = $1", w.ep[0], NULL, NULL);
    PGresult *res = PQexecParams(fx->pg, "SELECT id FROM attempts WHERE endpoint_id = $1 AND event_id = $2", 2, NULL,
                                 (const char *const[]){ w.ep[0], e1 }, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(did, sizeof(did), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    CHECK(did[0] != '\0');
    char rpath[200];
    snprintf(rpath, sizeof(rpath), "/v1/webhooks/%s/deliveries/%s/retry", w.id, did);
    E2E_EXPECT(fx->st, "POST", fx->other_key, rpath, NULL, 404, NULL);
    E2E_EXPECT(fx->st, "POST", fx->key, rpath, NULL, 409, "Endpoint is disabled");
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE webhook_id = $1", w.id, NULL, NULL), 0);

    E2E_SECTION("a tenant cannot disable an active endpoint on its own, nor leave only disabled ones (400)");
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/a\"},{\"url\":\"%s/b\",\"is_active\":false}]}", url,
             url);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, body, 400, "\"endpoints.is_active\"");
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/a\",\"is_active\":\"yes\"},{\"url\":\"%s/b\"}]}",
             url, url);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, body, 400, "\"endpoints.is_active\"");
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/a\"}]}", url);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, body, 400, "\"endpoints\"");
    /* a GET representation sent back keeps each state as it is */
    doc = fx_get(fx, fx->key, w.id);
    json_object_del(doc, "secret");
    text = json_dumps(doc, JSON_COMPACT);
    E2E_EXPECT(fx->st, "PUT", fx->key, path, text, 200, NULL);
    free(text);
    json_decref(doc);
    CHECK(fx_ep_disabled(fx, w.id, 0));
    CHECK(!fx_ep_disabled(fx, w.id, 1));
    CHECK(de_count(fx->r, "/a", NULL) == (size_t)n);

    E2E_SECTION("the other endpoint answers 410 too: the webhook is disabled, webhook.disabled goes through the outbox");
    hx_receiver_respond(fx->r, "/b", 410, 1, NULL);
    char e2[64];
    fx_event(fx, "pair", e2);
    struct hx_resp resp = { 0 };
    CHECK(HX_WAIT((hx_resp_free(&resp), hx_api(fx->st, "GET", fx->key, NULL, &resp, "%s", path) == 200 &&
                                            json_is_false(json_object_get(resp.json, "is_active"))), WAIT_MS));
    const char *reason = e2e_str(resp.json, "disabled_reason");
    printf("webhook disabled_reason: %s\n", reason ? reason : "(none)");
    CHECK(reason != NULL && strstr(reason, "410") != NULL && strstr(reason, "/b") != NULL);
    for (i = 0; i < 2; i++) {
        CHECK(json_is_false(json_object_get(fx_ep(resp.json, i), "is_active")));
        CHECK_EQ_STR(e2e_str(fx_ep(resp.json, i), "disabled_reason"), "gone");
    }
    hx_resp_free(&resp);
    CHECK_EQ_INT(fx_outbox(fx, "webhook.disabled", w.id), 1);
    CHECK_EQ_INT(fx_outbox(fx, "endpoint.disabled", w.id), 1);
    CHECK(HX_WAIT(fx_lifecycle(fx, "webhook.disabled", w.id) == 1, WAIT_MS));
    ev = fx_lifecycle_last(fx, "webhook.disabled", w.id);
    CHECK_EQ_STR(e2e_str(json_object_get(ev, "endpoint"), "id"), w.ep[1]);
    CHECK(json_is_false(json_object_get(json_object_get(ev, "webhook"), "is_active")));
    CHECK(fx_listed(fx, fx->key, w.id, false, false));

    E2E_SECTION("enabling the webhook enables both endpoints: both receive again");
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, "{\"is_active\":true}", 200, NULL);
    doc = fx_get(fx, fx->key, w.id);
    CHECK(json_is_true(json_object_get(doc, "is_active")));
    CHECK(json_is_null(json_object_get(doc, "disabled_reason")));
    for (i = 0; i < 2; i++) {
        CHECK(json_is_true(json_object_get(fx_ep(doc, i), "is_active")));
        CHECK(json_is_null(json_object_get(fx_ep(doc, i), "disabled_reason")));
        CHECK(json_is_null(json_object_get(fx_ep(doc, i), "disabled_at")));
    }
    json_decref(doc);
    CHECK(fx_probe(fx, "pair", "/b"));
    char e3[64];
    fx_event(fx, "pair", e3);
    CHECK(HX_WAIT(de_count(fx->r, "/a", e3) == 1 && de_count(fx->r, "/b", e3) == 1, WAIT_MS));
}

/* ---- the failing window ---- */

static void test_failing(struct fx *fx)
{
    const char *url = hx_receiver_url(fx->r);
    struct de_webhook w;
    de_webhook_new(fx->st, fx->key, &w,
                   "{\"name\":\"flaky\",\"endpoints\":[{\"url\":\"%s/fa\"},{\"url\":\"%s/fb\"}],\"events\":\"booking\","
                   "\"filter\":{\"data.case\":\"flaky\"},\"max_retries\":9}", url, url);
    char path[160];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", w.id);

    E2E_SECTION("an endpoint failing for HOOKLINE_DISABLE_AFTER=3s is disabled alone (failing), its retry parked");
    hx_receiver_respond(fx->r, "/fa", 500, 1000, NULL);
    char e1[64];
    fx_event(fx, "flaky", e1);
    CHECK(HX_WAIT(de_count(fx->r, "/fb", e1) == 1, WAIT_MS));
    CHECK(HX_WAIT(fx_ep_disabled(fx, w.id, 0), WAIT_MS));
    json_t *doc = fx_get(fx, fx->key, w.id);
    CHECK(json_is_true(json_object_get(doc, "is_active")));
    CHECK(json_is_null(json_object_get(doc, "disabled_reason")));
    CHECK_EQ_STR(e2e_str(fx_ep(doc, 0), "disabled_reason"), "failing");
    CHECK(de_iso_ms(e2e_str(fx_ep(doc, 0), "disabled_at")) > 0);
    CHECK(json_is_true(json_object_get(fx_ep(doc, 1), "is_active")));
    json_decref(doc);
    CHECK_EQ_INT(fx_outbox(fx, "endpoint.disabled", w.id), 1);
    CHECK_EQ_INT(fx_outbox(fx, "webhook.disabled", w.id), 0);
    /* its pending retry is kept, its lane parked (due never) */
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM lanes l JOIN retries r USING (endpoint_id) "
                                     "WHERE r.event_id = $1 AND l.endpoint_id = $2 AND l.next_due_at IS NULL "
                                     "AND l.owner IS NULL", e1, w.ep[0], NULL) == 1, WAIT_MS));
    long n = de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND endpoint_id = $2", e1, w.ep[0],
                        NULL);
    printf("disabled after %ld failed attempts\n", n);
    CHECK(n >= 4 && n <= 7);
    CHECK_EQ_INT(de_count(fx->r, "/fa", NULL), n);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM endpoint_health WHERE endpoint_id = $1 "
                                    "AND failing_since < now() - interval '3 seconds'", w.ep[0], NULL, NULL), 1);

    E2E_SECTION("the sibling still receives while it is disabled");
    /* delivered to the sibling: the dispatcher has read the change */
    CHECK(fx_probe(fx, "flaky", "/fb"));
    char e2[64];
    fx_event(fx, "flaky", e2);
    CHECK(HX_WAIT(de_count(fx->r, "/fb", e2) == 1, WAIT_MS));
    CHECK_EQ_INT(de_count(fx->r, "/fa", e2), 0);

    E2E_SECTION("enabled again with \"is_active\": true: its failure window starts afresh, the row comes back");
    char body[600];
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"url\":\"%s/fa\",\"is_active\":true},{\"url\":\"%s/fb\"}]}", url,
             url);
    E2E_EXPECT(fx->st, "PATCH", fx->key, path, body, 200, NULL);
    doc = fx_get(fx, fx->key, w.id);
    CHECK(json_is_true(json_object_get(fx_ep(doc, 0), "is_active")));
    CHECK(json_is_null(json_object_get(fx_ep(doc, 0), "disabled_reason")));
    CHECK_EQ_STR(e2e_str(fx_ep(doc, 0), "id"), w.ep[0]);
    json_decref(doc);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM endpoint_health WHERE endpoint_id = $1 "
                                    "AND failing_since IS NULL", w.ep[0], NULL, NULL), 1);
    /* the parked retry goes out and fails once more: a transient failure */
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND endpoint_id = $2", e1,
                             w.ep[0], NULL) == n + 1, WAIT_MS));
    hx_receiver_forget(fx->r, "/fa");
    CHECK(!fx_ep_disabled(fx, w.id, 0));
    /* the next attempt succeeds: still enabled, delivered */
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND endpoint_id = $2 "
                                     "AND success", e1, w.ep[0], NULL) == 1, WAIT_MS));
    CHECK(!fx_ep_disabled(fx, w.id, 0));
    doc = fx_get(fx, fx->key, w.id);
    CHECK(json_is_true(json_object_get(doc, "is_active")));
    json_decref(doc);
    CHECK_EQ_INT(fx_outbox(fx, "endpoint.disabled", w.id), 1);
    char e3[64];
    fx_event(fx, "flaky", e3);
    CHECK(HX_WAIT(de_count(fx->r, "/fa", e3) == 1 && de_count(fx->r, "/fb", e3) == 1, WAIT_MS));
    CHECK_EQ_INT(de_count(fx->r, "/fa", e2), 0); /* it came while the endpoint was disabled */
}

int main(void)
{
    struct fx fx = { 0 };
    struct hx_stack_opts opts = {
        .dispatchers = 1,
        .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s,1s,1s,1s,1s,1s,1s", "HOOKLINE_DISABLE_AFTER=3s", NULL },
    };
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.pg = hx_pg_connect(fx.st);
    de_tenant_new(fx.st, "acme", fx.key, sizeof(fx.key));
    de_tenant_new(fx.st, "other", fx.other_key, sizeof(fx.other_key));
    fx.lc = e2e_consumer_new(hx_brokers(fx.st), "hookline.webhooks");
    fx.p = de_producer_new(hx_brokers(fx.st));

    long long t = hx_now_ms();
    test_gone(&fx);
    test_failing(&fx);
    fprintf(stderr, "endpoint state tests: %lld ms\n", hx_now_ms() - t);

    e2e_consumer_free(fx.lc);
    de_producer_free(fx.p);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    return check_exit();
}
