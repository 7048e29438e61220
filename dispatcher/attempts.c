/* attempts.c: the dispatcher's writes to PostgreSQL.
 *
 * Finished deliveries are batched and written in ONE transaction per
 * batch: their attempt records, the retries they schedule or settle, the
 * health of their endpoints and any webhook this disables (with its
 * webhook.disabled event in the outbox). Rows travel as one JSON array
 * parameter, so a batch of any size is one round trip. Due retries are
 * claimed with FOR UPDATE SKIP LOCKED under a lease, so any dispatcher
 * can take them and a dead one's leases simply run out.
 */
#include "dispatcher.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "utf8.h"

struct attempts {
    const struct hl_config *cfg;
    PGconn *pg;
    char name[128];
    struct delivery **batch;
    size_t n, cap;
};

struct attempts *attempts_new(const struct hl_config *cfg, const char *dispatcher_name, struct hl_error *err)
{
    struct attempts *at = calloc(1, sizeof(*at));
    if (at == NULL)
        return NULL;
    at->cfg = cfg;
    snprintf(at->name, sizeof(at->name), "%s", dispatcher_name);
    at->pg = db_connect(cfg->database_url, err);
    if (at->pg == NULL) {
        free(at);
        return NULL;
    }
    return at;
}

void attempts_free(struct attempts *at)
{
    if (at == NULL)
        return;
    PQfinish(at->pg);
    free(at->batch);
    free(at);
}

PGconn *attempts_pg(struct attempts *at)
{
    return at->pg;
}

void attempts_add(struct attempts *at, struct delivery *d)
{
    if (at->n == at->cap) {
        size_t cap = at->cap ? at->cap * 2 : 256;
        struct delivery **grown = realloc(at->batch, cap * sizeof(*grown));
        if (grown == NULL)
            abort();            /* cannot keep the record: better to crash and redeliver */
        at->batch = grown;
        at->cap = cap;
    }
    at->batch[at->n++] = d;
}

size_t attempts_batched(const struct attempts *at)
{
    return at->n;
}

/* Is the connection usable? Reset it if not. */
static bool attempts_connected(struct attempts *at)
{
    if (PQstatus(at->pg) == CONNECTION_OK)
        return true;
    PQreset(at->pg);
    return PQstatus(at->pg) == CONNECTION_OK;
}

/* Make an endpoint's response text storable: PostgreSQL text takes neither
 * NUL nor invalid UTF-8 (an excerpt may also end inside a sequence), so each
 * offending byte becomes '?'. In place; the length is unchanged. */
static void attempts_text_clean(char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = s[i] ? utf8_seq_len((const unsigned char *)s + i, len - i) : 0;
        if (n == 0)
            s[i++] = '?';
        else
            i += n;
    }
}

static json_t *attempts_rows(struct attempts *at)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < at->n; i++) {
        struct delivery *d = at->batch[i];
        const struct sub *s = d->sub;
        json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:b,s:I,s:i}",
            "id", d->dlv_id, "tenant_id", s->tenant, "webhook_id", s->id,
            "endpoint_id", s->eps[d->ep].id, "endpoint_url", s->eps[d->ep].url,
            "event_id", d->payload->event_id, "event_type", d->payload->event_type,
            "payload", d->payload->data, "attempt", d->attempt,
            "success", d->outcome == DELIVERY_SUCCESS, "sent_ms", (json_int_t)d->sent_ms,
            "duration_ms", (int)d->duration_ms);
        json_object_set_new(row, "status_code", d->status > 0 ? json_integer(d->status) : json_null());
        json_object_set_new(row, "error", d->error[0] ? json_string(d->error) : json_null());
        if (d->response)
            attempts_text_clean(d->response, d->response_len);
        json_object_set_new(row, "response", d->response ? json_stringn(d->response, d->response_len) : json_null());
        json_object_set_new(row, "next_ms", d->outcome == DELIVERY_RETRY ? json_integer(d->next_ms) : json_null());
        json_object_set_new(row, "retry_id", d->retry_id ? json_integer(d->retry_id) : json_null());
        json_object_set_new(row, "final", json_boolean(d->outcome != DELIVERY_RETRY));
        json_object_set_new(row, "gone", json_boolean(d->gone));
        json_array_append_new(rows, row);
    }
    return rows;
}

#define ROWS_AS_X \
    "FROM jsonb_to_recordset($1::jsonb) AS x(id text, tenant_id text, webhook_id text, endpoint_id text, " \
    "endpoint_url text, event_id text, event_type text, payload text, attempt int, status_code int, " \
    "response text, error text, success boolean, sent_ms bigint, duration_ms int, next_ms bigint, " \
    "retry_id bigint, final boolean, gone boolean)"

/* Disable the webhooks of endpoints that answered 410 or have failed for
 * longer than cfg->disable_after_ms, each with its outbox event. */
static int attempts_disable(struct attempts *at, const char *rows, struct hl_error *err)
{
    char secs[32];
    snprintf(secs, sizeof(secs), "%ld", at->cfg->disable_after_ms / 1000);
    const char *params[2] = { rows, secs };
    PGresult *res = db_query(at->pg, err,
        "WITH doomed AS ("
        "  SELECT DISTINCT webhook_id, 'endpoint ' || endpoint_url || ' answered 410 Gone' AS reason "
        "  " ROWS_AS_X " WHERE gone "
        "  UNION ALL "
        "  SELECT DISTINCT h.webhook_id, 'every delivery to endpoint ' || x.endpoint_url || ' failed since ' || hl_ts(h.failing_since) "
        "  " ROWS_AS_X " JOIN endpoint_health h ON h.endpoint_id = x.endpoint_id "
        "  WHERE NOT x.success AND h.failing_since < now() - make_interval(secs => $2::bigint)), "
        "one AS (SELECT DISTINCT ON (webhook_id) webhook_id, reason FROM doomed) "
        "UPDATE webhooks w SET is_active = false, disabled_reason = one.reason, version = w.version + 1, "
        "updated_at = now() FROM one WHERE w.id = one.webhook_id AND w.is_active RETURNING w.id, one.reason",
        2, params);
    if (res == NULL)
        return HL_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        const char *kind[2] = { PQgetvalue(res, i, 0), "webhook.disabled" };
        rc = db_exec(at->pg, err, "SELECT hl_outbox_webhook($1, $2)", 2, kind);
        if (rc == 0)
            log_warn("webhook %s disabled: %s", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return rc;
}

int attempts_flush(struct attempts *at, void (*recorded)(struct delivery *d, void *arg), void *arg)
{
    if (at->n == 0)
        return 0;
    struct hl_error err = { 0 };
    if (!attempts_connected(at)) {
        log_error("attempt records: PostgreSQL unreachable; %zu records kept for the next try", at->n);
        return HL_EDB;
    }
    json_t *rows = attempts_rows(at);
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    const char *params[2] = { text, at->name };
    int rc = HL_EDB;
    if (text == NULL || db_begin(at->pg, &err) < 0)
        goto out;
    if (db_exec(at->pg, &err,
            "INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
            "payload, attempt, status_code, response, error, success, sent_at, duration_ms, next_attempt_at, dispatcher) "
            "SELECT id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, payload, attempt, "
            "status_code, response, error, success, to_timestamp(sent_ms / 1000.0), duration_ms, "
            "to_timestamp(next_ms / 1000.0), $2 " ROWS_AS_X, 2, params) < 0)
        goto out;
    if (db_exec(at->pg, &err,
            "INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, payload, attempt, due_at) "
            "SELECT DISTINCT ON (endpoint_id, event_id) tenant_id, webhook_id, endpoint_id, event_id, event_type, "
            "payload, attempt + 1, to_timestamp(next_ms / 1000.0) " ROWS_AS_X " WHERE NOT final "
            "ORDER BY endpoint_id, event_id, attempt DESC "
            "ON CONFLICT (endpoint_id, event_id) DO UPDATE SET attempt = EXCLUDED.attempt, "
            "due_at = EXCLUDED.due_at, lease_until = NULL", 1, params) < 0)
        goto out;
    if (db_exec(at->pg, &err,
            "DELETE FROM retries r USING (SELECT retry_id " ROWS_AS_X " WHERE final AND retry_id IS NOT NULL) x "
            "WHERE r.id = x.retry_id", 1, params) < 0)
        goto out;
    if (db_exec(at->pg, &err,
            "INSERT INTO endpoint_health AS h (endpoint_id, webhook_id, failing_since, last_success_at, last_failure_at) "
            "SELECT DISTINCT ON (endpoint_id) endpoint_id, webhook_id, "
            "CASE WHEN success THEN NULL ELSE to_timestamp(sent_ms / 1000.0) END, "
            "CASE WHEN success THEN to_timestamp(sent_ms / 1000.0) END, "
            "CASE WHEN NOT success THEN to_timestamp(sent_ms / 1000.0) END "
            ROWS_AS_X " ORDER BY endpoint_id, sent_ms DESC "
            "ON CONFLICT (endpoint_id) DO UPDATE SET "
            "failing_since = CASE WHEN EXCLUDED.last_success_at IS NOT NULL THEN NULL "
            "                     ELSE coalesce(h.failing_since, EXCLUDED.failing_since) END, "
            "last_success_at = coalesce(EXCLUDED.last_success_at, h.last_success_at), "
            "last_failure_at = coalesce(EXCLUDED.last_failure_at, h.last_failure_at)", 1, params) < 0)
        goto out;
    if (attempts_disable(at, text, &err) < 0)
        goto out;
    rc = db_commit(at->pg, &err);
out:
    if (rc != 0) {
        db_rollback(at->pg);
        log_error("attempt records: batch of %zu not written (kept for the next try): %s", at->n, err.msg);
    } else {
        /* commit only after the attempt is recorded: a crash re-delivers, never loses */
        size_t n = at->n;
        at->n = 0;
        for (size_t i = 0; i < n; i++)
            recorded(at->batch[i], arg);
    }
    free(text);
    return rc;
}

int attempts_claim_retries(struct attempts *at, int max,
                           void (*claimed)(int64_t retry_id, const char *webhook_id, const char *endpoint_id,
                                           const char *event_id, const char *event_type, const char *payload,
                                           int attempt, void *arg), void *arg)
{
    if (max <= 0 || !attempts_connected(at))
        return 0;
    struct hl_error err = { 0 };
    char limit[16], lease[32];
    snprintf(limit, sizeof(limit), "%d", max);
    snprintf(lease, sizeof(lease), "%ld", 60 + at->cfg->delivery_timeout_ms / 1000 * 2);
    const char *params[2] = { limit, lease };
    PGresult *res = db_query(at->pg, &err,
        "UPDATE retries r SET lease_until = now() + make_interval(secs => $2::int) "
        "FROM (SELECT id FROM retries WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now()) "
        "      ORDER BY due_at LIMIT $1::int FOR UPDATE SKIP LOCKED) c "
        "WHERE r.id = c.id RETURNING r.id, r.webhook_id, r.endpoint_id, r.event_id, r.event_type, r.payload, r.attempt",
        2, params);
    if (res == NULL) {
        log_error("retry claim: %s", err.msg);
        return HL_EDB;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        claimed(atoll(PQgetvalue(res, i, 0)), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), atoi(PQgetvalue(res, i, 6)), arg);
    PQclear(res);
    return n;
}

static void attempts_retry_exec(struct attempts *at, const char *sql, int64_t retry_id)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)retry_id);
    const char *params[1] = { id };
    struct hl_error err = { 0 };
    if (attempts_connected(at) && db_exec(at->pg, &err, sql, 1, params) < 0)
        log_warn("retry %s: %s", id, err.msg);
}

void attempts_release_retry(struct attempts *at, int64_t retry_id)
{
    attempts_retry_exec(at, "UPDATE retries SET lease_until = NULL WHERE id = $1::bigint", retry_id);
}

void attempts_forget_retry(struct attempts *at, int64_t retry_id)
{
    attempts_retry_exec(at, "DELETE FROM retries WHERE id = $1::bigint", retry_id);
}
