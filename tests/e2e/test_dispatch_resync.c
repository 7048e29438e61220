/* test_dispatch_resync.c: the periodic resync with PostgreSQL repairs an
 * index that missed lifecycle events, over several pages of webhooks.
 *
 * 2,100 webhooks (three pages of the resync's 1,000) each get every
 * event. With the api's outbox relay held back (this test holds its
 * advisory lock), webhooks are changed behind the lifecycle stream's back,
 * straight in PostgreSQL: one on the last page deleted, one on the middle
 * page disabled. The dispatcher (HOOKLINE_RESYNC_INTERVAL=1s) learns both
 * from its paged resync: the next event goes to every other webhook and
 * to neither of those two, and its index holds one webhook less.
 */
#include <signal.h>

#include "dispatch_e2e.h"
#include "ops_e2e.h"

enum { N = 2100 };

static struct hx_stack *g_st;
static pid_t g_d;

static double index_size(void)
{
    char *m = ops_scrape(hx_dispatcher_url(g_st, g_d));
    double v = m ? ops_metric(m, "hookline_dispatcher_subscriptions") : -1;
    free(m);
    return v;
}

int main(void)
{
    struct hx_stack_opts opts = { .dispatchers = 0 };
    struct hx_stack *st = g_st = hx_stack_start(&opts);
    struct hx_receiver *r = hx_receiver_start(NULL);
    PGconn *pg = PQconnectdb(hx_db_conninfo(st));
    CHECK_FATAL(PQstatus(pg) == CONNECTION_OK);
    char key[128];
    de_tenant_new(st, "acme", key, sizeof(key));
    for (int i = 0; i < N; i++) {
        struct de_webhook wh;
        de_webhook_new(st, key, &wh, "{\"name\":\"w%d\",\"url\":\"%s/w\",\"events\":\"booking\"}", i,
                       hx_receiver_url(r));
    }
    const char *env[] = { "HOOKLINE_RESYNC_INTERVAL=1s", NULL };
    pid_t d = g_d = hx_dispatcher_start(st, env);
    struct de_producer *p = de_producer_new(hx_brokers(st));
    char ev[64];

    E2E_SECTION("every webhook gets an event");
    de_produce_event(p, "acme", "booking.scheduled", NULL, ev, NULL);
    de_flush(p);
    CHECK(HX_WAIT(de_count(r, "/w", ev) == N, 60000));
    CHECK_EQ_INT((long)index_size(), N);

    E2E_SECTION("changes made behind the lifecycle stream's back reach the index by the resync");
    /* the relay cannot publish while this session holds its lock */
    PGconn *lock = PQconnectdb(hx_db_conninfo(st));
    CHECK_FATAL(PQstatus(lock) == CONNECTION_OK);
    de_hold_relay(lock);
    char last[64], middle[64];
    PGresult *res = PQexec(pg, "SELECT max(id) FROM webhooks");
    CHECK_FATAL(PQntuples(res) == 1);
    snprintf(last, sizeof(last), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = PQexec(pg, "SELECT id FROM webhooks ORDER BY id OFFSET 1500 LIMIT 1");
    CHECK_FATAL(PQntuples(res) == 1);
    snprintf(middle, sizeof(middle), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    CHECK_EQ_INT(de_pg_long(pg, "WITH d AS (DELETE FROM webhooks WHERE id = $1 RETURNING 1) SELECT count(*) FROM d",
                            last, NULL, NULL), 1);
    CHECK_EQ_INT(de_pg_long(pg, "WITH u AS (UPDATE webhooks SET is_active = false, version = version + 1 "
                                "WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", middle, NULL, NULL), 1);
    CHECK(HX_WAIT(index_size() == N - 1, 30000));
    hx_receiver_clear(r);
    de_produce_event(p, "acme", "booking.scheduled", NULL, ev, NULL);
    de_flush(p);
    CHECK(HX_WAIT(de_count(r, "/w", ev) == N - 2, 60000));
    /* every one but those two: no attempt of theirs was made */
    CHECK_EQ_INT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE webhook_id IN ($1, $2) AND event_id = $3",
                            last, middle, ev), 0);
    CHECK_EQ_INT((long)de_count(r, "/w", ev), N - 2);
    CHECK(hx_proc_alive(st, d));
    PQclear(PQexec(lock, "SELECT pg_advisory_unlock_all()"));

    de_producer_free(p);
    PQfinish(lock);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(r);
    return check_exit();
}
