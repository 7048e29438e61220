/* test_dispatch_delivery.c: hookline-dispatcher delivers every event to
 * exactly the webhooks it matches, as Standard Webhooks requests.
 *
 * Webhooks are created over REST; events come from a plain librdkafka
 * producer. Each receiver path gets exactly its matching events (type,
 * group subscription, payload filter, tenant, active flag, fan-out to every
 * endpoint), with signatures verified here with GnuTLS, the event id as
 * webhook-id, the webhook's and the endpoint's headers, and the produced
 * bytes as the body. Malformed messages are skipped without stalling their
 * partition; a rotated secret signs beside the old one; the test route
 * reaches one webhook; a webhook created over REST receives an event
 * produced right after its 201 within 2 s; a burst's deliveries/s are
 * printed.
 */
#include "dispatch_e2e.h"

#define WAIT_MS 20000

struct fx {
    struct hx_stack *st;
    struct hx_receiver *r;      /* one path per webhook endpoint */
    struct hx_receiver *rb;     /* the burst */
    struct de_producer *p;
    pid_t dsp;
    char key_a[128], key_b[128], key_c[128];
    struct de_webhook a, g, c, inactive, f1, f2, m, ctl, tt, mal, rot, o, burst;
};

/* One webhook endpoint path and the secret that must sign its requests. */
struct route {
    const char *path;
    const struct de_webhook *wh;
};

static void fx_webhooks(struct fx *fx)
{
    const char *u = hx_receiver_url(fx->r);
    de_webhook_new(fx->st, fx->key_a, &fx->a,
                   "{\"name\":\"a\",\"url\":\"%s/a\",\"events\":[\"booking.scheduled\"],"
                   "\"headers\":{\"X-Team-Token\":\"t-123\",\"X-Shared\":\"from-webhook\",\"X-Empty\":\"\","
                   "\"X-Blank\":\" \\t\"}}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->g, "{\"name\":\"g\",\"url\":\"%s/g\",\"events\":\"booking\"}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->c,
                   "{\"name\":\"c\",\"url\":\"%s/c\",\"events\":[\"conversation.started\"]}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->inactive,
                   "{\"name\":\"inactive\",\"url\":\"%s/i\",\"events\":[\"booking\",\"conversation\"],"
                   "\"is_active\":false}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->f1,
                   "{\"name\":\"f1\",\"url\":\"%s/f1\",\"events\":[\"booking\"],\"filter\":{\"data.owner\":\"u_42\"}}",
                   u);
    de_webhook_new(fx->st, fx->key_a, &fx->f2,
                   "{\"name\":\"f2\",\"url\":\"%s/f2\",\"events\":[\"booking\"],"
                   "\"filter\":{\"data.team\":[\"sales\",\"ops\"]}}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->m,
                   "{\"name\":\"m\",\"events\":[\"booking.scheduled\"],"
                   "\"headers\":{\"X-Shared\":\"from-webhook\",\"X-Wh\":\"m\"},"
                   "\"endpoints\":[{\"url\":\"%s/m1\",\"headers\":{\"X-Endpoint\":\"one\",\"X-Shared\":\"from-endpoint\"}},"
                   "{\"url\":\"%s/m2\",\"headers\":{\"X-Endpoint\":\"two\"}}]}", u, u);
    de_webhook_new(fx->st, fx->key_a, &fx->ctl,
                   "{\"name\":\"ctl\",\"url\":\"%s/ctl\",\"events\":[\"conversation.closed\"]}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->tt, "{\"name\":\"tt\",\"url\":\"%s/tt\",\"events\":[\"webhook.test\"]}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->mal,
                   "{\"name\":\"mal\",\"url\":\"%s/mal\",\"events\":[\"booking.completed\"]}", u);
    de_webhook_new(fx->st, fx->key_a, &fx->rot,
                   "{\"name\":\"rot\",\"url\":\"%s/rot\",\"events\":[\"conversation.reached_out\"]}", u);
    de_webhook_new(fx->st, fx->key_b, &fx->o, "{\"name\":\"o\",\"url\":\"%s/o\",\"events\":\"booking\"}", u);
    de_webhook_new(fx->st, fx->key_c, &fx->burst,
                   "{\"name\":\"burst\",\"url\":\"%s/burst\",\"events\":[\"conversation.abandoned\"]}",
                   hx_receiver_url(fx->rb));
    CHECK_EQ_INT(fx->m.neps, 2);
}

/* The webhook-level checks of one received request: method, content-type,
 * user-agent, webhook-id = the body's id, a recent timestamp, exactly one
 * signature, valid for 'secret' and for no other webhook's secret. */
static void check_request(const struct hx_received *rec, const char *secret, const char *other_secret)
{
    json_t *body = json_loadb(rec->body, rec->len, 0, NULL);
    const char *ua = de_hdr(rec, "user-agent");
    const char *ts = de_hdr(rec, "webhook-timestamp");
    int entries = 0;
    CHECK_EQ_STR(rec->method, "POST");
    CHECK_EQ_STR(de_hdr(rec, "content-type"), "application/json");
    CHECK(ua != NULL && strncmp(ua, "hookline/", 9) == 0 && strlen(ua) > 9);
    CHECK(body != NULL);
    CHECK_EQ_STR(de_hdr(rec, "webhook-id"), e2e_str(body, "id"));
    CHECK(ts != NULL && llabs(atoll(ts) - hx_realtime_ms() / 1000) < 300);
    CHECK_EQ_INT(de_sig_matches(secret, de_hdr(rec, "webhook-id"), ts, rec->body, rec->len,
                                de_hdr(rec, "webhook-signature"), &entries), 1);
    CHECK_EQ_INT(entries, 1);
    CHECK(!de_signed_by(rec, other_secret));
    json_decref(body);
}

/* Our verifier can fail: a changed body, id or timestamp, or another
 * secret, gives no valid signature. */
static void check_verifier(struct hx_receiver *r, const char *path, const char *secret)
{
    struct hx_received *rec = de_find(r, path, NULL, 0);
    CHECK_FATAL(rec != NULL);
    CHECK(de_signed_by(rec, secret));
    const char *id = de_hdr(rec, "webhook-id"), *ts = de_hdr(rec, "webhook-timestamp");
    const char *sig = de_hdr(rec, "webhook-signature");
    char *tampered = strdup(rec->body);
    CHECK_FATAL(tampered != NULL && rec->len > 2);
    tampered[rec->len / 2] ^= 1;
    CHECK_EQ_INT(de_sig_matches(secret, id, ts, tampered, rec->len, sig, NULL), 0);
    CHECK_EQ_INT(de_sig_matches(secret, "evt_other", ts, rec->body, rec->len, sig, NULL), 0);
    CHECK_EQ_INT(de_sig_matches(secret, id, "12345", rec->body, rec->len, sig, NULL), 0);
    CHECK_EQ_INT(de_sig_matches("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", id, ts, rec->body, rec->len, sig, NULL), 0);
    CHECK(de_sig_matches(secret, id, ts, rec->body, rec->len, "v1,AAAA garbage", NULL) < 0);
    free(tampered);
    hx_received_free(rec);
}

/* Produce a conversation.closed for acme (the control webhook's type)
 * and wait until it arrives: everything produced for acme before it has
 * been read and matched by then. Returns whether it arrived. */
static bool fx_sentinel(struct fx *fx)
{
    char id[64];
    de_produce_event(fx->p, "acme", "conversation.closed", "{\"sentinel\":true}", id, NULL);
    de_flush(fx->p);
    return HX_WAIT(de_count(fx->r, "/ctl", id) == 1, WAIT_MS);
}

#define NEV 9

static void test_matching(struct fx *fx)
{
    E2E_SECTION("each webhook gets exactly its matching events, signed, with its headers, body unchanged");
    static const struct {
        const char *tenant, *type, *data;
        const char *paths[8];    /* who must get it */
    } ev[NEV] = {
        { "acme", "booking.scheduled",
          "{\"owner\":\"u_42\",\"team\":\"sales\",\"note\":\"caf\\u00e9 \xe2\x98\x95 <&> \\\"q\\\"\",\"n\":1.50}",
          { "/a", "/g", "/f1", "/f2", "/m1", "/m2" } },
        { "acme", "booking.canceled", "{\"owner\":\"u_7\",\"team\":\"ops\"}", { "/g", "/f2" } },
        { "acme", "booking.rescheduled", "{\"owner\":\"u_42\",\"team\":\"eng\"}", { "/g", "/f1" } },
        { "acme", "conversation.started", "{\"owner\":\"u_42\",\"team\":\"sales\"}", { "/c" } },
        { "acme", "booking.no_show", "{ \"team\" : \"support\" }", { "/g" } },
        { "acme", "booking.scheduled", "{\"owner\":\"u_4\",\"team\":\"marketing\"}", { "/a", "/g", "/m1", "/m2" } },
        { "acme", "booking.completed", "{\"owner\":\"u_42\",\"team\":\"ops\",\"nested\":{\"team\":\"sales\"}}",
          { "/g", "/f1", "/f2", "/mal" } },
        { "acme", "conversation.abandoned", "{\"owner\":\"u_42\"}", { NULL } },
        { "globex", "booking.scheduled", "{\"owner\":\"u_42\",\"team\":\"sales\"}", { "/o" } },
    };
    const struct route routes[] = {
        { "/a", &fx->a }, { "/g", &fx->g }, { "/c", &fx->c }, { "/i", &fx->inactive }, { "/f1", &fx->f1 },
        { "/f2", &fx->f2 }, { "/m1", &fx->m }, { "/m2", &fx->m }, { "/mal", &fx->mal }, { "/o", &fx->o },
        { "/tt", &fx->tt }, { "/rot", &fx->rot },
    };
    const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
    char ids[NEV][64];
    char *bodies[NEV];
    size_t expected = 0;

    for (int i = 0; i < NEV; i++) {
        de_produce_event(fx->p, ev[i].tenant, ev[i].type, ev[i].data, ids[i], &bodies[i]);
        for (int k = 0; k < 8 && ev[i].paths[k]; k++)
            expected++;
    }
    de_flush(fx->p);
    bool all = HX_WAIT(hx_receiver_count(fx->r, NULL) >= expected, WAIT_MS);
    CHECK(all);
    if (!all)
        fprintf(stderr, "matching: %zu of %zu deliveries arrived\n", hx_receiver_count(fx->r, NULL), expected);
    /* nothing more may come for these events: prove the dispatcher is past them */
    CHECK(fx_sentinel(fx));

    for (int i = 0; i < NEV; i++) {
        for (size_t k = 0; k < nroutes; k++) {
            bool want = false;
            for (int j = 0; j < 8 && ev[i].paths[j]; j++)
                want = want || strcmp(ev[i].paths[j], routes[k].path) == 0;
            size_t got = de_count(fx->r, routes[k].path, ids[i]);
            if (got != (want ? 1u : 0u))
                fprintf(stderr, "event %d (%s %s) at %s: got %zu, want %d\n", i, ev[i].tenant, ev[i].type,
                        routes[k].path, got, want);
            CHECK_EQ_INT(got, want ? 1 : 0);
        }
    }
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/i"), 0);   /* the inactive webhook: nothing at all */
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/o"), 1);   /* the other tenant's: its own event only */
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/ctl"), 1); /* the sentinel */
    CHECK_EQ_INT(hx_receiver_count(fx->r, NULL), expected + 1);

    /* every request: headers, signature, and the produced bytes as body */
    size_t total = hx_receiver_count(fx->r, NULL);
    for (size_t n = 0; n < total; n++) {
        struct hx_received *rec = hx_receiver_get(fx->r, n);
        CHECK_FATAL(rec != NULL);
        const struct de_webhook *wh = NULL;
        for (size_t k = 0; k < nroutes; k++)
            if (strcmp(routes[k].path, rec->path) == 0)
                wh = routes[k].wh;
        if (strcmp(rec->path, "/ctl") == 0)
            wh = &fx->ctl;
        CHECK(wh != NULL);
        if (wh == NULL) {
            hx_received_free(rec);
            continue;
        }
        check_request(rec, wh->secret, wh == &fx->g ? fx->a.secret : fx->g.secret);
        for (int i = 0; i < NEV; i++) {
            if (de_hdr(rec, "webhook-id") && strcmp(de_hdr(rec, "webhook-id"), ids[i]) == 0) {
                CHECK_EQ_INT(rec->len, strlen(bodies[i]));
                CHECK(rec->len == strlen(bodies[i]) && memcmp(rec->body, bodies[i], rec->len) == 0);
            }
        }
        hx_received_free(rec);
    }
    check_verifier(fx->r, "/a", fx->a.secret);

    E2E_SECTION("custom headers: the webhook's, and each endpoint's (which win on a shared name); empty values too");
    struct hx_received *rec = de_find(fx->r, "/a", ids[0], 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK_EQ_STR(de_hdr(rec, "x-team-token"), "t-123");
        CHECK_EQ_STR(de_hdr(rec, "x-shared"), "from-webhook");
        /* libcurl drops a "Name: " line; an empty value the api took is sent too */
        CHECK_EQ_STR(de_hdr(rec, "x-empty"), "");
        CHECK_EQ_STR(de_hdr(rec, "x-blank"), "");
        CHECK(de_hdr(rec, "x-endpoint") == NULL);
        hx_received_free(rec);
    }
    rec = de_find(fx->r, "/m1", ids[0], 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK_EQ_STR(de_hdr(rec, "x-endpoint"), "one");
        CHECK_EQ_STR(de_hdr(rec, "x-shared"), "from-endpoint");
        CHECK_EQ_STR(de_hdr(rec, "x-wh"), "m");
        CHECK(de_hdr(rec, "x-team-token") == NULL);
        hx_received_free(rec);
    }
    rec = de_find(fx->r, "/m2", ids[0], 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK_EQ_STR(de_hdr(rec, "x-endpoint"), "two");
        CHECK_EQ_STR(de_hdr(rec, "x-shared"), "from-webhook");
        CHECK_EQ_STR(de_hdr(rec, "x-wh"), "m");
        hx_received_free(rec);
    }
    rec = de_find(fx->r, "/g", ids[0], 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK(de_hdr(rec, "x-team-token") == NULL && de_hdr(rec, "x-shared") == NULL);
        hx_received_free(rec);
    }

    E2E_SECTION("one event fans out to both endpoints of a webhook, each recorded under its endpoint");
    PGconn *pg = hx_pg_connect(fx->st);
    CHECK(HX_WAIT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND event_id = $2 AND success",
                             fx->m.id, ids[0], NULL) == 2, WAIT_MS));
    CHECK_EQ_INT(de_pg_long(pg, "SELECT count(DISTINCT endpoint_id) FROM attempts WHERE webhook_id = $1 AND event_id = $2",
                            fx->m.id, ids[0], NULL), 2);
    CHECK_EQ_INT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND event_id = $2 AND endpoint_id = $3",
                            fx->m.id, ids[0], fx->m.ep[1]), 1);
    PQfinish(pg);
    for (int i = 0; i < NEV; i++)
        free(bodies[i]);
}

static void test_malformed(struct fx *fx)
{
    E2E_SECTION("malformed messages are skipped without stalling their partition");
    static const char *const bad[] = {
        "this is not JSON {",
        "",
        "[1,2,3]",
        "{\"id\":\"evt_notenant\",\"type\":\"booking.completed\",\"data\":{}}",
        "{\"id\":\"evt_nulltenant\",\"type\":\"booking.completed\",\"tenant\":null,\"data\":{}}",
        "{\"id\":\"evt_notype\",\"tenant\":\"acme\",\"data\":{}}",
        "{\"id\":\"evt_badtenant\",\"type\":\"booking.completed\",\"tenant\":\"no-such-tenant\",\"data\":{}}",
        "{\"id\":\"evt_trunc\",\"type\":\"booking.completed\",\"tenant\":\"acme\",\"data\":{",
    };
    long before = (long)hx_receiver_count(fx->r, "/mal");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        de_produce_raw(fx->p, "acme", bad[i], strlen(bad[i])); /* same key: same partition as what follows */
    char id[64];
    char *body = NULL;
    de_produce_event(fx->p, "acme", "booking.completed", "{\"after\":\"malformed\"}", id, &body);
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/mal", id) == 1, WAIT_MS));
    CHECK_EQ_INT((long)hx_receiver_count(fx->r, "/mal"), before + 1); /* nothing from the bad ones */
    struct hx_received *rec = de_find(fx->r, "/mal", id, 0);
    if (rec) {
        CHECK(rec->len == strlen(body) && memcmp(rec->body, body, rec->len) == 0);
        hx_received_free(rec);
    }
    CHECK_EQ_INT(de_count(fx->r, NULL, "evt_trunc") + de_count(fx->r, NULL, "evt_notype") +
                     de_count(fx->r, NULL, "evt_badtenant"), 0);
    CHECK(de_log_has(fx->st, fx->dsp, "malformed"));
    free(body);
}

static void test_route(struct fx *fx)
{
    E2E_SECTION("POST /v1/webhooks/:id/test with a payload reaches that webhook only");
    struct hx_resp resp;
    long status = hx_api(fx->st, "POST", fx->key_a, "{\"payload\":{\"hello\":\"world\",\"n\":7}}", &resp,
                         "/v1/webhooks/%s/test", fx->a.id);
    CHECK_EQ_INT(status, 202);
    char id[128] = "";
    if (e2e_str(resp.json, "event_id"))
        snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "event_id"));
    hx_resp_free(&resp);
    CHECK(strncmp(id, "evt_", 4) == 0);
    CHECK(HX_WAIT(de_count(fx->r, "/a", id) == 1, WAIT_MS));
    CHECK(fx_sentinel(fx));
    CHECK_EQ_INT(de_count(fx->r, NULL, id), 1);   /* not /tt (subscribed to webhook.test), not /g, ... */
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/tt"), 0);
    struct hx_received *rec = de_find(fx->r, "/a", id, 0);
    if (rec) {
        json_t *body = json_loadb(rec->body, rec->len, 0, NULL);
        CHECK_EQ_STR(e2e_str(body, "type"), "webhook.test");
        CHECK_EQ_STR(e2e_str(body, "tenant"), "acme");
        CHECK_EQ_STR(e2e_str(body, "id"), id);
        json_t *want = json_pack("{s:s,s:i}", "hello", "world", "n", 7);
        CHECK(json_equal(json_object_get(body, "data"), want));
        json_decref(want);
        CHECK(de_signed_by(rec, fx->a.secret));
        CHECK_EQ_STR(de_hdr(rec, "x-team-token"), "t-123");
        json_decref(body);
        hx_received_free(rec);
    }

    /* without a body: the default test payload, to webhook m's two endpoints */
    status = hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/test", fx->m.id);
    CHECK_EQ_INT(status, 202);
    id[0] = '\0';
    if (e2e_str(resp.json, "event_id"))
        snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "event_id"));
    hx_resp_free(&resp);
    CHECK(HX_WAIT(de_count(fx->r, "/m1", id) == 1 && de_count(fx->r, "/m2", id) == 1, WAIT_MS));
    CHECK(fx_sentinel(fx));
    CHECK_EQ_INT(de_count(fx->r, NULL, id), 2);
    /* the inactive webhook refuses test events; another tenant's is absent */
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/test", fx->inactive.id), 409);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/test", fx->o.id), 404);
    hx_resp_free(&resp);
}

static void test_rotation(struct fx *fx)
{
    E2E_SECTION("after rotate-secret, deliveries carry two signatures: one per secret");
    char id[64];
    de_produce_event(fx->p, "acme", "conversation.reached_out", "{\"before\":\"rotation\"}", id, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/rot", id) == 1, WAIT_MS));
    struct hx_received *rec = de_find(fx->r, "/rot", id, 0);
    if (rec) {
        check_request(rec, fx->rot.secret, fx->a.secret);
        hx_received_free(rec);
    }

    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/rotate-secret", fx->rot.id), 200);
    char old_secret[128], new_secret[128] = "";
    snprintf(old_secret, sizeof(old_secret), "%s", fx->rot.secret);
    if (e2e_str(resp.json, "secret"))
        snprintf(new_secret, sizeof(new_secret), "%s", e2e_str(resp.json, "secret"));
    hx_resp_free(&resp);
    CHECK(strncmp(new_secret, "whsec_", 6) == 0 && strcmp(new_secret, old_secret) != 0);

    /* the rotation reaches the dispatcher through hookline.webhooks: send
     * events until one is signed twice (each is awaited, none is lost) */
    bool seen_two = false;
    long long deadline = hx_now_ms() + WAIT_MS;
    while (!seen_two && hx_now_ms() < deadline) {
        de_produce_event(fx->p, "acme", "conversation.reached_out", "{\"after\":\"rotation\"}", id, NULL);
        de_flush(fx->p);
        CHECK(HX_WAIT(de_count(fx->r, "/rot", id) == 1, WAIT_MS));
        rec = de_find(fx->r, "/rot", id, 0);
        if (rec == NULL)
            break;
        int entries = 0;
        int by_old = de_sig_matches(old_secret, id, de_hdr(rec, "webhook-timestamp"), rec->body, rec->len,
                                    de_hdr(rec, "webhook-signature"), &entries);
        int by_new = de_sig_matches(new_secret, id, de_hdr(rec, "webhook-timestamp"), rec->body, rec->len,
                                    de_hdr(rec, "webhook-signature"), NULL);
        if (entries == 2) {
            seen_two = true;
            CHECK_EQ_INT(by_old, 1);
            CHECK_EQ_INT(by_new, 1);
        } else {
            CHECK_EQ_INT(entries, 1);
            CHECK_EQ_INT(by_old, 1);  /* not yet rotated here: still the old secret */
        }
        hx_received_free(rec);
    }
    CHECK(seen_two);

    /* from then on every delivery carries both */
    de_produce_event(fx->p, "acme", "conversation.reached_out", "{\"after\":\"rotation\",\"n\":2}", id, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/rot", id) == 1, WAIT_MS));
    rec = de_find(fx->r, "/rot", id, 0);
    if (rec) {
        int entries = 0;
        CHECK_EQ_INT(de_sig_matches(old_secret, id, de_hdr(rec, "webhook-timestamp"), rec->body, rec->len,
                                    de_hdr(rec, "webhook-signature"), &entries), 1);
        CHECK_EQ_INT(de_sig_matches(new_secret, id, de_hdr(rec, "webhook-timestamp"), rec->body, rec->len,
                                    de_hdr(rec, "webhook-signature"), NULL), 1);
        CHECK_EQ_INT(entries, 2);
        hx_received_free(rec);
    }
}

static void test_propagation(struct fx *fx)
{
    E2E_SECTION("a webhook created over REST receives an event produced right after the 201 within 2 s");
    long long worst = 0;
    for (int i = 0; i < 3; i++) {
        char body[512], path[32], id[64];
        snprintf(path, sizeof(path), "/p%d", i);
        snprintf(body, sizeof(body),
                 "{\"name\":\"prop-%d\",\"url\":\"%s%s\",\"events\":[\"booking.canceled_then_rescheduled\"],"
                 "\"filter\":{\"data.probe\":\"p%d\"}}", i, hx_receiver_url(fx->r), path, i);
        struct hx_resp resp;
        long status = hx_api(fx->st, "POST", fx->key_a, body, &resp, "/v1/webhooks");
        long long created = hx_realtime_ms();
        hx_resp_free(&resp);
        CHECK_EQ_INT(status, 201);
        char data[64];
        snprintf(data, sizeof(data), "{\"probe\":\"p%d\"}", i);
        de_produce_event(fx->p, "acme", "booking.canceled_then_rescheduled", data, id, NULL);
        de_flush(fx->p);
        bool got = HX_WAIT(de_count(fx->r, path, id) == 1, 10000);
        CHECK(got);
        struct hx_received *rec = got ? de_find(fx->r, path, id, 0) : NULL;
        long long ms = rec ? rec->at_ms - created : -1;
        printf("e2e propagation: webhook %d created -> first delivery of an event produced after its 201: %lld ms%s\n",
               i, ms, rec ? "" : " (NOT delivered within 10 s)");
        if (rec) {
            CHECK(ms < 2000);
            if (ms > worst)
                worst = ms;
        }
        hx_received_free(rec);
    }
    printf("e2e propagation (worst of 3): %lld ms\n", worst);
}

static void test_burst(struct fx *fx)
{
    E2E_SECTION("burst: 2000 events to one webhook, all delivered once; deliveries/s");
    enum { N = 2000 };
    long long t0 = hx_realtime_ms();
    for (int i = 0; i < N; i++) {
        char data[64];
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        de_produce_event(fx->p, "initech", "conversation.abandoned", data, NULL, NULL);
    }
    de_flush(fx->p);
    bool all = HX_WAIT(hx_receiver_count(fx->rb, "/burst") >= N, 60000);
    CHECK(all);
    size_t total = hx_receiver_count(fx->rb, NULL);
    json_t *seen = json_object();
    long long last = 0;
    for (size_t i = 0; i < total; i++) {
        struct hx_received *rec = hx_receiver_get(fx->rb, i);
        if (rec == NULL)
            break;
        if (de_hdr(rec, "webhook-id"))
            json_object_set_new(seen, de_hdr(rec, "webhook-id"), json_true());
        if (rec->at_ms > last)
            last = rec->at_ms;
        hx_received_free(rec);
    }
    CHECK_EQ_INT(total, N);
    CHECK_EQ_INT(json_object_size(seen), N);
    json_decref(seen);
    double secs = (double)(last - t0) / 1000.0;
    printf("e2e deliveries/s: %.0f (%d events produced and delivered in %.2f s)\n", secs > 0 ? N / secs : 0.0, N,
           secs);
    PGconn *pg = hx_pg_connect(fx->st);
    CHECK(HX_WAIT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE webhook_id = $1 AND success", fx->burst.id, NULL,
                             NULL) == N, WAIT_MS));
    PQfinish(pg);
}

int main(void)
{
    struct fx fx = { 0 };
    struct hx_stack_opts opts = {
        .dispatchers = 0,
        .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,2s", NULL },
    };
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.rb = hx_receiver_start(NULL);
    de_tenant_new(fx.st, "acme", fx.key_a, sizeof(fx.key_a));
    de_tenant_new(fx.st, "globex", fx.key_b, sizeof(fx.key_b));
    de_tenant_new(fx.st, "initech", fx.key_c, sizeof(fx.key_c));
    /* created before the dispatcher starts: it loads them, no race with hookline.webhooks */
    fx_webhooks(&fx);
    fx.dsp = hx_dispatcher_start(fx.st, NULL);
    fx.p = de_producer_new(hx_brokers(fx.st));

    long long t = hx_now_ms();
    test_matching(&fx);
    test_malformed(&fx);
    test_route(&fx);
    test_rotation(&fx);
    test_propagation(&fx);
    test_burst(&fx);
    fprintf(stderr, "delivery tests: %lld ms\n", hx_now_ms() - t);

    de_producer_free(fx.p);
    CHECK(hx_proc_alive(fx.st, fx.dsp));
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    hx_receiver_stop(fx.rb);
    return check_exit();
}
