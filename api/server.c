/* server.c: the REST server. Registers every route table with ulfius,
 * authenticates each call, lends it a PostgreSQL connection, and maps
 * HL_E* codes to one JSON error shape: {"error":"<message>"}.
 *
 * Each connection has a thread of its own (libmicrohttpd's thread per
 * connection), and a call runs its handler once it holds one of
 * HOOKLINE_HTTP_THREADS worker places (ctx->workers). A handler that waits
 * on something outside (Kafka, an endpoint's TLS handshake) gives its
 * worker back meanwhile and holds one of half as many places at
 * ctx->outside instead (api_outside_enter), so such waits never take a
 * worker from any other call. With a pool of threads each serving many
 * connections instead, a call waiting on Kafka held up the calls that
 * happened to be accepted by its thread, whatever the free workers.
 */
#include "api.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "wait_gate.h"

/* The longest a call waits for a worker: every handler is bounded well
 * below this (statement timeouts; waits outside give the worker back). */
#define SERVER_WORKER_WAIT_MS 30000
#include "path_params.h"

/* What a ulfius endpoint needs to run one route. */
struct route_binding {
    struct api_ctx *ctx;
    const struct api_route *route;
};

_Static_assert(LIMIT_PATH_PARAM_MAX >= LIMIT_TENANT_ID_MAX && LIMIT_PATH_PARAM_MAX >= HL_ID_MAX,
               "a path parameter holds any tenant id and any generated id");

/* The path parameters of the call in progress on this thread (path_params.h). */
static _Thread_local struct path_params *call_params;

static struct route_binding *bindings;
static size_t nbindings;

int api_http_status(int code)
{
    switch (code) {
    case HL_OK: return 200;
    case HL_EINVAL: return 400;
    case HL_EAUTH: return 401;
    case HL_EFORBIDDEN: return 403;
    case HL_ENOTFOUND: return 404;
    case HL_EDUP: return 409;
    case HL_ECONFLICT: return 409;
    case HL_ETOOBIG: return 413;
    case HL_EUNKNOWN_EVENT: return 422;
    case HL_EKAFKA: return 503;
    case HL_EDB: return 503;
    case HL_EBUSY: return 503;
    case HL_EINDOUBT: return 503;
    default: return 500;
    }
}

const char *api_param(const struct api_call *call, const char *name)
{
    (void)call;
    struct path_params *pp = call_params;
    for (int i = 0; pp && i < pp->n; i++)
        if (strcmp(pp->name[i], name) == 0)
            return pp->value[i];
    return NULL;
}

const char *api_query(const struct api_call *call, const char *name)
{
    return u_map_get(call->req->map_url, name);
}

int api_query_int(struct api_call *call, const char *name, long min, long max, long *out)
{
    const char *s = api_query(call, name);
    if (s == NULL)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > max)
        return hl_error_set(&call->err, HL_EINVAL, "\"%s\" must be an integer from %ld to %ld.", name, min, max);
    *out = v;
    return 0;
}

int api_webhook_flag(struct api_call *call, const char *sql, const char *id, bool *flag)
{
    const char *params[2] = { id, call->who.tenant };
    /* set on every path: the compiler cannot see that hl_error_set's code is negative */
    *flag = false;
    PGresult *res = db_query(call->pg, &call->err, sql, 2, params);
    if (res == NULL)
        return HL_EDB;
    int rc = 0;
    if (PQntuples(res) == 1)
        *flag = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    else
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
    PQclear(res);
    return rc;
}

int api_reply(struct api_call *call, int status, json_t *reply)
{
    call->status = status;
    json_decref(call->reply);
    call->reply = reply;
    return 0;
}

int api_reply_text(struct api_call *call, int status, const char *text, size_t len)
{
    if (ulfius_set_binary_body_response(call->resp, (unsigned)status, text, len) != U_OK)
        return hl_error_set(&call->err, HL_ENOMEM, "cannot set the response body");
    /* what ulfius_set_json_body_response sets: a cached reply looks like a built one */
    u_map_put(call->resp->map_header, ULFIUS_HTTP_HEADER_CONTENT, ULFIUS_HTTP_ENCODING_JSON);
    call->status = status;
    json_decref(call->reply);
    call->reply = NULL;     /* no call->reply: the body set here is sent as it is */
    return 0;
}

PGconn *api_pg(struct api_call *call)
{
    if (call->pg == NULL)
        call->pg = db_pool_acquire(call->ctx->pool, &call->err);
    return call->pg;
}

void api_pg_release(struct api_call *call)
{
    if (call->pg != NULL)
        db_pool_release(call->ctx->pool, call->pg);
    call->pg = NULL;
}

int api_outside_enter(struct api_call *call, const char *busy_msg)
{
    api_pg_release(call);
    /* not even the wait for a place holds a worker */
    wait_gate_leave(call->ctx->workers);
    if (!wait_gate_enter(call->ctx->outside, WAIT_GATE_QUEUE_MS)) {
        wait_gate_take(call->ctx->workers);
        return hl_error_set(&call->err, HL_EBUSY, "%s", busy_msg);
    }
    call->outside = true;
    return 0;
}

void api_outside_leave(struct api_call *call)
{
    if (!call->outside)
        return;
    wait_gate_leave(call->ctx->outside);
    wait_gate_take(call->ctx->workers);
    call->outside = false;
}

json_t *api_body_object(struct api_call *call)
{
    const struct _u_request *req = call->req;
    long limit = call->ctx->cfg.max_body_bytes;
    if ((long)req->binary_body_length > limit) {
        hl_error_set(&call->err, HL_ETOOBIG, "Request body is larger than %ld bytes.", limit);
        return NULL;
    }
    if (req->binary_body_length == 0) {
        hl_error_set(&call->err, HL_EINVAL, "Request body must be a JSON object.");
        return NULL;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->binary_body, req->binary_body_length, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        hl_error_set(&call->err, HL_EINVAL, "Request body is not valid JSON: %s (line %d, column %d).",
                     jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        hl_error_set(&call->err, HL_EINVAL, "Request body must be a JSON object.");
        return NULL;
    }
    return body;
}

static int server_send_error(struct _u_response *resp, int status, const char *msg)
{
    json_t *body = json_pack("{s:s}", "error", msg);
    ulfius_set_json_body_response(resp, (unsigned)status, body);
    json_decref(body);
    return U_CALLBACK_COMPLETE;
}

static int server_dispatch(const struct _u_request *req, struct _u_response *resp, void *user_data)
{
    const struct route_binding *b = user_data;
    struct api_call call = { .ctx = b->ctx, .req = req, .resp = resp, .status = 200 };
    struct path_params pp;
    path_params_parse(&pp, b->route->path, req->url_path);
    call_params = &pp;

    u_map_put(resp->map_header, "Cache-Control", "no-store");
    u_map_put(resp->map_header, "X-Content-Type-Options", "nosniff");
    int rc = 0;
    if ((long)req->binary_body_length > b->ctx->cfg.max_body_bytes)
        rc = hl_error_set(&call.err, HL_ETOOBIG, "Request body is larger than %ld bytes.", b->ctx->cfg.max_body_bytes);
    /* other routes take a connection only if they need one (auth_check on a
     * key cache miss, GET by id on a document cache miss) */
    if (rc == 0 && b->route->needs_db && api_pg(&call) == NULL)
        rc = HL_EDB;
    if (rc == 0 && b->route->scope != SCOPE_NONE)
        rc = auth_check(&call, b->route->scope);
    if (rc == 0 && pp.too_long)
        rc = hl_error_set(&call.err, HL_ENOTFOUND, "Not found.");
    if (rc == 0)
        rc = b->route->fn(&call);
    if (call.outside)
        api_outside_leave(&call);
    api_pg_release(&call);
    call_params = NULL;

    int status = rc != 0 ? api_http_status(rc) : call.status;
    if (status == 503 || call.retry_after_s > 0) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%d", call.retry_after_s > 0 ? call.retry_after_s : 1);
        u_map_put(resp->map_header, "Retry-After", secs);
    }
    if (rc != 0) {
        /* busy is expected under load: it must not flood the log */
        if (rc == HL_EBUSY)
            log_debug("%s %s: %s", req->http_verb, req->url_path, call.err.msg);
        else if (status >= 500)
            log_error("%s %s: %s", req->http_verb, req->url_path, call.err.msg);
        /* a server-side failure never leaks internals to the client; busy
         * and in-doubt reasons are written for the client */
        const char *msg = call.err.code && (status < 500 || rc == HL_EBUSY || rc == HL_EINDOUBT) ? call.err.msg
                        : rc == HL_EKAFKA ? "Event bus unavailable; nothing was published. Retry later."
                        : rc == HL_EDB ? "Database unavailable. Retry later."
                        : rc == HL_ESECRET ? "A stored secret of this webhook cannot be decrypted with the "
                                             "deployment's keys; the operator has been told."
                        : "Internal error.";
        if (call.reply != NULL && status < 500) {
            /* the handler built a richer error body (e.g. the unknown events) */
            ulfius_set_json_body_response(resp, (unsigned)status, call.reply);
            json_decref(call.reply);
            return U_CALLBACK_COMPLETE;
        }
        json_decref(call.reply);
        return server_send_error(resp, status, msg);
    }
    if (call.reply) {
        ulfius_set_json_body_response(resp, (unsigned)call.status, call.reply);
        json_decref(call.reply);
    } else {
        resp->status = (long)call.status;
    }
    return U_CALLBACK_COMPLETE;
}

static int server_not_found(const struct _u_request *req, struct _u_response *resp, void *user_data)
{
    (void)req;
    (void)user_data;
    return server_send_error(resp, 404, "Not found.");
}

static long long server_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Every endpoint runs through here: the call, then its metrics and a debug
 * line, labelled by the route's pattern (never by what the client sent);
 * 'user_data' is the route binding, or NULL for the not-found endpoint. */
static int server_dispatch_measured(const struct _u_request *req, struct _u_response *resp, void *user_data)
{
    const struct route_binding *b = user_data;
    long long start = server_now_us();
    int rc;
    if (b == NULL) {
        rc = server_not_found(req, resp, NULL);
    } else if (!wait_gate_enter(b->ctx->workers, SERVER_WORKER_WAIT_MS)) {
        u_map_put(resp->map_header, "Retry-After", "1");
        rc = server_send_error(resp, 503, "Server busy; retry shortly.");
    } else {
        rc = server_dispatch(req, resp, user_data);
        wait_gate_leave(b->ctx->workers);
    }
    long long us = server_now_us() - start;
    api_metrics_observe(b ? b->route->method : NULL, b ? b->route->path : NULL, resp->status, us);
    log_debug("%s %.*s -> %ld in %lld us (route %s)", req->http_verb, (int)strcspn(req->url_path, "?"),
              req->url_path, resp->status, us, b ? b->route->path : "none");
    return rc;
}

/* libmicrohttpd's own messages, as our log lines. */
static void server_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    text[strcspn(text, "\r\n")] = '\0';
    log_warn("http server: %s", text);
}

static int server_add_table(struct _u_instance *inst, struct api_ctx *ctx, const struct api_route *table)
{
    for (const struct api_route *r = table; r->fn; r++) {
        struct route_binding *b = &bindings[nbindings++];
        b->ctx = ctx;
        b->route = r;
        if (ulfius_add_endpoint_by_val(inst, r->method, NULL, r->path, 1, server_dispatch_measured, b) != U_OK)
            return HL_EIO;
    }
    return 0;
}

int server_start(struct api_ctx *ctx, struct _u_instance *inst)
{
    const struct api_route *tables[] = { routes_health, routes_admin, routes_webhooks, routes_deliveries, routes_events,
                                          routes_console, routes_metrics, routes_openapi, routes_portal,
                                          routes_poll, routes_recover, routes_ordered,
                                          routes_stats };
    size_t total = 0;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (const struct api_route *r = tables[t]; r->fn; r++)
            total++;
    bindings = calloc(total, sizeof(*bindings));
    if (bindings == NULL)
        return HL_ENOMEM;

    if (ulfius_init_instance(inst, (unsigned)ctx->cfg.http_port, NULL, NULL) != U_OK)
        return HL_EIO;
    /* one byte over the limit tells an oversize body from one at it */
    inst->max_post_body_size = (size_t)ctx->cfg.max_body_bytes + 1;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        if (server_add_table(inst, ctx, tables[t]) < 0)
            return HL_EIO;
    ulfius_set_default_endpoint(inst, server_dispatch_measured, NULL);

    struct MHD_OptionItem ops[] = {
        /* first, so that every message of libmicrohttpd goes through it */
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)server_mhd_log, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL },
        { MHD_OPTION_CONNECTION_LIMIT, 4096, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ulfius_start_framework_with_mhd_options(inst, flags, ops) != U_OK) {
        log_error("cannot listen on port %d", ctx->cfg.http_port);
        ulfius_clean_instance(inst);
        return HL_EIO;
    }
    log_info("listening on port %d with %d workers", ctx->cfg.http_port, ctx->cfg.http_threads);
    return 0;
}

void server_stop(struct _u_instance *inst)
{
    ulfius_stop_framework(inst);
    ulfius_clean_instance(inst);
    free(bindings);
    bindings = NULL;
    nbindings = 0;
}
