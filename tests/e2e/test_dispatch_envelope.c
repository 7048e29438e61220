/* test_dispatch_envelope.c: what the dispatcher takes from a message on
 * hookline.events, produced straight to Kafka by a backend service.
 *
 * - An id with a CR LF ("evt\r\nx-injected: 1") is refused: the message
 *   is skipped (hookline_dispatcher_events_skipped_total{reason="malformed"}
 *   counts it, one log line names its offset without quoting the id), the
 *   valid event after it in the same partition is delivered, and no
 *   request ever carries an x-injected header or that id.
 * - An id of 128 characters of [A-Za-z0-9_.:-] is delivered with exactly
 *   that webhook-id; one of 129 is skipped as malformed.
 * - The tenant comes from the envelope, never from the Kafka key: events
 *   keyed by a booking id, or by another tenant's id, reach the tenant the
 *   envelope names and no one else.
 */
#include "dispatch_e2e.h"

#define WAIT_MS 20000

struct fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    struct de_producer *p;
    pid_t dsp;
    struct de_webhook acme, globex;
};

/* hookline_dispatcher_events_skipped_total{reason="malformed"} of the
 * dispatcher, or -1 if /metrics does not answer with it. */
static long skipped_malformed(struct fx *fx)
{
    static const char series[] = "hookline_dispatcher_events_skipped_total{reason=\"malformed\"} ";
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", hx_dispatcher_url(fx->st, fx->dsp));
    struct hx_resp resp;
    long v = -1;
    if (hx_http("GET", url, NULL, NULL, NULL, &resp) == 200) {
        const char *p = strstr(resp.body, series);
        if (p != NULL && (p == resp.body || p[-1] == '\n'))
            v = strtol(p + strlen(series), NULL, 10);
    }
    hx_resp_free(&resp);
    return v;
}

/* Lines of the dispatcher's log containing 'needle'. */
static int log_lines(struct fx *fx, const char *needle)
{
    const char *path = hx_proc_log(fx->st, fx->dsp);
    FILE *fp = path ? fopen(path, "r") : NULL;
    int n = 0;
    char line[4096];
    while (fp && fgets(line, sizeof(line), fp))
        n += strstr(line, needle) != NULL;
    if (fp)
        fclose(fp);
    return n;
}

/* Requests of any path that carry header 'name', or whose webhook-id holds
 * 'id_part'. */
static size_t requests_with(struct hx_receiver *r, const char *name, const char *id_part)
{
    size_t n = 0, total = hx_receiver_count(r, NULL);
    for (size_t i = 0; i < total; i++) {
        struct hx_received *rec = hx_receiver_get(r, i);
        if (rec == NULL)
            break;
        const char *id = de_hdr(rec, "webhook-id");
        if (json_object_get(rec->headers, name) != NULL || (id && strstr(id, id_part)))
            n++;
        hx_received_free(rec);
    }
    return n;
}

static void test_injected_id(struct fx *fx)
{
    E2E_SECTION("an id holding CR LF is skipped as malformed, never sent as a header; the next event goes");
    long skipped = skipped_malformed(fx);
    CHECK(skipped >= 0);
    size_t before = hx_receiver_count(fx->r, "/acme");
    /* JSON escapes: the id the dispatcher reads holds a real CR LF */
    char *bad = de_envelope("evt_inj\\r\\nx-injected: 1", "booking.scheduled", "acme", "{\"n\":1}");
    de_produce_raw(fx->p, "acme", bad, strlen(bad)); /* same key: the same partition as the next one */
    free(bad);
    char id[64];
    de_produce_event(fx->p, "acme", "booking.scheduled", "{\"n\":2}", id, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/acme", id) == 1, WAIT_MS));
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/acme"), before + 1);
    CHECK_EQ_INT(requests_with(fx->r, "x-injected", "evt_inj"), 0);
    /* the metrics show the loop's counters a moment later */
    CHECK(HX_WAIT(skipped_malformed(fx) == skipped + 1, 5000));
    CHECK_EQ_INT(log_lines(fx, "must be 1 to 128 letters, digits or _.:- characters"), 1);
    CHECK_EQ_INT(log_lines(fx, "skipped malformed event at hookline.events["), 1);
    CHECK_EQ_INT(log_lines(fx, "x-injected"), 0);
}

static void test_id_length(struct fx *fx)
{
    E2E_SECTION("an id of 128 characters of [A-Za-z0-9_.:-] is delivered as it is; 129 are skipped");
    static const char class[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
    char id128[129], id129[130];
    for (size_t i = 0; i < 128; i++)
        id128[i] = class[i % (sizeof(class) - 1)];
    id128[128] = '\0';
    snprintf(id129, sizeof(id129), "%sZ", id128);
    id129[0] = 'Z';     /* not a prefix of the other: a truncated copy could not pass for it */
    long skipped = skipped_malformed(fx);
    size_t before = hx_receiver_count(fx->r, "/acme");
    char *env = de_envelope(id129, "booking.completed", "acme", NULL);
    de_produce_raw(fx->p, "acme", env, strlen(env));
    free(env);
    env = de_envelope(id128, "booking.completed", "acme", NULL);
    de_produce_raw(fx->p, "acme", env, strlen(env));
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/acme", id128) == 1, WAIT_MS));
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/acme"), before + 1);
    struct hx_received *rec = de_find(fx->r, "/acme", id128, 0);
    CHECK(rec != NULL);
    if (rec) {
        CHECK(rec->len == strlen(env) && memcmp(rec->body, env, rec->len) == 0);
        CHECK(de_signed_by(rec, fx->acme.secret));
        hx_received_free(rec);
    }
    free(env);
    CHECK(HX_WAIT(skipped_malformed(fx) == skipped + 1, 5000));
}

static void test_key_not_tenant(struct fx *fx)
{
    E2E_SECTION("the tenant comes from the envelope: keyed by a booking id or by another tenant, acme's event "
                "reaches acme only");
    size_t acme = hx_receiver_count(fx->r, "/acme"), globex = hx_receiver_count(fx->r, "/globex");
    char id_booking[64], id_other[64];
    de_event_id(id_booking, sizeof(id_booking));
    de_event_id(id_other, sizeof(id_other));
    char *env = de_envelope(id_booking, "booking.rescheduled", "acme", "{\"booking\":\"bk_8812\"}");
    de_produce_raw(fx->p, "bk_8812", env, strlen(env));
    free(env);
    env = de_envelope(id_other, "booking.rescheduled", "acme", "{\"booking\":\"bk_8813\"}");
    de_produce_raw(fx->p, "globex", env, strlen(env));
    free(env);
    /* globex's own event afterwards: once it is in, the two above were read */
    char id_globex[64];
    de_produce_event(fx->p, "globex", "booking.rescheduled", "{}", id_globex, NULL);
    de_flush(fx->p);
    CHECK(HX_WAIT(de_count(fx->r, "/acme", id_booking) == 1 && de_count(fx->r, "/acme", id_other) == 1 &&
                      de_count(fx->r, "/globex", id_globex) == 1, WAIT_MS));
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/acme"), acme + 2);
    CHECK_EQ_INT(hx_receiver_count(fx->r, "/globex"), globex + 1);
    CHECK_EQ_INT(de_count(fx->r, "/globex", id_other) + de_count(fx->r, "/globex", id_booking), 0);
    struct hx_received *rec = de_find(fx->r, "/acme", id_other, 0);
    CHECK(rec != NULL && de_signed_by(rec, fx->acme.secret) && !de_signed_by(rec, fx->globex.secret));
    hx_received_free(rec);
}

int main(void)
{
    struct fx fx = { 0 };
    char key_acme[128], key_globex[128];
    fx.st = hx_stack_start(NULL);
    fx.r = hx_receiver_start(NULL);
    de_tenant_new(fx.st, "acme", key_acme, sizeof(key_acme));
    de_tenant_new(fx.st, "globex", key_globex, sizeof(key_globex));
    const char *u = hx_receiver_url(fx.r);
    /* created before the dispatcher starts: it loads them */
    de_webhook_new(fx.st, key_acme, &fx.acme, "{\"name\":\"a\",\"url\":\"%s/acme\",\"events\":\"booking\"}", u);
    de_webhook_new(fx.st, key_globex, &fx.globex, "{\"name\":\"g\",\"url\":\"%s/globex\",\"events\":\"booking\"}", u);
    fx.dsp = hx_dispatcher_start(fx.st, NULL);
    fx.p = de_producer_new(hx_brokers(fx.st));

    test_injected_id(&fx);
    test_id_length(&fx);
    test_key_not_tenant(&fx);

    de_producer_free(fx.p);
    CHECK(hx_proc_alive(fx.st, fx.dsp));
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    return check_exit();
}
