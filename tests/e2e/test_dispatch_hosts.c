/* test_dispatch_hosts.c: deliveries to endpoints that share one host:port.
 *
 * Many tenants' webhooks often point at one receiving service. Each
 * endpoint has its own in-flight allowance (HOOKLINE_MAX_IN_FLIGHT_PER_ENDPOINT,
 * 16); a delivery waiting for its turn must not burn its timeout before it
 * is sent. With a receiver that answers in 1 s and a 3 s delivery timeout:
 * one endpoint with 64 events gets all of them on the first attempt (the
 * receiver keeps up), and so do four endpoints on that same host:port
 * with 16 events each.
 */
#include "dispatch_e2e.h"

#define NEP 4

/* Failed attempts at URLs under 'base', printing the commonest errors. */
static long failures(PGconn *pg, const char *base)
{
    const char *params[1] = { base };
    PGresult *res = PQexecParams(pg,
                                 "SELECT left(error, 70), count(*) FROM attempts WHERE NOT success AND "
                                 "starts_with(endpoint_url, $1) GROUP BY 1 ORDER BY 2 DESC",
                                 1, NULL, params, NULL, NULL, 0);
    long n = 0;
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
        printf("  failed: %s x %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        n += atol(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return n;
}

static long successes(PGconn *pg, const char *base)
{
    return de_pg_long(pg, "SELECT count(*) FROM attempts WHERE success AND starts_with(endpoint_url, $1)", base,
                      NULL, NULL);
}

int main(void)
{
    struct hx_stack_opts opts = {
        .dispatchers = 0,
        .env = { "HOOKLINE_DELIVERY_TIMEOUT=3s", "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s", NULL },
    };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *one = hx_receiver_start(NULL), *shared = hx_receiver_start(NULL);
    PGconn *pg = hx_pg_connect(st);
    char key[128];
    struct de_webhook solo, wh[NEP];
    de_tenant_new(st, "acme", key, sizeof(key));
    de_webhook_new(st, key, &solo, "{\"name\":\"solo\",\"url\":\"%s/solo\",\"events\":[\"conversation.started\"]}",
                   hx_receiver_url(one));
    for (int i = 0; i < NEP; i++)
        de_webhook_new(st, key, &wh[i],
                       "{\"name\":\"s%d\",\"url\":\"%s/s%d\",\"events\":[\"booking.scheduled\"],"
                       "\"filter\":{\"data.ep\":%d}}", i, hx_receiver_url(shared), i, i);
    hx_dispatcher_start(st, NULL);
    struct de_producer *p = de_producer_new(hx_brokers(st));

    /* warm up: one delivery to each endpoint, answered at once */
    char id[64];
    de_produce_event(p, "acme", "conversation.started", "{}", id, NULL);
    for (int i = 0; i < NEP; i++) {
        char data[32];
        snprintf(data, sizeof(data), "{\"ep\":%d}", i);
        de_produce_event(p, "acme", "booking.scheduled", data, NULL, NULL);
    }
    de_flush(p);
    CHECK(HX_WAIT(hx_receiver_count(one, NULL) == 1 && hx_receiver_count(shared, NULL) == NEP, 30000));
    hx_receiver_set_delay(one, 1000);
    hx_receiver_set_delay(shared, 1000);

    E2E_SECTION("one endpoint answering in 1 s, 64 events: all delivered on the first attempt");
    for (int i = 0; i < 64; i++)
        de_produce_event(p, "acme", "conversation.started", "{}", NULL, NULL);
    de_flush(p);
    CHECK(HX_WAIT(successes(pg, hx_receiver_url(one)) == 65 || failures(pg, hx_receiver_url(one)) > 0, 60000));
    long bad = failures(pg, hx_receiver_url(one));
    printf("one endpoint: %ld delivered, %ld attempts failed\n", successes(pg, hx_receiver_url(one)), bad);
    CHECK_EQ_INT(bad, 0);
    CHECK(HX_WAIT(successes(pg, hx_receiver_url(one)) == 65, 60000));

    E2E_SECTION("4 endpoints on one host:port answering in 1 s, 16 events each: all delivered on the first attempt");
    for (int i = 0; i < NEP * 16; i++) {
        char data[32];
        snprintf(data, sizeof(data), "{\"ep\":%d}", i % NEP);
        de_produce_event(p, "acme", "booking.scheduled", data, NULL, NULL);
    }
    de_flush(p);
    long long t0 = hx_now_ms();
    /* every delivery is recorded within 2 timeouts + 4 answers of 1 s; retries come later */
    CHECK(HX_WAIT(de_pg_long(pg, "SELECT count(DISTINCT event_id) FROM attempts WHERE starts_with(endpoint_url, $1)",
                             hx_receiver_url(shared), NULL, NULL) == NEP + NEP * 16, 30000));
    bad = failures(pg, hx_receiver_url(shared));
    printf("shared host: %ld delivered, %ld attempts failed, %zu requests received, after %lld ms\n",
           successes(pg, hx_receiver_url(shared)), bad, hx_receiver_count(shared, NULL), hx_now_ms() - t0);
    CHECK_EQ_INT(bad, 0);
    CHECK(HX_WAIT(successes(pg, hx_receiver_url(shared)) == NEP + NEP * 16, 60000));

    de_producer_free(p);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(one);
    hx_receiver_stop(shared);
    return check_exit();
}
