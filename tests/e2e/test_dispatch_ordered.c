/* test_dispatch_ordered.c: ordered webhooks ("ordered": true) deliver each
 * endpoint's events one at a time, in order, across failures, deaths and
 * restarts, and cost other webhooks nothing.
 *
 * Every receiver checks a per-tenant sequence number carried in the event
 * data ("seq": 1, 2, ...): in arrival order each request carries the
 * previous one's number again (a retry, or an exact repeat after a crash)
 * or the next one, and moves to the next only after a 2xx (unless the
 * previous was skipped or exhausted).
 *
 * Under faults: 5,000 events, two dispatchers, one SIGKILLed every 2 s
 * (and a new one started), PostgreSQL restarted once: every number
 * arrives, in order. With one dispatcher: a 500 x3 on the 100th holds the
 * 101st back until it succeeds; a head whose retries are exhausted raises
 * delivery.exhausted and the next one goes; a held head skipped (POST
 * .../deliveries/{did}/skip) lets the next go at once, and GET .../waiting
 * shows the head and what waits; another tenant's skip is 404, a skip of
 * what is not a held head 409; another webhook of the same tenant is not
 * delayed by a stuck ordered one; PATCH "ordered" on a live webhook turns
 * the order on, and off (the waiting deliveries then go without waiting
 * for the held one); "ordered" is validated; events read again (as a
 * successor reads what a dead dispatcher appended and did not commit) at
 * or below the endpoint's high-water offset are not appended again.
 */
#include <signal.h>

#include "dispatch_e2e.h"

#define WAIT_MS 30000

/* What a receiver saw of one tenant's sequence, read incrementally. */
struct seq {
    struct hx_receiver *r;
    size_t next;            /* requests read */
    int prev, prev_status;  /* the last request's number and answer */
    int max;
    int bad;                /* neither the previous number again nor the next */
    int past_failure;       /* the next number after a failed answer (not skipped) */
    int repeats;            /* a successful number received again */
    int skipped;            /* the number skipped by the test: passing it after a failure is allowed */
    long long first_ms[8];  /* receipt time of the first request of numbers watched[] */
    int watched[8];
};

static int seq_of(const struct hx_received *rec)
{
    json_t *body = json_loadb(rec->body, rec->len, 0, NULL);
    int n = (int)json_integer_value(json_object_get(json_object_get(body, "data"), "seq"));
    json_decref(body);
    return n;
}

static void seq_update(struct seq *s)
{
    size_t n = hx_receiver_count(s->r, NULL);
    for (; s->next < n; s->next++) {
        struct hx_received *rec = hx_receiver_get(s->r, s->next);
        if (rec == NULL)
            break;
        int v = seq_of(rec);
        bool ok = rec->status >= 200 && rec->status <= 299;
        if (v == s->prev) {
            if (s->prev_status >= 200 && s->prev_status <= 299)
                s->repeats++;
        } else if (v == s->prev + 1) {
            if (s->prev > 0 && !(s->prev_status >= 200 && s->prev_status <= 299) && s->prev != s->skipped)
                s->past_failure++;
        } else {
            if (s->bad++ < 5)
                fprintf(stderr, "order broken: %d after %d\n", v, s->prev);
        }
        for (int i = 0; i < 8; i++)
            if (s->watched[i] == v && s->first_ms[i] == 0)
                s->first_ms[i] = rec->at_ms;
        s->prev = v;
        s->prev_status = rec->status;
        if (v > s->max)
            s->max = v;
        (void)ok;
        hx_received_free(rec);
    }
}

static bool seq_reached(struct seq *s, int n)
{
    seq_update(s);
    return s->max >= n && s->prev_status >= 200 && s->prev_status <= 299;
}

/* Produce events seq from..to of 'tenant' (waits for the broker's acks). */
static void produce_seq(struct de_producer *p, const char *tenant, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char data[64];
        snprintf(data, sizeof(data), "{\"seq\":%d}", i);
        de_produce_event(p, tenant, "booking.scheduled", data, NULL, NULL);
    }
    de_flush(p);
}

static void ordered_webhook(struct hx_stack *st, const char *key, struct de_webhook *wh, struct hx_receiver *r,
                            const char *name, bool ordered)
{
    de_webhook_new(st, key, wh, "{\"name\":\"%s\",\"url\":\"%s/%s\",\"events\":[\"booking\"],\"ordered\":%s}", name,
                   hx_receiver_url(r), name, ordered ? "true" : "false");
}

/* ---- under faults ---- */

/* Restart the PostgreSQL server of 'st' (pg_ctl restart -m fast on its
 * data directory, as its owner when we are root). */
static void restart_postgres(struct hx_stack *st)
{
    PGconn *pg = hx_pg_connect(st);
    PGresult *res = PQexec(pg, "SELECT current_setting('data_directory'), "
                               "current_setting('server_version_num')::int / 10000");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof(cmd), "%s/usr/lib/postgresql/%s/bin/pg_ctl -D '%s' restart -m fast -w -t 120 >/dev/null 2>&1",
             geteuid() == 0 ? "runuser -u postgres -- " : "", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(pg);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "%s: exit status %d\n", cmd, rc);
    CHECK_EQ_INT(rc, 0);
}

static void test_faults(void)
{
    enum { N = 5000 };
    struct hx_stack_opts opts = {
        .dispatchers = 2,
        /* a dispatcher started while the machine is busy must not give up on PostgreSQL */
        .env = { "HOOKLINE_LANE_LEASE=4s", "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s,1s,1s,1s,1s,1s", "PGCONNECT_TIMEOUT=30",
                 NULL },
    };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *r = hx_receiver_start(NULL);
    struct de_producer *p = de_producer_new(hx_brokers(st));
    char key[128];
    de_tenant_new(st, "ordf", key, sizeof(key));
    struct de_webhook wh;
    ordered_webhook(st, key, &wh, r, "f", true);
    struct seq s = { .r = r };

    E2E_SECTION("5,000 ordered events, 2 dispatchers, one SIGKILLed every 2 s, PostgreSQL restarted once: "
                "all, in order");
    /* half at once (the line is served while its holders die), then the
     * rest in 20 parts, one before each kill: dispatchers die while reading
     * and appending too, and their successors read again what was appended
     * and not yet committed. (While a member is killed every 2 s the group
     * hardly ever completes a rebalance, each taking up to the 10 s session
     * timeout: most parts are read once the kills stop.) */
    long long t0 = hx_now_ms();
    int kills = 0;
    bool restarted = false;
    produce_seq(p, "ordf", 1, N / 2);
    for (int part = 0; part < 20; part++) {
        produce_seq(p, "ordf", N / 2 + part * (N / 40) + 1, N / 2 + (part + 1) * (N / 40));
        hx_sleep_ms(2000);  /* the pace of the kills, not a wait for a result */
        pid_t pids[8];
        size_t n = hx_dispatcher_pids(st, pids, 8);
        if (n > 0) {
            CHECK_EQ_INT(hx_proc_kill(st, pids[kills % n], SIGKILL), 0);
            kills++;
            hx_dispatcher_start(st, NULL);
        }
        if (kills == 5 && !restarted) {
            restart_postgres(st);
            restarted = true;
        }
        seq_update(&s);
        printf("kill %d after %lld ms: %d/%d arrived%s\n", kills, hx_now_ms() - t0, s.max, N,
               kills == 5 ? "; PostgreSQL restarted" : "");
    }
    CHECK(HX_WAIT(seq_reached(&s, N), 240000));
    printf("faults: %d/%d in %lld ms, %d kills, %zu requests, %d exact repeats, %d out of order\n", s.max, N,
           hx_now_ms() - t0, kills, s.next, s.repeats, s.bad);
    CHECK(restarted);
    CHECK_EQ_INT(kills, 20);
    CHECK_EQ_INT(s.max, N);
    CHECK_EQ_INT(s.bad, 0);
    CHECK_EQ_INT(s.past_failure, 0);

    de_producer_free(p);
    hx_receiver_stop(r);
    (void)hx_stack_stop(st);    /* killed dispatchers count as unclean */
}

/* ---- one dispatcher ---- */

struct fx {
    struct hx_stack *st;
    struct de_producer *p;
    PGconn *pg;
    char key[128], other_key[128];
    /* the last fx_waiting's "next": whether an array, and its event ids joined by commas */
    bool next_ok;
    char next_ids[1024];
};

/* GET .../waiting: the first endpoint's head ("event_id" etc.; new reference) and waiting count. */
static json_t *fx_waiting(struct fx *fx, const char *wh, long *waiting)
{
    struct hx_resp resp;
    long status = hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s/waiting", wh);
    CHECK_EQ_INT(status, 200);
    json_t *ep = json_array_get(json_object_get(resp.json, "endpoints"), 0);
    json_t *head = json_incref(json_object_get(ep, "head"));
    *waiting = (long)e2e_int(ep, "waiting");
    json_t *next = json_object_get(ep, "next");
    fx->next_ok = json_is_array(next);
    fx->next_ids[0] = '\0';
    size_t i;
    json_t *el;
    json_array_foreach(next, i, el) {
        size_t len = strlen(fx->next_ids);
        snprintf(fx->next_ids + len, sizeof(fx->next_ids) - len, "%s%s", len ? "," : "", e2e_str(el, "event_id"));
    }
    hx_resp_free(&resp);
    return head;
}

static void test_hold(struct fx *fx)
{
    E2E_SECTION("500 x3 on the 100th: the 101st and after arrive only once the 100th has succeeded");
    struct hx_receiver *r = hx_receiver_start(NULL);
    struct de_webhook wh;
    char key[128];
    de_tenant_new(fx->st, "ordh", key, sizeof(key));
    ordered_webhook(fx->st, key, &wh, r, "h", true);
    struct seq s = { .r = r, .watched = { 100, 101 } };
    produce_seq(fx->p, "ordh", 1, 99);
    CHECK(HX_WAIT(seq_reached(&s, 99), WAIT_MS));
    hx_receiver_respond(r, "/h", 500, 3, NULL);
    produce_seq(fx->p, "ordh", 100, 200);
    CHECK(HX_WAIT(seq_reached(&s, 200), WAIT_MS));
    CHECK_EQ_INT(s.bad, 0);
    CHECK_EQ_INT(s.past_failure, 0);
    /* 1..99, 100 four times (500, 500, 500, 200), 101..200 */
    CHECK_EQ_INT((int)s.next, 203);
    printf("the 100th: first at %lld, the 101st %lld ms later\n", s.first_ms[0], s.first_ms[1] - s.first_ms[0]);
    CHECK(s.first_ms[1] - s.first_ms[0] >= 2000);   /* three retries, 1 s apart at least (-20 %) */
    hx_receiver_stop(r);
}

static void test_exhausted(struct fx *fx)
{
    E2E_SECTION("retries exhausted on the 5th (max_retries 1, 500 twice): delivery.exhausted, then the 6th goes");
    struct hx_receiver *r = hx_receiver_start(NULL);
    struct de_webhook wh;
    char key[128];
    de_tenant_new(fx->st, "orde", key, sizeof(key));
    de_webhook_new(fx->st, key, &wh, "{\"name\":\"e\",\"url\":\"%s/e\",\"events\":[\"booking\"],\"ordered\":true,"
                   "\"max_retries\":1}", hx_receiver_url(r));
    struct seq s = { .r = r, .skipped = 5 };
    produce_seq(fx->p, "orde", 1, 4);
    CHECK(HX_WAIT(seq_reached(&s, 4), WAIT_MS));
    hx_receiver_respond(r, "/e", 500, 2, NULL);
    produce_seq(fx->p, "orde", 5, 10);
    CHECK(HX_WAIT(seq_reached(&s, 10), WAIT_MS));
    CHECK_EQ_INT(s.bad, 0);
    CHECK_EQ_INT(s.past_failure, 0);
    CHECK_EQ_INT((int)s.next, 11);      /* 1..4, 5 twice (500, 500), 6..10 */
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM outbox WHERE kind = 'event' AND payload->>'type' = "
                                     "'delivery.exhausted' AND payload->'data'->>'endpoint_id' = $1", wh.ep[0], NULL,
                             NULL) == 1, WAIT_MS));
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE endpoint_id = $1", wh.ep[0], NULL, NULL), 0);
    hx_receiver_stop(r);
}

static void test_skip(struct fx *fx)
{
    E2E_SECTION("skip: the held head is given up and the next goes at once; GET .../waiting shows it");
    struct hx_receiver *r = hx_receiver_start(NULL);
    struct de_webhook wh;
    char key[128];
    de_tenant_new(fx->st, "ords", key, sizeof(key));
    snprintf(fx->key, sizeof(fx->key), "%s", key);
    ordered_webhook(fx->st, key, &wh, r, "s", true);
    struct seq s = { .r = r, .skipped = 10, .watched = { 11 } };
    produce_seq(fx->p, "ords", 1, 9);
    CHECK(HX_WAIT(seq_reached(&s, 9), WAIT_MS));
    hx_receiver_respond(r, "/s", 500, 1000, NULL);
    produce_seq(fx->p, "ords", 10, 30);
    /* five failed attempts (1 s apart), then the schedule's 60 s */
    CHECK(HX_WAIT((seq_update(&s), s.next >= 9 + 5), WAIT_MS));
    long waiting = 0;
    json_t *head = NULL;
    CHECK(HX_WAIT((json_decref(head), head = fx_waiting(fx, wh.id, &waiting),
                   e2e_str(head, "state") && strcmp(e2e_str(head, "state"), "held") == 0 && waiting == 20), WAIT_MS));
    char *shown = head ? json_dumps(head, JSON_COMPACT) : NULL;
    printf("head: %s\n", shown ? shown : "null");
    free(shown);
    CHECK_EQ_INT(waiting, 20);
    CHECK_EQ_INT((int)e2e_int(head, "attempt"), 6);
    /* the first 10 waiting behind it, in the order they will go */
    char want[sizeof(fx->next_ids)] = "";
    PGresult *res0 = PQexecParams(fx->pg, "SELECT string_agg(event_id, ',' ORDER BY pos) FROM (SELECT event_id, pos FROM retries "
                                "WHERE endpoint_id = $1 ORDER BY pos OFFSET 1 LIMIT 10) n", 1, NULL,
                        (const char *const[]){ wh.ep[0] }, NULL, NULL, 0);
    if (PQresultStatus(res0) == PGRES_TUPLES_OK && PQntuples(res0) == 1)
        snprintf(want, sizeof(want), "%s", PQgetvalue(res0, 0, 0));
    PQclear(res0);
    CHECK(fx->next_ok);
    CHECK(strchr(want, ',') != NULL);
    CHECK_EQ_STR(fx->next_ids, want);
    const char *did = e2e_str(head, "delivery_id");
    CHECK(did != NULL);
    char dlv[64] = "", done_dlv[64] = "";
    snprintf(dlv, sizeof(dlv), "%s", did ? did : "");
    json_decref(head);
    /* an attempt record of a delivered event (the 9th) */
    PGresult *res = PQexecParams(fx->pg,
        "SELECT a.id FROM attempts a WHERE a.webhook_id = $1 AND a.success ORDER BY a.sent_at DESC LIMIT 1", 1, NULL,
        (const char *const[]){ wh.id }, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(done_dlv, sizeof(done_dlv), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    CHECK(done_dlv[0] != '\0');

    E2E_SECTION("skip: another tenant's key is 404, a delivered one 409, an unknown id 404");
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->other_key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s/skip", wh.id, dlv),
                 404);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s/skip", wh.id, done_dlv), 409);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", key, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_nope/skip", wh.id), 404);
    hx_resp_free(&resp);
    seq_update(&s);
    CHECK_EQ_INT((int)s.max, 10);   /* none of those moved the line */

    E2E_SECTION("skip the head: the 11th arrives within 5 s (its retry was 60 s away), then the rest in order");
    hx_receiver_forget(r, "/s");
    long long t = hx_now_ms();
    CHECK_EQ_INT(hx_api(fx->st, "POST", key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s/skip", wh.id, dlv), 200);
    CHECK(json_is_true(json_object_get(resp.json, "skipped")));
    hx_resp_free(&resp);
    CHECK(HX_WAIT(seq_reached(&s, 11), 5000));
    printf("after the skip: the 11th arrived in %lld ms\n", hx_now_ms() - t);
    CHECK(HX_WAIT(seq_reached(&s, 30), WAIT_MS));
    CHECK_EQ_INT(s.bad, 0);
    CHECK_EQ_INT(s.past_failure, 0);
    /* skipping it again: no longer a head */
    CHECK_EQ_INT(hx_api(fx->st, "POST", key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s/skip", wh.id, dlv), 409);
    hx_resp_free(&resp);
    head = fx_waiting(fx, wh.id, &waiting);
    CHECK(json_is_null(head));
    CHECK_EQ_INT(waiting, 0);
    json_decref(head);
    hx_receiver_stop(r);
}

static void test_isolation(struct fx *fx)
{
    E2E_SECTION("isolation: an ordered webhook stuck on a failing event does not delay another of the same tenant");
    struct hx_receiver *stuck = hx_receiver_start(NULL), *other = hx_receiver_start(NULL);
    struct de_webhook a, b;
    char key[128];
    de_tenant_new(fx->st, "ordi", key, sizeof(key));
    ordered_webhook(fx->st, key, &a, stuck, "a", true);
    ordered_webhook(fx->st, key, &b, other, "b", false);
    hx_receiver_respond(stuck, "/a", 500, 100000, NULL);
    struct seq sb = { .r = other };
    produce_seq(fx->p, "ordi", 1, 1);
    CHECK(HX_WAIT(seq_reached(&sb, 1), WAIT_MS));
    CHECK(HX_WAIT(hx_receiver_count(stuck, NULL) >= 2, WAIT_MS));      /* the first is held, failing */
    long long worst = 0;
    for (int i = 2; i <= 21; i++) {
        long long t = hx_now_ms();
        produce_seq(fx->p, "ordi", i, i);
        CHECK(HX_WAIT((seq_update(&sb), sb.max >= i), 5000));
        if (hx_now_ms() - t > worst)
            worst = hx_now_ms() - t;
    }
    printf("the other webhook's slowest of 20 events while the ordered one is held: %lld ms\n", worst);
    CHECK(worst < 2000);
    /* the held webhook still has only its first event */
    size_t n = hx_receiver_count(stuck, NULL);
    for (size_t i = 0; i < n; i++) {
        struct hx_received *rec = hx_receiver_get(stuck, i);
        CHECK(rec != NULL && seq_of(rec) == 1);
        hx_received_free(rec);
    }
    /* retry its head now (the log's retry): it catches up, in order */
    struct seq sa = { .r = stuck };
    hx_receiver_forget(stuck, "/a");
    long waiting = 0;
    snprintf(fx->key, sizeof(fx->key), "%s", key);
    json_t *head = NULL;
    /* the 21st reached the other webhook: it may still be on its way to this one's line */
    CHECK(HX_WAIT((json_decref(head), head = fx_waiting(fx, a.id, &waiting), waiting == 20), WAIT_MS));
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "POST", key, NULL, &resp, "/v1/webhooks/%s/deliveries/%s/retry", a.id,
                        e2e_str(head, "delivery_id") ? e2e_str(head, "delivery_id") : "none"), 202);
    hx_resp_free(&resp);
    json_decref(head);
    CHECK(HX_WAIT(seq_reached(&sa, 21), WAIT_MS));
    CHECK_EQ_INT(sa.bad, 0);
    CHECK_EQ_INT(sa.past_failure, 0);
    hx_receiver_stop(stuck);
    hx_receiver_stop(other);
}

static void test_patch(struct fx *fx)
{
    E2E_SECTION("PATCH ordered on a live webhook: on, then the order holds; off, the waiting ones stop waiting");
    struct hx_receiver *r = hx_receiver_start(NULL);
    struct de_webhook wh;
    char key[128];
    de_tenant_new(fx->st, "ordp", key, sizeof(key));
    ordered_webhook(fx->st, key, &wh, r, "p", false);
    struct seq s = { .r = r };
    produce_seq(fx->p, "ordp", 1, 10);
    CHECK(HX_WAIT((seq_update(&s), hx_receiver_count(r, NULL) >= 10), WAIT_MS));
    struct hx_resp resp;
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", wh.id);
    CHECK_EQ_INT(e2e_send(fx->st, "PATCH", key, &resp, path, "{\"ordered\":\"yes\"}"), 400);
    CHECK(strstr(e2e_error(&resp), "\"ordered\"") != NULL);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(fx->st, "PATCH", key, &resp, path, "{\"ordered\":true}"), 200);
    CHECK(json_is_true(json_object_get(resp.json, "ordered")));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", key, NULL, &resp, "%s", path), 200);
    CHECK(json_is_true(json_object_get(resp.json, "ordered")));
    hx_resp_free(&resp);
    /* the dispatcher has the change once an event was appended in order */
    int next = 11;
    CHECK(HX_WAIT((produce_seq(fx->p, "ordp", next, next), next++,
                   de_pg_long(fx->pg, "SELECT count(*) FROM ordered_offsets WHERE endpoint_id = $1", wh.ep[0], NULL,
                              NULL) > 0), WAIT_MS));
    CHECK(HX_WAIT((seq_update(&s), s.max >= next - 1 && hx_receiver_count(r, NULL) >= (size_t)next - 1), WAIT_MS));
    /* from here on in order: the next one fails twice and holds the others */
    struct seq s2 = { .r = r, .next = hx_receiver_count(r, NULL), .prev = next - 1, .prev_status = 200 };
    hx_receiver_respond(r, "/p", 500, 2, NULL);
    int first = next;
    produce_seq(fx->p, "ordp", first, first + 20);
    CHECK(HX_WAIT(seq_reached(&s2, first + 20), WAIT_MS));
    CHECK_EQ_INT(s2.bad, 0);
    CHECK_EQ_INT(s2.past_failure, 0);

    /* hold the line (retry 60 s away), then turn the order off: the waiting ones go */
    hx_receiver_respond(r, "/p", 500, 1000, NULL);
    first += 21;
    produce_seq(fx->p, "ordp", first, first + 10);
    CHECK(HX_WAIT((seq_update(&s2), hx_receiver_count(r, NULL) >= s2.next && s2.prev == first &&
                   de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE endpoint_id = $1 AND due_at > now() + "
                              "interval '20 s'", wh.ep[0], NULL, NULL) == 1), WAIT_MS));
    size_t before = hx_receiver_count(r, NULL);
    hx_receiver_forget(r, "/p");
    CHECK_EQ_INT(e2e_send(fx->st, "PATCH", key, &resp, path, "{\"ordered\":false}"), 200);
    CHECK(json_is_false(json_object_get(resp.json, "ordered")));
    hx_resp_free(&resp);
    /* the 10 behind the held one arrive long before its retry is due */
    CHECK(HX_WAIT(hx_receiver_count(r, NULL) >= before + 10, 15000));
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE endpoint_id = $1", wh.ep[0], NULL, NULL) == 1,
                  WAIT_MS));
    hx_receiver_stop(r);
}

/* hl_ordered_append(rows) on the test's own session: what it returns. */
static long append_rows(struct fx *fx, const char *rows)
{
    return de_pg_long(fx->pg, "SELECT hl_ordered_append($1::json)", rows, NULL, NULL);
}

static void test_reread(struct fx *fx)
{
    E2E_SECTION("a re-read (a dispatcher dead before its Kafka commit): what is at or below the endpoint's "
                "high-water offset is not appended again, though delivered and gone from its lane");
    struct hx_receiver *r = hx_receiver_start(NULL);
    struct de_webhook wh;
    char key[128];
    de_tenant_new(fx->st, "ordr", key, sizeof(key));
    ordered_webhook(fx->st, key, &wh, r, "r", true);
    struct seq s = { .r = r };
    produce_seq(fx->p, "ordr", 1, 3);
    CHECK(HX_WAIT(seq_reached(&s, 3), WAIT_MS));
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE endpoint_id = $1", wh.ep[0], NULL, NULL) == 0,
                  WAIT_MS));
    long part = de_pg_long(fx->pg, "SELECT partition FROM ordered_offsets WHERE endpoint_id = $1", wh.ep[0], NULL, NULL);
    long high = de_pg_long(fx->pg, "SELECT last_offset FROM ordered_offsets WHERE endpoint_id = $1", wh.ep[0], NULL,
                           NULL);
    CHECK(part >= 0 && high >= 2);
    /* the 3rd again (its offset), and the 2nd (below it), as a successor would read them */
    char rows[1024];
    snprintf(rows, sizeof(rows),
             "[{\"t\":\"ordr\",\"w\":\"%s\",\"p\":\"%s\",\"e\":\"evt_again3\",\"y\":\"booking.scheduled\","
             "\"d\":\"2026-01-01\",\"a\":1,\"k\":%ld,\"o\":%ld},"
             "{\"t\":\"ordr\",\"w\":\"%s\",\"p\":\"%s\",\"e\":\"evt_again2\",\"y\":\"booking.scheduled\","
             "\"d\":\"2026-01-01\",\"a\":1,\"k\":%ld,\"o\":%ld}]",
             wh.id, wh.ep[0], part, high, wh.id, wh.ep[0], part, high - 1);
    CHECK_EQ_INT(append_rows(fx, rows), 0);
    CHECK_EQ_INT(de_pg_long(fx->pg, "SELECT count(*) FROM retries WHERE endpoint_id = $1", wh.ep[0], NULL, NULL), 0);
    /* one past it is appended (in a transaction rolled back: it has no stored body) */
    PQclear(PQexec(fx->pg, "BEGIN"));
    snprintf(rows, sizeof(rows),
             "[{\"t\":\"ordr\",\"w\":\"%s\",\"p\":\"%s\",\"e\":\"evt_next\",\"y\":\"booking.scheduled\","
             "\"d\":\"2026-01-01\",\"a\":1,\"k\":%ld,\"o\":%ld}]", wh.id, wh.ep[0], part, high + 1000);
    CHECK_EQ_INT(append_rows(fx, rows), 1);
    PQclear(PQexec(fx->pg, "ROLLBACK"));
    /* and the line goes on */
    produce_seq(fx->p, "ordr", 4, 6);
    CHECK(HX_WAIT(seq_reached(&s, 6), WAIT_MS));
    CHECK_EQ_INT(s.bad, 0);
    CHECK_EQ_INT((int)s.next, 6);
    hx_receiver_stop(r);
}

static void test_validation(struct fx *fx)
{
    E2E_SECTION("\"ordered\": a boolean, false by default, refused otherwise with a 400 naming it");
    struct hx_resp resp;
    CHECK_EQ_INT(e2e_send(fx->st, "POST", fx->other_key, &resp, "/v1/webhooks",
                          "{\"name\":\"v\",\"url\":\"https://hooks.example.com/v\",\"events\":[\"booking\"],"
                          "\"ordered\":1}"), 400);
    CHECK(strstr(e2e_error(&resp), "\"ordered\"") != NULL);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(fx->st, "POST", fx->other_key, &resp, "/v1/webhooks",
                          "{\"name\":\"v\",\"url\":\"https://hooks.example.com/v\",\"events\":[\"booking\"]}"), 201);
    CHECK(json_is_false(json_object_get(resp.json, "ordered")));
    char id[64];
    snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    CHECK_EQ_INT(e2e_send(fx->st, "PUT", fx->other_key, &resp, path,
                          "{\"name\":\"v\",\"url\":\"https://hooks.example.com/v\",\"events\":[\"booking\"],"
                          "\"ordered\":true}"), 200);
    CHECK(json_is_true(json_object_get(resp.json, "ordered")));
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(fx->st, "PUT", fx->other_key, &resp, path,
                          "{\"name\":\"v\",\"url\":\"https://hooks.example.com/v\",\"events\":[\"booking\"],"
                          "\"ordered\":null}"), 400);
    hx_resp_free(&resp);
    /* a PUT without it sets the default */
    CHECK_EQ_INT(e2e_send(fx->st, "PUT", fx->other_key, &resp, path,
                          "{\"name\":\"v\",\"url\":\"https://hooks.example.com/v\",\"events\":[\"booking\"]}"), 200);
    CHECK(json_is_false(json_object_get(resp.json, "ordered")));
    hx_resp_free(&resp);
    /* another tenant's waiting list is 404 */
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key, NULL, &resp, "/v1/webhooks/%s/waiting", id), 404);
    hx_resp_free(&resp);
}

int main(void)
{
    long long start = hx_now_ms();
    struct fx fx = { 0 };
    struct hx_stack_opts opts = {
        .dispatchers = 1,
        .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s,1s,60s,60s,60s,60s", NULL },
    };
    fx.st = hx_stack_start(&opts);
    fx.pg = hx_pg_connect(fx.st);
    fx.p = de_producer_new(hx_brokers(fx.st));
    de_tenant_new(fx.st, "ordx", fx.other_key, sizeof(fx.other_key));
    de_tenant_new(fx.st, "ordk", fx.key, sizeof(fx.key));
    test_validation(&fx);
    test_hold(&fx);
    test_exhausted(&fx);
    test_skip(&fx);
    test_isolation(&fx);
    test_patch(&fx);
    test_reread(&fx);
    de_producer_free(fx.p);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    test_faults();
    fprintf(stderr, "ordered delivery tests: %lld ms\n", hx_now_ms() - start);
    return check_exit();
}
