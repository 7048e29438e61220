/* test_api_stats.c: delivery health at a glance, end to end.
 *
 * A dispatcher delivers a webhook's events to a real receiver: two slow
 * (600 ms) and eight fast, three of which fail once and succeed on their
 * retry. GET /v1/webhooks/{id}/stats then counts 10 succeeded and 3
 * failed, in hourly (and daily) buckets that add up to the totals, with
 * p50 among the fast and p95 among the slow; the aggregate agrees with
 * the attempt log. The list shows success_rate_24h (10/13, and null for
 * a webhook without attempts). One delivery opened shows its payload, the
 * request headers with the very signature the receiver got, and the
 * attempt history of that event. Bad parameters get a 400 naming them,
 * another tenant 404, a key without webhooks:read 403, and deleting the
 * webhook removes its rows.
 */
#include "dispatch_e2e.h"

#include <math.h>
#include <time.h>

#define WAIT_MS 30000

struct fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    PGconn *pg;
    char key_a[128], key_b[128], key_ro[128];
    struct de_webhook a, quiet, b;
    char events[10][64];
};

static long fx_attempts(struct fx *fx)
{
    return de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1", fx->a.id, NULL, NULL);
}

static void fx_publish(struct fx *fx, int i)
{
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, "{\"type\":\"booking.scheduled\",\"data\":{\"n\":1}}", &resp,
                        "/v1/events"), 202);
    snprintf(fx->events[i], sizeof(fx->events[i]), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
}

static void fx_deliver(struct fx *fx)
{
    const char *u = hx_receiver_url(fx->r);
    de_webhook_new(fx->st, fx->key_a, &fx->a, "{\"name\":\"a\",\"url\":\"%s/a\",\"events\":[\"booking.scheduled\"]}",
                   u);
    de_webhook_new(fx->st, fx->key_a, &fx->quiet,
                   "{\"name\":\"quiet\",\"url\":\"%s/q\",\"events\":[\"conversation.closed\"]}", u);
    de_webhook_new(fx->st, fx->key_b, &fx->b, "{\"name\":\"b\",\"url\":\"%s/b\",\"events\":[\"booking.scheduled\"]}",
                   u);
    /* the dispatcher reads the webhooks from hookline.webhooks: wait until it delivers */
    hx_receiver_set_delay(fx->r, 600);
    fx_publish(fx, 0);
    CHECK_FATAL(HX_WAIT(fx_attempts(fx) >= 1, WAIT_MS));
    fx_publish(fx, 1);
    CHECK_FATAL(HX_WAIT(fx_attempts(fx) >= 2, WAIT_MS));
    hx_receiver_set_delay(fx->r, 0);
    hx_receiver_respond(fx->r, "/a", 500, 3, NULL);
    for (int i = 2; i < 10; i++)
        fx_publish(fx, i);
    CHECK_FATAL(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND success",
                                   fx->a.id, NULL, NULL) == 10, WAIT_MS));
    CHECK_EQ_INT(fx_attempts(fx), 13);
}

static void check_stats(struct fx *fx)
{
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s/stats", fx->a.id), 200);
    json_t *totals = json_object_get(resp.json, "totals"), *buckets = json_object_get(resp.json, "buckets");
    CHECK_EQ_STR(e2e_str(resp.json, "bucket"), "1h");
    CHECK_EQ_INT(e2e_int(totals, "succeeded"), 10);
    CHECK_EQ_INT(e2e_int(totals, "failed"), 3);
    long long p50 = e2e_int(totals, "p50_ms"), p95 = e2e_int(totals, "p95_ms");
    printf("p50 %lld ms, p95 %lld ms\n", p50, p95);
    /* generous: the fast ones may be slow on a loaded machine, never 600 ms */
    CHECK(p50 >= 0 && p50 < 400);
    CHECK(p95 >= 500 && p95 <= 5000);
    CHECK(fabs(json_number_value(json_object_get(totals, "success_rate")) - 0.7692) < 0.0001);
    /* from the hour 24 h ago to this one; they add up to the totals */
    CHECK_EQ_INT(json_array_size(buckets), 25);
    long long ok = 0, bad = 0;
    size_t i;
    json_t *b;
    json_array_foreach(buckets, i, b) {
        ok += e2e_int(b, "succeeded");
        bad += e2e_int(b, "failed");
        CHECK(e2e_str(b, "start") != NULL && strstr(e2e_str(b, "start"), ":00:00.000Z") != NULL);
        if (e2e_int(b, "succeeded") + e2e_int(b, "failed") == 0)
            CHECK(json_is_null(json_object_get(b, "p95_ms")));
    }
    CHECK_EQ_INT(ok, 10);
    CHECK_EQ_INT(bad, 3);
    hx_resp_free(&resp);

    /* the aggregate agrees with the attempt log */
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT sum(succeeded) + 100 * sum(failed) FROM webhook_stats WHERE webhook_id = $1",
                            fx->a.id, NULL, NULL),
                 de_pg_long(fx->pg, "SELECT count(*) FILTER (WHERE success) + 100 * count(*) FILTER (WHERE NOT success) "
                            "FROM attempts WHERE webhook_id = $1", fx->a.id, NULL, NULL));

    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s/stats?bucket=1d", fx->a.id), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "buckets")), 2);
    CHECK_EQ_INT(e2e_int(json_object_get(resp.json, "totals"), "succeeded"), 10);
    hx_resp_free(&resp);

    /* since = one hour ago: two buckets, all of it in them */
    char since[64], path[256];
    time_t t = time(NULL) - 3600;
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s/stats?since=%s", fx->a.id, since),
                 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "buckets")), 2);
    CHECK_EQ_INT(e2e_int(json_object_get(resp.json, "totals"), "failed"), 3);
    hx_resp_free(&resp);

    E2E_SECTION("bad parameters: 400 naming them; another tenant 404; no webhooks:read 403");
    snprintf(path, sizeof(path), "/v1/webhooks/%s/stats?bucket=5m", fx->a.id);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 400, "\"bucket\"");
    snprintf(path, sizeof(path), "/v1/webhooks/%s/stats?since=yesterday", fx->a.id);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 400, "\"since\"");
    t = time(NULL) - 40 * 86400;
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/stats?since=%s", fx->a.id, since);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 400, "\"since\" must be within the last 31 days");
    t = time(NULL) + 3600;
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/stats?since=%s", fx->a.id, since);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 400, "\"since\" must not be in the future");
    snprintf(path, sizeof(path), "/v1/webhooks/%s/stats", fx->a.id);
    E2E_EXPECT(fx->st, "GET", fx->key_b, path, NULL, 404, "Webhook not found");
    E2E_EXPECT(fx->st, "GET", fx->key_ro, path, NULL, 403, NULL);
    E2E_EXPECT(fx->st, "GET", fx->key_a, "/v1/webhooks/wh_nope/stats", NULL, 404, "Webhook not found");
}

static void check_list(struct fx *fx)
{
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks?size=100"), 200);
    size_t i;
    json_t *el;
    int seen = 0;
    json_array_foreach(json_object_get(resp.json, "elements"), i, el) {
        json_t *rate = json_object_get(el, "success_rate_24h");
        CHECK(rate != NULL);
        if (strcmp(e2e_str(el, "id"), fx->a.id) == 0) {
            CHECK(fabs(json_number_value(rate) - 0.7692) < 0.0001);
            seen++;
        } else if (strcmp(e2e_str(el, "id"), fx->quiet.id) == 0) {
            CHECK(json_is_null(rate));
            seen++;
        }
    }
    CHECK_EQ_INT(seen, 2);
    hx_resp_free(&resp);
    /* with include=deliveries too */
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks?include=deliveries"), 200);
    json_array_foreach(json_object_get(resp.json, "elements"), i, el) {
        CHECK(json_object_get(el, "success_rate_24h") != NULL);
        CHECK(json_is_array(json_object_get(el, "deliveries")));
    }
    hx_resp_free(&resp);
}

static void check_delivery(struct fx *fx)
{
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries?success=false", fx->a.id),
                 200);
    json_t *first = json_array_get(json_object_get(resp.json, "elements"), 0);
    CHECK_FATAL(first != NULL);
    char did[64], event_id[128];
    snprintf(did, sizeof(did), "%s", e2e_str(first, "id"));
    snprintf(event_id, sizeof(event_id), "%s", e2e_str(first, "event_id"));
    hx_resp_free(&resp);

    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/%s", fx->a.id, did), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), did);
    CHECK_EQ_STR(e2e_str(json_object_get(resp.json, "payload"), "id"), event_id);
    json_t *req = json_object_get(resp.json, "request"), *h = json_object_get(req, "headers");
    CHECK_EQ_STR(e2e_str(req, "method"), "POST");
    CHECK_EQ_STR(e2e_str(h, "webhook-id"), event_id);
    CHECK_EQ_STR(e2e_str(h, "content-type"), "application/json");
    CHECK(e2e_str(h, "user-agent") && strncmp(e2e_str(h, "user-agent"), "hookline/", 9) == 0);
    /* the very headers the receiver got on that (failed, first) attempt */
    struct hx_received *rec = de_find(fx->r, "/a", event_id, 0);
    CHECK_FATAL(rec != NULL);
    CHECK_EQ_STR(e2e_str(h, "webhook-signature"), de_hdr(rec, "webhook-signature"));
    CHECK_EQ_STR(e2e_str(h, "webhook-timestamp"), de_hdr(rec, "webhook-timestamp"));
    CHECK(de_signed_by(rec, fx->a.secret));
    hx_received_free(rec);
    /* no secret anywhere in it */
    CHECK(strstr(resp.body, "whsec_") == NULL);
    /* the history: the failed attempt, then its successful retry */
    json_t *hist = json_object_get(resp.json, "history");
    CHECK_EQ_INT(json_array_size(hist), 2);
    CHECK(json_is_false(json_object_get(json_array_get(hist, 0), "success")));
    CHECK(json_is_true(json_object_get(json_array_get(hist, 1), "success")));
    CHECK_EQ_INT(e2e_int(json_array_get(hist, 1), "attempt"), 2);
    hx_resp_free(&resp);

    char path[256];
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries/%s", fx->a.id, did);
    E2E_EXPECT(fx->st, "GET", fx->key_b, path, NULL, 404, NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries/%s", fx->quiet.id, did);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 404, "Delivery not found");
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries/dlv_nope", fx->a.id);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 404, "Delivery not found");
}

int main(void)
{
    struct fx fx = { 0 };
    struct hx_stack_opts opts = { .dispatchers = 1, .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s", NULL } };
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.pg = hx_pg_connect(fx.st);
    de_tenant_new(fx.st, "acme", fx.key_a, sizeof(fx.key_a));
    de_tenant_new(fx.st, "other", fx.key_b, sizeof(fx.key_b));
    if (hx_tenant_new(fx.st, "writeonly", "events:write", fx.key_ro, sizeof(fx.key_ro)) < 0)
        hx_die("cannot create tenant writeonly");

    E2E_SECTION("13 attempts (2 slow, 3 failed then retried) are counted per hour with p50/p95");
    fx_deliver(&fx);
    check_stats(&fx);

    E2E_SECTION("the list shows each webhook's success rate over 24 h");
    check_list(&fx);

    E2E_SECTION("one delivery opened: payload, headers as sent (signature, no secret), history");
    check_delivery(&fx);

    E2E_SECTION("deleting the webhook removes its delivery health");
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx.a.id);
    CHECK(de_pg_long(fx.pg, "SELECT count(*) FROM webhook_stats WHERE webhook_id = $1", fx.a.id, NULL, NULL) > 0);
    E2E_EXPECT(fx.st, "DELETE", fx.key_a, path, NULL, 200, NULL);
    CHECK_EQ_INT(de_pg_long(fx.pg, "SELECT count(*) FROM webhook_stats WHERE webhook_id = $1", fx.a.id, NULL, NULL), 0);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/stats", fx.a.id);
    E2E_EXPECT(fx.st, "GET", fx.key_a, path, NULL, 404, "Webhook not found");

    PQfinish(fx.pg);
    hx_receiver_stop(fx.r);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    return check_exit();
}
