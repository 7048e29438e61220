/* test_dispatch_same_host.c: a slow endpoint does not hold back another
 * tenant's endpoint on the same host and port.
 *
 * Tenant "slow"'s endpoint is /slow on a plain-HTTP receiver that takes
 * 5 s to answer; tenant "calm"'s is /calm on the same receiver, which
 * answers it at once. While the slow request hangs, calm's event arrives
 * within 1.5 s: its request goes out on a connection of its own instead of
 * waiting for the busy one (libcurl's CURLOPT_PIPEWAIT, which waits for a
 * connection that might multiplex, is only worth it over HTTPS).
 */
#include "dispatch_e2e.h"

int main(void)
{
    struct hx_stack_opts opts = { .dispatchers = 1 };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *r = hx_receiver_start(NULL);
    char slow_key[128], calm_key[128], ev[64], ev2[64];
    struct de_webhook slow, calm;
    de_tenant_new(st, "slow", slow_key, sizeof(slow_key));
    de_tenant_new(st, "calm", calm_key, sizeof(calm_key));
    de_webhook_new(st, slow_key, &slow, "{\"name\":\"s\",\"url\":\"%s/slow\",\"events\":\"booking\"}",
                   hx_receiver_url(r));
    de_webhook_new(st, calm_key, &calm, "{\"name\":\"c\",\"url\":\"%s/calm\",\"events\":\"booking\"}",
                   hx_receiver_url(r));
    struct de_producer *p = de_producer_new(hx_brokers(st));

    E2E_SECTION("a warm-up: both endpoints answer, one connection is open");
    de_produce_event(p, "calm", "booking.scheduled", NULL, ev, NULL);
    de_flush(p);
    CHECK(HX_WAIT(de_count(r, "/calm", ev) == 1, 30000));

    E2E_SECTION("while /slow hangs for 5 s, /calm on the same host and port answers within 1.5 s");
    hx_receiver_set_delay(r, 5000);
    de_produce_event(p, "slow", "booking.scheduled", NULL, ev, NULL);
    de_flush(p);
    /* the receiver records a request when it arrives, before its delay */
    CHECK_FATAL(HX_WAIT(de_count(r, "/slow", ev) == 1, 30000));
    hx_receiver_set_delay(r, 0);
    long long sent = hx_now_ms();
    de_produce_event(p, "calm", "booking.scheduled", NULL, ev2, NULL);
    de_flush(p);
    CHECK(HX_WAIT(de_count(r, "/calm", ev2) == 1, 10000));
    long long took = hx_now_ms() - sent;
    printf("calm's event arrived after %lld ms while /slow hung\n", took);
    CHECK(took < 1500);
    hx_receiver_release(r);
    /* the slow one was answered: nothing was sent twice */
    CHECK_EQ_INT((long)de_count(r, "/slow", ev), 1);

    de_producer_free(p);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(r);
    return check_exit();
}
