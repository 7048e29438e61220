/* api.h: what the parts of hookline-api share: the process context, one
 * call's state, the route table and the helpers every handler uses.
 *
 * server.c turns each route into a ulfius endpoint whose callback
 * authenticates, borrows a PostgreSQL connection, runs the handler and
 * writes either its reply or the one JSON error for its HL_E* code.
 */
#ifndef HL_API_H
#define HL_API_H

#include <stdbool.h>
#include <jansson.h>
#include <ulfius.h>

#include "config.h"
#include "db.h"
#include "dest_policy.h"
#include "hl_error.h"
#include "hl_limits.h"
#include "ids.h"
#include "kafka.h"

struct outbox_relay;
struct retention;
struct secretbox;
struct doc_cache;
struct doc_cache_listener;
struct wait_gate;
struct publisher;

/* How long the api's producer keeps trying to deliver a message
 * (message.timeout.ms): a publish in doubt is settled within this. */
#define API_KAFKA_TIMEOUT_MS 10000

struct api_ctx {
    struct hl_config cfg;
    struct dest_policy policy;
    struct db_pool *pool;
    struct kafka_producer *kp;
    struct outbox_relay *relay;
    struct retention *retention;    /* retention.h */
    struct doc_cache *docs;         /* doc_cache.h: GET /v1/webhooks/{id}; NULL outside "serve" */
    struct doc_cache_listener *docs_listener;
    struct wait_gate *workers;      /* wait_gate.h: calls running their handler (HOOKLINE_HTTP_THREADS) */
    struct wait_gate *outside;      /* calls waiting on Kafka or an endpoint, without a worker: half as many */
    struct publisher *pub;          /* publish.h */
    struct secretbox *sb;           /* secretbox.h: HOOKLINE_SECRETS_KEY; NULL outside "serve" and rotate-secrets-key */
};

enum api_scope {
    SCOPE_NONE = 0,             /* public route */
    SCOPE_WEBHOOKS_READ = 1,
    SCOPE_WEBHOOKS_WRITE = 2,
    SCOPE_EVENTS_WRITE = 4,
    SCOPE_ADMIN = 0x100,        /* the deployment's admin key */
    SCOPE_ADMIN_OK = 0x200,     /* with a tenant scope: the admin key may call it too */
};
#define SCOPE_ALL_TENANT (SCOPE_WEBHOOKS_READ | SCOPE_WEBHOOKS_WRITE | SCOPE_EVENTS_WRITE)

/* Who is calling: a tenant's key, a portal session's token, or the admin key. */
struct api_principal {
    bool admin;
    bool portal;                /* a portal session (key_id is its id) */
    char tenant[LIMIT_TENANT_ID_MAX + 1];
    char key_id[HL_ID_MAX];
    unsigned scopes;
};

/* One request while its handler runs. */
struct api_call {
    struct api_ctx *ctx;
    const struct _u_request *req;
    struct _u_response *resp;
    struct api_principal who;
    PGconn *pg;                 /* borrowed from the pool for this call (api_pg) */
    struct hl_error err;
    int status;                 /* HTTP status of a successful reply */
    int retry_after_s;          /* > 0: sent as Retry-After (a 503 gets 1 unless set) */
    bool outside;               /* between api_outside_enter and api_outside_leave */
    json_t *reply;              /* new reference, sent and released by the dispatcher */
};

/* A handler returns 0 with call->status and call->reply set, or an HL_E*
 * code with the reason in call->err. */
typedef int (*api_handler)(struct api_call *call);

struct api_route {
    const char *method;
    const char *path;           /* ulfius pattern, e.g. "/v1/webhooks/:id" */
    unsigned scope;             /* SCOPE_NONE, one tenant scope, or SCOPE_ADMIN */
    bool needs_db;              /* call->pg is set before the handler runs; else
                                 * the handler takes one with api_pg if it must */
    api_handler fn;
};

/* Route tables, one per routes_*.c file, each ending with fn == NULL. */
extern const struct api_route routes_admin[];
extern const struct api_route routes_webhooks[];
extern const struct api_route routes_deliveries[];
extern const struct api_route routes_events[];
extern const struct api_route routes_health[];
extern const struct api_route routes_console[];
extern const struct api_route routes_openapi[];
extern const struct api_route routes_portal[];
extern const struct api_route routes_poll[];
extern const struct api_route routes_ordered[];
extern const struct api_route routes_recover[];
extern const struct api_route routes_stats[];

/* server.c */

/* Start the REST server on cfg.http_port. Returns 0 or HL_EIO. */
int server_start(struct api_ctx *ctx, struct _u_instance *inst) HL_MUST_CHECK;
void server_stop(struct _u_instance *inst);

/* HTTP status for an HL_E* code. */
int api_http_status(int code);

/* The request body as a JSON object (new reference), or NULL with
 * HL_ETOOBIG (over cfg.max_body_bytes) or HL_EINVAL (empty, not JSON, not
 * an object) in call->err. */
json_t *api_body_object(struct api_call *call);

/* A URL parameter (":id") or query parameter; NULL when absent. */
const char *api_param(const struct api_call *call, const char *name);
const char *api_query(const struct api_call *call, const char *name);

/* Parse an optional integer query parameter 'name' into *out within
 * [min, max]; absent leaves *out unchanged. Returns 0 or HL_EINVAL. */
int api_query_int(struct api_call *call, const char *name, long min, long max, long *out) HL_MUST_CHECK;

/* Look up the caller's webhook 'id' (borrowed) with 'sql', a query whose $1
 * is the webhook id and $2 the caller's tenant, answering one row when the
 * webhook is the caller's and none otherwise; its first column, a boolean,
 * goes to *flag (false unless it returns 0). Returns 0, HL_ENOTFOUND
 * ("Webhook not found.") or HL_EDB, the reason in call->err. */
int api_webhook_flag(struct api_call *call, const char *sql, const char *id, bool *flag) HL_MUST_CHECK;

/* Set the reply: 'status' and 'reply' (a new reference, stolen). Returns 0. */
int api_reply(struct api_call *call, int status, json_t *reply);

/* Set the reply to 'status' and the JSON text 'text' ('len' bytes,
 * borrowed, copied), sent as it is with the content type of a JSON reply.
 * Returns 0 or HL_ENOMEM. */
int api_reply_text(struct api_call *call, int status, const char *text, size_t len) HL_MUST_CHECK;

/* The call's PostgreSQL connection, borrowed from the pool on first use
 * and returned by the dispatcher after the handler. NULL with HL_EDB in
 * call->err when none can be had. */
PGconn *api_pg(struct api_call *call);

/* Give the call's connection back to the pool now (an open transaction is
 * rolled back), before a wait on something outside; api_pg borrows one
 * again. No-op without one. */
void api_pg_release(struct api_call *call);

/* From here until api_outside_leave, 'call' waits on something outside
 * the process (Kafka, an endpoint): it gives back its pool connection
 * (api_pg_release) and its worker, and takes a place at ctx->outside,
 * waiting at most WAIT_GATE_QUEUE_MS for one. Returns 0, or HL_EBUSY with
 * 'busy_msg' in call->err when there is none (it has a worker again).
 * The server leaves for a handler that returns outside. */
int api_outside_enter(struct api_call *call, const char *busy_msg) HL_MUST_CHECK;

/* Give the place outside back and take a worker again, waiting for one. */
void api_outside_leave(struct api_call *call);

/* auth.c */

/* Identify the caller of 'call' from x-api-key or Authorization: Bearer
 * and check it holds 'scope'. Fills call->who. The admin key passes
 * SCOPE_ADMIN, and a tenant scope with SCOPE_ADMIN_OK. A portal session
 * token ("hlp_...") is read from PostgreSQL on every call, never cached,
 * so its revoke or expiry holds at once in every api process. Returns 0,
 * HL_EAUTH or HL_EFORBIDDEN (reason in call->err), or HL_EDB. */
int auth_check(struct api_call *call, unsigned scope) HL_MUST_CHECK;

/* Scope bits of 'scopes' (borrowed): 0 with *bits set, or HL_EINVAL when
 * it is not a non-empty array of known scope names. */
int auth_scopes_from_json(const json_t *scopes, unsigned *bits) HL_MUST_CHECK;

/* The names of the scope 'bits' as a JSON array (new reference). */
json_t *auth_scopes_to_json(unsigned bits);

/* The names of the scope 'bits' as a PostgreSQL text[] literal. */
#define AUTH_SCOPES_LITERAL_MAX 128
void auth_scopes_literal(unsigned bits, char out[AUTH_SCOPES_LITERAL_MAX]);

/* The name of a scope in 'want' that 'have' lacks (static), or NULL. */
const char *auth_scope_missing(unsigned have, unsigned want);

/* Drop key 'key_id' from auth_check's cache; call once its revoke has
 * committed. Any thread. */
void auth_cache_forget(const char *key_id);

/* Issue a key for 'tenant' with 'scopes' (a JSON array of scope names,
 * borrowed) and 'label'. Returns the reply object {"id","key","scopes",
 * "label","created_at"} (new reference) or NULL with the reason in 'err'. */
json_t *auth_key_issue(PGconn *pg, const char *tenant, const json_t *scopes, const char *label,
                       struct hl_error *err);

/* routes_admin.c */

/* Create tenant 'id' (NULL: generate one) named 'name' (NULL: the id).
 * With 'exist_ok' an existing tenant is returned as it is. Returns the
 * tenant object (new reference) or NULL with HL_EINVAL/HL_EDUP/HL_EDB. */
json_t *tenant_create(PGconn *pg, const char *id, const char *name, bool exist_ok, struct hl_error *err);

/* outbox_relay.c */

/* Start the thread that publishes outbox rows to hookline.webhooks in seq
 * order and marks them sent. Only one relay in the whole deployment works
 * at a time (advisory lock); the others wait to take over. */
struct outbox_relay *outbox_relay_start(struct api_ctx *ctx, struct hl_error *err);

/* Stop the thread (it finishes its current batch) and free it. */
void outbox_relay_stop(struct outbox_relay *relay);

/* Unsent outbox rows seen by the last pass (for /metrics and tests). */
long outbox_relay_backlog(struct outbox_relay *relay);

/* tls_check.c */

/* The longest the TLS check of one request takes, all its endpoints together. */
#define TLS_CHECK_BUDGET_MS 5000

struct tls_check_target {
    const char *url;            /* an endpoint URL; http:// ones are not checked */
    const char *field;          /* how the request names it: "url", "endpoints[1].url" */
};

/* Check every https URL of 'targets' ('n', borrowed): resolve its host
 * once, refuse it if any address is forbidden by the policy, and complete
 * a TLS handshake verified against the configured CA file (or the
 * system's) with those addresses alone. All at once, within
 * TLS_CHECK_BUDGET_MS together. Returns 0, HL_EINVAL naming the first
 * target that failed with the same words whatever the failure (the detail
 * is logged at debug level), or HL_ENOMEM. Holds nothing of the caller's:
 * call it between api_outside_enter and api_outside_leave. */
int tls_check_urls(const struct api_ctx *ctx, const struct tls_check_target *targets, size_t n,
                   struct hl_error *err) HL_MUST_CHECK;

#endif
