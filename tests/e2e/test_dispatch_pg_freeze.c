/* test_dispatch_pg_freeze.c: PostgreSQL hanging without a word (every
 * server process stopped with SIGSTOP, connections left open) loses
 * nothing, and delivery resumes within seconds of its return.
 *
 * (a) Under a steady load (two tenants, 300 events/s), PostgreSQL is
 * frozen for 20 s, then continued: every event is delivered and has its
 * successful attempt record in the end, and deliveries resume within 5 s
 * of SIGCONT (DESIGN.md: "everything resumes within seconds of its
 * return").
 * (b) One dispatcher with a backlog and deliveries in flight; a second
 * dispatcher starts (a rebalance: partitions are revoked from the first)
 * and PostgreSQL is frozen at once, for 15 s, so the first gives up
 * partitions whose attempts it cannot record; then it is continued:
 * every event still gets its deliveries recorded, and the first
 * dispatcher exits 0 on SIGTERM (under ASan a use of freed memory would
 * abort it).
 *
 * The freeze (hx_pg_freeze) is undone whatever happens to the test: see
 * harness.h. A rebalance may repeat deliveries, which are counted but
 * allowed: the subject here is loss.
 */
#include <signal.h>

#include "isolation_e2e.h"

#define MAX_EVENTS 20000

static char ids[MAX_EVENTS][64];

struct load {
    struct de_producer *p;
    int rate;
    atomic_bool stop;
    atomic_int produced;
};

/* Two tenants' events at 'rate' per second, alternately, until stopped. */
static void *load_run(void *arg)
{
    struct load *l = arg;
    long long t0 = hx_now_ms();
    char data[64];
    for (int i = 0; i < MAX_EVENTS && !atomic_load(&l->stop); i++) {
        iso_pace(l->p, t0, i, l->rate);
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        iso_produce(l->p, NULL, i % 2 ? "f1" : "f0", "booking.scheduled", data, ids[i]);
        atomic_store(&l->produced, i + 1);
    }
    de_flush(l->p);
    return NULL;
}

static long count_successes(void *arg)
{
    return de_pg_long(arg, "SELECT count(*) FROM (SELECT DISTINCT webhook_id, event_id FROM attempts "
                           "WHERE success) s", NULL, NULL, NULL);
}

static size_t received(struct hx_receiver **r, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += hx_receiver_count(r[i], NULL);
    return total;
}

static void test_freeze_under_load(void)
{
    struct hx_stack_opts opts = {
        .env = { "HOOKLINE_ALLOW_HTTP=true", "HOOKLINE_RETRY_SCHEDULE=1s,2s,5s,5s,5s", NULL },
    };
    struct hx_receiver_opts plain = { .plain_http = true };
    struct hx_receiver *r[2];
    struct iso_tally t = { 0 };
    char key[128], path[16];

    E2E_SECTION("(a) 300 events/s, PostgreSQL frozen for 20 s: nothing lost, deliveries resume within 5 s");
    struct hx_stack *st = hx_stack_start(&opts);
    PGconn *pg = hx_pg_connect(st);
    for (int i = 0; i < 2; i++) {
        struct de_webhook wh;
        char tenant[8];
        snprintf(tenant, sizeof(tenant), "f%d", i);
        de_tenant_new(st, tenant, key, sizeof(key));
        r[i] = hx_receiver_start(&plain);
        iso_tally_add(&t, r[i]);
        de_webhook_new(st, key, &wh, "{\"name\":\"w\",\"url\":\"%s/%s\",\"events\":\"booking\"}",
                       hx_receiver_url(r[i]), tenant);
    }
    pid_t d = hx_dispatcher_start(st, NULL);
    CHECK_FATAL(HX_WAIT(iso_group_settled(st, &d, 1), 30000));

    struct load l = { .p = de_producer_new(hx_brokers(st)), .rate = 300 };
    pthread_t th;
    CHECK_FATAL(pthread_create(&th, NULL, load_run, &l) == 0);
    CHECK(HX_WAIT(received(r, 2) >= 1000, 20000)); /* flowing */
    long long frozen_at = hx_now_ms();
    int procs = hx_pg_freeze(st);
    size_t at_freeze = received(r, 2);
    hx_sleep_ms(20000);
    size_t before_thaw = received(r, 2);
    int produced_at_thaw = atomic_load(&l.produced);
    long long thawed_real = hx_realtime_ms(), thawed = hx_now_ms();
    hx_pg_thaw(st);
    printf("froze %d server processes for %lld ms: %zu deliveries by the freeze, %zu during it; %d events "
           "produced by the thaw\n", procs, thawed - frozen_at, at_freeze, before_thaw - at_freeze, produced_at_thaw);
    CHECK((size_t)produced_at_thaw > before_thaw); /* a backlog waits: something must resume */
    bool resumed = HX_WAIT(received(r, 2) >= before_thaw + 50, 5000);
    long long first_after = -1;
    for (int k = 0; k < 2; k++) {
        for (size_t i = hx_receiver_count(r[k], NULL); i-- > 0;) {
            struct hx_received *rec = hx_receiver_get(r[k], i);
            if (rec == NULL)
                continue;
            long long at = rec->at_ms;
            hx_received_free(rec);
            if (at < thawed_real)
                break;
            if (first_after < 0 || at - thawed_real < first_after)
                first_after = at - thawed_real;
        }
    }
    printf("first delivery %lld ms after SIGCONT; %zu within 5 s\n", first_after, received(r, 2) - before_thaw);
    CHECK(resumed);

    hx_sleep_ms(5000); /* the load goes on a while after */
    atomic_store(&l.stop, true);
    pthread_join(th, NULL);
    int n = atomic_load(&l.produced);
    CHECK(iso_wait_count(iso_count_tally_pairs, &t, n, 30000, 180000, "events arrived"));
    CHECK(iso_wait_count(count_successes, pg, n, 30000, 120000, "deliveries recorded"));
    long missing = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/f%d", i % 2);
        missing += iso_tally_get(&t, path, ids[i]) == 0;
    }
    long recorded = count_successes(pg);
    printf("(a) %d events: %ld missing at the receivers, %ld repeated, %ld recorded as delivered\n", n, missing,
           t.extra, recorded);
    iso_print_dispatchers(st, &d, 1);
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(recorded, n);

    de_producer_free(l.p);
    iso_tally_free(&t);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    for (int i = 0; i < 2; i++)
        hx_receiver_stop(r[i]);
}

static void test_revoke_while_frozen(void)
{
    enum { EVENTS = 3000, HOOKS = 2 };
    struct hx_stack_opts opts = {
        .env = { "HOOKLINE_ALLOW_HTTP=true", "HOOKLINE_RETRY_SCHEDULE=1s,2s,5s,5s,5s", NULL },
    };
    struct hx_receiver_opts plain = { .plain_http = true };
    struct iso_tally t = { 0 };
    char key[128], path[16], data[64];
    struct de_webhook wh;

    E2E_SECTION("(b) a rebalance while PostgreSQL is frozen for 15 s: nothing lost, the first dispatcher exits 0");
    struct hx_stack *st = hx_stack_start(&opts);
    PGconn *pg = hx_pg_connect(st);
    de_tenant_new(st, "rb", key, sizeof(key));
    struct hx_receiver *r = hx_receiver_start(&plain);
    iso_tally_add(&t, r);
    for (int i = 0; i < HOOKS; i++)
        de_webhook_new(st, key, &wh, "{\"name\":\"w%d\",\"url\":\"%s/w%d\",\"events\":\"booking\"}", i,
                       hx_receiver_url(r), i);
    pid_t d1 = hx_dispatcher_start(st, NULL);
    CHECK_FATAL(HX_WAIT(iso_group_settled(st, &d1, 1), 30000));

    struct de_producer *p = de_producer_new(hx_brokers(st));
    for (int i = 0; i < EVENTS; i++) {
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        iso_produce_spread(p, "rb", "booking.scheduled", data, ids[i]);
    }
    de_flush(p);
    CHECK(HX_WAIT(hx_receiver_count(r, NULL) >= 600, 30000));
    /* what starts from now on is answered after 3 s: in flight across the freeze */
    hx_receiver_set_delay(r, 3000);
    hx_sleep_ms(300);
    pid_t d2 = hx_dispatcher_start(st, NULL);
    int procs = hx_pg_freeze(st);
    long long frozen_at = hx_now_ms();
    size_t at_freeze = hx_receiver_count(r, NULL);
    hx_sleep_ms(15000);
    hx_receiver_set_delay(r, 0);
    hx_receiver_release(r);
    size_t before_thaw = hx_receiver_count(r, NULL);
    hx_pg_thaw(st);
    printf("froze %d server processes for %lld ms from the second dispatcher's start: %zu requests by then, "
           "%zu during the freeze\n", procs, hx_now_ms() - frozen_at, at_freeze, before_thaw - at_freeze);
    CHECK(hx_proc_alive(st, d1));
    CHECK(hx_proc_alive(st, d2));

    CHECK(iso_wait_count(iso_count_tally_pairs, &t, (long)EVENTS * HOOKS, 30000, 180000, "deliveries"));
    CHECK(iso_wait_count(count_successes, pg, (long)EVENTS * HOOKS, 30000, 120000, "deliveries recorded"));
    long missing = 0;
    for (int i = 0; i < EVENTS; i++)
        for (int k = 0; k < HOOKS; k++) {
            snprintf(path, sizeof(path), "/w%d", k);
            missing += iso_tally_get(&t, path, ids[i]) == 0;
        }
    long recorded = count_successes(pg);
    printf("(b) %d deliveries: %ld missing at the receiver, %ld repeated, %ld recorded as delivered; "
           "attempts by the first dispatcher %ld, by the second %ld\n", EVENTS * HOOKS, missing, t.extra, recorded,
           de_attempts_by(pg, d1), de_attempts_by(pg, d2));
    pid_t both[2] = { d1, d2 };
    iso_print_dispatchers(st, both, 2);
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(recorded, (long)EVENTS * HOOKS);

    long long termed = hx_now_ms();
    CHECK_EQ_INT(hx_proc_kill(st, d1, SIGTERM), 0);
    int status = hx_proc_wait(st, d1, 40000);
    printf("first dispatcher: exit status %d %lld ms after SIGTERM\n", status, hx_now_ms() - termed);
    CHECK_EQ_INT(status, 0);

    de_producer_free(p);
    iso_tally_free(&t);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(r);
}

int main(void)
{
    long long start = hx_now_ms();
    test_freeze_under_load();
    test_revoke_while_frozen();
    fprintf(stderr, "PostgreSQL freeze tests: %lld ms\n", hx_now_ms() - start);
    return check_exit();
}
