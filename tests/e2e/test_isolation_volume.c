/* test_isolation_volume.c: a big tenant's work spreads over the whole
 * group of dispatchers.
 *
 * One tenant, ten webhooks on fast local receivers, two dispatchers. The
 * tenant's 20,000 events of ~500 bytes are keyed by the tenant (the
 * default), so all are in one partition that one dispatcher reads. What
 * does not fit in that one's lanes goes to PostgreSQL and is served per
 * endpoint by whichever dispatcher has capacity: both report successful
 * deliveries, all 200,000 deliveries arrive exactly once (no process
 * crashes, so none twice), each has its successful attempt record,
 * nothing is left pending, and neither dispatcher skipped an offset
 * Kafka no longer held (reason "lost"). The producer keeps its lead over
 * what the dispatchers have read under 3,000 events (~1.8 MB, about a
 * third of the 5 MiB the development broker keeps per partition), so a
 * slow machine makes this slower, never a test of the broker's retention.
 */
#include "isolation_e2e.h"

enum { N = 20000, WEBHOOKS = 10, DISPATCHERS = 2, MAX_LEAD = 3000, MAX_RATE = 2000 };
static char ids[N][64];

struct volume {
    struct hx_stack *st;
    PGconn *pg;
    struct iso_tally t;
};

static long volume_recorded(void *arg)
{
    struct volume *v = arg;
    return de_pg_long(v->pg, "SELECT count(*) FROM attempts WHERE success", NULL, NULL, NULL);
}

int main(void)
{
    long long start = hx_now_ms();
    struct hx_stack_opts opts = {
        .env = { "HOOKLINE_ALLOW_HTTP=true", "HOOKLINE_RETRY_SCHEDULE=1s,2s,5s,5s,5s", NULL },
    };
    struct volume v = { 0 };
    struct hx_receiver_opts light = { .plain_http = true, .ids_only = true };
    struct hx_receiver *r[WEBHOOKS];
    struct de_webhook wh[WEBHOOKS];
    char key[128], pad[460];

    v.st = hx_stack_start(&opts);
    v.pg = hx_pg_connect(v.st);
    de_tenant_new(v.st, "big", key, sizeof(key));
    for (int i = 0; i < WEBHOOKS; i++) {
        r[i] = hx_receiver_start(&light);
        iso_tally_add(&v.t, r[i]);
        de_webhook_new(v.st, key, &wh[i], "{\"name\":\"w%d\",\"url\":\"%s/w%d\",\"events\":\"booking\"}", i,
                       hx_receiver_url(r[i]), i);
    }
    pid_t pids[DISPATCHERS];
    for (int i = 0; i < DISPATCHERS; i++)
        pids[i] = hx_dispatcher_start(v.st, NULL);
    char urls[DISPATCHERS][64];
    for (int i = 0; i < DISPATCHERS; i++)
        snprintf(urls[i], sizeof(urls[i]), "%s", hx_dispatcher_url(v.st, pids[i]));
    /* both are members before the load: this is not about rebalancing */
    CHECK_FATAL(HX_WAIT(iso_group_settled(v.st, pids, DISPATCHERS), 30000));
    struct de_producer *p = de_producer_new(hx_brokers(v.st));

    E2E_SECTION("20,000 events of one tenant (one partition) to 10 webhooks: both dispatchers deliver");
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    long long t0 = hx_now_ms();
    long waited_ms = 0;
    for (int i = 0; i < N; i++) {
        if (i % 100 == 0) {
            long long w0 = hx_now_ms();
            long unread;
            while ((unread = iso_unread(p, urls, DISPATCHERS)) < 0 || unread > MAX_LEAD) {
                CHECK_FATAL(hx_now_ms() - w0 < 120000); /* the dispatchers read nothing for 2 minutes */
                hx_sleep_ms(50);
            }
            waited_ms += (long)(hx_now_ms() - w0);
        }
        iso_pace(p, t0, i, MAX_RATE);
        char data[512];
        snprintf(data, sizeof(data), "{\"i\":%d,\"pad\":\"%s\"}", i, pad);
        iso_produce(p, NULL, "big", "booking.scheduled", data, ids[i]);
    }
    de_flush(p);
    printf("produced %d events in %lld ms (%ld ms waiting for the dispatchers to read)\n", N, hx_now_ms() - t0,
           waited_ms);
    bool all = iso_wait_count(iso_count_tally_pairs, &v.t, (long)N * WEBHOOKS, 60000, 600000, "deliveries");
    CHECK(all);
    CHECK(iso_wait_count(volume_recorded, &v, (long)N * WEBHOOKS, 30000, 120000, "successful attempt records"));
    iso_tally_update(&v.t);
    long missing = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < WEBHOOKS; k++) {
            char path[16];
            snprintf(path, sizeof(path), "/w%d", k);
            if (iso_tally_get(&v.t, path, ids[i]) == 0)
                missing++;
        }
    printf("%ld deliveries of %d in %lld ms: %ld requests, %ld missing, %ld repeated, %ld without webhook-id\n",
           iso_tally_pairs(&v.t), N * WEBHOOKS, hx_now_ms() - t0, v.t.requests, missing, v.t.extra, v.t.unnamed);
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(iso_tally_pairs(&v.t), (long)N * WEBHOOKS);
    CHECK_EQ_INT(v.t.extra, 0);
    CHECK_EQ_INT(v.t.unnamed, 0);

    E2E_SECTION("every delivery has its successful attempt record, nothing is pending, no offset was skipped");
    long ok = de_pg_long(v.pg, "SELECT count(*) FROM attempts WHERE success", NULL, NULL, NULL);
    long pairs = de_pg_long(v.pg, "SELECT count(*) FROM (SELECT DISTINCT webhook_id, event_id FROM attempts "
                                  "WHERE success) s", NULL, NULL, NULL);
    long all_rows = de_pg_long(v.pg, "SELECT count(*) FROM attempts", NULL, NULL, NULL);
    printf("attempt records: %ld successful (%ld distinct deliveries), %ld in all\n", ok, pairs, all_rows);
    CHECK_EQ_INT(ok, (long)N * WEBHOOKS);
    CHECK_EQ_INT(pairs, (long)N * WEBHOOKS);
    CHECK(HX_WAIT(de_pg_long(v.pg, "SELECT count(*) FROM retries", NULL, NULL, NULL) == 0, 30000));
    for (int i = 0; i < DISPATCHERS; i++) {
        char *text = iso_scrape(urls[i]);
        double success = text ? iso_metric(text, ISO_SUCCESS) : NAN;
        double lost = text ? iso_metric(text, ISO_LOST) : NAN;
        double consumed = text ? iso_metric(text, ISO_CONSUMED) : NAN;
        printf("dispatcher %d (pid %ld): %.0f events consumed, %.0f successful deliveries, lost offsets %.0f%s\n",
               i + 1, (long)pids[i], consumed, success, lost, isnan(lost) ? " (no such series)" : "");
        CHECK(success > 0);
        CHECK(lost == 0);
        free(text);
    }

    iso_tally_free(&v.t);
    de_producer_free(p);
    PQfinish(v.pg);
    CHECK_EQ_INT(hx_stack_stop(v.st), 0);
    for (int i = 0; i < WEBHOOKS; i++)
        hx_receiver_stop(r[i]);
    fprintf(stderr, "volume test: %lld ms\n", hx_now_ms() - start);
    return check_exit();
}
