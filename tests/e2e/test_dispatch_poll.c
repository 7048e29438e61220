/* test_dispatch_poll.c: poll endpoints ({"kind": "poll"}) and
 * GET /v1/webhooks/{id}/poll, against the real stack (api, a dispatcher,
 * the devbroker, PostgreSQL, an HTTPS receiver on the side):
 * - a poll endpoint has no url, no credentials, and is its webhook's only
 *   endpoint: 400 naming the field otherwise;
 * - 10,000 events are fetched in pages, in order, none missing and none
 *   repeated, with the api restarted between pages (each fetch continues
 *   from the last cursor); a fetch without a cursor starts at the
 *   acknowledged position; each event is the envelope produced; an older
 *   cursor re-reads them without moving the acknowledged position back;
 * - polled events are no attempts: the delivery log stays empty;
 * - two tenants never see each other's events: another tenant's webhook
 *   id answers 404, and each one's log holds its own events only;
 * - a bad limit or cursor answers 400 naming the parameter;
 * - after retention removed old events (aged in PostgreSQL, then the job
 *   runs), a stale cursor gets 410 with the oldest valid cursor, which
 *   then works;
 * - a webhook switched from push to poll gets no HTTP request any more
 *   (the receiver sees none of its later events), and switched back to
 *   push, its waiting events can still be fetched.
 */
#include "dispatch_e2e.h"

#define PL_EVENTS 10000
#define PL_PAGE 500
#define PL_OTHER 50
#define PL_AGED 3000
#define PL_AGED_TEXT "3000"
#define PL_WAIT_MS 120000

struct pl_fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    PGconn *pg;
    struct de_producer *prod;
    char key_a[128], key_g[128];
    struct de_webhook a, g, c;
};

/* GET the poll route; the reply (JSON) in *resp. */
static long pl_get(struct pl_fx *fx, const char *key, const char *id, const char *query, struct hx_resp *resp)
{
    return hx_api(fx->st, "GET", key, NULL, resp, "/v1/webhooks/%s/poll%s%s", id, query ? "?" : "", query ? query : "");
}

/* The value n of event data {"n": n} at data[i] of a poll reply; -1 if absent. */
static long pl_n(const json_t *page, size_t i)
{
    json_t *ev = json_array_get(json_object_get(page, "data"), i);
    json_t *n = json_object_get(json_object_get(ev, "data"), "n");
    return json_is_integer(n) ? (long)json_integer_value(n) : -1;
}

static void pl_produce(struct pl_fx *fx, const char *tenant, const char *type, const char *prefix, int from, int to)
{
    for (int i = from; i < to; i++) {
        char id[64], data[64];
        snprintf(id, sizeof(id), "evt_%s_%d", prefix, i);
        snprintf(data, sizeof(data), "{\"n\":%d}", i);
        char *env = de_envelope(id, type, tenant, data);
        de_produce_raw(fx->prod, tenant, env, strlen(env));
        free(env);
    }
    de_flush(fx->prod);
}

static void pl_refusals(struct pl_fx *fx)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"bad\",\"events\":[\"booking\"],\"endpoints\":[{\"kind\":\"poll\",\"url\":\"%s/x\"}]}",
             hx_receiver_url(fx->r));
    E2E_EXPECT(fx->st, "POST", fx->key_a, "/v1/webhooks", body, 400, "\"endpoints.url\"");
    snprintf(body, sizeof(body),
             "{\"name\":\"bad\",\"events\":[\"booking\"],\"endpoints\":[{\"kind\":\"poll\"},{\"url\":\"%s/x\"}]}",
             hx_receiver_url(fx->r));
    E2E_EXPECT(fx->st, "POST", fx->key_a, "/v1/webhooks", body, 400, "\"endpoints\"");
    E2E_EXPECT(fx->st, "POST", fx->key_a, "/v1/webhooks",
               "{\"name\":\"bad\",\"events\":[\"booking\"],\"endpoints\":[{\"kind\":\"pull\"}]}", 400,
               "\"endpoints.kind\"");
    E2E_EXPECT(fx->st, "POST", fx->key_a, "/v1/webhooks",
               "{\"name\":\"bad\",\"events\":[\"booking\"],\"endpoints\":[{\"kind\":\"poll\","
               "\"auth\":{\"type\":\"bearer\",\"token\":\"abcdefghijklmnop\"}}]}", 400, "\"endpoints.auth\"");
    E2E_EXPECT(fx->st, "POST", fx->key_a, "/v1/webhooks",
               "{\"name\":\"bad\",\"events\":[\"booking\"],\"endpoints\":[{\"kind\":\"poll\","
               "\"headers\":{\"X-A\":\"1\"}}]}", 400, "\"endpoints.headers\"");
}

/* Fetch every event of webhook A in pages of PL_PAGE, restarting the api
 * between some of them, until PL_EVENTS have come. */
static void pl_fetch_all(struct pl_fx *fx)
{
    static unsigned char seen[PL_EVENTS];
    char cursor[64] = "", query[128];
    long total = 0, dup = 0, foreign = 0, last_n = -1, disorder = 0;
    int pages = 0, restarts = 0;
    bool checked_resume = false;
    long long deadline = hx_now_ms() + PL_WAIT_MS;
    while (total < PL_EVENTS && hx_now_ms() < deadline) {
        struct hx_resp resp;
        snprintf(query, sizeof(query), "limit=%d%s%s", PL_PAGE, cursor[0] ? "&cursor=" : "", cursor);
        long status = pl_get(fx, fx->key_a, fx->a.id, query, &resp);
        CHECK_EQ_INT(status, 200);
        if (status != 200) {
            fprintf(stderr, "poll: %ld %.300s\n", status, resp.body);
            hx_resp_free(&resp);
            break;
        }
        json_t *data = json_object_get(resp.json, "data");
        const char *next = e2e_str(resp.json, "next_cursor");
        CHECK(next != NULL && json_is_boolean(json_object_get(resp.json, "done")));
        CHECK(json_array_size(data) <= PL_PAGE);
        if (cursor[0] && !checked_resume && json_array_size(data) > 0) {
            /* a fetch without a cursor starts where the last one acknowledged: this page again */
            struct hx_resp again;
            snprintf(query, sizeof(query), "limit=%d", PL_PAGE);
            CHECK_EQ_INT(pl_get(fx, fx->key_a, fx->a.id, query, &again), 200);
            CHECK_EQ_INT(pl_n(again.json, 0), pl_n(resp.json, 0));
            CHECK_EQ_STR(e2e_str(again.json, "acked_cursor"), cursor);
            hx_resp_free(&again);
            checked_resume = true;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(data, i, ev) {
            long n = pl_n(resp.json, i);
            if (strcmp(e2e_str(ev, "tenant") ? e2e_str(ev, "tenant") : "", "acme") != 0 || n < 0 || n >= PL_EVENTS) {
                foreign++;
                continue;
            }
            char want[64];
            snprintf(want, sizeof(want), "evt_pa_%ld", n);
            CHECK_EQ_STR(e2e_str(ev, "id"), want);
            if (seen[n]++)
                dup++;
            else
                total++;
            if (n <= last_n)
                disorder++;
            last_n = n;
        }
        bool done = json_is_true(json_object_get(resp.json, "done"));
        snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
        hx_resp_free(&resp);
        pages++;
        if (pages % 6 == 2 && restarts < 3) {
            /* the api goes away between pages; the next fetch continues with the last cursor */
            CHECK_EQ_INT(hx_api_restart(fx->st), 0);
            restarts++;
        }
        if (done && total < PL_EVENTS)
            hx_sleep_ms(200);       /* the dispatcher is still recording */
    }
    fprintf(stderr, "poll: %ld events in %d pages, %d api restarts, %ld repeated, %ld foreign, %ld out of order\n",
            total, pages, restarts, dup, foreign, disorder);
    CHECK_EQ_INT(total, PL_EVENTS);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(foreign, 0);
    CHECK_EQ_INT(disorder, 0);
    CHECK(restarts == 3);

    /* acknowledge the end; nothing is left, with or without the cursor */
    struct hx_resp resp;
    snprintf(query, sizeof(query), "cursor=%s", cursor);
    CHECK_EQ_INT(pl_get(fx, fx->key_a, fx->a.id, query, &resp), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "data")), 0);
    CHECK(json_is_true(json_object_get(resp.json, "done")));
    CHECK_EQ_STR(e2e_str(resp.json, "next_cursor"), cursor);
    CHECK_EQ_STR(e2e_str(resp.json, "acked_cursor"), cursor);
    CHECK(e2e_str(resp.json, "acked_at") != NULL);
    hx_resp_free(&resp);
    CHECK_EQ_INT(pl_get(fx, fx->key_a, fx->a.id, NULL, &resp), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "data")), 0);
    hx_resp_free(&resp);

    /* an older cursor re-reads what is kept, and moves the acknowledged position back not */
    long long t0 = hx_now_ms();
    long again = 0;
    char at[64] = "pc_0";
    for (int guard = 0; guard < 100; guard++) {
        snprintf(query, sizeof(query), "limit=1000&cursor=%s", at);
        CHECK_FATAL(pl_get(fx, fx->key_a, fx->a.id, query, &resp) == 200);
        again += (long)json_array_size(json_object_get(resp.json, "data"));
        bool done = json_is_true(json_object_get(resp.json, "done"));
        CHECK_EQ_STR(e2e_str(resp.json, "acked_cursor"), cursor);
        snprintf(at, sizeof(at), "%s", e2e_str(resp.json, "next_cursor"));
        hx_resp_free(&resp);
        if (done)
            break;
    }
    fprintf(stderr, "poll: re-read %ld events in pages of 1000 in %lld ms\n", again, hx_now_ms() - t0);
    CHECK_EQ_INT(again, PL_EVENTS);
}

static void pl_tenants(struct pl_fx *fx)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks/%s/poll", fx->a.id);
    E2E_EXPECT(fx->st, "GET", fx->key_g, path, NULL, 404, "Webhook not found.");
    snprintf(path, sizeof(path), "/v1/webhooks/%s/poll?cursor=pc_0", fx->g.id);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 404, "Webhook not found.");
    E2E_EXPECT(fx->st, "GET", fx->key_a, "/v1/webhooks/wh_nosuchwebhook/poll", NULL, 404, "Webhook not found.");
    /* globex's own: its PL_OTHER events and nothing of acme's */
    int got = 0, foreign = 0;
    long long deadline = hx_now_ms() + PL_WAIT_MS;
    char query[96] = "limit=1000";
    while (got < PL_OTHER && hx_now_ms() < deadline) {
        struct hx_resp resp;
        CHECK_FATAL(pl_get(fx, fx->key_g, fx->g.id, query, &resp) == 200);
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(resp.json, "data"), i, ev) {
            const char *t = e2e_str(ev, "tenant");
            if (t && strcmp(t, "globex") == 0 && e2e_starts_with(e2e_str(ev, "id"), "evt_pg_"))
                got++;
            else
                foreign++;
        }
        snprintf(query, sizeof(query), "limit=1000&cursor=%s", e2e_str(resp.json, "next_cursor"));
        hx_resp_free(&resp);
        if (got < PL_OTHER)
            hx_sleep_ms(100);
    }
    CHECK_EQ_INT(got, PL_OTHER);
    CHECK_EQ_INT(foreign, 0);
}

static void pl_bad_params(struct pl_fx *fx)
{
    const char *limits[] = { "limit=0", "limit=1001", "limit=abc", "limit=-5" };
    const char *cursors[] = { "cursor=xyz", "cursor=pc_", "cursor=pc_12a", "cursor=pc_999999999",
                              "cursor=pc_1234567890123456789" };
    char path[160];
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        snprintf(path, sizeof(path), "/v1/webhooks/%s/poll?%s", fx->a.id, limits[i]);
        E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 400, "\"limit\"");
    }
    for (size_t i = 0; i < sizeof(cursors) / sizeof(cursors[0]); i++) {
        snprintf(path, sizeof(path), "/v1/webhooks/%s/poll?%s", fx->a.id, cursors[i]);
        E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 400, "\"cursor\"");
    }
    /* a push webhook has nothing to fetch */
    snprintf(path, sizeof(path), "/v1/webhooks/%s/poll", fx->c.id);
    E2E_EXPECT(fx->st, "GET", fx->key_a, path, NULL, 409, NULL);
}

static long pl_purged(struct pl_fx *fx, const char *id)
{
    return de_pg_long(fx->pg, "SELECT purged FROM poll_state WHERE webhook_id = $1", id, NULL, NULL);
}

/* Does the api's /metrics hold the line 'line'? */
static bool pl_metric_has(struct pl_fx *fx, const char *line)
{
    struct hx_resp m;
    bool found = hx_api(fx->st, "GET", NULL, NULL, &m, "/metrics") == 200 && m.body && strstr(m.body, line) != NULL;
    hx_resp_free(&m);
    return found;
}

static void pl_retention(struct pl_fx *fx)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE poll_events SET created_at = now() - interval '2 hours' WHERE webhook_id = $1 AND seq <= %d",
             PL_AGED);
    const char *params[1] = { fx->a.id };
    PGresult *res = PQexecParams(fx->pg, sql, 1, NULL, params, NULL, NULL, 0);
    CHECK_FATAL(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    CHECK(HX_WAIT(pl_purged(fx, fx->a.id) == PL_AGED, 60000));
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM poll_events WHERE webhook_id = $1", fx->a.id, NULL, NULL),
                 PL_EVENTS - PL_AGED);
    /* counted once the job's pass is over */
    CHECK(HX_WAIT(pl_metric_has(fx, "hookline_retention_deleted_total{table=\"poll_events\"} " PL_AGED_TEXT "\n"), 30000));
    struct hx_resp resp;
    char want[32], query[96];
    snprintf(want, sizeof(want), "pc_%d", PL_AGED);
    CHECK_EQ_INT(pl_get(fx, fx->key_a, fx->a.id, "cursor=pc_100", &resp), 410);
    CHECK_EQ_STR(e2e_str(resp.json, "oldest_cursor"), want);
    CHECK(e2e_str(resp.json, "error") != NULL);
    hx_resp_free(&resp);
    /* the oldest valid cursor: the first event still kept comes next */
    snprintf(query, sizeof(query), "limit=5&cursor=%s", want);
    CHECK_EQ_INT(pl_get(fx, fx->key_a, fx->a.id, query, &resp), 200);
    CHECK_EQ_INT(pl_n(resp.json, 0), PL_AGED);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "data")), 5);
    hx_resp_free(&resp);
}

/* Webhook C: push to the receiver, then switched to poll, then back. */
static void pl_switch(struct pl_fx *fx)
{
    char path[128], body[256];
    snprintf(path, sizeof(path), "/c");
    CHECK(HX_WAIT(hx_receiver_count(fx->r, "/c") >= 1, 30000));    /* pushed while push */
    snprintf(body, sizeof(body), "{\"endpoints\":[{\"kind\":\"poll\"}]}");
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->c.id);
    E2E_EXPECT(fx->st, "PATCH", fx->key_a, path, body, 200, NULL);
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s", fx->c.id), 200);
    json_t *ep = json_array_get(json_object_get(resp.json, "endpoints"), 0);
    CHECK_EQ_STR(e2e_str(ep, "kind"), "poll");
    CHECK(json_is_null(json_object_get(ep, "url")) && json_is_null(json_object_get(resp.json, "url")));
    /* the GET representation sent back with PUT keeps it a poll webhook */
    json_t *doc = json_incref(resp.json);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send_json(fx->st, "PUT", fx->key_a, &resp, path, doc), 200);
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "kind"), "poll");
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "id"),
                 e2e_str(json_array_get(json_object_get(doc, "endpoints"), 0), "id"));
    json_decref(doc);
    hx_resp_free(&resp);
    /* once an event reaches C's log, the dispatcher knows the switch; what follows must not be pushed */
    int marker = 0;
    long long deadline = hx_now_ms() + 60000;
    bool switched = false;
    while (!switched && hx_now_ms() < deadline) {
        pl_produce(fx, "acme", "booking.rescheduled", "pcm", marker, marker + 1);
        marker++;
        switched = HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM poll_events WHERE webhook_id = $1", fx->c.id, NULL,
                                      NULL) > 0, 1000);
    }
    CHECK(switched);
    size_t before = hx_receiver_count(fx->r, "/c");
    pl_produce(fx, "acme", "booking.rescheduled", "pcx", 0, 20);
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM poll_events WHERE webhook_id = $1 AND event_id LIKE "
                                     "'evt_pcx_%'", fx->c.id, NULL, NULL) == 20, 30000));
    hx_sleep_ms(500);
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/c"), before);
    /* nothing of the poll webhooks ever reached the receiver at any path */
    CHECK_EQ_INT(hx_receiver_count(fx->r, NULL), before);
    /* the delivery log has no records of polled events */
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1", fx->a.id, NULL, NULL), 0);

    /* back to push: the waiting events can still be fetched */
    snprintf(body, sizeof(body), "{\"url\":\"%s/c\"}", hx_receiver_url(fx->r));
    E2E_EXPECT(fx->st, "PATCH", fx->key_a, path, body, 200, NULL);
    CHECK_EQ_INT(pl_get(fx, fx->key_a, fx->c.id, "limit=1000", &resp), 200);
    CHECK(json_array_size(json_object_get(resp.json, "data")) >= 20);
    hx_resp_free(&resp);
}

int main(void)
{
    struct pl_fx fx = { 0 };
    struct hx_stack_opts opts = { .dispatchers = 1,
                                  .env = { "HOOKLINE_RETENTION=1h", "HOOKLINE_RETENTION_INTERVAL=1s", NULL } };
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.pg = hx_pg_connect(fx.st);
    fx.prod = de_producer_new(hx_brokers(fx.st));
    de_tenant_new(fx.st, "acme", fx.key_a, sizeof(fx.key_a));
    de_tenant_new(fx.st, "globex", fx.key_g, sizeof(fx.key_g));

    E2E_SECTION("a poll endpoint has no url, credentials or headers, and is alone: 400 naming the field");
    pl_refusals(&fx);

    E2E_SECTION("poll webhooks for both tenants, a push one for acme; events produced");
    de_webhook_new(fx.st, fx.key_a, &fx.a,
                   "{\"name\":\"poll-a\",\"events\":[\"booking.scheduled\"],\"endpoints\":[{\"kind\":\"poll\"}]}");
    de_webhook_new(fx.st, fx.key_g, &fx.g, "{\"name\":\"poll-g\",\"events\":\"booking\",\"endpoints\":[{\"kind\":\"poll\"}]}");
    de_webhook_new(fx.st, fx.key_a, &fx.c, "{\"name\":\"push-c\",\"events\":[\"booking.rescheduled\"],\"url\":\"%s/c\"}",
                   hx_receiver_url(fx.r));
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx.st, "GET", fx.key_a, NULL, &resp, "/v1/webhooks/%s", fx.a.id), 200);
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "kind"), "poll");
    hx_resp_free(&resp);
    pl_produce(&fx, "globex", "booking.scheduled", "pg", 0, PL_OTHER);
    pl_produce(&fx, "acme", "booking.scheduled", "pa", 0, PL_EVENTS);

    E2E_SECTION("10,000 events in pages of 500, in order, none missing or repeated, across api restarts");
    pl_fetch_all(&fx);

    E2E_SECTION("tenants: another's webhook id is 404; each log holds its own events only");
    pl_tenants(&fx);

    E2E_SECTION("a bad limit or cursor: 400 naming it; a push webhook: 409");
    pl_bad_params(&fx);

    E2E_SECTION("retention removed old events: a stale cursor gets 410 with the oldest valid one");
    pl_retention(&fx);

    E2E_SECTION("push switched to poll: the receiver gets nothing more; back to push, the log stays readable");
    {
        /* C takes booking.rescheduled: one pushed while it is a push webhook */
        char *env = de_envelope("evt_pc_push", "booking.rescheduled", "acme", "{}");
        de_produce_raw(fx.prod, "acme", env, strlen(env));
        free(env);
        de_flush(fx.prod);
    }
    pl_switch(&fx);

    de_producer_free(fx.prod);
    PQfinish(fx.pg);
    hx_receiver_stop(fx.r);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    return check_exit();
}
