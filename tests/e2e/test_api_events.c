/* test_api_events.c: POST /v1/events publishes the envelope to
 * hookline.events, read back by a plain librdkafka consumer.
 *
 * 202 {"id":"evt_..."} once Kafka has the envelope (key = tenant; tenant,
 * type, data, id, occurred_at); a given id and occurred_at are kept;
 * unknown types 422, bad bodies 400 (an id is 1 to 128 characters of
 * [A-Za-z0-9_.:-], as the dispatcher reads it); an Idempotency-Key replays the first
 * answer and publishes nothing more, per tenant; /readyz follows Kafka;
 * with the broker down the call answers 503 within 4 s and works again
 * once it is up (test_api_publish_outage has the rest of the outage).
 */
#include <pthread.h>
#include <time.h>

#include "api_e2e.h"

#define EV_TOPIC "hookline.events"

/* Publish a marker event and read until it arrives: every event the tenant
 * published before it is then in 'c' (one key, one partition, in order). */
static bool ev_drain(struct hx_stack *st, const char *key, struct e2e_consumer *c, const char *marker_id)
{
    struct hx_resp resp;
    long status =
        e2e_send(st, "POST", key, &resp, "/v1/events", "{\"type\":\"webhook.test\",\"id\":\"%s\"}", marker_id);
    hx_resp_free(&resp);
    if (status != 202)
        return false;
    return e2e_consume_until(c, "id", marker_id, 1, 30000);
}

/* The status of one call (the answer is dropped). */
static long ev_status(struct hx_stack *st, const char *method, const char *key, const char *path, const char *body)
{
    struct hx_resp resp;
    long status = hx_api(st, method, key, body, &resp, "%s", path);
    hx_resp_free(&resp);
    return status;
}

/* The one message of 'c' whose envelope id is 'id' (borrowed), or NULL. */
static json_t *ev_find(struct e2e_consumer *c, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach(c->msgs, i, m)
    {
        const char *got = e2e_str(json_object_get(m, "value"), "id");
        if (got && strcmp(got, id) == 0)
            return m;
    }
    return NULL;
}

static void ev_publish(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    struct hx_resp resp;
    char id[128] = "";

    E2E_SECTION("POST /v1/events -> 202 {\"id\":\"evt_...\"}; the envelope is on hookline.events keyed by tenant");
    long long before = hx_realtime_ms();
    CHECK_EQ_INT(
        e2e_send(
            st, "POST", key, &resp, "/v1/events", "%s",
            "{\"type\":\"booking.scheduled\",\"data\":{\"booking\":{\"id\":\"b_1\",\"owner\":\"u_42\"},\"n\":1.5}}"),
        202);
    CHECK(e2e_starts_with(e2e_str(resp.json, "id"), "evt_") && strlen(e2e_str(resp.json, "id")) >= 4 + 22);
    CHECK_EQ_INT(json_object_size(resp.json), 1);
    snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    CHECK(e2e_consume_until(c, "id", id, 1, 30000));
    json_t *m = ev_find(c, id);
    CHECK_FATAL(m != NULL);
    json_t *env = json_object_get(m, "value");
    CHECK_EQ_STR(e2e_str(m, "key"), "events-co");
    CHECK_EQ_STR(e2e_str(env, "tenant"), "events-co");
    CHECK_EQ_STR(e2e_str(env, "type"), "booking.scheduled");
    CHECK_EQ_STR(e2e_str(env, "id"), id);
    CHECK_EQ_STR(e2e_str(json_object_get(json_object_get(env, "data"), "booking"), "owner"), "u_42");
    CHECK(json_real_value(json_object_get(json_object_get(env, "data"), "n")) == 1.5);
    const char *at = e2e_str(env, "occurred_at");
    CHECK(at != NULL && strlen(at) >= 20 && at[10] == 'T' && at[strlen(at) - 1] == 'Z');
    if (at) {
        char lo[32];
        time_t t = (time_t)(before / 1000 - 60);
        strftime(lo, sizeof(lo), "%Y-%m-%dT%H:%M:%S", gmtime(&t));
        CHECK(strcmp(at, lo) > 0);
    }

    E2E_SECTION("a given id and occurred_at are kept; data defaults to {}");
    CHECK_EQ_INT(
        e2e_send(
            st, "POST", key, &resp, "/v1/events", "%s",
            "{\"type\":\"conversation.started\",\"id\":\"ext-2026-0001\",\"occurred_at\":\"2026-11-25T10:00:00Z\"}"),
        202);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), "ext-2026-0001");
    hx_resp_free(&resp);
    CHECK(e2e_consume_until(c, "id", "ext-2026-0001", 1, 30000));
    m = ev_find(c, "ext-2026-0001");
    CHECK(m != NULL);
    if (m) {
        env = json_object_get(m, "value");
        CHECK_EQ_STR(e2e_str(env, "occurred_at"), "2026-11-25T10:00:00Z");
        CHECK_EQ_STR(e2e_str(env, "type"), "conversation.started");
        CHECK(json_is_object(json_object_get(env, "data")) && json_object_size(json_object_get(env, "data")) == 0);
    }

    E2E_SECTION("unknown types -> 422 \"Some events are not available\"; a group is not a type");
    long published = (long)json_array_size(c->msgs);
    E2E_EXPECT(st, "POST", key, "/v1/events", "{\"type\":\"booking.exploded\",\"data\":{}}", 422,
               "Some events are not available");
    E2E_EXPECT(st, "POST", key, "/v1/events", "{\"type\":\"booking\",\"data\":{}}", 422,
               "Some events are not available");

    E2E_SECTION("bad bodies -> 400: data not an object, type missing or not a string, bad id, unknown field, not JSON");
    static const char *const bad[] = {
        "{\"type\":\"booking.scheduled\",\"data\":[1,2]}",
        "{\"type\":\"booking.scheduled\",\"data\":\"text\"}",
        "{\"type\":\"booking.scheduled\",\"data\":7}",
        "{\"type\":\"booking.scheduled\",\"data\":null}",
        "{\"data\":{}}",
        "{\"type\":5,\"data\":{}}",
        "{\"type\":\"\",\"data\":{}}",
        "{\"type\":\"booking.scheduled\",\"id\":\"has space\"}",
        "{\"type\":\"booking.scheduled\",\"id\":7}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":12}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"not a date at all\"}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-13-01T00:00:00Z\"}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-02-29T00:00:00Z\"}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-04-31T00:00:00Z\"}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-11-25T10:00:00\"}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-11-25T10:00:00+0200\"}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-11-25T10:00:00Zjunk\"}",
        "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-11-25\"}",
        "{\"type\":\"booking.scheduled\",\"tenant\":\"someone-else\"}",
        "{\"type\":\"booking.scheduled\"",
        "[{\"type\":\"booking.scheduled\"}]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        E2E_EXPECT(st, "POST", key, "/v1/events", bad[i], 400, NULL);
    E2E_EXPECT(st, "POST", key, "/v1/events", NULL, 400, NULL);
    E2E_EXPECT(st, "POST", key, "/v1/events",
               "{\"type\":\"booking.scheduled\",\"data\":{},"
               "\"occurred_at\":\"2026-11-25T10:00:00.123+02:00\"}",
               202, NULL);
    E2E_EXPECT(st, "POST", key, "/v1/events", "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2028-02-29T12:00:00Z\"}",
               202, NULL);

    E2E_SECTION("a given id is 1 to 128 of [A-Za-z0-9_.:-] (the rule the dispatcher applies): CR LF, other "
                "characters, 129 characters or empty -> 400 naming \"id\"");
    static const char *const bad_ids[] = {
        "evt_1\\r\\nx-injected: 1", "evt_1\\n", "evt/1", "evt+1", "\\u00e9vt", "evt\\u2028", "",
    };
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"type\":\"booking.scheduled\",\"id\":\"%s\"}", bad_ids[i]);
        E2E_EXPECT(st, "POST", key, "/v1/events", body, 400, "\"id\" must be 1 to 128");
    }
    char id128[129], body[256];
    static const char class[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
    for (size_t i = 0; i < 128; i++)
        id128[i] = class[i % (sizeof(class) - 1)];
    id128[128] = '\0';
    snprintf(body, sizeof(body), "{\"type\":\"booking.scheduled\",\"id\":\"%sZ\"}", id128);
    E2E_EXPECT(st, "POST", key, "/v1/events", body, 400, "\"id\" must be 1 to 128");
    snprintf(body, sizeof(body), "{\"type\":\"booking.scheduled\",\"id\":\"%s\"}", id128);
    CHECK_EQ_INT(hx_api(st, "POST", key, body, &resp, "/v1/events"), 202);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), id128);
    hx_resp_free(&resp);
    CHECK(e2e_consume_until(c, "id", id128, 1, 30000));

    E2E_SECTION("refused events were not published: only the accepted ones follow");
    CHECK(ev_drain(st, key, c, "marker-after-refusals"));
    CHECK_EQ_INT((long)json_array_size(c->msgs), published + 4);
}

static void ev_idempotency(struct hx_stack *st, const char *key, const char *key_other, struct e2e_consumer *c)
{
    struct hx_resp first, again;
    const char *hdr[] = {"Idempotency-Key: order-77-created", NULL};
    const char *body = "{\"type\":\"booking.completed\",\"data\":{\"order\":77}}";

    E2E_SECTION("Idempotency-Key: the second request gets the first answer and publishes nothing");
    CHECK_EQ_INT(e2e_http_hdrs(st, "POST", key, body, hdr, &first, "/v1/events"), 202);
    const char *id = e2e_str(first.json, "id");
    CHECK(e2e_starts_with(id, "evt_"));
    char idbuf[128];
    snprintf(idbuf, sizeof(idbuf), "%s", id ? id : "");
    CHECK_EQ_INT(e2e_http_hdrs(st, "POST", key, body, hdr, &again, "/v1/events"), 202);
    CHECK_EQ_STR(again.body, first.body);
    char replayed[16] = "";
    CHECK(hx_resp_header(&again, "Idempotent-Replayed", replayed, sizeof(replayed)) == 0);
    CHECK_EQ_STR(replayed, "true");
    hx_resp_free(&again);
    /* even with a different body: the key decides */
    CHECK_EQ_INT(e2e_http_hdrs(st, "POST", key, "{\"type\":\"booking.canceled\"}", hdr, &again, "/v1/events"), 202);
    CHECK_EQ_STR(again.body, first.body);
    hx_resp_free(&again);
    hx_resp_free(&first);
    CHECK(ev_drain(st, key, c, "marker-after-idempotency"));
    CHECK_EQ_INT(e2e_count_where(c, "id", idbuf), 1);
    CHECK_EQ_INT(e2e_count_where(c, "type", "booking.canceled"), 0);

    E2E_SECTION("Idempotency-Key is per tenant: another tenant's same key publishes its own event");
    CHECK_EQ_INT(e2e_http_hdrs(st, "POST", key_other, body, hdr, &again, "/v1/events"), 202);
    CHECK(e2e_str(again.json, "id") && strcmp(e2e_str(again.json, "id"), idbuf) != 0);
    char other_id[128];
    snprintf(other_id, sizeof(other_id), "%s", e2e_str(again.json, "id") ? e2e_str(again.json, "id") : "");
    hx_resp_free(&again);
    CHECK(e2e_consume_until(c, "id", other_id, 1, 30000));
    json_t *m = ev_find(c, other_id);
    CHECK(m != NULL && strcmp(e2e_str(m, "key"), "other-co") == 0);

    E2E_SECTION("an empty or oversize Idempotency-Key -> 400");
    const char *empty[] = {"Idempotency-Key;", NULL}; /* curl sends an empty header for "Name;" */
    CHECK_EQ_INT(e2e_http_hdrs(st, "POST", key, body, empty, &again, "/v1/events"), 400);
    hx_resp_free(&again);
    char long_hdr[400] = "Idempotency-Key: ";
    memset(long_hdr + strlen(long_hdr), 'k', 300);
    const char *longh[] = {long_hdr, NULL};
    CHECK_EQ_INT(e2e_http_hdrs(st, "POST", key, body, longh, &again, "/v1/events"), 400);
    hx_resp_free(&again);
}

struct ev_racer {
    struct hx_stack *st;
    const char *key;
    long status;
    char id[128];
};

static void *ev_race_main(void *arg)
{
    struct ev_racer *r = arg;
    struct hx_resp resp;
    const char *hdr[] = {"Idempotency-Key: raced-key", NULL};
    r->status = e2e_http_hdrs(r->st, "POST", r->key, "{\"type\":\"booking.rescheduled\"}", hdr, &resp, "/v1/events");
    snprintf(r->id, sizeof(r->id), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    return NULL;
}

static void ev_idempotency_race(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    enum { N = 6 };
    pthread_t threads[N];
    struct ev_racer racers[N];
    E2E_SECTION("concurrent requests with one Idempotency-Key: one event published; 202s all carry its id, else 409");
    for (int i = 0; i < N; i++) {
        racers[i] = (struct ev_racer){.st = st, .key = key};
        CHECK_FATAL(pthread_create(&threads[i], NULL, ev_race_main, &racers[i]) == 0);
    }
    const char *first = NULL;
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        CHECK(racers[i].status == 202 || racers[i].status == 409);
        if (racers[i].status == 202) {
            accepted++;
            if (first == NULL)
                first = racers[i].id;
            CHECK_EQ_STR(racers[i].id, first);
        }
    }
    CHECK(accepted >= 1);
    CHECK(ev_drain(st, key, c, "marker-after-race"));
    CHECK_EQ_INT(e2e_count_where(c, "type", "booking.rescheduled"), 1);
}

static void ev_broker_down(struct hx_stack *st, const char *key, struct e2e_consumer *c)
{
    struct hx_resp resp;

    E2E_SECTION("/readyz answers 200 while PostgreSQL and Kafka are reachable");
    CHECK_EQ_INT(hx_api(st, "GET", NULL, NULL, &resp, "/readyz"), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "postgres"), "ok");
    CHECK_EQ_STR(e2e_str(resp.json, "kafka"), "ok");
    hx_resp_free(&resp);

    hx_broker_down(st);
    E2E_SECTION("broker down: /readyz answers 503 naming Kafka");
    CHECK_EQ_INT(hx_api(st, "GET", NULL, NULL, &resp, "/readyz"), 503);
    CHECK_EQ_STR(e2e_str(resp.json, "kafka"), "unreachable");
    CHECK_EQ_STR(e2e_str(resp.json, "postgres"), "ok");
    hx_resp_free(&resp);

    E2E_SECTION("broker down: POST /v1/events answers 503 within 4 s");
    long long t0 = hx_now_ms();
    CHECK_EQ_INT(hx_api(st, "POST", key, "{\"type\":\"booking.no_show\",\"id\":\"during-outage\"}", &resp, "/v1/events"),
                 503);
    long long took = hx_now_ms() - t0;
    fprintf(stderr, "503 after %lld ms\n", took);
    CHECK(took < 4000);
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);
    /* the webhook routes do not need Kafka */
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks"), 200);
    hx_resp_free(&resp);

    hx_broker_up(st);
    E2E_SECTION("broker up again: POST /v1/events succeeds, /readyz is 200 again");
    CHECK(HX_WAIT(ev_status(st, "GET", NULL, "/readyz", NULL) == 200, 30000));
    CHECK(HX_WAIT(ev_status(st, "POST", key, "/v1/events", "{\"type\":\"booking.no_show\",\"id\":\"after-outage\"}") ==
                      202,
                  30000));
    CHECK(e2e_consume_until(c, "id", "after-outage", 1, 30000));
    /* the event of the 503 may have been written once the broker was back
     * (test_api_publish_outage checks what its Idempotency-Key answers):
     * never more than once */
    CHECK(ev_drain(st, key, c, "marker-after-outage"));
    CHECK(e2e_count_where(c, "id", "during-outage") <= 1);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128], other[128];
    CHECK_FATAL(hx_tenant_new(st, "events-co", "events:write,webhooks:read", key, sizeof(key)) == 0);
    CHECK_FATAL(hx_tenant_new(st, "other-co", "events:write", other, sizeof(other)) == 0);
    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(st), EV_TOPIC);
    ev_publish(st, key, c);
    ev_idempotency(st, key, other, c);
    ev_idempotency_race(st, key, c);
    ev_broker_down(st, key, c);
    e2e_consumer_free(c);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
