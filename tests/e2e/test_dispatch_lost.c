/* test_dispatch_lost.c: events Kafka no longer holds are never skipped in
 * silence.
 *
 * The development broker keeps at most 5 MiB (or 100,000 message sets) of
 * a partition. One tenant's webhook gets an event, its only dispatcher
 * stops gracefully (its position is kept), and ~8 MiB of events are
 * produced into that tenant's partition while none runs: the oldest go.
 * A new dispatcher reports the lost range as an error naming the
 * partition, counts it in events_skipped_total{reason="lost"} and shows it
 * on /readyz, and delivers what Kafka still has, up to the last event.
 */
#include <signal.h>

#include "dispatch_e2e.h"
#include "ops_e2e.h"

enum { N = 14000, BODY = 600 };

int main(void)
{
    struct hx_stack_opts opts = { .dispatchers = 0 };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *r = hx_receiver_start(NULL);
    char key[128], id[64], last[64] = "";
    struct de_webhook wh;
    de_tenant_new(st, "acme", key, sizeof(key));
    de_webhook_new(st, key, &wh, "{\"name\":\"w\",\"url\":\"%s/w\",\"events\":\"booking\"}", hx_receiver_url(r));
    struct de_producer *p = de_producer_new(hx_brokers(st));
    pid_t d1 = hx_dispatcher_start(st, NULL);

    E2E_SECTION("a first event is delivered and its position kept at a graceful stop");
    de_produce_event(p, "acme", "booking.scheduled", "{}", id, NULL);
    de_flush(p);
    CHECK(HX_WAIT(hx_receiver_count(r, "/w") == 1, 30000));
    CHECK_EQ_INT(hx_proc_kill(st, d1, SIGTERM), 0);
    CHECK_EQ_INT(hx_proc_wait(st, d1, 30000), 0);

    E2E_SECTION("~8 MiB produced while no dispatcher runs: the broker drops the oldest");
    char pad[BODY], data[BODY + 16];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(data, sizeof(data), "{\"pad\":\"%s\"}", pad);
    for (int i = 0; i < N; i++)
        de_produce_event(p, "acme", "booking.scheduled", data, last, NULL);
    de_flush(p);
    CHECK_EQ_INT(atomic_load(&p->failed), 0);

    E2E_SECTION("a new dispatcher names the lost range, counts it, shows it on /readyz, and delivers the rest");
    pid_t d2 = hx_dispatcher_start(st, NULL);
    CHECK(HX_WAIT(de_count(r, "/w", last) == 1, 60000));
    CHECK(de_log_has(st, d2, "were lost: Kafka no longer holds them"));
    char *metrics = ops_scrape(hx_dispatcher_url(st, d2));
    double lost = metrics ? ops_metric(metrics, "hookline_dispatcher_events_skipped_total{reason=\"lost\"}") : -1;
    CHECK(lost > 0 && lost < N);
    /* every event Kafka still held goes out (some by way of the slow lane):
     * the lost ones and the delivered ones are all of them */
    CHECK(HX_WAIT((long)hx_receiver_count(r, "/w") - 1 + (long)lost >= N, 60000));
    size_t got = hx_receiver_count(r, "/w") - 1;
    printf("lost %.0f of %d events; %zu delivered after the restart\n", lost, N, got);
    CHECK_EQ_INT((long)lost + (long)got, N);
    free(metrics);
    struct hx_resp resp;
    char url[256];
    snprintf(url, sizeof(url), "%s/readyz", hx_dispatcher_url(st, d2));
    CHECK_EQ_INT(ops_get(url, &resp), 200);
    CHECK(json_integer_value(json_object_get(resp.json, "events_lost")) == (json_int_t)lost);
    hx_resp_free(&resp);

    de_producer_free(p);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(r);
    return check_exit();
}
