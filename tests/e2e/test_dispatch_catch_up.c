/* test_dispatch_catch_up.c: a webhook gets every event produced after its
 * 201, however late its lifecycle event reaches the dispatchers, and a
 * crash loses none of them.
 *
 * The api's outbox relay is held back (this test holds the relay's
 * advisory lock, so no lifecycle event is published): the dispatcher can
 * learn of a new webhook only from PostgreSQL.
 * (a) 6,000 events (over the 4,096 events a dispatcher used to keep for
 *     this) produced after a webhook's 201 all arrive, once each, and none
 *     at another tenant's webhook created at the same moment; the relay's
 *     lifecycle event, published later, repeats none.
 * (b) While such catch-up deliveries wait on a slow receiver, the
 *     dispatcher is killed (SIGKILL): a new one delivers every event, since
 *     no offset was committed before its deliveries were recorded.
 */
#include <signal.h>

#include "dispatch_e2e.h"

enum { N = 6000, N2 = 300 };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* How many of 'ids' arrived at 'path' (at least once), and how many
 * requests there were beyond one each. */
static void tally(struct hx_receiver *r, const char *path, char (*ids)[64], int n, int *arrived, int *extra)
{
    size_t total = hx_receiver_count(r, NULL), m = 0;
    char **got = calloc(total + 1, sizeof(*got));
    CHECK_FATAL(got != NULL);
    for (size_t i = 0; i < total; i++) {
        struct hx_received *rec = hx_receiver_get(r, i);
        if (rec == NULL)
            break;
        if (strcmp(rec->path, path) == 0 && de_hdr(rec, "webhook-id"))
            got[m++] = strdup(de_hdr(rec, "webhook-id"));
        hx_received_free(rec);
    }
    qsort(got, m, sizeof(*got), cmp_str);
    *arrived = 0;
    *extra = 0;
    for (int i = 0; i < n; i++) {
        const char *key = ids[i];
        char **hit = bsearch(&key, got, m, sizeof(*got), cmp_str);
        if (hit == NULL)
            continue;
        (*arrived)++;
        size_t first = (size_t)(hit - got), last = first;
        while (first > 0 && strcmp(got[first - 1], key) == 0)
            first--;
        while (last + 1 < m && strcmp(got[last + 1], key) == 0)
            last++;
        *extra += (int)(last - first);
    }
    for (size_t i = 0; i < m; i++)
        free(got[i]);
    free(got);
}

static bool all_arrived(struct hx_receiver *r, const char *path, char (*ids)[64], int n)
{
    int arrived, extra;
    tally(r, path, ids, n, &arrived, &extra);
    return arrived == n;
}

static long outbox_unpublished(PGconn *pg, const char *webhook_id)
{
    return de_pg_long(pg, "SELECT count(*) FROM outbox WHERE webhook_id = $1 AND sent_at IS NULL", webhook_id,
                      NULL, NULL);
}

int main(void)
{
    struct hx_stack_opts opts = { .dispatchers = 0 };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *r = hx_receiver_start(NULL);
    PGconn *pg = PQconnectdb(hx_db_conninfo(st)), *lock = PQconnectdb(hx_db_conninfo(st));
    CHECK_FATAL(PQstatus(pg) == CONNECTION_OK && PQstatus(lock) == CONNECTION_OK);
    char key[128], other_key[128];
    struct de_webhook early, late, late2, other;
    static char ids[N][64], ids2[N2][64];
    de_tenant_new(st, "acme", key, sizeof(key));
    de_tenant_new(st, "other", other_key, sizeof(other_key));
    de_webhook_new(st, key, &early, "{\"name\":\"early\",\"url\":\"%s/early\",\"events\":\"booking\"}",
                   hx_receiver_url(r));
    pid_t d1 = hx_dispatcher_start(st, NULL);
    struct de_producer *p = de_producer_new(hx_brokers(st));

    E2E_SECTION("(a) a webhook whose lifecycle event is held back still gets all 6,000 events after its 201");
    de_hold_relay(lock);
    de_webhook_new(st, key, &late, "{\"name\":\"late\",\"url\":\"%s/late\",\"events\":\"booking\"}",
                   hx_receiver_url(r));
    /* another tenant's webhook, new to the index at the same sync: none of acme's events */
    de_webhook_new(st, other_key, &other, "{\"name\":\"other\",\"url\":\"%s/other\",\"events\":\"booking\"}",
                   hx_receiver_url(r));
    for (int i = 0; i < N; i++)
        de_produce_event(p, "acme", "booking.scheduled", NULL, ids[i], NULL);
    de_flush(p);
    CHECK_EQ_INT(atomic_load(&p->failed), 0);
    CHECK(HX_WAIT(all_arrived(r, "/early", ids, N), 120000));
    CHECK(HX_WAIT(all_arrived(r, "/late", ids, N), 120000));
    CHECK(outbox_unpublished(pg, late.id) > 0);    /* it really came by PostgreSQL */
    int arrived, extra;
    tally(r, "/late", ids, N, &arrived, &extra);
    printf("late webhook: %d of %d arrived, %d repeated\n", arrived, N, extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(extra, 0);
    CHECK_EQ_INT((long)hx_receiver_count(r, "/other"), 0);

    E2E_SECTION("(a) the lifecycle event, published at last, repeats nothing");
    PQclear(PQexec(lock, "SELECT pg_advisory_unlock_all()"));
    CHECK(HX_WAIT(outbox_unpublished(pg, late.id) == 0, 30000));
    /* one more event after the relay's: once it is in, the lifecycle event was read before it */
    char marker[64];
    de_produce_event(p, "acme", "booking.scheduled", NULL, marker, NULL);
    de_flush(p);
    CHECK(HX_WAIT(de_count(r, "/late", marker) == 1, 30000));
    tally(r, "/late", ids, N, &arrived, &extra);
    CHECK_EQ_INT(arrived, N);
    CHECK_EQ_INT(extra, 0);
    tally(r, "/early", ids, N, &arrived, &extra);
    CHECK_EQ_INT(extra, 0);

    E2E_SECTION("(b) a crash while catch-up deliveries wait loses none of them");
    struct hx_receiver *slow = hx_receiver_start(NULL);
    hx_receiver_set_delay(slow, 3000);
    de_hold_relay(lock);
    de_webhook_new(st, key, &late2, "{\"name\":\"late2\",\"url\":\"%s/late2\",\"events\":\"booking\"}",
                   hx_receiver_url(slow));
    for (int i = 0; i < N2; i++)
        de_produce_event(p, "acme", "booking.scheduled", NULL, ids2[i], NULL);
    de_flush(p);
    CHECK(HX_WAIT(hx_receiver_count(slow, "/late2") > 0, 60000));
    CHECK_EQ_INT(hx_proc_kill(st, d1, SIGKILL), 0);
    (void)hx_proc_wait(st, d1, 10000);
    hx_receiver_set_delay(slow, 0);
    pid_t d2 = hx_dispatcher_start(st, NULL);
    CHECK(HX_WAIT(all_arrived(slow, "/late2", ids2, N2), 120000));
    tally(slow, "/late2", ids2, N2, &arrived, &extra);
    printf("after the crash: %d of %d arrived (%d repeated, at least once allows them)\n", arrived, N2, extra);
    CHECK_EQ_INT(arrived, N2);
    CHECK(hx_proc_alive(st, d2));
    PQclear(PQexec(lock, "SELECT pg_advisory_unlock_all()"));

    de_producer_free(p);
    PQfinish(lock);
    PQfinish(pg);
    hx_stack_stop(st);
    hx_receiver_stop(slow);
    hx_receiver_stop(r);
    return check_exit();
}
