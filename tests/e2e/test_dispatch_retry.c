/* test_dispatch_retry.c: failed deliveries, retries and their records.
 *
 * With the retry schedule in seconds: a receiver failing twice gets a
 * third, successful attempt with the same webhook-id, and the attempt log
 * shows attempts 1, 2, 3 with next_attempt_at on the failed ones only; an
 * always-failing endpoint stops after max_retries; 410 Gone disables a
 * webhook's only endpoint and with it the webhook (GET and a
 * webhook.disabled lifecycle event), and so does an endpoint whose every
 * delivery failed for HOOKLINE_DISABLE_AFTER (one endpoint of several:
 * test_dispatch_endpoints.c); 429 Retry-After
 * outweighs a shorter schedule; a timeout and a 302 (not followed) are
 * failed attempts; rate_limit holds deliveries back without dropping any;
 * the log's retry route redelivers now and its delete route forgets a
 * record; a pending retry survives kill -9 of the only dispatcher (a
 * claimed one: test_dispatch_lease.c); a dispatcher that forbids private
 * targets refuses 127.0.0.1 at delivery.
 */
#include <signal.h>

#include "dispatch_e2e.h"

#define WAIT_MS 20000

struct fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    struct de_producer *p;
    PGconn *pg;
    char key[128];
    struct de_webhook w1, w2, w3, w4, w5, w6, w7, w8, w9, w10;
    char e1[64], e2[64], e3[64], e4[64], e6[64], e7[64], e8[64], e9[64], e10[64];
    char *body1;
};

static void fx_webhook(struct fx *fx, struct de_webhook *wh, const char *name, const char *extra)
{
    de_webhook_new(fx->st, fx->key, wh,
                   "{\"name\":\"%s\",\"url\":\"%s/%s\",\"events\":\"booking\",\"filter\":{\"data.case\":\"%s\"}%s}",
                   name, hx_receiver_url(fx->r), name, name, extra ? extra : "");
}

static long fx_retries(struct fx *fx, const char *event_id)
{
    return de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE event_id = $1", event_id, NULL, NULL);
}

static long fx_attempts(struct fx *fx, const char *event_id)
{
    return de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE event_id = $1", event_id, NULL, NULL);
}

static void fx_event(struct fx *fx, const char *name, char *id, char **body)
{
    char data[64];
    snprintf(data, sizeof(data), "{\"case\":\"%s\"}", name);
    de_produce_event(fx->p, "acme", "booking.scheduled", data, id, body);
}

/* ---- phase 1: one dispatcher, four failure modes at once ---- */

static void test_fail_twice(struct fx *fx)
{
    E2E_SECTION("500, 500, then 200: three attempts, one webhook-id, delivered once");
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/r1") == 3, WAIT_MS));
    long long at[3] = { 0 };
    for (int i = 0; i < 3; i++) {
        struct hx_received *rec = de_find(fx->r, "/r1", NULL, (size_t)i);
        CHECK(rec != NULL);
        if (rec == NULL)
            continue;
        CHECK_EQ_STR(de_hdr(rec, "webhook-id"), fx->e1);
        CHECK_EQ_INT(rec->status, i < 2 ? 500 : 200);
        CHECK(rec->len == strlen(fx->body1) && memcmp(rec->body, fx->body1, rec->len) == 0);
        CHECK(de_signed_by(rec, fx->w1.secret));
        at[i] = rec->at_ms;
        hx_received_free(rec);
    }
    /* schedule 1s with +-20 % jitter */
    CHECK(at[1] - at[0] >= 750);
    CHECK(at[2] - at[1] >= 750);
    printf("retry gaps: %lld ms, %lld ms\n", at[1] - at[0], at[2] - at[1]);

    json_t *log = NULL;
    CHECK(HX_WAIT((json_decref(log), log = de_attempts(fx->st, fx->key, fx->w1.id, fx->e1), json_array_size(log) == 3),
                  WAIT_MS));
    for (size_t i = 0; i < json_array_size(log) && i < 3; i++) {
        json_t *a = json_array_get(log, i);
        bool last = i == 2;
        printf("attempt %lld: status %lld, error %s\n", e2e_int(a, "attempt"), e2e_int(a, "status_code"),
               e2e_str(a, "error") ? e2e_str(a, "error") : "-");
        CHECK_EQ_INT(e2e_int(a, "attempt"), (long long)i + 1);
        CHECK(json_is_boolean(json_object_get(a, "success")) && json_is_true(json_object_get(a, "success")) == last);
        CHECK_EQ_INT(e2e_int(a, "status_code"), last ? 200 : 500);
        CHECK_EQ_STR(e2e_str(a, "event_id"), fx->e1);
        CHECK_EQ_STR(e2e_str(a, "event_type"), "booking.scheduled");
        CHECK_EQ_STR(e2e_str(a, "webhook_id"), fx->w1.id);
        CHECK_EQ_STR(e2e_str(a, "endpoint_id"), fx->w1.ep[0]);
        CHECK(e2e_starts_with(e2e_str(a, "id"), "dlv_"));
        CHECK_EQ_STR(e2e_str(json_object_get(a, "payload"), "id"), fx->e1);
        long long sent = de_iso_ms(e2e_str(a, "sent_at"));
        CHECK(sent > 0);
        if (last) {
            CHECK(json_is_null(json_object_get(a, "next_attempt_at")));
            CHECK(json_is_null(json_object_get(a, "error")));
        } else {
            long long next = de_iso_ms(e2e_str(a, "next_attempt_at"));
            CHECK(next > sent);
            CHECK(e2e_str(a, "error") != NULL);
            /* the next attempt was made when this one said it would be due */
            long long sent_next = de_iso_ms(e2e_str(json_array_get(log, i + 1), "sent_at"));
            CHECK(sent_next >= next - 50);
        }
    }
    json_decref(log);
    CHECK_EQ_INT(fx_retries(fx, fx->e1), 0);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND success", fx->e1, NULL, NULL),
                 1);
    CHECK_EQ_INT(de_count(fx->r, NULL, fx->e1), 3);
}

static void test_give_up(struct fx *fx)
{
    E2E_SECTION("always 500 with max_retries=2: exactly three attempts, then no retry left");
    CHECK(HX_WAIT(fx_attempts(fx, fx->e2) == 3, WAIT_MS));
    CHECK_EQ_INT(fx_retries(fx, fx->e2), 0);  /* nothing pending: no fourth attempt can come */
    json_t *log = de_attempts(fx->st, fx->key, fx->w2.id, fx->e2);
    CHECK_EQ_INT(json_array_size(log), 3);
    for (size_t i = 0; i < json_array_size(log); i++) {
        json_t *a = json_array_get(log, i);
        CHECK_EQ_INT(e2e_int(a, "attempt"), (long long)i + 1);
        CHECK(json_is_false(json_object_get(a, "success")));
        CHECK_EQ_INT(e2e_int(a, "status_code"), 500);
        CHECK(json_is_null(json_object_get(a, "next_attempt_at")) == (i == 2));
    }
    json_decref(log);
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/r2"), 3);
    CHECK_EQ_INT(de_count(fx->r, "/r2", fx->e2), 3);
}

static void test_gone(struct fx *fx, struct e2e_consumer *lc)
{
    E2E_SECTION("410 Gone disables the only endpoint, so the webhook: GET shows it, hookline.webhooks carries webhook.disabled");
    struct hx_resp resp = { 0 };
    bool disabled = HX_WAIT((hx_resp_free(&resp), hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s",
                                                         fx->w3.id) == 200 &&
                                                      json_is_false(json_object_get(resp.json, "is_active"))),
                            WAIT_MS);
    CHECK(disabled);
    const char *reason = e2e_str(resp.json, "disabled_reason");
    CHECK(reason != NULL && strstr(reason, "410") != NULL);
    printf("disabled_reason: %s\n", reason ? reason : "(none)");
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "disabled_reason"), "gone");
    hx_resp_free(&resp);

    bool seen = HX_WAIT((e2e_consumer_poll(lc, 100), e2e_count_where(lc, "type", "webhook.disabled") >= 1), WAIT_MS);
    CHECK(seen);
    size_t i, n = 0;
    json_t *m;
    json_array_foreach(lc->msgs, i, m) {
        json_t *v = json_object_get(m, "value");
        if (e2e_str(v, "type") && strcmp(e2e_str(v, "type"), "webhook.disabled") == 0) {
            n++;
            json_t *doc = json_object_get(v, "webhook");
            CHECK_EQ_STR(e2e_str(doc, "id"), fx->w3.id);
            CHECK(json_is_false(json_object_get(doc, "is_active")));
            CHECK_EQ_STR(e2e_str(m, "key"), fx->w3.id);
        }
    }
    CHECK_EQ_INT(n, 1);

    json_t *log = de_attempts(fx->st, fx->key, fx->w3.id, fx->e3);
    CHECK_EQ_INT(json_array_size(log), 1);
    json_t *a = json_array_get(log, 0);
    CHECK_EQ_INT(e2e_int(a, "status_code"), 410);
    CHECK(json_is_false(json_object_get(a, "success")));
    CHECK(json_is_null(json_object_get(a, "next_attempt_at")));
    json_decref(log);
    CHECK_EQ_INT(fx_retries(fx, fx->e3), 0);
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/r3"), 1);
}

static void test_failing_too_long(struct fx *fx)
{
    E2E_SECTION("every delivery failing for HOOKLINE_DISABLE_AFTER=3s disables the only endpoint, so the webhook");
    struct hx_resp resp = { 0 };
    bool disabled = HX_WAIT((hx_resp_free(&resp), hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s",
                                                         fx->w10.id) == 200 &&
                                                      json_is_false(json_object_get(resp.json, "is_active"))),
                            WAIT_MS);
    CHECK(disabled);
    const char *reason = e2e_str(resp.json, "disabled_reason");
    CHECK(reason != NULL && strstr(reason, "failed since") != NULL && strstr(reason, "/r10") != NULL);
    printf("disabled_reason: %s\n", reason ? reason : "(none)");
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "disabled_reason"), "failing");
    hx_resp_free(&resp);
    /* the attempt that found it failing for 3 s was at least the fourth (schedule 1s each) */
    long n = fx_attempts(fx, fx->e10);
    CHECK(n >= 4 && n <= 6);
    /* disabled: nothing more is sent, and its pending retry is kept, parked
     * (its lane due never), for the tenant to enable it again */
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM lanes l JOIN retries r USING (endpoint_id) "
                                     "WHERE r.event_id = $1 AND l.next_due_at IS NULL AND l.owner IS NULL",
                             fx->e10, NULL, NULL) == 1, WAIT_MS));
    CHECK_EQ_INT(fx_retries(fx, fx->e10), 1);
    long sent = hx_receiver_count(fx->r, "/r10");
    CHECK_EQ_INT(sent, n);
}

static void test_retry_after(struct fx *fx)
{
    E2E_SECTION("429 with Retry-After: 3 waits at least 3 s although the schedule says 1 s");
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/r4") == 2, WAIT_MS));
    struct hx_received *r0 = de_find(fx->r, "/r4", fx->e4, 0), *r1 = de_find(fx->r, "/r4", fx->e4, 1);
    CHECK(r0 != NULL && r1 != NULL);
    if (r0 && r1) {
        CHECK_EQ_INT(r0->status, 429);
        CHECK_EQ_INT(r1->status, 200);
        printf("429 Retry-After 3: next attempt received %lld ms later\n", r1->at_ms - r0->at_ms);
        CHECK(r1->at_ms - r0->at_ms >= 2950); /* receipt times: a few ms of connection set-up either way */
    }
    hx_received_free(r0);
    hx_received_free(r1);
    json_t *log = NULL;
    CHECK(HX_WAIT((json_decref(log), log = de_attempts(fx->st, fx->key, fx->w4.id, fx->e4), json_array_size(log) == 2),
                  WAIT_MS));
    if (json_array_size(log) == 2) {
        json_t *a0 = json_array_get(log, 0), *a1 = json_array_get(log, 1);
        long long sent0 = de_iso_ms(e2e_str(a0, "sent_at")), sent1 = de_iso_ms(e2e_str(a1, "sent_at"));
        long long next0 = de_iso_ms(e2e_str(a0, "next_attempt_at"));
        CHECK_EQ_INT(e2e_int(a0, "status_code"), 429);
        CHECK(next0 - sent0 >= 3000);
        CHECK(sent1 - sent0 >= 3000);
    }
    json_decref(log);
}

static void test_rate_limit(struct fx *fx)
{
    E2E_SECTION("rate_limit=5: 20 events all arrive, held back to 5/s (receipt spacing)");
    enum { N = 20 };
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/r5") >= N, 30000));
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/r5"), N);
    long long at[N];
    json_t *ids = json_object();
    int n = 0;
    for (; n < N; n++) {
        struct hx_received *rec = de_find(fx->r, "/r5", NULL, (size_t)n);
        if (rec == NULL)
            break;
        at[n] = rec->at_ms;
        if (de_hdr(rec, "webhook-id"))
            json_object_set_new(ids, de_hdr(rec, "webhook-id"), json_true());
        hx_received_free(rec);
    }
    CHECK_EQ_INT(n, N);
    CHECK_EQ_INT(json_object_size(ids), N); /* twenty different events: none dropped, none doubled */
    json_decref(ids);
    for (int i = 1; i < n; i++)                 /* sort receipt times */
        for (int j = i; j > 0 && at[j - 1] > at[j]; j--) {
            long long t = at[j];
            at[j] = at[j - 1];
            at[j - 1] = t;
        }
    /* a bucket of 5 refilled at 5/s lets k+1 deliveries span at least
     * (k+1-5)/5 s. Receipt times run late by the TLS handshake of each new
     * connection (the first five open theirs at once): 250 ms of slack. */
    if (n == N) {
        printf("rate_limit 5: 20 deliveries received over %lld ms\n", at[N - 1] - at[0]);
        CHECK(at[N - 1] - at[0] >= 3000 - 250);
        for (int i = 0; i + 10 < N; i++)
            CHECK(at[i + 10] - at[i] >= 1200 - 250);
    }
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND success", fx->w5.id, NULL,
                             NULL) == N, WAIT_MS));
    /* the same bound, exactly, on the times the dispatcher started each request */
    long span = de_pg_long(fx->pg,
                           "SELECT (extract(epoch FROM max(sent_at) - min(sent_at)) * 1000)::bigint FROM attempts "
                           "WHERE webhook_id = $1", fx->w5.id, NULL, NULL);
    printf("rate_limit 5: 20 deliveries sent over %ld ms\n", span);
    CHECK(span >= 3000 - 5);
}

static void test_timeout(struct fx *fx, struct hx_receiver *slow)
{
    E2E_SECTION("an endpoint slower than HOOKLINE_DELIVERY_TIMEOUT=2s: a failed attempt, no status");
    CHECK(HX_WAIT(fx_attempts(fx, fx->e8) == 1, WAIT_MS));
    json_t *log = de_attempts(fx->st, fx->key, fx->w8.id, fx->e8);
    json_t *a = json_array_get(log, 0);
    const char *err = e2e_str(a, "error");
    printf("timed-out delivery: %lld ms, error: %s\n", e2e_int(a, "duration_ms"), err ? err : "(none)");
    CHECK(json_is_false(json_object_get(a, "success")));
    CHECK(json_is_null(json_object_get(a, "status_code")));
    CHECK(err != NULL && strcasestr(err, "timed out") != NULL);
    CHECK(e2e_int(a, "duration_ms") >= 1900 && e2e_int(a, "duration_ms") < 4000);
    CHECK(json_is_null(json_object_get(a, "next_attempt_at"))); /* max_retries 0 */
    json_decref(log);
    CHECK_EQ_INT(hx_receiver_count(slow, "/r8"), 1);
    CHECK_EQ_INT(fx_retries(fx, fx->e8), 0);
}

static void test_redirect(struct fx *fx)
{
    E2E_SECTION("a 302 is a failed attempt: not followed, retried at the same URL");
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/r9") == 2, WAIT_MS));
    json_t *log = NULL;
    CHECK(HX_WAIT((json_decref(log), log = de_attempts(fx->st, fx->key, fx->w9.id, fx->e9), json_array_size(log) == 2),
                  WAIT_MS));
    if (json_array_size(log) == 2) {
        CHECK_EQ_INT(e2e_int(json_array_get(log, 0), "status_code"), 302);
        CHECK(json_is_false(json_object_get(json_array_get(log, 0), "success")));
        CHECK(!json_is_null(json_object_get(json_array_get(log, 0), "next_attempt_at")));
        CHECK(json_is_true(json_object_get(json_array_get(log, 1), "success")));
    }
    json_decref(log);
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/r9-moved"), 0);
}

static void test_log_routes(struct fx *fx)
{
    E2E_SECTION("the delivery log's retry route redelivers a succeeded attempt now");
    json_t *log = de_attempts(fx->st, fx->key, fx->w1.id, fx->e1);
    CHECK_FATAL(json_array_size(log) == 3);
    char first[64], ok[64];
    snprintf(first, sizeof(first), "%s", e2e_str(json_array_get(log, 0), "id"));
    snprintf(ok, sizeof(ok), "%s", e2e_str(json_array_get(log, 2), "id"));
    json_decref(log);

    struct hx_resp resp;
    long long t0 = hx_realtime_ms();
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s/retry", fx->w1.id, ok),
                 202);
    hx_resp_free(&resp);
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/r1") == 4, WAIT_MS));
    struct hx_received *rec = de_find(fx->r, "/r1", NULL, 3);
    CHECK(rec != NULL);
    if (rec) {
        printf("retry route: redelivered %lld ms after the request\n", rec->at_ms - t0);
        CHECK(rec->at_ms - t0 < 3000);
        CHECK_EQ_STR(de_hdr(rec, "webhook-id"), fx->e1);
        CHECK(rec->len == strlen(fx->body1) && memcmp(rec->body, fx->body1, rec->len) == 0);
        CHECK(de_signed_by(rec, fx->w1.secret));
        hx_received_free(rec);
    }
    log = NULL;
    CHECK(HX_WAIT((json_decref(log), log = de_attempts(fx->st, fx->key, fx->w1.id, fx->e1), json_array_size(log) == 4),
                  WAIT_MS));
    json_t *a = json_array_get(log, 3);
    CHECK_EQ_INT(e2e_int(a, "attempt"), 4);
    CHECK(json_is_true(json_object_get(a, "success")));
    CHECK(json_is_null(json_object_get(a, "next_attempt_at")));
    json_decref(log);
    CHECK_EQ_INT(fx_retries(fx, fx->e1), 0);

    E2E_SECTION("the delivery log's delete route removes one record");
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s", fx->w1.id, first),
                 200);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), first);
    CHECK(json_is_true(json_object_get(resp.json, "deleted")));
    hx_resp_free(&resp);
    log = de_attempts(fx->st, fx->key, fx->w1.id, fx->e1);
    CHECK_EQ_INT(json_array_size(log), 3);
    for (size_t i = 0; i < json_array_size(log); i++)
        CHECK(strcmp(e2e_str(json_array_get(log, i), "id"), first) != 0);
    CHECK_EQ_INT(e2e_int(json_array_get(log, 0), "attempt"), 2);
    json_decref(log);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE id = $1", first, NULL, NULL), 0);
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s", fx->w1.id, first),
                 404);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/r1"), 4); /* deleting a record sends nothing */
}

/* ---- phase 2: a pending retry outlives its dispatcher ---- */

static void test_kill(struct fx *fx, pid_t d1)
{
    E2E_SECTION("a pending retry survives kill -9 of the only dispatcher");
    /* hand over: stop the first dispatcher cleanly */
    CHECK_EQ_INT(hx_proc_kill(fx->st, d1, SIGTERM), 0);
    CHECK_EQ_INT(hx_proc_wait(fx->st, d1, 30000), 0);

    /* a first retry due in 4 s (3.2 s at least): the kill below comes
     * before it is due, so no lease is held and nothing is in flight */
    const char *slow_first[] = { "HOOKLINE_RETRY_SCHEDULE=4s,1s,1s,1s,1s", NULL };
    pid_t d2 = hx_dispatcher_start(fx->st, slow_first);
    hx_receiver_respond(fx->r, "/r6", 500, 1, NULL);
    fx_event(fx, "r6", fx->e6, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_attempts(fx, fx->e6) == 1, 30000));
    CHECK_EQ_INT(hx_proc_kill(fx->st, d2, SIGKILL), 0);
    long long killed = hx_realtime_ms();
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/r6"), 1);
    CHECK_EQ_INT(fx_retries(fx, fx->e6), 1);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT attempt FROM retries WHERE event_id = $1", fx->e6, NULL, NULL), 2);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE event_id = $1 AND lease_until IS NULL", fx->e6,
                            NULL, NULL), 1);

    pid_t d3 = hx_dispatcher_start(fx->st, NULL);
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/r6") == 2, 30000));
    struct hx_received *r0 = de_find(fx->r, "/r6", NULL, 0), *r1 = de_find(fx->r, "/r6", NULL, 1);
    if (r0 && r1) {
        CHECK_EQ_STR(de_hdr(r0, "webhook-id"), fx->e6);
        CHECK_EQ_STR(de_hdr(r1, "webhook-id"), fx->e6);
        CHECK_EQ_INT(r1->status, 200);
        CHECK(de_signed_by(r1, fx->w6.secret));
        printf("retry after kill -9: made %lld ms after the kill\n", r1->at_ms - killed);
    }
    hx_received_free(r0);
    hx_received_free(r1);
    json_t *log = NULL;
    CHECK(HX_WAIT((json_decref(log), log = de_attempts(fx->st, fx->key, fx->w6.id, fx->e6), json_array_size(log) == 2),
                  WAIT_MS));
    if (json_array_size(log) == 2) {
        CHECK_EQ_INT(e2e_int(json_array_get(log, 1), "attempt"), 2);
        CHECK(json_is_true(json_object_get(json_array_get(log, 1), "success")));
    }
    json_decref(log);
    CHECK_EQ_INT(fx_retries(fx, fx->e6), 0);
    CHECK_EQ_INT(hx_proc_kill(fx->st, d3, SIGTERM), 0);
    CHECK_EQ_INT(hx_proc_wait(fx->st, d3, 30000), 0);
}

/* ---- phase 3: the destination policy at delivery time ---- */

static void test_private_target(struct fx *fx)
{
    E2E_SECTION("a dispatcher forbidding private targets refuses 127.0.0.1 at delivery");
    const char *strict[] = { "HOOKLINE_ALLOW_PRIVATE_TARGETS=false", NULL };
    hx_dispatcher_start(fx->st, strict);
    fx_event(fx, "r7", fx->e7, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(fx_attempts(fx, fx->e7) >= 1, 30000));
    json_t *log = de_attempts(fx->st, fx->key, fx->w7.id, fx->e7);
    CHECK(json_array_size(log) >= 1);
    json_t *a = json_array_get(log, 0);
    const char *err = e2e_str(a, "error");
    printf("refused delivery's error: %s\n", err ? err : "(none)");
    CHECK(json_is_false(json_object_get(a, "success")));
    CHECK(json_is_null(json_object_get(a, "status_code")));
    CHECK(err != NULL && strstr(err, "127.0.0.1") != NULL); /* names the address it refused */
    json_decref(log);
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/r7"), 0);
}

int main(void)
{
    struct fx fx = { 0 };
    struct hx_stack_opts opts = {
        .dispatchers = 0,
        .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s,1s,1s", "HOOKLINE_DELIVERY_TIMEOUT=2s", "HOOKLINE_DISABLE_AFTER=3s",
                 NULL },
    };
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.pg = hx_pg_connect(fx.st);
    de_tenant_new(fx.st, "acme", fx.key, sizeof(fx.key));
    fx_webhook(&fx, &fx.w1, "r1", NULL);
    fx_webhook(&fx, &fx.w2, "r2", ",\"max_retries\":2");
    fx_webhook(&fx, &fx.w3, "r3", NULL);
    fx_webhook(&fx, &fx.w4, "r4", NULL);
    fx_webhook(&fx, &fx.w5, "r5", ",\"rate_limit\":5");
    fx_webhook(&fx, &fx.w6, "r6", NULL);
    fx_webhook(&fx, &fx.w7, "r7", NULL);
    fx_webhook(&fx, &fx.w9, "r9", NULL);
    fx_webhook(&fx, &fx.w10, "r10", ",\"max_retries\":5");
    struct hx_receiver *slow = hx_receiver_start(NULL);
    hx_receiver_set_delay(slow, 3000);
    de_webhook_new(fx.st, fx.key, &fx.w8,
                   "{\"name\":\"r8\",\"url\":\"%s/r8\",\"events\":\"booking\",\"filter\":{\"data.case\":\"r8\"},"
                   "\"max_retries\":0}", hx_receiver_url(slow));
    hx_receiver_respond(fx.r, "/r1", 500, 2, NULL);
    hx_receiver_respond(fx.r, "/r2", 500, 1000, NULL);
    hx_receiver_respond(fx.r, "/r3", 410, 1, NULL);
    hx_receiver_respond(fx.r, "/r10", 500, 1000, NULL);
    hx_receiver_respond(fx.r, "/r4", 429, 1, "Retry-After: 3");
    char location[160];
    snprintf(location, sizeof(location), "Location: %s/r9-moved", hx_receiver_url(fx.r));
    hx_receiver_respond(fx.r, "/r9", 302, 1, location);
    struct e2e_consumer *lc = e2e_consumer_new(hx_brokers(fx.st), "hookline.webhooks");
    fx.p = de_producer_new(hx_brokers(fx.st));

    long long t = hx_now_ms();
    pid_t d1 = hx_dispatcher_start(fx.st, NULL);
    fx_event(&fx, "r1", fx.e1, &fx.body1);
    fx_event(&fx, "r2", fx.e2, NULL);
    fx_event(&fx, "r3", fx.e3, NULL);
    fx_event(&fx, "r4", fx.e4, NULL);
    fx_event(&fx, "r8", fx.e8, NULL);
    fx_event(&fx, "r9", fx.e9, NULL);
    for (int i = 0; i < 20; i++)
        fx_event(&fx, "r5", NULL, NULL);
    de_flush(fx.p);
    test_fail_twice(&fx);
    test_give_up(&fx);
    test_gone(&fx, lc);
    /* produced after test_gone counted its one webhook.disabled event */
    fx_event(&fx, "r10", fx.e10, NULL);
    de_flush(fx.p);
    test_retry_after(&fx);
    test_rate_limit(&fx);
    test_timeout(&fx, slow);
    test_redirect(&fx);
    test_log_routes(&fx);
    test_failing_too_long(&fx);
    test_kill(&fx, d1);
    test_private_target(&fx);
    fprintf(stderr, "retry tests: %lld ms\n", hx_now_ms() - t);

    e2e_consumer_free(lc);
    de_producer_free(fx.p);
    free(fx.body1);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    hx_receiver_stop(slow);
    return check_exit();
}
