/* test_dispatch_scale.c: several dispatchers share hookline.events.
 *
 * 48 tenants, one webhook each, each on its own receiver. Two, then
 * three dispatchers (one consumer group, 12 partitions) deliver 3000
 * events each time: every one arrives, none twice (no process dies), and
 * every dispatcher takes a share. A fourth one joining while 3000 events
 * are being delivered loses none of them. (Crashes and stops under load:
 * test_dispatch_failover.c.)
 */
#include "dispatch_e2e.h"

enum { N = 3000 };
static char ids[N][64];

int main(void)
{
    long long start = hx_now_ms();
    struct de_fleet fl = { 0 };
    struct de_tally t = { 0 };
    int arrived, extra;
    de_fleet_start(&fl, 2, NULL);
    pid_t pids[2];
    CHECK_FATAL(hx_dispatcher_pids(fl.st, pids, 2) == 2);
    /* both are members before the load: a rebalance under load may repeat deliveries */
    for (int i = 0; i < 2; i++)
        CHECK(de_fleet_wait_member(&fl, &t, pids[i]));

    E2E_SECTION("2 dispatchers, 3000 events over 48 tenants: each delivered exactly once, both take a share");
    long long t0 = hx_now_ms();
    de_fleet_load(&fl, ids, N);
    CHECK(HX_WAIT(de_tally_all(&fl, &t, ids, N), 60000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("2 dispatchers: %d/%d events arrived in %lld ms (from the first produce), %d duplicates\n", arrived, N,
           hx_now_ms() - t0, extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(extra, 0);
    CHECK_EQ_INT(t.wrong, 0);
    CHECK(HX_WAIT(de_fleet_dispatchers_of(&fl, ids, N) == 2, 10000));

    E2E_SECTION("a third dispatcher joins: 3000 more events, each exactly once, all three take a share");
    pid_t d3 = hx_dispatcher_start(fl.st, NULL);
    CHECK(de_fleet_wait_member(&fl, &t, d3));
    t0 = hx_now_ms();
    de_fleet_load(&fl, ids, N);
    CHECK(HX_WAIT(de_tally_all(&fl, &t, ids, N), 60000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("3 dispatchers: %d/%d events arrived in %lld ms, %d duplicates\n", arrived, N, hx_now_ms() - t0, extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(extra, 0);
    CHECK_EQ_INT(t.wrong, 0);
    CHECK(HX_WAIT(de_fleet_dispatchers_of(&fl, ids, N) == 3, 10000));
    CHECK_EQ_INT(de_fleet_failures(&fl), 0);

    E2E_SECTION("a fourth dispatcher joins while 3000 events are being delivered: none is lost");
    size_t base = json_object_size(t.count);
    t0 = hx_now_ms();
    de_fleet_load(&fl, ids, N);
    CHECK(HX_WAIT((de_tally_update(&fl, &t), json_object_size(t.count) >= base + 300), 30000));
    pid_t d4 = hx_dispatcher_start(fl.st, NULL);
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("join under load: dispatcher 4 started after %lld ms, %d/%d events arrived by then\n", hx_now_ms() - t0,
           arrived, N);
    CHECK(arrived < N);
    CHECK(HX_WAIT(de_tally_all(&fl, &t, ids, N), 90000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("join under load: %d/%d events arrived in %lld ms, %d duplicates (a rebalance may repeat some)\n", arrived,
           N, hx_now_ms() - t0, extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(t.wrong, 0);
    CHECK(de_fleet_wait_member(&fl, &t, d4));

    de_fleet_failures(&fl);
    json_decref(t.count);
    CHECK_EQ_INT(de_fleet_stop(&fl), 0);
    fprintf(stderr, "scale tests: %lld ms\n", hx_now_ms() - start);
    return check_exit();
}
