/* test_api_recover.c: POST /v1/webhooks/:id/recover delivers again what
 * failed for good in a window.
 *
 * An endpoint answers 500 to 30 events of a webhook without retries; their
 * records are moved back over two UTC days (each into its day's partition,
 * each body into its day's). The secret is rotated and the receiver made
 * to succeed; a recover from the 16th record's time on (inclusive) brings
 * exactly the 15 later events again, once each (by webhook-id at the
 * receiver), signed with the new secret, each with a new attempt record
 * (attempt 2, succeeded) in the delivery log; the 15 earlier ones never
 * come. A second recover at once, and another after the deliveries, add 0.
 * A webhook with rate_limit 2 gets its recovered deliveries at most one a
 * second (half its limit, so live traffic has the rest), and live events
 * to a rate-limited endpoint go out between 300 recovered deliveries
 * rather than after them. Another tenant's
 * recover on the id is 404, a read-only key 403, a disabled webhook 409,
 * and every bad body a 400 naming its field.
 */
#include "dispatch_e2e.h"

#define RC_EVENTS 30
#define RC_FROM 15              /* the first event recovered */
#define RC_PACED 5
#define RC_WAIT_MS 60000

struct rc_fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    struct de_producer *p;
    PGconn *pg;
    char key[128], key_ro[128], key_other[128];
    struct de_webhook wh, paced;
    char ev[RC_EVENTS][64];
    char paced_ev[RC_PACED][64];
    char since[64];
};

static long rc_pg(struct rc_fx *fx, const char *sql, const char *p1, const char *p2)
{
    return de_pg_long(fx->pg, sql, p1, p2, NULL);
}

/* Wait until every delivery of 'wh' is recorded and none is pending. */
static bool rc_settled(struct rc_fx *fx, const char *wh, long attempts)
{
    return rc_pg(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1", wh, NULL) == attempts &&
           rc_pg(fx, "SELECT count(*) FROM retries WHERE webhook_id = $1", wh, NULL) == 0;
}

static void rc_exec(struct rc_fx *fx, const char *sql, const char *p1, const char *p2, const char *p3)
{
    const char *params[3] = { p1, p2, p3 };
    PGresult *res = PQexecParams(fx->pg, sql, p3 ? 3 : p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        hx_die("%s: %s", sql, PQerrorMessage(fx->pg));
    PQclear(res);
}

/* POST recover with 'body' as 'key'; the reply's "recovered" or -1. */
static long rc_recover(struct rc_fx *fx, const char *key, const char *wh, const char *body, struct hx_resp *resp)
{
    long status = hx_api(fx->st, "POST", key, body, resp, "/v1/webhooks/%s/recover", wh);
    if (status != 202) {
        fprintf(stderr, "recover %s: %ld %s\n", body, status, resp->body);
        return -1;
    }
    return (long)e2e_int(resp->json, "recovered");
}

/* 30 events fail for good, then their records move back over two days:
 * event i at 00:30 two days ago + 90 min * i (the last on yesterday at 20:00). */
static void rc_fail_and_backdate(struct rc_fx *fx)
{
    E2E_SECTION("30 deliveries fail for good (500, max_retries 0)");
    hx_receiver_respond(fx->r, "/rec", 500, RC_EVENTS, NULL);
    for (int i = 0; i < RC_EVENTS; i++) {
        char data[64];
        snprintf(data, sizeof(data), "{\"case\":\"rec\",\"n\":%d}", i);
        de_produce_event(fx->p, "acme", "booking.scheduled", data, fx->ev[i], NULL);
    }
    de_flush(fx->p);
    CHECK_FATAL(HX_WAIT(rc_settled(fx, fx->wh.id, RC_EVENTS), RC_WAIT_MS));
    CHECK_EQ_INT(rc_pg(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND NOT success AND "
                           "next_attempt_at IS NULL", fx->wh.id, NULL), RC_EVENTS);

    /* the first day, read once: the test may run over midnight */
    char day0[16];
    PGresult *res = PQexec(fx->pg, "SELECT hl_utc_day(now()) - 2");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    snprintf(day0, sizeof(day0), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    rc_exec(fx, "SELECT hl_partition_add(t, $1::date + d) FROM unnest(ARRAY['attempts', 'bodies']) t, "
                "generate_series(0, 1) d", day0, NULL, NULL);
    for (int i = 0; i < RC_EVENTS; i++) {
        char n[16];
        snprintf(n, sizeof(n), "%d", i);
#define RC_AT "($3::date::timestamp AT TIME ZONE 'UTC' + make_interval(mins => 30 + 90 * $2::int))"
        /* the body moves to the day of its record (sql/010_bodies_partitions.sql) */
        rc_exec(fx, "INSERT INTO bodies (tenant_id, event_id, day, body) SELECT tenant_id, event_id, "
                    "hl_utc_day(" RC_AT "), body FROM bodies WHERE event_id = $1 ON CONFLICT DO NOTHING", fx->ev[i], n,
                day0);
        rc_exec(fx, "DELETE FROM bodies WHERE event_id = $1 AND day <> hl_utc_day(" RC_AT ")", fx->ev[i], n, day0);
        rc_exec(fx, "UPDATE attempts SET sent_at = " RC_AT " WHERE event_id = $1", fx->ev[i], n, day0);
#undef RC_AT
    }
    CHECK_EQ_INT(rc_pg(fx, "SELECT count(DISTINCT hl_utc_day(sent_at)) FROM attempts WHERE webhook_id = $1",
                       fx->wh.id, NULL), 2);
    CHECK_EQ_INT(rc_pg(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND "
                           "sent_at < ($2::date + 2)::timestamp AT TIME ZONE 'UTC'",
                       fx->wh.id, day0), RC_EVENTS);
    res = PQexecParams(fx->pg, "SELECT hl_ts(sent_at) FROM attempts WHERE event_id = $1", 1, NULL,
                       (const char *const[]){ fx->ev[RC_FROM] }, NULL, NULL, 0);
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
    snprintf(fx->since, sizeof(fx->since), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
}

/* Rotate the secret; return once the dispatcher signs with the new one
 * (the rotation reaches it through hookline.webhooks): probe events until
 * one arrives signed by it. */
static void rc_rotate(struct rc_fx *fx, char *secret, size_t cap)
{
    E2E_SECTION("the secret is rotated and the receiver succeeds again");
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key, NULL, &resp, "/v1/webhooks/%s/rotate-secret", fx->wh.id), 200);
    snprintf(secret, cap, "%s", e2e_str(resp.json, "secret") ? e2e_str(resp.json, "secret") : "");
    hx_resp_free(&resp);
    CHECK_FATAL(strncmp(secret, "whsec_", 6) == 0 && strcmp(secret, fx->wh.secret) != 0);
    bool signed_new = false;
    long long deadline = hx_now_ms() + RC_WAIT_MS;
    while (!signed_new && hx_now_ms() < deadline) {
        char id[64];
        de_produce_event(fx->p, "acme", "booking.scheduled", "{\"case\":\"rec\",\"probe\":true}", id, NULL);
        de_flush(fx->p);
        if (!HX_WAIT(de_count(fx->r, "/rec", id) == 1, RC_WAIT_MS))
            break;
        struct hx_received *rec = de_find(fx->r, "/rec", id, 0);
        signed_new = rec != NULL && rec->status == 200 && de_signed_by(rec, secret);
        hx_received_free(rec);
    }
    CHECK_FATAL(signed_new);
    /* no probe is left in the slow lane (a pending or succeeded probe is no
     * failure anyway) */
    CHECK(HX_WAIT(rc_pg(fx, "SELECT count(*) FROM retries WHERE webhook_id = $1", fx->wh.id, NULL) == 0, RC_WAIT_MS));
    hx_receiver_clear(fx->r);
}

static void rc_recover_window(struct rc_fx *fx, const char *secret)
{
    char body[256];
    struct hx_resp resp;

    E2E_SECTION("recover from the 16th failure on (%s): 202, 15 recovered; at once again: 0", fx->since);
    snprintf(body, sizeof(body), "{\"since\":\"%s\"}", fx->since);
    CHECK_EQ_INT(rc_recover(fx, fx->key, fx->wh.id, body, &resp), RC_EVENTS - RC_FROM);
    CHECK(resp.json && json_is_false(json_object_get(resp.json, "more")) && e2e_str(resp.json, "until"));
    CHECK_EQ_STR(e2e_str(resp.json, "since"), fx->since);
    hx_resp_free(&resp);
    CHECK_EQ_INT(rc_recover(fx, fx->key, fx->wh.id, body, &resp), 0);
    hx_resp_free(&resp);

    E2E_SECTION("exactly the 15 later events arrive again, once each, signed with the current secret");
    for (int i = RC_FROM; i < RC_EVENTS; i++)
        CHECK(HX_WAIT(de_count(fx->r, "/rec", fx->ev[i]) >= 1, RC_WAIT_MS));
    /* the probes made first attempts only */
    CHECK(HX_WAIT(rc_pg(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND attempt = 2", fx->wh.id, NULL) ==
                      RC_EVENTS - RC_FROM &&
                  rc_pg(fx, "SELECT count(*) FROM retries WHERE webhook_id = $1", fx->wh.id, NULL) == 0, RC_WAIT_MS));
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/rec"), RC_EVENTS - RC_FROM);
    for (int i = 0; i < RC_EVENTS; i++) {
        size_t n = de_count(fx->r, "/rec", fx->ev[i]);
        if (n != (i < RC_FROM ? 0u : 1u))
            fprintf(stderr, "event %d (%s) arrived %zu times\n", i, fx->ev[i], n);
        CHECK_EQ_INT(n, i < RC_FROM ? 0 : 1);
        struct hx_received *rec = de_find(fx->r, "/rec", fx->ev[i], 0);
        if (rec == NULL)
            continue;
        CHECK(de_signed_by(rec, secret));
        CHECK(strstr(rec->body, fx->ev[i]) != NULL);
        hx_received_free(rec);
    }

    E2E_SECTION("each recovered event has a new attempt record in the delivery log (attempt 2, succeeded)");
    for (int i = 0; i < RC_EVENTS; i += 7) {
        json_t *log = de_attempts(fx->st, fx->key, fx->wh.id, fx->ev[i]);
        CHECK_EQ_INT(json_array_size(log), i < RC_FROM ? 1 : 2);
        json_t *last = json_array_get(log, json_array_size(log) - 1);
        CHECK_EQ_INT(e2e_int(last, "attempt"), i < RC_FROM ? 1 : 2);
        CHECK(json_is_true(json_object_get(last, "success")) == (i >= RC_FROM));
        json_decref(log);
    }

    E2E_SECTION("recovering the window again once delivered adds 0");
    CHECK_EQ_INT(rc_recover(fx, fx->key, fx->wh.id, body, &resp), 0);
    hx_resp_free(&resp);
}

/* Half the endpoint's rate_limit: with rate_limit 2, one a second. */
static void rc_paced(struct rc_fx *fx)
{
    E2E_SECTION("a webhook with rate_limit 2 gets its recovered deliveries one a second");
    hx_receiver_respond(fx->r, "/paced", 500, RC_PACED, NULL);
    for (int i = 0; i < RC_PACED; i++)
        de_produce_event(fx->p, "acme", "booking.scheduled", "{\"case\":\"paced\"}", fx->paced_ev[i], NULL);
    de_flush(fx->p);
    CHECK_FATAL(HX_WAIT(rc_settled(fx, fx->paced.id, RC_PACED), RC_WAIT_MS));
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/paced"), RC_PACED);
    hx_receiver_clear(fx->r);
    struct hx_resp resp;
    char body[128];
    long long t0 = hx_realtime_ms();
    PGresult *res = PQexec(fx->pg, "SELECT hl_ts(now() - interval '1 hour')");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    snprintf(body, sizeof(body), "{\"since\":\"%s\"}", PQgetvalue(res, 0, 0));
    PQclear(res);
    CHECK_EQ_INT(rc_recover(fx, fx->key, fx->paced.id, body, &resp), RC_PACED);
    hx_resp_free(&resp);
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/paced") == RC_PACED, RC_WAIT_MS));
    /* row i is due i seconds after the recover's transaction began, which
     * is after t0: none may come earlier (a first one taken late may make
     * the gap to the next shorter than a second) */
    for (size_t i = 0; i < RC_PACED; i++) {
        struct hx_received *rec = de_find(fx->r, "/paced", NULL, i);
        CHECK(rec != NULL);
        if (rec == NULL)
            continue;
        if (rec->at_ms < t0 + (long long)i * 1000)
            fprintf(stderr, "recovered delivery %zu came %lld ms after the recover\n", i, rec->at_ms - t0);
        CHECK(rec->at_ms >= t0 + (long long)i * 1000);
        hx_received_free(rec);
    }
}

/* 100,001 failed records (written in PostgreSQL: a volume no receiver
 * needs to see): one call recovers the oldest 100,000 and names the send
 * time of the first one left; a call from there recovers it. A record
 * whose body is no longer stored is not recovered. The webhook's
 * rate_limit 1 keeps its lane to one delivery every two seconds meanwhile;
 * deleting the webhook takes its rows. */
static void rc_bound(struct rc_fx *fx)
{
    E2E_SECTION("one call recovers at most 100,000 deliveries, the oldest first, and says where to go on");
    struct de_webhook bulk;
    de_webhook_new(fx->st, fx->key, &bulk,
                   "{\"name\":\"bulk\",\"url\":\"%s/bulk\",\"events\":\"booking\",\"filter\":{\"data.case\":"
                   "\"bulk\"},\"max_retries\":0,\"rate_limit\":1}", hx_receiver_url(fx->r));
    rc_exec(fx, "SELECT hl_partition_add('attempts', hl_utc_day(now() - interval '200 s')), "
                "hl_partition_add('attempts', hl_utc_day(now()))", NULL, NULL, NULL);
    rc_exec(fx, "INSERT INTO attempts (sent_at, attempt, duration_ms, success, id, tenant_id, webhook_id, endpoint_id, "
                "endpoint_url, event_id, event_type, status_code, error) "
                "SELECT now() - interval '150 s' + g * interval '1 ms', 1, 1, false, 'dlv_bulk' || g, 'acme', $1, $2, "
                "'https://127.0.0.1/bulk', 'evt_bulk' || g, 'booking.scheduled', 500, 'HTTP 500' "
                "FROM generate_series(1, 100001) g", bulk.id, bulk.ep[0], NULL);
    rc_exec(fx, "SELECT hl_partition_add('bodies', hl_utc_day(now() - interval '200 s')), "
                "hl_partition_add('bodies', hl_utc_day(now()))", NULL, NULL, NULL);
    rc_exec(fx, "INSERT INTO bodies (tenant_id, event_id, day, body) SELECT 'acme', event_id, hl_utc_day(sent_at), "
                "'{\"id\":\"' || event_id || '\"}' FROM attempts WHERE webhook_id = $1", bulk.id, NULL, NULL);
    /* and one more whose body is gone: never recovered (its row would park the lane) */
    rc_exec(fx, "INSERT INTO attempts (sent_at, attempt, duration_ms, success, id, tenant_id, webhook_id, endpoint_id, "
                "endpoint_url, event_id, event_type, status_code, error) "
                "VALUES (now() - interval '160 s', 1, 1, false, 'dlv_bulk0', 'acme', $1, $2, "
                "'https://127.0.0.1/bulk', 'evt_bulk0', 'booking.scheduled', 500, 'HTTP 500')", bulk.id, bulk.ep[0], NULL);
    char body[128], next[64] = "", last[64] = "";
    PGresult *res = PQexec(fx->pg, "SELECT hl_ts(now() - interval '1 hour'), "
                                   "(SELECT hl_ts(sent_at) FROM attempts WHERE event_id = 'evt_bulk100001')");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    snprintf(body, sizeof(body), "{\"since\":\"%s\"}", PQgetvalue(res, 0, 0));
    snprintf(last, sizeof(last), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    struct hx_resp resp;
    long long t0 = hx_now_ms();
    CHECK_EQ_INT(rc_recover(fx, fx->key, bulk.id, body, &resp), 100000);
    fprintf(stderr, "recover of 100,000 deliveries: %lld ms\n", hx_now_ms() - t0);
    CHECK(resp.json && json_is_true(json_object_get(resp.json, "more")));
    if (e2e_str(resp.json, "next_since"))
        snprintf(next, sizeof(next), "%s", e2e_str(resp.json, "next_since"));
    CHECK_EQ_STR(next, last);
    hx_resp_free(&resp);
    CHECK_EQ_INT(rc_pg(fx, "SELECT count(*) FROM retries WHERE webhook_id = $1 AND event_id NOT IN "
                           "('evt_bulk100001', 'evt_bulk0')", bulk.id, NULL), 100000);
    CHECK_EQ_INT(rc_pg(fx, "SELECT count(*) FROM retries WHERE event_id = 'evt_bulk0'", NULL, NULL), 0);
    snprintf(body, sizeof(body), "{\"since\":\"%s\"}", next);
    /* a recover may take longer than a request's 5 s: this one waits 7 s
     * for a lock on its webhook, held by another session, and then goes on */
    E2E_SECTION("a recover may run longer than other requests (30 s): it waits out a 7 s lock on its webhook");
    PGconn *locker = hx_pg_connect(fx->st);
    char lock_sql[256];
    snprintf(lock_sql, sizeof(lock_sql),
             "BEGIN; SELECT 1 FROM webhooks WHERE id = '%s' FOR UPDATE; SELECT pg_sleep(7); COMMIT", bulk.id);
    CHECK_FATAL(PQsendQuery(locker, lock_sql) == 1);
    CHECK_FATAL(HX_WAIT(rc_pg(fx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND "
                                  "query LIKE $1", "%pg_sleep(7)%", NULL) == 1, RC_WAIT_MS));
    long long t1 = hx_now_ms();
    CHECK_EQ_INT(rc_recover(fx, fx->key, bulk.id, body, &resp), 1);
    CHECK(hx_now_ms() - t1 >= 5500);
    for (PGresult *res_l; (res_l = PQgetResult(locker)) != NULL;)
        PQclear(res_l);
    PQfinish(locker);
    CHECK(resp.json && json_is_false(json_object_get(resp.json, "more")) && !json_object_get(resp.json, "next_since"));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key, NULL, &resp, "/v1/webhooks/%s", bulk.id), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(rc_pg(fx, "SELECT count(*) FROM retries WHERE webhook_id = $1", bulk.id, NULL), 0);
}

/* With rate_limit 10 every delivery to the endpoint goes through its slow
 * lane; 300 recovered ones are due 5 a second, so live events, due when
 * they come, go out between them within about a second, where 300 rows
 * due at once would hold them back 30 s. */
static void rc_live_between(struct rc_fx *fx)
{
    E2E_SECTION("live events go out between the deliveries of a large recover (rate_limit 10: 5 a second recovered)");
    struct de_webhook busy;
    de_webhook_new(fx->st, fx->key, &busy,
                   "{\"name\":\"busy\",\"url\":\"%s/busy\",\"events\":\"booking\",\"filter\":{\"data.case\":"
                   "\"busy\"},\"max_retries\":0,\"rate_limit\":10}", hx_receiver_url(fx->r));
    rc_exec(fx, "SELECT hl_partition_add(t, hl_utc_day(now() - interval '200 s')), hl_partition_add(t, hl_utc_day(now())) "
                "FROM unnest(ARRAY['attempts', 'bodies']) t", NULL, NULL, NULL);
    rc_exec(fx, "INSERT INTO attempts (sent_at, attempt, duration_ms, success, id, tenant_id, webhook_id, endpoint_id, "
                "endpoint_url, event_id, event_type, status_code, error) "
                "SELECT now() - interval '100 s' + g * interval '1 ms', 1, 1, false, 'dlv_busy' || g, 'acme', $1, $2, "
                "'https://127.0.0.1/busy', 'evt_busy' || g, 'booking.scheduled', 500, 'HTTP 500' "
                "FROM generate_series(1, 300) g", busy.id, busy.ep[0], NULL);
    rc_exec(fx, "INSERT INTO bodies (tenant_id, event_id, day, body) SELECT 'acme', event_id, hl_utc_day(sent_at), "
                "'{\"id\":\"' || event_id || '\"}' FROM attempts WHERE webhook_id = $1", busy.id, NULL, NULL);
    char body[128];
    PGresult *res = PQexec(fx->pg, "SELECT hl_ts(now() - interval '1 hour')");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    snprintf(body, sizeof(body), "{\"since\":\"%s\"}", PQgetvalue(res, 0, 0));
    PQclear(res);
    struct hx_resp resp;
    CHECK_EQ_INT(rc_recover(fx, fx->key, busy.id, body, &resp), 300);
    hx_resp_free(&resp);
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/busy") >= 5, RC_WAIT_MS));
    for (int i = 0; i < 3; i++) {
        char id[64];
        de_produce_event(fx->p, "acme", "booking.scheduled", "{\"case\":\"busy\"}", id, NULL);
        de_flush(fx->p);
        long long t = hx_now_ms();
        CHECK(HX_WAIT(de_count(fx->r, "/busy", id) == 1, RC_WAIT_MS));
        long long took = hx_now_ms() - t;
        fprintf(stderr, "live event %d beside the recover: %lld ms\n", i, took);
        CHECK(took < 8000);
    }
    /* the recover was still going: far from its 300 */
    CHECK(hx_receiver_count(fx->r, "/busy") < 200);
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key, NULL, &resp, "/v1/webhooks/%s", busy.id), 200);
    hx_resp_free(&resp);
}

static void rc_refusals(struct rc_fx *fx)
{
    char path[128], body[256];
    snprintf(path, sizeof(path), "/v1/webhooks/%s/recover", fx->wh.id);
    snprintf(body, sizeof(body), "{\"since\":\"%s\"}", fx->since);

    E2E_SECTION("another tenant's recover on the id: 404; a read-only key: 403");
    E2E_EXPECT(fx->st, "POST", fx->key_other, path, body, 404, "Webhook not found.");
    E2E_EXPECT(fx->st, "POST", fx->key_ro, path, body, 403, NULL);
    E2E_EXPECT(fx->st, "POST", fx->key, "/v1/webhooks/wh_nope/recover", body, 404, "Webhook not found.");

    E2E_SECTION("bad bodies: 400 naming the field");
    E2E_EXPECT(fx->st, "POST", fx->key, path, NULL, 400, NULL);
    E2E_EXPECT(fx->st, "POST", fx->key, path, "[1]", 400, NULL);
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{}", 400, "\"since\" must be specified");
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{\"since\":\"yesterday\"}", 400, "\"since\" must be an RFC 3339");
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{\"since\":1700000000}", 400, "\"since\" must be an RFC 3339");
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{\"since\":\"2026-02-30T00:00:00Z\"}", 400,
               "\"since\" must be an RFC 3339");
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{\"since\":\"2026-01-01T00:00:00Z\",\"until\":\"soon\"}", 400,
               "\"until\" must be an RFC 3339");
    E2E_EXPECT(fx->st, "POST", fx->key, path,
               "{\"since\":\"2026-01-02T00:00:00Z\",\"until\":\"2026-01-01T00:00:00Z\"}", 400,
               "\"since\" must be before \"until\"");
    E2E_EXPECT(fx->st, "POST", fx->key, path,
               "{\"since\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-01-01T00:00:00Z\"}", 400,
               "\"since\" must be before \"until\"");
    E2E_EXPECT(fx->st, "POST", fx->key, path,
               "{\"since\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-02-01T00:00:01Z\"}", 400,
               "\"since\" must be at most 31 days before \"until\"");
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{\"since\":\"2020-01-01T00:00:00Z\"}", 400,
               "\"since\" must be at most 31 days");
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{\"since\":\"2999-01-01T00:00:00Z\"}", 400,
               "\"since\" must be in the past");
    E2E_EXPECT(fx->st, "POST", fx->key, path, "{\"since\":\"2026-01-01T00:00:00Z\",\"from\":1}", 400,
               "Unknown field \"from\"");
    /* exactly 31 days is allowed */
    E2E_EXPECT(fx->st, "POST", fx->key, path,
               "{\"since\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-02-01T00:00:00+00:00\"}", 202, NULL);

    E2E_SECTION("a disabled webhook: 409");
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "PATCH", fx->key, "{\"is_active\":false}", &resp, "/v1/webhooks/%s", fx->paced.id),
                 200);
    hx_resp_free(&resp);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/recover", fx->paced.id);
    E2E_EXPECT(fx->st, "POST", fx->key, path, body, 409, "Webhook is disabled");
}

int main(void)
{
    struct rc_fx fx = { 0 };
    struct hx_stack_opts opts = {
        .dispatchers = 1,
        .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s", NULL },
    };
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.pg = hx_pg_connect(fx.st);
    de_tenant_new(fx.st, "acme", fx.key, sizeof(fx.key));
    de_tenant_new(fx.st, "globex", fx.key_other, sizeof(fx.key_other));
    struct hx_resp resp;
    if (hx_api(fx.st, "POST", hx_admin_key(fx.st), "{\"scopes\":[\"webhooks:read\"]}", &resp,
               "/v1/tenants/acme/keys") != 201 || !e2e_str(resp.json, "key"))
        hx_die("cannot create a read-only key: %s", resp.body);
    snprintf(fx.key_ro, sizeof(fx.key_ro), "%s", e2e_str(resp.json, "key"));
    hx_resp_free(&resp);
    de_webhook_new(fx.st, fx.key, &fx.wh,
                   "{\"name\":\"rec\",\"url\":\"%s/rec\",\"events\":\"booking\",\"filter\":{\"data.case\":\"rec\"},"
                   "\"max_retries\":0}", hx_receiver_url(fx.r));
    de_webhook_new(fx.st, fx.key, &fx.paced,
                   "{\"name\":\"paced\",\"url\":\"%s/paced\",\"events\":\"booking\",\"filter\":{\"data.case\":"
                   "\"paced\"},\"max_retries\":0,\"rate_limit\":2}", hx_receiver_url(fx.r));
    fx.p = de_producer_new(hx_brokers(fx.st));

    char secret[128];
    rc_fail_and_backdate(&fx);
    rc_rotate(&fx, secret, sizeof(secret));
    rc_recover_window(&fx, secret);
    rc_paced(&fx);
    rc_bound(&fx);
    rc_live_between(&fx);
    rc_refusals(&fx);

    de_producer_free(fx.p);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    return check_exit();
}
