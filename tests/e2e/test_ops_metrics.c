/* test_ops_metrics.c: GET /metrics of the api and of every dispatcher,
 * and the dispatchers' /healthz and /readyz.
 *
 * The api counts requests by route pattern and status with a latency
 * histogram and shows the outbox backlog; each dispatcher (its own metrics
 * port, from the harness) counts deliveries by result with an attempt
 * duration histogram, and shows what is in flight, pending retries,
 * consumer lag per partition and the size of its matching index. The
 * numbers move by exactly what the test did; scrapes stay fast while Kafka
 * is down, and /readyz follows Kafka.
 */
#include <unistd.h>

#include "ops_e2e.h"

#define EVENTS_OK 5
#define PARTITIONS 12   /* hookline.events in hookline-devbroker */

/* Sum of one series over every dispatcher. */
static double fleet_metric(struct hx_stack *st, const char *series)
{
    pid_t pids[8];
    size_t n = hx_dispatcher_pids(st, pids, 8);
    double sum = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        char *text = ops_scrape(hx_dispatcher_url(st, pids[i]));
        double v = text ? ops_metric(text, series) : NAN;
        free(text);
        if (isnan(v))
            return NAN;
        sum += v;
    }
    return sum;
}

static double fleet_sum(struct hx_stack *st, const char *name)
{
    pid_t pids[8];
    size_t n = hx_dispatcher_pids(st, pids, 8);
    double sum = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        char *text = ops_scrape(hx_dispatcher_url(st, pids[i]));
        sum += text ? ops_metric_sum(text, name) : NAN;
        free(text);
    }
    return sum;
}

/* Consumer lag series over every dispatcher: one per partition it knows. */
static int lag_series(struct hx_stack *st)
{
    pid_t pids[8];
    size_t n = hx_dispatcher_pids(st, pids, 8);
    int series = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        char *text = ops_scrape(hx_dispatcher_url(st, pids[i]));
        for (const char *p = text; p && (p = strstr(p, "\nhookline_dispatcher_consumer_lag{")) != NULL; p++)
            series++;
        free(text);
    }
    return series;
}

static long get_status(const char *base, const char *path, struct hx_resp *resp)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    return ops_get(url, resp);
}

/* A histogram's buckets never decrease and +Inf equals _count. */
static bool histogram_consistent(const char *text, const char *name, const char *labels)
{
    double prev = 0, inf = NAN;
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s_bucket{%s%sle=\"", name, labels, *labels ? "," : "");
    size_t n = strlen(prefix);
    int buckets = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, n) != 0)
            continue;
        double v = strtod(strstr(p, "} ") + 2, NULL);
        if (v < prev)
            return false;
        prev = v;
        buckets++;
        if (strncmp(p + n, "+Inf\"", 5) == 0)
            inf = v;
    }
    char count[256];
    snprintf(count, sizeof(count), "%s_count%s%s%s", name, *labels ? "{" : "", labels, *labels ? "}" : "");
    return buckets > 2 && !isnan(inf) && inf == ops_metric(text, count);
}

static void check_api_metrics(struct hx_stack *st, const char *key)
{
    struct hx_resp resp;
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", hx_api_url(st));

    OPS_SECTION("api: GET /metrics is Prometheus text with TYPE lines");
    CHECK_EQ_INT(ops_get(url, &resp), 200);
    char ctype[128] = "";
    hx_resp_header(&resp, "content-type", ctype, sizeof(ctype));
    CHECK(strncmp(ctype, "text/plain; version=0.0.4", 25) == 0);
    CHECK(strstr(resp.body, "# TYPE hookline_api_requests_total counter\n") != NULL);
    CHECK(strstr(resp.body, "# TYPE hookline_api_request_duration_seconds histogram\n") != NULL);
    CHECK(ops_metric(resp.body, "hookline_outbox_backlog") >= 0);
    CHECK(ops_metric(resp.body, "hookline_build_info{component=\"api\",version=\"" HOOKLINE_VERSION "\"}") == 1);
    hx_resp_free(&resp);

    OPS_SECTION("api: requests are counted by route pattern and status, with their latency");
    char *before = ops_scrape(hx_api_url(st));
    CHECK_FATAL(before != NULL);
    const char *get_one = "hookline_api_requests_total{method=\"GET\",route=\"/v1/webhooks/:id\",status=\"404\"}";
    const char *types_ok = "hookline_api_requests_total{method=\"GET\",route=\"/v1/webhook-types\",status=\"200\"}";
    const char *types_401 = "hookline_api_requests_total{method=\"GET\",route=\"/v1/webhook-types\",status=\"401\"}";
    const char *unmatched = "hookline_api_requests_total{method=\"any\",route=\"(unmatched)\",status=\"404\"}";
    const char *types_count = "hookline_api_request_duration_seconds_count{method=\"GET\",route=\"/v1/webhook-types\"}";
    double b_get = ops_metric(before, get_one), b_ok = ops_metric(before, types_ok);
    double b_401 = ops_metric(before, types_401), b_un = ops_metric(before, unmatched);
    double b_count = ops_metric(before, types_count);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ops_call(st, "GET", key, &resp, "/v1/webhook-types", NULL), 200);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(ops_call(st, "GET", NULL, &resp, "/v1/webhook-types", NULL), 401);
    hx_resp_free(&resp);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(ops_call(st, "GET", key, &resp, "/v1/webhooks/wh_doesnotexist", NULL), 404);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(ops_call(st, "GET", NULL, &resp, "/no/such/path/wh_123", NULL), 404);
    hx_resp_free(&resp);
    char *after = ops_scrape(hx_api_url(st));
    CHECK_FATAL(after != NULL);
    CHECK_EQ_INT(ops_metric(after, types_ok) - (isnan(b_ok) ? 0 : b_ok), 3);
    CHECK_EQ_INT(ops_metric(after, types_401) - (isnan(b_401) ? 0 : b_401), 1);
    CHECK_EQ_INT(ops_metric(after, get_one) - (isnan(b_get) ? 0 : b_get), 2);
    CHECK_EQ_INT(ops_metric(after, unmatched) - (isnan(b_un) ? 0 : b_un), 1);
    CHECK_EQ_INT(ops_metric(after, types_count) - (isnan(b_count) ? 0 : b_count), 4);
    CHECK(histogram_consistent(after, "hookline_api_request_duration_seconds",
                               "method=\"GET\",route=\"/v1/webhook-types\""));
    /* the made-up path and id never become labels */
    CHECK(strstr(after, "wh_doesnotexist") == NULL && strstr(after, "/no/such/path") == NULL);
    free(before);
    free(after);
}

static void check_dispatcher_endpoints(struct hx_stack *st, pid_t pid)
{
    const char *base = hx_dispatcher_url(st, pid);
    struct hx_resp resp;
    CHECK_FATAL(base != NULL);
    CHECK_EQ_INT(get_status(base, "/healthz", &resp), 200);
    CHECK_EQ_STR(ops_str(resp.json, "status"), "ok");
    hx_resp_free(&resp);
    CHECK(HX_WAIT(ops_status(base, "/readyz") == 200, 20000));
    CHECK_EQ_INT(get_status(base, "/readyz", &resp), 200);
    CHECK_EQ_STR(ops_str(resp.json, "status"), "ready");
    CHECK_EQ_STR(ops_str(resp.json, "kafka"), "ok");
    CHECK_EQ_STR(ops_str(resp.json, "postgres"), "ok");
    hx_resp_free(&resp);
    CHECK_EQ_INT(get_status(base, "/nope", &resp), 404);
    hx_resp_free(&resp);
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", base);
    CHECK_EQ_INT(hx_http("POST", url, NULL, "{}", NULL, &resp), 405);
    hx_resp_free(&resp);
    CHECK_EQ_INT(get_status(base, "/metrics", &resp), 200);
    char ctype[128] = "";
    hx_resp_header(&resp, "content-type", ctype, sizeof(ctype));
    CHECK(strncmp(ctype, "text/plain; version=0.0.4", 25) == 0);
    CHECK(strstr(resp.body, "# TYPE hookline_dispatcher_deliveries_total counter\n") != NULL);
    CHECK(strstr(resp.body, "# TYPE hookline_dispatcher_attempt_duration_seconds histogram\n") != NULL);
    CHECK(ops_metric(resp.body, "hookline_build_info{component=\"dispatcher\",version=\"" HOOKLINE_VERSION "\"}") == 1);
    hx_resp_free(&resp);
}

int main(void)
{
    struct hx_stack_opts opts = {
        .dispatchers = 2,
        .env = { "HOOKLINE_RETRY_SCHEDULE=1s", NULL },
    };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *rcv = hx_receiver_start(NULL);
    char key[128], ok_id[64], fail_id[64], url[512];
    pid_t pids[2];
    CHECK_FATAL(hx_dispatcher_pids(st, pids, 2) == 2);

    ops_tenant_new(st, "metrics", key, sizeof(key));
    check_api_metrics(st, key);

    OPS_SECTION("dispatchers: /healthz, /readyz and /metrics on their own ports");
    for (int i = 0; i < 2; i++)
        check_dispatcher_endpoints(st, pids[i]);

    OPS_SECTION("dispatchers: the matching index size follows the webhooks");
    snprintf(url, sizeof(url), "%s/ok", hx_receiver_url(rcv));
    ops_webhook_new(st, key, "ok", url, "[\"booking\"]", NULL, ok_id, sizeof(ok_id), NULL, 0);
    snprintf(url, sizeof(url), "%s/fail", hx_receiver_url(rcv));
    ops_webhook_new(st, key, "fail", url, "[\"conversation\"]", "\"max_retries\":1", fail_id, sizeof(fail_id), NULL, 0);
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_subscriptions") == 4, 10000));

    OPS_SECTION("dispatchers: together they own every partition and report lag for each");
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_assigned_partitions") == PARTITIONS, 20000));
    CHECK(HX_WAIT(fleet_sum(st, "hookline_dispatcher_consumer_lag") == 0, 10000));
    CHECK(HX_WAIT(lag_series(st) == PARTITIONS, 10000));

    OPS_SECTION("dispatchers: deliveries by result and the attempt duration histogram move by what happened");
    double ok0 = fleet_metric(st, "hookline_dispatcher_deliveries_total{result=\"success\"}");
    double retry0 = fleet_metric(st, "hookline_dispatcher_deliveries_total{result=\"retry\"}");
    double failed0 = fleet_metric(st, "hookline_dispatcher_deliveries_total{result=\"failed\"}");
    double count0 = fleet_metric(st, "hookline_dispatcher_attempt_duration_seconds_count");
    double consumed0 = fleet_metric(st, "hookline_dispatcher_events_consumed_total");
    CHECK(ok0 == 0 && retry0 == 0 && failed0 == 0 && count0 == 0);
    hx_receiver_respond(rcv, "/fail", 500, 100, NULL);
    for (int i = 0; i < EVENTS_OK; i++)
        ops_event(st, key, "booking.scheduled", i, NULL, 0);
    ops_event(st, key, "conversation.closed", 0, NULL, 0);
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_deliveries_total{result=\"success\"}") == EVENTS_OK, 20000));
    /* the failing one: first attempt scheduled a retry, visible as pending */
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_deliveries_total{result=\"retry\"}") == 1, 20000));
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_retries_pending") == 2 ||
                  fleet_metric(st, "hookline_dispatcher_deliveries_total{result=\"failed\"}") == 1, 20000));
    /* the retry (1 s later) fails for good: max_retries is 1 */
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_deliveries_total{result=\"failed\"}") == 1, 20000));
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_retries_pending") == 0, 20000));
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_attempt_duration_seconds_count") == EVENTS_OK + 2, 10000));
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_attempts_recorded_total") == EVENTS_OK + 2, 10000));
    /* the tenant's operational events about the failing endpoint are events
     * too (endpoint.failing, delivery.exhausted: through the outbox, for
     * no subscriber here) */
    CHECK(HX_WAIT(fleet_metric(st, "hookline_dispatcher_events_consumed_total") - consumed0 == EVENTS_OK + 3, 20000));
    CHECK_EQ_INT(fleet_metric(st, "hookline_dispatcher_events_consumed_total") - consumed0, EVENTS_OK + 3);
    CHECK_EQ_INT(fleet_metric(st, "hookline_dispatcher_in_flight"), 0);
    CHECK_EQ_INT(fleet_metric(st, "hookline_dispatcher_waiting"), 0);
    CHECK_EQ_INT(hx_receiver_count(rcv, "/ok"), EVENTS_OK);
    CHECK_EQ_INT(hx_receiver_count(rcv, "/fail"), 2);
    for (int i = 0; i < 2; i++) {
        char *text = ops_scrape(hx_dispatcher_url(st, pids[i]));
        CHECK(text && histogram_consistent(text, "hookline_dispatcher_attempt_duration_seconds", ""));
        free(text);
    }
    CHECK(HX_WAIT(fleet_sum(st, "hookline_dispatcher_consumer_lag") == 0, 10000));

    OPS_SECTION("Kafka down: scrapes stay fast, /readyz says 503 naming Kafka; back up: ready again");
    hx_broker_down(st);
    struct hx_resp resp;
    const char *base = hx_dispatcher_url(st, pids[0]);
    CHECK(HX_WAIT(ops_status(base, "/readyz") == 503, 20000));
    CHECK_EQ_INT(get_status(base, "/readyz", &resp), 503);
    CHECK_EQ_STR(ops_str(resp.json, "kafka"), "unreachable");
    hx_resp_free(&resp);
    long long t0 = hx_now_ms();
    char *text = ops_scrape(base);
    CHECK(text != NULL && hx_now_ms() - t0 < 1000);
    CHECK(text && ops_metric(text, "hookline_dispatcher_up{dependency=\"kafka\"}") == 0);
    CHECK(text && ops_metric(text, "hookline_dispatcher_ready") == 0);
    free(text);
    hx_broker_up(st);
    CHECK(HX_WAIT(ops_status(base, "/readyz") == 200, 30000));

    hx_receiver_stop(rcv);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
