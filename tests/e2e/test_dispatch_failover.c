/* test_dispatch_failover.c: dispatchers dying or stopping under load lose
 * no event.
 *
 * 48 tenants, one webhook each, each on its own receiver. Three dispatchers
 * deliver 5000 events; one is killed with SIGKILL halfway: once the group
 * reassigns its partitions (session timeout, 10 s) every event arrives,
 * some twice (allowed). One of the two left is stopped with SIGTERM under
 * load: it exits 0 and nothing is lost. Then, in a stack of its own, the
 * only dispatcher is stopped with SIGTERM under load, one of its endpoints
 * being slow, and a successor starts: it exits 0 with every attempt it made
 * recorded, the successor delivers whatever was left, and nothing the first
 * one delivered is delivered again.
 */
#include <signal.h>

#include "dispatch_e2e.h"

enum { N = 5000 };
static char ids[N][64];

static void test_kill_and_stop(void)
{
    struct de_fleet fl = { 0 };
    struct de_tally t = { 0 };
    int arrived, extra;
    de_fleet_start(&fl, 3, NULL);
    pid_t pids[8];
    CHECK_FATAL(hx_dispatcher_pids(fl.st, pids, 8) == 3);
    for (int i = 0; i < 3; i++) /* all three are members before the load */
        CHECK(de_fleet_wait_member(&fl, &t, pids[i]));

    E2E_SECTION("kill -9 one of 3 dispatchers under load (5000 events): every event still arrives");
    long long t0 = hx_now_ms();
    size_t base = json_object_size(t.count);
    de_fleet_load(&fl, ids, N);
    CHECK(HX_WAIT((de_tally_update(&fl, &t), json_object_size(t.count) >= base + 1000), 30000));
    long by_victim = de_attempts_by(fl.pg, pids[1]);
    CHECK_EQ_INT(hx_proc_kill(fl.st, pids[1], SIGKILL), 0);
    long long killed = hx_now_ms();
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("kill -9 after %lld ms: %d/%d events arrived (the victim had recorded %ld attempts)\n", killed - t0, arrived,
           N, by_victim);
    CHECK(arrived < N); /* killed mid-load */
    CHECK(by_victim > 0);
    CHECK(HX_WAIT(de_tally_all(&fl, &t, ids, N), 90000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("after kill -9: %d/%d events arrived, the last %lld ms after the kill; %d duplicates\n", arrived, N,
           hx_now_ms() - killed, extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(t.wrong, 0);

    E2E_SECTION("SIGTERM one of the 2 remaining dispatchers under load: it exits 0, nothing is lost");
    t0 = hx_now_ms();
    base = json_object_size(t.count);
    de_fleet_load(&fl, ids, N);
    CHECK(HX_WAIT((de_tally_update(&fl, &t), json_object_size(t.count) >= base + 1000), 30000));
    CHECK_EQ_INT(hx_proc_kill(fl.st, pids[2], SIGTERM), 0);
    long long termed = hx_now_ms();
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("SIGTERM after %lld ms: %d/%d events arrived\n", termed - t0, arrived, N);
    CHECK(arrived < N);
    int status = hx_proc_wait(fl.st, pids[2], 30000);
    CHECK_EQ_INT(status, 0);
    printf("SIGTERM: exit status %d, %lld ms after the signal\n", status, hx_now_ms() - termed);
    CHECK(HX_WAIT(de_tally_all(&fl, &t, ids, N), 90000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    /* duplicates are allowed here: the survivor's partitions are revoked too
     * (eager rebalance), and the devbroker refuses its offset commit while
     * the group rebalances, so it repeats what it delivered since its last commit */
    printf("after SIGTERM: %d/%d events arrived; %d duplicates\n", arrived, N, extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(t.wrong, 0);
    CHECK(hx_proc_alive(fl.st, pids[0]));

    de_fleet_failures(&fl);
    json_decref(t.count);
    CHECK_EQ_INT(de_fleet_stop(&fl), 0);
}

static void test_stop_only_one(void)
{
    struct de_fleet fl = { 0 };
    struct de_tally t = { 0 };
    int arrived, extra;
    de_fleet_start(&fl, 1, NULL);
    pid_t first;
    CHECK_FATAL(hx_dispatcher_pids(fl.st, &first, 1) == 1);

    E2E_SECTION("SIGTERM the only dispatcher under load, start a successor: nothing lost, nothing repeated");
    /* one slow endpoint (1 s per answer) among fast ones: its deliveries are
     * still waiting when the stop comes, behind later events of its
     * partition that other endpoints have already been sent */
    hx_receiver_set_delay(fl.r[0], 1000);
    long long t0 = hx_now_ms();
    de_fleet_load(&fl, ids, N);
    /* the slow endpoint's 16 connections are busy and the others are well under way */
    CHECK(HX_WAIT((de_tally_update(&fl, &t), json_object_size(t.count) >= 1000 && hx_receiver_count(fl.r[0], NULL) >= 16),
                  30000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    CHECK_EQ_INT(hx_proc_kill(fl.st, first, SIGTERM), 0);
    long long termed = hx_now_ms();
    CHECK(arrived < N); /* stopped under load */
    int status = hx_proc_wait(fl.st, first, 30000);
    CHECK_EQ_INT(status, 0);
    printf("SIGTERM after %lld ms with %d/%d events arrived: exit status %d after %lld ms\n", termed - t0, arrived, N,
           status, hx_now_ms() - termed);
    de_tally_update(&fl, &t);
    de_tally_sum(&t, ids, N, &arrived, &extra);
    /* a graceful stop records every attempt it made: each request received has its record */
    long recorded = de_pg_long(fl.pg, "SELECT count(*) FROM attempts", NULL, NULL, NULL), received = 0;
    for (int i = 0; i < DE_RECV; i++)
        received += (long)hx_receiver_count(fl.r[i], NULL);
    printf("stopped: %d/%d events arrived, %ld requests received, %ld attempts recorded\n", arrived, N, received,
           recorded);
    CHECK(recorded >= received);

    /* whatever the first one left is the successor's; what it delivered is not repeated */
    hx_dispatcher_start(fl.st, NULL);
    CHECK(HX_WAIT(de_tally_all(&fl, &t, ids, N), 90000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    printf("successor: %d/%d events arrived; %d delivered a second time\n", arrived, N, extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(extra, 0);
    CHECK_EQ_INT(t.wrong, 0);
    /* the successor has read up to the end: one more event for each tenant arrives once */
    char more[DE_TENANTS][64];
    de_fleet_load(&fl, more, DE_TENANTS);
    CHECK(HX_WAIT(de_tally_all(&fl, &t, more, DE_TENANTS), 30000));
    de_tally_sum(&t, ids, N, &arrived, &extra);
    CHECK_EQ_INT(extra, 0);

    de_fleet_failures(&fl);
    json_decref(t.count);
    CHECK_EQ_INT(de_fleet_stop(&fl), 0);
}

int main(void)
{
    long long start = hx_now_ms();
    test_kill_and_stop();
    test_stop_only_one();
    fprintf(stderr, "failover tests: %lld ms\n", hx_now_ms() - start);
    return check_exit();
}
