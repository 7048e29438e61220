/* test_dispatch_limits.c: the dispatcher delivers everything the api
 * accepts, at the limits of common/limits.c, and skips what is past them.
 *
 * A tenant with a 64-character id receives its events, whether produced to
 * Kafka or published with POST /v1/events, and never those of the tenant
 * whose id is its first 63 characters; an event id and an event type of 128
 * characters arrive unchanged (webhook-id is the whole id); webhooks whose
 * secrets are whsec_ + base64 of 48 and of 64 bytes (the largest the api
 * accepts) get requests their secrets sign; a header name and value and a
 * URL at their limits arrive whole. Envelopes one past a limit (tenant,
 * id, type) are skipped as malformed without stalling their partition.
 */
#include "dispatch_e2e.h"

#include <ctype.h>

#include "hl_limits.h"

#define WAIT_MS 20000

struct fx {
    struct hx_stack *st;
    struct hx_receiver *r, *rl;     /* rl: the webhook with the longest URL */
    struct de_producer *p;
    pid_t dsp;
    char *t64, *t63, *t65;          /* tenant ids */
    char *type128, *type129;        /* "booking.xxx..." event types */
    char *id128, *id129;            /* event ids */
    char *hname, *hvalue;           /* a header name and value at their limits */
    char key64[128], key63[128], key_acme[128];
    char secret48[128], secret64[128];
    struct de_webhook w64, wtype, w63, sec48, sec64, wlong;
};

/* 'n' copies of 'c' after 'head' (may be NULL); caller frees. */
static char *dl_rep(const char *head, char c, size_t n)
{
    size_t h = head ? strlen(head) : 0;
    char *s = malloc(h + n + 1);
    CHECK_FATAL(s != NULL);
    memcpy(s, head ? head : "", h);
    memset(s + h, c, n);
    s[h + n] = '\0';
    return s;
}

/* "whsec_" + base64 of 'n' random bytes into 'out' (cap >= 128). */
static void dl_secret(size_t n, char *out, size_t cap)
{
    unsigned char raw[64];
    CHECK_FATAL(n <= sizeof(raw) && gnutls_rnd(GNUTLS_RND_RANDOM, raw, n) == 0);
    gnutls_datum_t in = { raw, (unsigned)n }, b64 = { NULL, 0 };
    CHECK_FATAL(gnutls_base64_encode2(&in, &b64) == 0);
    CHECK_FATAL(snprintf(out, cap, "whsec_%.*s", (int)b64.size, (const char *)b64.data) < (int)cap);
    gnutls_free(b64.data);
}

/* Produce one envelope with these fields (key = tenant); the body to *body_out when not NULL. */
static void dl_produce(struct fx *fx, const char *id, const char *type, const char *tenant, char **body_out)
{
    char *env = de_envelope(id, type, tenant, "{\"limits\":true}");
    de_produce_raw(fx->p, tenant, env, strlen(env));
    if (body_out)
        *body_out = env;
    else
        free(env);
}

static void fx_setup(struct fx *fx)
{
    fx->t63 = dl_rep(NULL, 't', LIMIT_TENANT_ID_MAX - 1);
    fx->t64 = dl_rep(fx->t63, 'b', 1);
    fx->t65 = dl_rep(fx->t64, 'c', 1);
    fx->type128 = dl_rep("booking.", 'x', LIMIT_EVENT_TYPE_MAX - 8);
    fx->type129 = dl_rep("booking.", 'y', LIMIT_EVENT_TYPE_MAX - 7);
    fx->id128 = dl_rep("evt_", 'A', LIMIT_EVENT_ID_MAX - 4);
    fx->id129 = dl_rep("evt_", 'B', LIMIT_EVENT_ID_MAX - 3);
    fx->hname = dl_rep("X-", 'h', LIMIT_HEADER_NAME_MAX - 2);
    fx->hvalue = dl_rep(NULL, 'v', LIMIT_HEADER_VALUE_MAX);
    CHECK_EQ_INT(strlen(fx->t64), 64);
    CHECK_EQ_INT(strlen(fx->type128), 128);
    CHECK_EQ_INT(strlen(fx->id128), 128);

    struct hx_stack_opts opts = { .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,2s", NULL } };
    fx->st = hx_stack_start(&opts);
    fx->r = hx_receiver_start(NULL);
    fx->rl = hx_receiver_start(NULL);
    de_tenant_new(fx->st, fx->t64, fx->key64, sizeof(fx->key64));
    de_tenant_new(fx->st, fx->t63, fx->key63, sizeof(fx->key63));
    de_tenant_new(fx->st, "acme", fx->key_acme, sizeof(fx->key_acme));
    /* operators add event types to the catalog with SQL */
    PGconn *pg = hx_pg_connect(fx->st);
    const char *params[1] = { fx->type128 };
    PGresult *res = PQexecParams(pg, "INSERT INTO event_types (name, group_name) VALUES ($1, 'booking')", 1, NULL,
                                 params, NULL, NULL, 0);
    CHECK_FATAL(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(pg);

    const char *u = hx_receiver_url(fx->r);
    de_webhook_new(fx->st, fx->key64, &fx->w64, "{\"name\":\"w64\",\"url\":\"%s/t64\",\"events\":\"booking\"}", u);
    de_webhook_new(fx->st, fx->key64, &fx->wtype, "{\"name\":\"type\",\"url\":\"%s/type\",\"events\":[\"%s\"]}", u,
                   fx->type128);
    de_webhook_new(fx->st, fx->key63, &fx->w63, "{\"name\":\"w63\",\"url\":\"%s/t63\",\"events\":\"booking\"}", u);
    dl_secret(48, fx->secret48, sizeof(fx->secret48));
    dl_secret(LIMIT_SECRET_BYTES_MAX, fx->secret64, sizeof(fx->secret64));
    CHECK_EQ_INT(strlen(fx->secret64), LIMIT_SECRET_MAX);
    de_webhook_new(fx->st, fx->key_acme, &fx->sec48,
                   "{\"name\":\"sec48\",\"url\":\"%s/sec48\",\"events\":\"booking.scheduled\",\"secret\":\"%s\"}", u,
                   fx->secret48);
    de_webhook_new(fx->st, fx->key_acme, &fx->sec64,
                   "{\"name\":\"sec64\",\"url\":\"%s/sec64\",\"events\":\"booking.scheduled\",\"secret\":\"%s\"}", u,
                   fx->secret64);
    CHECK_EQ_STR(fx->sec48.secret, fx->secret48);
    CHECK_EQ_STR(fx->sec64.secret, fx->secret64);
    /* the longest URL the api accepts: the receiver's, a path of 'p's */
    size_t base = strlen(hx_receiver_url(fx->rl)) + 1;
    char *path = dl_rep(NULL, 'p', LIMIT_URL_MAX - base);
    de_webhook_new(fx->st, fx->key_acme, &fx->wlong,
                   "{\"name\":\"long\",\"url\":\"%s/%s\",\"events\":\"booking.completed\",\"headers\":{\"%s\":\"%s\"}}",
                   hx_receiver_url(fx->rl), path, fx->hname, fx->hvalue);
    free(path);
    /* created before the dispatcher starts: it loads them */
    fx->dsp = hx_dispatcher_start(fx->st, NULL);
    fx->p = de_producer_new(hx_brokers(fx->st));
}

static void fx_teardown(struct fx *fx)
{
    de_producer_free(fx->p);
    CHECK(hx_proc_alive(fx->st, fx->dsp));
    CHECK_EQ_INT(hx_stack_stop(fx->st), 0);
    hx_receiver_stop(fx->r);
    hx_receiver_stop(fx->rl);
    char *strs[] = { fx->t63, fx->t64, fx->t65, fx->type128, fx->type129, fx->id128, fx->id129, fx->hname, fx->hvalue };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(strs[i]);
}

/* The 64-character tenant gets its own events (Kafka and POST /v1/events),
 * the 63-character one its own, neither the other's. */
static void test_long_tenant(struct fx *fx)
{
    E2E_SECTION("a tenant with a 64-character id receives its events; its 63-character prefix is another tenant");
    char id64[64], id63[64], *body64 = NULL;
    de_produce_event(fx->p, fx->t64, "booking.scheduled", "{\"who\":\"t64\"}", id64, &body64);
    de_produce_event(fx->p, fx->t63, "booking.scheduled", "{\"who\":\"t63\"}", id63, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/t64", id64) == 1 && de_count(fx->r, "/t63", id63) == 1, WAIT_MS));
    struct hx_received *rec = de_find(fx->r, "/t64", id64, 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK(rec->len == strlen(body64) && memcmp(rec->body, body64, rec->len) == 0);
        CHECK(de_signed_by(rec, fx->w64.secret));
        hx_received_free(rec);
    }
    free(body64);

    E2E_SECTION("POST /v1/events with the 64-character tenant's key: an event of that tenant, delivered to it");
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key64, "{\"type\":\"booking.canceled\",\"data\":{}}", &resp, "/v1/events"),
                 202);
    char evt[64] = "";
    if (e2e_str(resp.json, "id"))
        snprintf(evt, sizeof(evt), "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
    CHECK(HX_WAIT(de_count(fx->r, "/t64", evt) == 1, WAIT_MS));
    rec = de_find(fx->r, "/t64", evt, 0);
    if (rec) {
        json_t *body = json_loadb(rec->body, rec->len, 0, NULL);
        CHECK_EQ_STR(e2e_str(body, "tenant"), fx->t64);
        json_decref(body);
        hx_received_free(rec);
    }
    /* the sentinel of the next test proves nothing more comes for these */
}

/* Everything at its limit arrives; one past it is skipped; the partition
 * goes on. */
static void test_envelope_limits(struct fx *fx)
{
    E2E_SECTION("an event id and an event type of 128 characters arrive unchanged");
    char *b_id = NULL, *b_type = NULL, idt[64];
    dl_produce(fx, fx->id128, "booking.scheduled", fx->t64, &b_id);
    de_event_id(idt, sizeof(idt));
    dl_produce(fx, idt, fx->type128, fx->t64, &b_type);

    E2E_SECTION("one past a limit (tenant 65, id 129, type 129 characters): skipped as malformed");
    char idx[64], idy[64], sentinel[64];
    de_event_id(idx, sizeof(idx));
    de_event_id(idy, sizeof(idy));
    dl_produce(fx, idx, "booking.scheduled", fx->t65, NULL);
    dl_produce(fx, fx->id129, "booking.scheduled", fx->t64, NULL);
    dl_produce(fx, idy, fx->type129, fx->t64, NULL);
    de_produce_event(fx->p, fx->t64, "booking.completed", "{\"sentinel\":true}", sentinel, NULL);
    de_flush(fx->p);

    CHECK(HX_WAIT(de_count(fx->r, "/t64", sentinel) == 1, WAIT_MS));
    CHECK(HX_WAIT(de_count(fx->r, "/t64", fx->id128) == 1 && de_count(fx->r, "/t64", idt) == 1 &&
                  de_count(fx->r, "/type", idt) == 1, WAIT_MS));
    struct hx_received *rec = de_find(fx->r, "/t64", fx->id128, 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK_EQ_STR(de_hdr(rec, "webhook-id"), fx->id128);
        CHECK(rec->len == strlen(b_id) && memcmp(rec->body, b_id, rec->len) == 0);
        CHECK(de_signed_by(rec, fx->w64.secret));
        hx_received_free(rec);
    }
    rec = de_find(fx->r, "/type", idt, 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK(rec->len == strlen(b_type) && memcmp(rec->body, b_type, rec->len) == 0);
        CHECK(de_signed_by(rec, fx->wtype.secret));
        hx_received_free(rec);
    }
    PGconn *pg = hx_pg_connect(fx->st);
    CHECK(HX_WAIT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND event_type = $2 AND success",
                             idt, fx->type128, NULL) == 2, WAIT_MS));
    CHECK(HX_WAIT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE event_id = $1 AND success", fx->id128, NULL,
                             NULL) == 1, WAIT_MS));
    PQfinish(pg);
    /* the sentinel came after them in their partition: they were read and skipped */
    CHECK_EQ_INT(de_count(fx->r, NULL, idx) + de_count(fx->r, NULL, fx->id129) + de_count(fx->r, NULL, idy), 0);
    CHECK(de_log_has(fx->st, fx->dsp, "\\\"tenant\\\" is longer than 64 characters"));
    CHECK(de_log_has(fx->st, fx->dsp, "\\\"id\\\" is longer than 128 characters"));
    CHECK(de_log_has(fx->st, fx->dsp, "\\\"type\\\" is longer than 128 characters"));
    /* every request to /t64 and /t63 is its own tenant's */
    size_t total = hx_receiver_count(fx->r, NULL);
    for (size_t i = 0; i < total; i++) {
        rec = hx_receiver_get(fx->r, i);
        CHECK_FATAL(rec != NULL);
        json_t *body = json_loadb(rec->body, rec->len, 0, NULL);
        if (strcmp(rec->path, "/t64") == 0 || strcmp(rec->path, "/type") == 0)
            CHECK_EQ_STR(e2e_str(body, "tenant"), fx->t64);
        else if (strcmp(rec->path, "/t63") == 0)
            CHECK_EQ_STR(e2e_str(body, "tenant"), fx->t63);
        json_decref(body);
        hx_received_free(rec);
    }
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/t63"), 1);
    free(b_id);
    free(b_type);
}

/* Secrets of 48 and 64 bytes sign; the longest header and URL arrive whole. */
static void test_webhook_limits(struct fx *fx)
{
    E2E_SECTION("secrets of whsec_ + base64 of 48 and of 64 bytes: delivered, signed with that secret");
    char id[64], idl[64];
    de_produce_event(fx->p, "acme", "booking.scheduled", NULL, id, NULL);
    de_produce_event(fx->p, "acme", "booking.completed", NULL, idl, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/sec48", id) == 1 && de_count(fx->r, "/sec64", id) == 1, WAIT_MS));
    struct hx_received *rec = de_find(fx->r, "/sec48", id, 0);
    if (rec) {
        CHECK(de_signed_by(rec, fx->secret48));
        CHECK(!de_signed_by(rec, fx->secret64));
        hx_received_free(rec);
    }
    rec = de_find(fx->r, "/sec64", id, 0);
    if (rec) {
        CHECK(de_signed_by(rec, fx->secret64));
        CHECK(!de_signed_by(rec, fx->secret48));
        hx_received_free(rec);
    }

    E2E_SECTION("a URL of 2048 characters and a header of a 128-character name and 2048-character value arrive whole");
    CHECK(HX_WAIT(de_count(fx->rl, NULL, idl) == 1, WAIT_MS));
    rec = de_find(fx->rl, NULL, idl, 0);
    if (rec) {
        char lower[LIMIT_HEADER_NAME_MAX + 1];
        for (size_t i = 0; i <= strlen(fx->hname); i++)
            lower[i] = (char)tolower((unsigned char)fx->hname[i]);
        CHECK_EQ_STR(de_hdr(rec, lower), fx->hvalue);
        CHECK(de_signed_by(rec, fx->wlong.secret));
        hx_received_free(rec);
    }
    PGconn *pg = hx_pg_connect(fx->st);
    CHECK(HX_WAIT(de_pg_long(pg, "SELECT length(endpoint_url) FROM attempts WHERE event_id = $1 AND success", idl,
                             NULL, NULL) == LIMIT_URL_MAX, WAIT_MS));
    PQfinish(pg);
}

int main(void)
{
    struct fx fx = { 0 };
    fx_setup(&fx);
    test_long_tenant(&fx);
    test_envelope_limits(&fx);
    test_webhook_limits(&fx);
    fx_teardown(&fx);
    return check_exit();
}
