/* routes_health.c: liveness and readiness.
 *
 *   GET /healthz  200 while the process serves requests
 *   GET /readyz   200 when PostgreSQL and Kafka answer, else 503 naming
 *                 the part that does not
 */
#include "api.h"

static int health_live(struct api_call *call)
{
    return api_reply(call, 200, json_pack("{s:s}", "status", "ok"));
}

static int health_ready(struct api_call *call)
{
    struct hl_error err = { 0 };
    PGconn *pg = db_pool_acquire(call->ctx->pool, &err);
    bool pg_ok = false;
    if (pg != NULL) {
        pg_ok = db_exec(pg, &err, "SELECT 1", 0, NULL) == 0;
        db_pool_release(call->ctx->pool, pg);
    }
    bool kafka_ok = kafka_producer_reachable(call->ctx->kp, 1000);
    bool ok = pg_ok && kafka_ok;
    return api_reply(call, ok ? 200 : 503, json_pack("{s:s,s:s,s:s}", "status", ok ? "ready" : "not ready",
                     "postgres", pg_ok ? "ok" : "unreachable", "kafka", kafka_ok ? "ok" : "unreachable"));
}

const struct api_route routes_health[] = {
    { "GET", "/healthz", SCOPE_NONE, false, health_live },
    { "GET", "/readyz", SCOPE_NONE, false, health_ready },
    { NULL, NULL, 0, false, NULL },
};
