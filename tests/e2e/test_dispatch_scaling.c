/* test_dispatch_scaling.c: dispatchers joining and leaving gracefully
 * repeat nothing and lose nothing; a webhook's rate_limit holds across
 * all of them.
 *
 * (a) A steady stream of 100 events/s for 40 s to 4 tenants (one webhook
 * each, on a receiver each; keyed by event id so every partition carries
 * some and every move takes work in flight with it) while dispatchers
 * join 1 -> 2 -> 3 and leave again 3 -> 2 -> 1 with SIGTERM, each exiting
 * 0: afterwards every event arrived exactly once at its webhook and has
 * exactly one attempt record (DESIGN.md, "Delivery guarantee": graceful
 * joins and leaves cause no duplicate).
 * (b) A webhook with rate_limit 5 and three dispatchers, each owning some
 * of the partitions over which 60 events (produced at once, with 60
 * different keys) spread: the receiver never sees more than 6 deliveries
 * in any one second (a full bucket of 5, then 5 per second), and all 60
 * arrive (DESIGN.md, "Isolation and back-pressure").
 */
#include <signal.h>

#include "isolation_e2e.h"

#define TENANTS 4
#define RATE 100
#define STREAM_MS 40000
#define N (RATE * STREAM_MS / 1000)
#define RL_EVENTS 60
#define RL_LIMIT 5

static char ids[N][64];

struct stream {
    struct de_producer *p;
    long long t0;
    atomic_int produced;
};

static void *stream_run(void *arg)
{
    struct stream *s = arg;
    char tenant[16], data[64];
    for (int i = 0; i < N; i++) {
        iso_pace(s->p, s->t0, i, RATE);
        snprintf(tenant, sizeof(tenant), "s%d", i % TENANTS);
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        iso_produce_spread(s->p, tenant, "booking.scheduled", data, ids[i]);
        atomic_store(&s->produced, i + 1);
    }
    de_flush(s->p);
    return NULL;
}

/* Sleep until 'ms' after 't0'. */
static void at_ms(long long t0, long long ms)
{
    long long left = t0 + ms - hx_now_ms();
    if (left > 0)
        hx_sleep_ms((long)left);
}

static long count_records(void *arg)
{
    return de_pg_long(arg, "SELECT count(*) FROM attempts", NULL, NULL, NULL);
}

/* Start a dispatcher and wait until it owns partitions (it is a member). */
static pid_t join_one(struct hx_stack *st, long long t0)
{
    pid_t pid = hx_dispatcher_start(st, NULL);
    bool member = HX_WAIT(iso_dispatcher_metric(st, pid, ISO_ASSIGNED) > 0, 30000);
    printf("  +%lld ms: dispatcher %ld joined%s\n", hx_now_ms() - t0, (long)pid,
           member ? " and owns partitions" : ", but owns no partition after 30 s");
    CHECK(member);
    return pid;
}

static void leave_one(struct hx_stack *st, pid_t pid, long long t0)
{
    long long sent = hx_now_ms();
    CHECK_EQ_INT(hx_proc_kill(st, pid, SIGTERM), 0);
    int status = hx_proc_wait(st, pid, 40000);
    printf("  +%lld ms: dispatcher %ld left, exit status %d after %lld ms\n", hx_now_ms() - t0, (long)pid, status,
           hx_now_ms() - sent);
    CHECK_EQ_INT(status, 0);
}

static void test_calm_scaling(struct hx_stack *st, PGconn *pg, pid_t first)
{
    struct hx_receiver_opts plain = { .plain_http = true };
    struct hx_receiver *r[TENANTS];
    struct iso_tally t = { 0 };
    char key[128], tenant[16], path[16];

    E2E_SECTION("(a) 100 events/s for 40 s while dispatchers join 1->2->3 and leave 3->2->1: each exactly once");
    for (int i = 0; i < TENANTS; i++) {
        struct de_webhook wh;
        snprintf(tenant, sizeof(tenant), "s%d", i);
        de_tenant_new(st, tenant, key, sizeof(key));
        r[i] = hx_receiver_start(&plain);
        iso_tally_add(&t, r[i]);
        de_webhook_new(st, key, &wh, "{\"name\":\"w\",\"url\":\"%s/%s\",\"events\":\"booking\"}",
                       hx_receiver_url(r[i]), tenant);
    }
    CHECK_FATAL(HX_WAIT(iso_dispatcher_metric(st, first, ISO_SUBSCRIPTIONS) == TENANTS, 10000));

    struct stream s = { .p = de_producer_new(hx_brokers(st)) };
    pthread_t th;
    s.t0 = hx_now_ms();
    CHECK_FATAL(pthread_create(&th, NULL, stream_run, &s) == 0);
    at_ms(s.t0, 5000);
    pid_t d2 = join_one(st, s.t0);
    at_ms(s.t0, 12000);
    pid_t d3 = join_one(st, s.t0);
    at_ms(s.t0, 20000);
    leave_one(st, d3, s.t0);
    at_ms(s.t0, 28000);
    leave_one(st, d2, s.t0);
    pthread_join(th, NULL);
    printf("  +%lld ms: %d events produced\n", hx_now_ms() - s.t0, atomic_load(&s.produced));

    CHECK(iso_wait_count(iso_count_tally_pairs, &t, N, 30000, 120000, "events arrived"));
    CHECK(iso_wait_count(count_records, pg, N, 30000, 60000, "attempt records"));
    hx_sleep_ms(1000); /* a late repeat would show now */
    iso_tally_update(&t);
    long arrived = 0, missing = 0, twice = 0;
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/s%d", i % TENANTS);
        long c = iso_tally_get(&t, path, ids[i]);
        arrived += c > 0;
        missing += c == 0;
        twice += c > 1 ? c - 1 : 0;
    }
    long records = count_records(pg);
    long distinct = de_pg_long(pg, "SELECT count(*) FROM (SELECT DISTINCT webhook_id, event_id FROM attempts) s",
                               NULL, NULL, NULL);
    printf("(a) %ld of %d events arrived, %ld missing, %ld repeated, %ld requests in all; %ld attempt records "
           "(%ld distinct)\n", arrived, N, missing, twice, t.requests, records, distinct);
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(twice, 0);
    CHECK_EQ_INT(t.requests, N);
    CHECK_EQ_INT(records, N);
    CHECK_EQ_INT(distinct, N);
    CHECK(hx_proc_alive(st, first));

    de_producer_free(s.p);
    iso_tally_free(&t);
    for (int i = 0; i < TENANTS; i++)
        hx_receiver_stop(r[i]);
}

static void test_rate_limit_across(struct hx_stack *st, pid_t first)
{
    struct hx_receiver_opts plain = { .plain_http = true };
    char key[128], data[64], k[32];
    struct de_webhook wh;

    E2E_SECTION("(b) rate_limit 5 with three dispatchers: at most 6 deliveries in any second, all 60 arrive");
    de_tenant_new(st, "rl", key, sizeof(key));
    struct hx_receiver *r = hx_receiver_start(&plain);
    de_webhook_new(st, key, &wh, "{\"name\":\"rl\",\"url\":\"%s/rl\",\"events\":\"booking\",\"rate_limit\":%d}",
                   hx_receiver_url(r), RL_LIMIT);
    pid_t pids[3] = { first, 0, 0 };
    pids[1] = hx_dispatcher_start(st, NULL);
    pids[2] = hx_dispatcher_start(st, NULL);
    CHECK_FATAL(HX_WAIT(iso_group_settled(st, pids, 3), 30000));
    double consumed0[3];
    for (int i = 0; i < 3; i++) {
        CHECK_FATAL(HX_WAIT(iso_dispatcher_metric(st, pids[i], ISO_SUBSCRIPTIONS) == TENANTS + 1, 10000));
        consumed0[i] = iso_dispatcher_metric(st, pids[i], ISO_CONSUMED);
    }

    struct de_producer *p = de_producer_new(hx_brokers(st));
    for (int i = 0; i < RL_EVENTS; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        iso_produce(p, k, "rl", "booking.scheduled", data, NULL);
    }
    de_flush(p);
    CHECK(HX_WAIT(hx_receiver_count(r, NULL) >= RL_EVENTS, 60000));
    hx_sleep_ms(1000);
    size_t n = hx_receiver_count(r, NULL);
    long long at[RL_EVENTS * 2];
    json_t *seen = json_object();
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof(at) / sizeof(at[0]); i++) {
        struct hx_received *rec = hx_receiver_get(r, i);
        if (rec == NULL)
            break;
        at[m++] = rec->at_ms;
        if (de_hdr(rec, "webhook-id"))
            json_object_set_new(seen, de_hdr(rec, "webhook-id"), json_true());
        hx_received_free(rec);
    }
    qsort(at, m, sizeof(at[0]), iso_cmp_ll);
    size_t worst = 0;
    long long worst_at = 0;
    for (size_t i = 0, j = 0; i < m; i++) {
        while (j < m && at[j] - at[i] < 1000)
            j++;
        if (j - i > worst) {
            worst = j - i;
            worst_at = at[i] - at[0];
        }
    }
    printf("(b) %zu requests (%zu distinct events) in %lld ms; at most %zu in one second (from +%lld ms)\n", n,
           json_object_size(seen), m ? at[m - 1] - at[0] : 0, worst, worst_at);
    for (int i = 0; i < 3; i++) {
        double c = iso_dispatcher_metric(st, pids[i], ISO_CONSUMED) - consumed0[i];
        printf("    dispatcher %ld read %.0f of the 60 events\n", (long)pids[i], c);
        CHECK(c > 0); /* the events did spread over the three */
    }
    CHECK_EQ_INT(json_object_size(seen), RL_EVENTS);
    CHECK(worst <= RL_LIMIT + 1);
    json_decref(seen);
    de_producer_free(p);
    hx_receiver_stop(r);
}

int main(void)
{
    long long start = hx_now_ms();
    struct hx_stack_opts opts = {
        .env = { "HOOKLINE_ALLOW_HTTP=true", "HOOKLINE_RETRY_SCHEDULE=1s,2s,5s,5s,5s", NULL },
    };
    struct hx_stack *st = hx_stack_start(&opts);
    PGconn *pg = hx_pg_connect(st);
    pid_t first = hx_dispatcher_start(st, NULL);
    CHECK_FATAL(HX_WAIT(iso_group_settled(st, &first, 1), 30000));
    test_calm_scaling(st, pg, first);
    test_rate_limit_across(st, first);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    fprintf(stderr, "scaling tests: %lld ms\n", hx_now_ms() - start);
    return check_exit();
}
