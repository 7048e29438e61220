/* test_api_pg_stall.c: hookline-api when PostgreSQL stops answering.
 *
 * Every process of the test's PostgreSQL server gets SIGSTOP (hx_pg_freeze):
 * its connections stay open and nothing answers, as with a host that hangs
 * or a network that drops packets without a reset. A request that needs
 * PostgreSQL (listing webhooks) and GET /readyz then answer 503 within a
 * few seconds (the sessions' statement timeout, 5 s for REST requests,
 * plus a little), not after minutes; once the server gets SIGCONT the api
 * answers 200 again within 5 s. The server is thawed on every way out of
 * the test.
 */
#include "api_e2e.h"

#define STALL_BOUND_MS 8000     /* 5 s statement timeout + 0.5 s grace + a loaded machine's slack */
#define RECOVER_MS 5000

static long get_timed(struct hx_stack *st, const char *key, const char *path, struct hx_resp *resp,
                      long long *elapsed)
{
    long long t0 = hx_now_ms();
    long status = hx_api(st, "GET", key, NULL, resp, "%s", path);
    *elapsed = hx_now_ms() - t0;
    printf("GET %s: %ld after %lld ms\n", path, status, *elapsed);
    fflush(stdout);
    return status;
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128];
    CHECK_FATAL(hx_tenant_new(st, "acme", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    char id[64];
    CHECK_FATAL(e2e_webhook_new(st, key, "w", "https://hooks.example.com/in", id, NULL) == 201);
    struct hx_resp resp;
    long long ms;
    CHECK_EQ_INT(get_timed(st, key, "/v1/webhooks", &resp, &ms), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    hx_resp_free(&resp);
    CHECK_EQ_INT(get_timed(st, NULL, "/readyz", &resp, &ms), 200);
    hx_resp_free(&resp);

    E2E_SECTION("PostgreSQL stopped: a request that needs it answers 503 within %d ms", STALL_BOUND_MS);
    CHECK_FATAL(hx_pg_freeze(st) > 0);
    CHECK_EQ_INT(get_timed(st, key, "/v1/webhooks", &resp, &ms), 503);
    CHECK(ms < STALL_BOUND_MS);
    CHECK(e2e_is_error_body(&resp) && e2e_starts_with(e2e_error(&resp), "Database unavailable"));
    hx_resp_free(&resp);
    /* the next one again, on whatever session the pool gives it */
    CHECK_EQ_INT(get_timed(st, key, "/v1/webhooks", &resp, &ms), 503);
    CHECK(ms < STALL_BOUND_MS);
    hx_resp_free(&resp);

    E2E_SECTION("PostgreSQL stopped: GET /readyz answers 503, postgres unreachable, within %d ms", STALL_BOUND_MS);
    CHECK_EQ_INT(get_timed(st, NULL, "/readyz", &resp, &ms), 503);
    CHECK(ms < STALL_BOUND_MS);
    CHECK_EQ_STR(e2e_str(resp.json, "postgres"), "unreachable");
    CHECK_EQ_STR(e2e_str(resp.json, "kafka"), "ok");
    hx_resp_free(&resp);

    E2E_SECTION("PostgreSQL back: the api answers 200 again within %d ms", RECOVER_MS);
    hx_pg_thaw(st);
    long long t0 = hx_now_ms();
    long status = 0;
    CHECK(HX_WAIT((status = hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks"), hx_resp_free(&resp), status == 200),
                  RECOVER_MS));
    printf("200 again after %lld ms\n", hx_now_ms() - t0);
    CHECK_EQ_INT(get_timed(st, key, "/v1/webhooks", &resp, &ms), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    hx_resp_free(&resp);
    CHECK(HX_WAIT((status = hx_api(st, "GET", NULL, NULL, &resp, "/readyz"), hx_resp_free(&resp), status == 200),
                  RECOVER_MS));

    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
