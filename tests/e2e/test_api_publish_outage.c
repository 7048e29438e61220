/* test_api_publish_outage.c: publishing never stalls the api while Kafka
 * is down, and a publish whose outcome is unknown is never repeated.
 *
 * With the devbroker down: POST /v1/events and POST /v1/webhooks/:id/test
 * answer 503 with Retry-After within HOOKLINE_PUBLISH_TIMEOUT (2 s) plus
 * a margin; a retry with the same Idempotency-Key answers 409 "outcome
 * unknown" at once; more concurrent publishes than HTTP workers (4) leave
 * /healthz and GET /v1/webhooks answering fast. Once the broker is back,
 * librdkafka delivers the timed-out event: the late report settles its
 * key, a retry answers 202 with the first id, and the topic holds that
 * event once. An event that was certainly never written (the broker stayed
 * down past the producer's 10 s message timeout) frees its key: a retry
 * then publishes its own event.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "api_e2e.h"

#define EV_TOPIC "hookline.events"
#define FLOOD_THREADS 12    /* three times the api's default 4 workers */
#define FAST_MS 500         /* what "answers fast" means here */

/* POST /v1/events with an optional Idempotency-Key; the time it took in *ms. */
static long publish(struct hx_stack *st, const char *key, const char *idem, const char *body, struct hx_resp *resp,
                    long long *ms)
{
    char hdr[300];
    snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", idem ? idem : "");
    const char *hdrs[] = { hdr, NULL };
    long long t0 = hx_now_ms();
    long status = e2e_http_hdrs(st, "POST", key, body, idem ? hdrs : NULL, resp, "/v1/events");
    if (ms)
        *ms = hx_now_ms() - t0;
    return status;
}

static bool has_retry_after(const struct hx_resp *resp)
{
    char v[32] = "";
    return hx_resp_header(resp, "Retry-After", v, sizeof(v)) == 0 && atoi(v) >= 1;
}

/* Publish a marker and read until it arrives: everything the tenant
 * published before it is then in 'c' (one key, one partition, in order). */
static bool drain(struct hx_stack *st, const char *key, struct e2e_consumer *c, const char *marker)
{
    struct hx_resp resp;
    char body[160];
    snprintf(body, sizeof(body), "{\"type\":\"webhook.test\",\"id\":\"%s\"}", marker);
    long status = publish(st, key, NULL, body, &resp, NULL);
    hx_resp_free(&resp);
    return status == 202 && e2e_consume_until(c, "id", marker, 1, 30000);
}

static void outage_in_doubt(struct hx_stack *st, const char *key, const char *wh_id, struct e2e_consumer *c)
{
    struct hx_resp resp;
    long long ms;

    hx_broker_down(st);
    E2E_SECTION("broker down: POST /v1/events answers 503 with Retry-After within 4 s");
    long status = publish(st, key, "doubt-1", "{\"type\":\"booking.no_show\",\"id\":\"doubt-1-evt\"}", &resp, &ms);
    printf("503 after %lld ms: %s\n", ms, resp.body);
    CHECK_EQ_INT(status, 503);
    CHECK(ms < 4000);
    CHECK(has_retry_after(&resp));
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);

    E2E_SECTION("while in doubt, a retry with the same Idempotency-Key answers 409 \"outcome unknown\" at once");
    status = publish(st, key, "doubt-1", "{\"type\":\"booking.no_show\",\"id\":\"doubt-1-second\"}", &resp, &ms);
    CHECK_EQ_INT(status, 409);
    CHECK(strstr(e2e_error(&resp), "outcome unknown") != NULL);
    CHECK(ms < 1000);
    hx_resp_free(&resp);

    E2E_SECTION("broker down: POST /v1/webhooks/:id/test answers 503 with Retry-After within 4 s");
    long long t0 = hx_now_ms();
    status = hx_api(st, "POST", key, NULL, &resp, "/v1/webhooks/%s/test", wh_id);
    ms = hx_now_ms() - t0;
    printf("/test: %ld after %lld ms\n", status, ms);
    CHECK_EQ_INT(status, 503);
    CHECK(ms < 4000);
    CHECK(has_retry_after(&resp));
    hx_resp_free(&resp);

    hx_broker_up(st);
    E2E_SECTION("broker up: the late report settles the key; retries answer 409 until then, then 202 with the "
                "first id");
    int answered_409 = 0, other = 0;
    bool settled = HX_WAIT(({
        long s = publish(st, key, "doubt-1", "{\"type\":\"booking.no_show\",\"id\":\"doubt-1-third\"}", &resp, NULL);
        bool done = s == 202;
        answered_409 += s == 409;
        other += s != 409 && s != 202;
        if (s != 409 && s != 202)
            fprintf(stderr, "retry answered %ld %s\n", s, resp.body);
        if (!done)
            hx_resp_free(&resp);
        hx_sleep_ms(100);
        done;
    }), 20000);
    CHECK(settled);
    CHECK_EQ_INT(other, 0);
    printf("%d retries answered 409 before the key settled\n", answered_409);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), "doubt-1-evt");
    char replayed[16] = "";
    CHECK(hx_resp_header(&resp, "Idempotent-Replayed", replayed, sizeof(replayed)) == 0);
    hx_resp_free(&resp);

    E2E_SECTION("the topic holds the timed-out event once, and nothing of the retries");
    CHECK(drain(st, key, c, "marker-after-doubt"));
    CHECK_EQ_INT(e2e_count_where(c, "id", "doubt-1-evt"), 1);
    CHECK_EQ_INT(e2e_count_where(c, "id", "doubt-1-second"), 0);
    CHECK_EQ_INT(e2e_count_where(c, "id", "doubt-1-third"), 0);
}

struct flooder {
    struct hx_stack *st;
    const char *key;
    int index;
    atomic_bool *stop;
    atomic_long *sent;
    long not_503;           /* answers other than 503 */
    long no_retry_after;    /* 503s without Retry-After */
    long long slowest_ms;
};

static void *flood_main(void *arg)
{
    struct flooder *f = arg;
    for (int n = 0; !atomic_load(f->stop); n++) {
        char body[160];
        snprintf(body, sizeof(body), "{\"type\":\"booking.scheduled\",\"id\":\"flood-%d-%d\"}", f->index, n);
        struct hx_resp resp;
        long long ms;
        long status = publish(f->st, f->key, NULL, body, &resp, &ms);
        atomic_fetch_add(f->sent, 1);
        f->not_503 += status != 503;
        f->no_retry_after += status == 503 && !has_retry_after(&resp);
        if (ms > f->slowest_ms)
            f->slowest_ms = ms;
        hx_resp_free(&resp);
    }
    return NULL;
}

/* The time one GET took, or a large number if it did not answer 200. */
static long long timed_get(struct hx_stack *st, const char *key, const char *path)
{
    struct hx_resp resp;
    long long t0 = hx_now_ms();
    long status = hx_api(st, "GET", key, NULL, &resp, "%s", path);
    long long ms = hx_now_ms() - t0;
    hx_resp_free(&resp);
    return status == 200 ? ms : 1000000;
}

static void outage_flood(struct hx_stack *st, const char *key)
{
    hx_broker_down(st);
    E2E_SECTION("broker down, %d concurrent publishers (4 workers): /healthz and GET /v1/webhooks answer within "
                "%d ms", FLOOD_THREADS, FAST_MS);
    atomic_bool stop = false;
    atomic_long sent = 0;
    pthread_t threads[FLOOD_THREADS];
    struct flooder fl[FLOOD_THREADS];
    for (int i = 0; i < FLOOD_THREADS; i++) {
        fl[i] = (struct flooder){ .st = st, .key = key, .index = i, .stop = &stop, .sent = &sent };
        CHECK_FATAL(pthread_create(&threads[i], NULL, flood_main, &fl[i]) == 0);
    }
    /* probe while every worker the api lets wait on Kafka is waiting */
    hx_sleep_ms(300);
    long long worst_health = 0, worst_list = 0, until = hx_now_ms() + 4000;
    int probes = 0;
    while (hx_now_ms() < until) {
        long long h = timed_get(st, NULL, "/healthz"), l = timed_get(st, key, "/v1/webhooks");
        worst_health = h > worst_health ? h : worst_health;
        worst_list = l > worst_list ? l : worst_list;
        probes++;
        hx_sleep_ms(50);
    }
    atomic_store(&stop, true);
    long not_503 = 0, no_retry_after = 0;
    long long slowest = 0;
    for (int i = 0; i < FLOOD_THREADS; i++) {
        pthread_join(threads[i], NULL);
        not_503 += fl[i].not_503;
        no_retry_after += fl[i].no_retry_after;
        slowest = fl[i].slowest_ms > slowest ? fl[i].slowest_ms : slowest;
    }
    printf("%d probes: slowest /healthz %lld ms, GET /v1/webhooks %lld ms; %ld publishes, slowest %lld ms\n", probes,
           worst_health, worst_list, atomic_load(&sent), slowest);
    CHECK(probes >= 5);
    CHECK(worst_health < FAST_MS);
    CHECK(worst_list < FAST_MS);

    E2E_SECTION("every flood publish answered 503 with Retry-After within 4 s");
    CHECK(atomic_load(&sent) >= FLOOD_THREADS);
    CHECK_EQ_INT(not_503, 0);
    CHECK_EQ_INT(no_retry_after, 0);
    CHECK(slowest < 4000);
}

static void outage_never_written(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    struct hx_resp resp;
    E2E_SECTION("broker down past the message timeout: the report says not written, and the key is freed");
    long status = publish(st, key, "never-1", "{\"type\":\"booking.canceled\",\"id\":\"never-1-evt\"}", &resp, NULL);
    CHECK_EQ_INT(status, 503);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM idempotency_keys WHERE key = 'never-1' AND in_doubt", NULL,
                             NULL),
                 1);
    /* the producer gives the message up 10 s after it was produced */
    CHECK(HX_WAIT(e2e_db_long(st, "SELECT count(*) FROM idempotency_keys WHERE key = 'never-1'", NULL, NULL) == 0,
                  20000));
    hx_broker_up(st);
    CHECK(HX_WAIT(({
        long s = publish(st, key, "never-1", "{\"type\":\"booking.canceled\",\"id\":\"never-1-retry\"}", &resp, NULL);
        bool ok = s == 202;
        if (!ok)
            hx_resp_free(&resp);
        ok;
    }), 20000));
    CHECK_EQ_STR(e2e_str(resp.json, "id"), "never-1-retry");
    CHECK(hx_resp_header(&resp, "Idempotent-Replayed", (char[8]){ 0 }, 8) != 0);
    hx_resp_free(&resp);
    CHECK(drain(st, key, c, "marker-after-never"));
    CHECK_EQ_INT(e2e_count_where(c, "id", "never-1-retry"), 1);
    CHECK_EQ_INT(e2e_count_where(c, "id", "never-1-evt"), 0);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    struct hx_receiver *rcv = hx_receiver_start(NULL);
    char key[128], wh_id[64], url[256];
    CHECK_FATAL(hx_tenant_new(st, "pub-co", "events:write,webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    snprintf(url, sizeof(url), "%s/hook", hx_receiver_url(rcv));
    CHECK_FATAL(e2e_webhook_new(st, key, "tested", url, wh_id, NULL) == 201);
    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(st), EV_TOPIC);
    CHECK_FATAL(drain(st, key, c, "marker-start"));

    outage_in_doubt(st, key, wh_id, c);
    outage_flood(st, key);
    outage_never_written(st, key, c);

    e2e_consumer_free(c);
    hx_receiver_stop(rcv);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
