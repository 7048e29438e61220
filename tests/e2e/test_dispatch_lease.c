/* test_dispatch_lease.c: a retry taken from its endpoint's slow lane by a
 * dispatcher that dies is made by another one once the lane's lease runs
 * out.
 *
 * lanes.c leases a lane for HOOKLINE_LANE_LEASE (6 s here) and renews the
 * lease every quarter of that while it serves the lane. The only
 * dispatcher is killed with SIGKILL while its retry (attempt 2) is in
 * flight; a new dispatcher leaves the lane alone while the lease holds,
 * then makes attempt 2 with the same webhook-id, and the row is gone.
 */
#include <signal.h>

#include "dispatch_e2e.h"

#define LEASE_S 6

int main(void)
{
    struct hx_stack_opts opts = {
        .dispatchers = 0,
        .env = { "HOOKLINE_RETRY_SCHEDULE=1s,1s,1s", "HOOKLINE_DELIVERY_TIMEOUT=2s", "HOOKLINE_LANE_LEASE=6s", NULL },
    };
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver *r = hx_receiver_start(NULL);
    PGconn *pg = hx_pg_connect(st);
    char key[128], id[64];
    struct de_webhook wh;
    de_tenant_new(st, "acme", key, sizeof(key));
    de_webhook_new(st, key, &wh, "{\"name\":\"l\",\"url\":\"%s/l\",\"events\":\"booking\"}", hx_receiver_url(r));
    struct de_producer *p = de_producer_new(hx_brokers(st));
    hx_receiver_respond(r, "/l", 500, 1, NULL);
    pid_t d1 = hx_dispatcher_start(st, NULL);

    E2E_SECTION("kill -9 the only dispatcher while its claimed retry is in flight");
    de_produce_event(p, "acme", "booking.scheduled", "{}", id, NULL);
    de_flush(p);
    CHECK(HX_WAIT(hx_receiver_count(r, "/l") == 1, 30000));
    hx_receiver_set_delay(r, 5000); /* attempt 2 hangs (the dispatcher would time out after 2 s) */
    CHECK(HX_WAIT(hx_receiver_count(r, "/l") == 2, 10000));
    CHECK_EQ_INT(hx_proc_kill(st, d1, SIGKILL), 0);
    hx_receiver_set_delay(r, 0);
    long long killed = hx_realtime_ms();
    CHECK_EQ_INT(de_pg_long(pg, "SELECT count(*) FROM attempts WHERE event_id = $1", id, NULL, NULL), 1);
    long long lease_ms = de_pg_long(pg, "SELECT (extract(epoch FROM l.lease_until) * 1000)::bigint FROM lanes l "
                                        "JOIN retries r USING (endpoint_id) WHERE r.event_id = $1 AND r.attempt = 2 "
                                        "AND r.epoch = l.epoch", id, NULL, NULL);
    printf("lease runs out %lld ms after the kill\n", lease_ms - killed);
    /* renewed every LEASE_S / 4 while it served the lane */
    CHECK(lease_ms - killed > LEASE_S * 1000LL * 3 / 4 - 1000 && lease_ms - killed <= LEASE_S * 1000LL);

    E2E_SECTION("another dispatcher makes attempt 2 once the lease has run out, not before");
    hx_dispatcher_start(st, NULL);
    CHECK(HX_WAIT(hx_receiver_count(r, "/l") == 3, (LEASE_S + 30) * 1000));
    struct hx_received *rec = de_find(r, "/l", NULL, 2);
    CHECK(rec != NULL);
    if (rec) {
        printf("retry made %lld ms after the kill (%lld ms after the lease ran out)\n", rec->at_ms - killed,
               rec->at_ms - lease_ms);
        CHECK(rec->at_ms >= lease_ms - 50);
        CHECK(rec->at_ms <= lease_ms + 5000);
        CHECK_EQ_STR(de_hdr(rec, "webhook-id"), id);
        CHECK(de_signed_by(rec, wh.secret));
        CHECK_EQ_INT(rec->status, 200);
        hx_received_free(rec);
    }
    json_t *log = NULL;
    CHECK(HX_WAIT((json_decref(log), log = de_attempts(st, key, wh.id, id), json_array_size(log) == 2), 10000));
    if (json_array_size(log) == 2) {
        CHECK_EQ_INT(e2e_int(json_array_get(log, 0), "attempt"), 1);
        CHECK_EQ_INT(e2e_int(json_array_get(log, 1), "attempt"), 2);
        CHECK(json_is_true(json_object_get(json_array_get(log, 1), "success")));
    }
    json_decref(log);
    CHECK_EQ_INT(de_pg_long(pg, "SELECT count(*) FROM retries WHERE event_id = $1", id, NULL, NULL), 0);
    CHECK_EQ_INT(hx_receiver_count(r, "/l"), 3);

    de_producer_free(p);
    PQfinish(pg);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(r);
    return check_exit();
}
