/* attempts_write.c: one batch of finished deliveries into PostgreSQL, in
 * one transaction (called by the writer thread of attempts.c).
 *
 * The attempt records go in with COPY (the bulk of the work: every
 * attempt is a row), and each event's body once per UTC day into bodies
 * (sql/010_bodies_partitions.sql): the deliveries of one event share
 * their payload, which remembers the day it was stored for, so a fan-out
 * writes its body once, not once per delivery. What else a batch changes is small and mostly
 * absent on the happy path, so each statement runs only when the batch
 * needs it: deliveries of ordered webhooks appended to their endpoints'
 * lanes in the order read (hl_ordered_append, sql/016_ordered.sql), the
 * endpoints' health (endpoint_health has a row for an
 * endpoint that failed once; a healthy endpoint's row is written only when
 * it recovers or once a minute), retries scheduled by failed attempts,
 * retries settled by final ones, and endpoints disabled by a 410 or by
 * failing for too long (with their endpoint.disabled or, for a webhook's
 * last active endpoint, webhook.disabled outbox events). The operational
 * events these changes raise for the tenant go into the same transaction
 * (ops_events.c), again only when the batch has such a change. The
 * batch's attempts are added to the hourly delivery health last
 * (attempts_stats.c), with the signature each went out with in its record.
 */
#include "attempts_write.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attempts_stats.h"
#include "db.h"
#include "catalog.h"
#include "envelope.h"
#include "log.h"
#include "ops_events.h"
#include "poll_write.h"
#include "utf8.h"

#define HEALTH_REFRESH_S "60"   /* a healthy endpoint's last_success_at, at most this stale */
#define BODY_ROWS_MAX 4000      /* bodies per INSERT: 4 parameters each, under libpq's 65535 */
#define DAY_MS 86400000LL

/* ---- a growable text buffer ---- */

struct wbuf {
    char *p;
    size_t n, cap;
};

static void wbuf_reserve(struct wbuf *b, size_t more)
{
    if (b->n + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        abort();                /* cannot keep the record: better to crash and redeliver */
    b->p = p;
    b->cap = cap;
}

static void wbuf_add(struct wbuf *b, const char *s, size_t len)
{
    wbuf_reserve(b, len);
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void wbuf_str(struct wbuf *b, const char *s)
{
    wbuf_add(b, s, strlen(s));
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static void wbuf_copy_text(struct wbuf *b, const char *s, size_t len)
{
    wbuf_reserve(b, len * 2);
    char *o = b->p + b->n;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            *o++ = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        *o++ = c;
    }
    b->n = (size_t)(o - b->p);
    b->p[b->n] = '\0';
}

static void wbuf_copy_col(struct wbuf *b, const char *s, char sep)
{
    if (s == NULL)
        wbuf_add(b, "\\N", 2);
    else
        wbuf_copy_text(b, s, strlen(s));
    wbuf_add(b, &sep, 1);
}

/* A timestamptz literal for COPY: "2026-11-25 10:00:00.123+00". */
static void wbuf_copy_time(struct wbuf *b, long long ms, char sep)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char text[48];
    gmtime_r(&secs, &tm);
    size_t n = strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(text + n, sizeof(text) - n, ".%03d+00%c", (int)(ms % 1000), sep);
    wbuf_str(b, text);
}

static void wbuf_copy_long(struct wbuf *b, long long v, char sep)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld%c", v, sep);
    wbuf_str(b, text);
}

/* Make an endpoint's response text storable: PostgreSQL text takes neither
 * NUL nor invalid UTF-8 (an excerpt may also end inside a sequence), so each
 * offending byte becomes '?'. In place; the length is unchanged. */
static void write_text_clean(char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = s[i] ? utf8_seq_len((const unsigned char *)s + i, len - i) : 0;
        if (n == 0)
            s[i++] = '?';
        else
            i += n;
    }
}

/* ---- the batch as rows ---- */

/* The batch's attempt records as COPY text, one line per delivery. */
static void write_copy_rows(struct wbuf *b, struct delivery *const *v, size_t n, const char *dispatcher)
{
    for (size_t i = 0; i < n; i++) {
        struct delivery *d = v[i];
        const struct sub *s = d->sub;
        if (d->outcome == DELIVERY_DEFERRED)
            continue;           /* not attempted: a slow-lane row, no attempt record */
        if (d->response)
            write_text_clean(d->response, d->response_len);
        write_text_clean(d->error, strlen(d->error));
        wbuf_copy_time(b, d->sent_ms, '\t');
        if (d->outcome == DELIVERY_RETRY)
            wbuf_copy_time(b, d->next_ms, '\t');
        else
            wbuf_add(b, "\\N\t", 3);
        wbuf_copy_long(b, d->attempt, '\t');
        if (d->status > 0)
            wbuf_copy_long(b, d->status, '\t');
        else
            wbuf_add(b, "\\N\t", 3);
        wbuf_copy_long(b, d->duration_ms, '\t');
        wbuf_add(b, d->outcome == DELIVERY_SUCCESS ? "t\t" : "f\t", 2);
        wbuf_copy_col(b, d->dlv_id, '\t');
        wbuf_copy_col(b, s->tenant, '\t');
        wbuf_copy_col(b, s->id, '\t');
        wbuf_copy_col(b, s->eps[d->ep].id, '\t');
        wbuf_copy_col(b, s->eps[d->ep].url, '\t');
        wbuf_copy_col(b, d->payload->event_id, '\t');
        wbuf_copy_col(b, d->payload->event_type, '\t');
        if (d->response)
            wbuf_copy_text(b, d->response, d->response_len);
        else
            wbuf_add(b, "\\N", 2);
        wbuf_add(b, "\t", 1);
        wbuf_copy_col(b, d->error[0] ? d->error : NULL, '\t');
        wbuf_copy_col(b, dispatcher, '\t');
        wbuf_copy_col(b, d->signature[0] ? d->signature : NULL, '\n');
    }
}

/* The UTC day (days since 1970) of a delivery's body: its attempt's, or
 * for one deferred unattempted, the batch's ('now_ms'). */
static long long write_body_day(const struct delivery *d, long long now_ms)
{
    return (d->outcome == DELIVERY_DEFERRED ? now_ms : d->sent_ms) / DAY_MS;
}

/* "YYYY-MM-DD" of a day since 1970. */
static void write_day_text(long long day, char out[16])
{
    time_t secs = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* Whether delivery 'd' is one of the batch's failed attempts (kind 'f'),
 * its deferred deliveries of unordered webhooks (kind 'd') or of ordered
 * ones, read from Kafka (kind 'o'). */
static bool write_row_kind(const struct delivery *d, char kind)
{
    if (d->outcome == DELIVERY_SUCCESS)
        return false;
    if (kind == 'f')
        return d->outcome != DELIVERY_DEFERRED;
    return d->outcome == DELIVERY_DEFERRED && d->ordered == (kind == 'o');
}

/* The batch's rows of 'kind' (write_row_kind) as a JSON array, NULL when
 * there are none: what the slow-lane and disable statements read, and for
 * 'o' what hl_ordered_append (sql/016_ordered.sql) takes, in the order
 * read. */
static char *write_rows_json(struct delivery *const *v, size_t n, char kind, long long now_ms)
{
    json_t *rows = NULL;
    for (size_t i = 0; i < n; i++) {
        struct delivery *d = v[i];
        if (!write_row_kind(d, kind))
            continue;
        const struct sub *s = d->sub;
        char day[16];
        write_day_text(write_body_day(d, now_ms), day);
        json_t *row = kind == 'o'
            ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:o}", "t", s->tenant, "w", s->id,
                "p", s->eps[d->ep].id, "e", d->payload->event_id, "y", d->payload->event_type, "d", day,
                "a", d->attempt, "k", d->track ? json_integer(d->track->partition) : json_null(),
                "o", d->track ? json_integer(d->track->offset) : json_null())
            : json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:o,s:b,s:b,s:I,s:I,s:o,s:s,s:s,s:b}",
            "tenant_id", s->tenant, "webhook_id", s->id, "endpoint_id", s->eps[d->ep].id,
            "endpoint_url", s->eps[d->ep].url, "event_id", d->payload->event_id,
            "event_type", d->payload->event_type, "body_day", day, "attempt", d->attempt,
            "sent_ms", (json_int_t)d->sent_ms,
            "next_ms", d->outcome == DELIVERY_RETRY ? json_integer(d->next_ms) : json_null(),
            "final", (int)(d->outcome != DELIVERY_RETRY), "gone", (int)d->gone,
            "retry_id", (json_int_t)d->retry_id, "epoch", (json_int_t)d->lane_epoch,
            "status", d->status > 0 ? json_integer(d->status) : json_null(), "error", d->error,
            "dlv_id", d->dlv_id, "ops", (int)catalog_is_operational(d->payload->event_type));
        if (rows == NULL)
            rows = json_array();
        json_array_append_new(rows, row);
    }
    char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    return text;
}

/* The slow-lane rows settled by this batch (a success or a final failure
 * of a delivery taken from one) as two PostgreSQL array literals, ids and
 * the epochs they were taken under; both NULL when none. */
static void write_settled(struct delivery *const *v, size_t n, char **ids, char **epochs)
{
    struct wbuf b[2] = { { 0 }, { 0 } };
    for (size_t i = 0; i < n; i++) {
        if (v[i]->retry_id == 0 || v[i]->outcome == DELIVERY_RETRY || v[i]->outcome == DELIVERY_DEFERRED)
            continue;
        long long vals[2] = { (long long)v[i]->retry_id, (long long)v[i]->lane_epoch };
        for (int k = 0; k < 2; k++) {
            char text[32];
            snprintf(text, sizeof(text), "%c%lld", b[k].n ? ',' : '{', vals[k]);
            wbuf_str(&b[k], text);
        }
    }
    for (int k = 0; k < 2; k++)
        if (b[k].n)
            wbuf_add(&b[k], "}", 1);
    *ids = b[0].p;
    *epochs = b[1].p;
}

static int write_by_endpoint(const void *a, const void *b)
{
    const struct delivery *x = *(struct delivery *const *)a, *y = *(struct delivery *const *)b;
    int c = strcmp(x->sub->eps[x->ep].id, y->sub->eps[y->ep].id);
    if (c != 0)
        return c;
    return x->sent_ms < y->sent_ms ? -1 : x->sent_ms > y->sent_ms;
}

/* One row per endpoint of the batch: its latest success and failure, and
 * whether it is failing now, and since when (the first failure after its
 * last success in the batch), with its URL and what its latest failure
 * was (for endpoint.failing: ops_events.h). Endpoints whose every attempt
 * succeeded go to 'ok', the others to 'mixed' (either may be left NULL:
 * none). Sorts 'v' by endpoint. */
static void write_health_rows(struct delivery **v, size_t n, char **ok, char **mixed)
{
    qsort(v, n, sizeof(*v), write_by_endpoint);
    json_t *rows[2] = { json_array(), json_array() };
    for (size_t i = 0; i < n;) {
        const char *ep = v[i]->sub->eps[v[i]->ep].id;
        long long ok_ms = -1, fail_ms = -1, failing_from = -1;
        const struct delivery *last = NULL;
        size_t j = i;
        for (; j < n && strcmp(v[j]->sub->eps[v[j]->ep].id, ep) == 0; j++) {
            if (v[j]->outcome == DELIVERY_SUCCESS) {
                ok_ms = v[j]->sent_ms;
                failing_from = -1;
            } else {
                fail_ms = v[j]->sent_ms;
                last = v[j];
                if (failing_from < 0)
                    failing_from = v[j]->sent_ms;
            }
        }
        json_t *row = json_pack("{s:s,s:s,s:s}", "endpoint_id", ep, "webhook_id", v[i]->sub->id, "endpoint_url",
                                v[i]->sub->eps[v[i]->ep].url);
        if (last != NULL) {
            json_t *failure = json_pack("{s:s,s:s,s:i,s:o,s:s,s:s}", "fail_event_id", last->payload->event_id,
                                        "fail_event_type", last->payload->event_type, "fail_attempt", last->attempt,
                                        "fail_status", last->status > 0 ? json_integer(last->status) : json_null(),
                                        "fail_error", last->error, "fail_dlv_id", last->dlv_id);
            json_object_update(row, failure);
            json_decref(failure);
        }
        json_object_set_new(row, "ok_ms", ok_ms >= 0 ? json_integer(ok_ms) : json_null());
        json_object_set_new(row, "fail_ms", fail_ms >= 0 ? json_integer(fail_ms) : json_null());
        json_object_set_new(row, "failing_from", failing_from >= 0 ? json_integer(failing_from) : json_null());
        json_array_append_new(rows[fail_ms >= 0], row);
        i = j;
    }
    for (int k = 0; k < 2; k++) {
        char **out = k ? mixed : ok;
        *out = json_array_size(rows[k]) ? json_dumps(rows[k], JSON_COMPACT) : NULL;
        json_decref(rows[k]);
    }
}

/* ---- the statements ---- */

#define FAILURES_AS_X \
    "FROM json_to_recordset($1::json) AS x(tenant_id text, webhook_id text, endpoint_id text, " \
    "endpoint_url text, event_id text, event_type text, body_day date, attempt int, sent_ms bigint, " \
    "next_ms bigint, final boolean, gone boolean, retry_id bigint, epoch bigint)"

/* A body to store: the delivery that names it, and its day. */
struct write_body {
    const struct delivery *d;
    long long day;
};

/* COPY 'rows' with the command 'copy' ("COPY <table> (...) FROM STDIN").
 * On failure, *state (if not NULL) gets the SQLSTATE ("" if none). */
static int write_copy_to(PGconn *pg, const char *copy, const struct wbuf *rows, char state[6],
                         struct hl_error *err)
{
    if (state != NULL)
        state[0] = '\0';
    PGresult *res = PQexec(pg, copy);
    bool ready = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    if (!ready)
        return hl_error_set(err, HL_EDB, "%.40s: %s", copy, PQerrorMessage(pg));
    if (PQputCopyData(pg, rows->p, (int)rows->n) != 1 || PQputCopyEnd(pg, NULL) != 1)
        return hl_error_set(err, HL_EDB, "%.40s: %s", copy, PQerrorMessage(pg));
    int rc = 0;
    while ((res = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            char msg[200];
            snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
            msg[strcspn(msg, "\n")] = '\0';
            const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (state != NULL && sqlstate != NULL)
                snprintf(state, 6, "%s", sqlstate);
            rc = hl_error_set(err, HL_EDB, "%.40s: %s", copy, msg);
        }
        PQclear(res);
    }
    return rc;
}

static int write_copy(PGconn *pg, const struct wbuf *rows, struct hl_error *err)
{
    return write_copy_to(pg,
        "COPY attempts (sent_at, next_attempt_at, attempt, status_code, duration_ms, success, id, tenant_id, "
        "webhook_id, endpoint_id, endpoint_url, event_id, event_type, response, error, dispatcher, signature) FROM STDIN",
        rows, NULL, err);
}

/* The bodies 'rows[0..n)' with INSERT ... ON CONFLICT DO NOTHING. */
static int write_bodies_insert(PGconn *pg, const struct write_body *rows, size_t nrows, struct hl_error *err)
{
    size_t cap = nrows < BODY_ROWS_MAX ? nrows : BODY_ROWS_MAX;
    const char **params = malloc((cap ? cap : 1) * 4 * sizeof(*params));
    char (*days)[16] = malloc((cap ? cap : 1) * sizeof(*days));
    if (params == NULL || days == NULL)
        abort();
    struct wbuf sql = { 0 };
    int rc = 0;
    for (size_t i = 0; i < nrows && rc == 0;) {
        size_t k = 0;
        sql.n = 0;
        wbuf_str(&sql, "INSERT INTO bodies (tenant_id, event_id, day, body) VALUES ");
        for (; k < cap && i < nrows; k++, i++) {
            char text[80];
            write_day_text(rows[i].day, days[k]);
            params[4 * k] = rows[i].d->sub->tenant;
            params[4 * k + 1] = rows[i].d->payload->event_id;
            params[4 * k + 2] = days[k];
            params[4 * k + 3] = rows[i].d->payload->data;
            snprintf(text, sizeof(text), "%s($%zu,$%zu,$%zu::date,$%zu)", k ? "," : "", 4 * k + 1, 4 * k + 2,
                     4 * k + 3, 4 * k + 4);
            wbuf_str(&sql, text);
        }
        wbuf_str(&sql, " ON CONFLICT DO NOTHING");
        rc = db_exec(pg, err, sql.p, (int)(4 * k), params);
    }
    free(sql.p);
    free(days);
    free(params);
    return rc < 0 ? HL_EDB : 0;
}

/* The bodies 'rows[0..n)' with COPY, under a savepoint: 1 when one of them
 * is stored already (unique violation: nothing of the COPY stays), else 0
 * or HL_EDB. */
static int write_bodies_copy(PGconn *pg, const struct write_body *rows, size_t nrows, struct hl_error *err)
{
    struct wbuf b = { 0 };
    for (size_t i = 0; i < nrows; i++) {
        char day[16];
        write_day_text(rows[i].day, day);
        wbuf_copy_col(&b, rows[i].d->sub->tenant, '\t');
        wbuf_copy_col(&b, rows[i].d->payload->event_id, '\t');
        wbuf_copy_col(&b, day, '\t');
        wbuf_copy_text(&b, rows[i].d->payload->data, rows[i].d->payload->len);
        wbuf_add(&b, "\n", 1);
    }
    char state[6];
    int rc = db_exec(pg, err, "SAVEPOINT hl_bodies", 0, NULL) < 0 ? HL_EDB : 0;
    if (rc == 0 && write_copy_to(pg, "COPY bodies (tenant_id, event_id, day, body) FROM STDIN", &b, state, err) < 0)
        rc = strcmp(state, "23505") == 0 && db_exec(pg, err, "ROLLBACK TO SAVEPOINT hl_bodies", 0, NULL) == 0
                 ? 1 : HL_EDB;
    free(b.p);
    return rc;
}


static int write_by_body(const void *a, const void *b)
{
    const struct write_body *x = a, *y = b;
    int c = strcmp(x->d->sub->tenant, y->d->sub->tenant);
    if (c == 0)
        c = strcmp(x->d->payload->event_id, y->d->payload->event_id);
    return c != 0 ? c : (x->day > y->day) - (x->day < y->day);
}

/* The bodies of the batch's deliveries not stored yet: one row per event
 * and day (the deliveries of a fan-out share their payload, so one row
 * serves them all), ON CONFLICT DO NOTHING (another batch, another
 * dispatcher's slow lane, stored it). In key order, and first in the
 * transaction: two writers storing the same bodies wait for each other in
 * one order and never deadlock. 'batch' is this call's own number. */
static int write_bodies(PGconn *pg, struct delivery *const *v, size_t n, long long now_ms,
                        unsigned long long batch, struct hl_error *err)
{
    struct write_body *rows = malloc((n ? n : 1) * sizeof(*rows));
    if (rows == NULL)
        abort();                /* cannot keep the record: better to crash and redeliver */
    size_t nrows = 0;
    for (size_t i = 0; i < n; i++) {
        struct payload *p = v[i]->payload;
        long long day = write_body_day(v[i], now_ms);
        if (p->body_day_stored == day + 1 || (p->body_batch == batch && p->body_batch_day == day))
            continue;
        p->body_batch = batch;
        p->body_batch_day = day;
        rows[nrows++] = (struct write_body){ .d = v[i], .day = day };
    }
    qsort(rows, nrows, sizeof(*rows), write_by_body);
    /* bodies read from Kafka are new but after a redelivery: COPY, the fast
     * way; the slow lane's (stored when deferred or first tried) and a COPY
     * that met a stored one go through ON CONFLICT DO NOTHING */
    size_t nfresh = 0;
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].d->retry_id == 0) {
            struct write_body t = rows[i];
            memmove(rows + nfresh + 1, rows + nfresh, (i - nfresh) * sizeof(*rows));
            rows[nfresh++] = t;
        }
    int rc = nfresh > 0 ? write_bodies_copy(pg, rows, nfresh, err) : 0;
    if (rc == 0 && nrows > nfresh)
        rc = write_bodies_insert(pg, rows + nfresh, nrows - nfresh, err);
    else if (rc == 1)
        rc = write_bodies_insert(pg, rows, nrows, err);
    free(rows);
    return rc < 0 ? HL_EDB : 0;
}

/* What the health statements found the operational events need. */
struct write_notices {
    bool failing;       /* an endpoint fails with no endpoint.failing standing, nor one too recent */
    bool recovered;     /* an endpoint whose endpoint.failing stands works again */
};

/* Endpoints with failures in the batch: their row as the batch leaves it.
 * Sets *doomed when one of them has failed for 'disable_after_ms', and
 * what 'notices' they call for ('notice_ms': HOOKLINE_FAILING_NOTICE_EVERY). */
static int write_health(PGconn *pg, const char *rows, long disable_after_ms, long notice_ms, bool *doomed,
                        struct write_notices *notices, struct hl_error *err)
{
    char secs[32], every[32];
    snprintf(secs, sizeof(secs), "%ld", disable_after_ms / 1000);
    snprintf(every, sizeof(every), "%ld", notice_ms);
    const char *params[3] = { rows, secs, every };
    PGresult *res = db_query_prepared(pg, err,
        "INSERT INTO endpoint_health AS h (endpoint_id, webhook_id, failing_since, last_success_at, last_failure_at) "
        "SELECT endpoint_id, webhook_id, to_timestamp(failing_from / 1000.0), to_timestamp(ok_ms / 1000.0), "
        "to_timestamp(fail_ms / 1000.0) "
        "FROM json_to_recordset($1::json) AS x(endpoint_id text, webhook_id text, ok_ms bigint, fail_ms bigint, "
        "failing_from bigint) "
        "ON CONFLICT (endpoint_id) DO UPDATE SET "
        "failing_since = CASE WHEN EXCLUDED.failing_since IS NULL THEN NULL "
        "                     WHEN EXCLUDED.last_success_at IS NOT NULL THEN EXCLUDED.failing_since "
        "                     ELSE coalesce(h.failing_since, EXCLUDED.failing_since) END, "
        "last_success_at = coalesce(EXCLUDED.last_success_at, h.last_success_at), "
        "last_failure_at = coalesce(EXCLUDED.last_failure_at, h.last_failure_at) "
        "RETURNING h.failing_since < now() - make_interval(secs => $2::bigint), "
        "h.failing_since IS NOT NULL AND h.noticed_failing_since IS NULL AND (h.failing_noticed_at IS NULL OR "
        "h.failing_noticed_at <= now() - make_interval(secs => $3::float8 / 1000)), "
        "h.failing_since IS NULL AND h.noticed_failing_since IS NOT NULL", 3, params);
    if (res == NULL)
        return HL_EDB;
    for (int i = 0; i < PQntuples(res); i++) {
        *doomed = *doomed || strcmp(PQgetvalue(res, i, 0), "t") == 0;
        notices->failing = notices->failing || strcmp(PQgetvalue(res, i, 1), "t") == 0;
        notices->recovered = notices->recovered || strcmp(PQgetvalue(res, i, 2), "t") == 0;
    }
    PQclear(res);
    return 0;
}

/* Endpoints whose every attempt in the batch succeeded: no row means
 * healthy, so only an existing row is touched, and only when it says the
 * endpoint fails or its last success is over HEALTH_REFRESH_S old. The
 * common case, a healthy endpoint, writes nothing. Sets *recovered when
 * one of them had an endpoint.failing standing. */
static int write_health_ok(PGconn *pg, const char *rows, bool *recovered, struct hl_error *err)
{
    const char *params[1] = { rows };
    PGresult *res = db_query_prepared(pg, err,
        "UPDATE endpoint_health h SET failing_since = NULL, last_success_at = to_timestamp(x.ok_ms / 1000.0) "
        "FROM json_to_recordset($1::json) AS x(endpoint_id text, ok_ms bigint) "
        "WHERE h.endpoint_id = x.endpoint_id AND (h.failing_since IS NOT NULL OR h.last_success_at IS NULL OR "
        "h.last_success_at < to_timestamp(x.ok_ms / 1000.0) - make_interval(secs => " HEALTH_REFRESH_S ")) "
        "RETURNING h.noticed_failing_since IS NOT NULL",
        1, params);
    if (res == NULL)
        return HL_EDB;
    for (int i = 0; i < PQntuples(res); i++)
        *recovered = *recovered || strcmp(PQgetvalue(res, i, 0), "t") == 0;
    PQclear(res);
    return 0;
}

/* Failed attempts that will be tried again. One from Kafka gets (or moves
 * on) its endpoint's slow-lane row, unless a lane's holder is delivering
 * that row right now; one taken from a lane moves its own row on, if the
 * lease it was taken under still holds. */
static int write_retries(PGconn *pg, const char *failures, struct hl_error *err)
{
    const char *params[1] = { failures };
    if (db_exec_prepared(pg, err,
        "INSERT INTO retries AS r (tenant_id, webhook_id, endpoint_id, event_id, event_type, body_day, attempt, "
        "due_at) "
        "SELECT DISTINCT ON (endpoint_id, event_id) tenant_id, webhook_id, endpoint_id, event_id, event_type, "
        "body_day, attempt + 1, to_timestamp(next_ms / 1000.0) " FAILURES_AS_X " WHERE NOT final AND retry_id = 0 "
        "ORDER BY endpoint_id, event_id, attempt DESC "
        "ON CONFLICT (endpoint_id, event_id) DO UPDATE SET attempt = EXCLUDED.attempt, due_at = EXCLUDED.due_at, "
        "body_day = EXCLUDED.body_day WHERE r.epoch IS NULL", 1, params) < 0)
        return HL_EDB;
    return db_exec_prepared(pg, err,
        "UPDATE retries r SET attempt = x.attempt + 1, due_at = to_timestamp(x.next_ms / 1000.0), epoch = NULL, "
        "body_day = x.body_day "
        FAILURES_AS_X " WHERE NOT x.final AND x.retry_id <> 0 AND r.id = x.retry_id AND r.epoch = x.epoch",
        1, params);
}

/* Deliveries deferred to their endpoint's slow lane: a row due now, unless
 * the endpoint has one for that event already (further along). */
static int write_deferred(PGconn *pg, const char *deferred, struct hl_error *err)
{
    const char *params[1] = { deferred };
    return db_exec_prepared(pg, err,
        "INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, body_day, attempt, due_at) "
        "SELECT tenant_id, webhook_id, endpoint_id, event_id, event_type, body_day, attempt, now() "
        FAILURES_AS_X " ORDER BY endpoint_id ON CONFLICT (endpoint_id, event_id) DO NOTHING", 1, params);
}

/* Disable the endpoints that answered 410 or have failed for longer than
 * 'disable_after_ms' (read after this batch's health update), one at a
 * time in a fixed order (webhook, endpoint), each with its outbox event:
 * hl_endpoint_disable (sql/007_endpoint_state.sql) takes the webhook with
 * its last active endpoint. A 410 outweighs a failing window. */
static int write_disable(PGconn *pg, const char *failures, long disable_after_ms, struct hl_error *err)
{
    char secs[32];
    snprintf(secs, sizeof(secs), "%ld", disable_after_ms / 1000);
    const char *params[2] = { failures, secs };
    PGresult *res = db_query_prepared(pg, err,
        "WITH doomed AS ("
        "  SELECT webhook_id, endpoint_id, endpoint_url, 'gone' AS reason, "
        "  'endpoint ' || endpoint_url || ' answered 410 Gone' AS detail "
        "  " FAILURES_AS_X " WHERE gone "
        "  UNION ALL "
        "  SELECT h.webhook_id, x.endpoint_id, x.endpoint_url, 'failing', "
        "  'every delivery to endpoint ' || x.endpoint_url || ' failed since ' || hl_ts(h.failing_since) "
        "  " FAILURES_AS_X " JOIN endpoint_health h ON h.endpoint_id = x.endpoint_id "
        "  WHERE h.failing_since < now() - make_interval(secs => $2::bigint)) "
        "SELECT DISTINCT ON (webhook_id, endpoint_id) webhook_id, endpoint_id, reason, detail, endpoint_url "
        "FROM doomed "
        "ORDER BY webhook_id, endpoint_id, reason = 'gone' DESC",
        2, params);
    if (res == NULL)
        return HL_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        const char *args[4] = { PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                                PQgetvalue(res, i, 3) };
        PGresult *kind = db_query(pg, err, "SELECT hl_endpoint_disable($1, $2, $3, $4)", 4, args);
        if (kind == NULL) {
            rc = HL_EDB;
            break;
        }
        /* NULL: disabled already (another batch, another dispatcher), or gone */
        bool webhook_off = !PQgetisnull(kind, 0, 0) && strcmp(PQgetvalue(kind, 0, 0), "webhook.disabled") == 0;
        if (webhook_off && ops_events_disabled(pg, args[0], args[1], PQgetvalue(res, i, 4), args[2], args[3], err) < 0)
            rc = HL_EDB;
        if (!PQgetisnull(kind, 0, 0))
            log_warn("endpoint %s of webhook %s disabled (%s): %s%s", args[1], args[0], args[2], args[3],
                     strcmp(PQgetvalue(kind, 0, 0), "webhook.disabled") == 0
                         ? "; it was the last active one: the webhook is disabled" : "");
        PQclear(kind);
    }
    PQclear(res);
    return rc;
}

/* Does the batch hold a delivery that failed for good, not on a 410, and
 * not of an operational event (ops_events_exhausted)? */
static bool write_any_exhausted(struct delivery *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i]->outcome == DELIVERY_FAILED && !v[i]->gone && !catalog_is_operational(v[i]->payload->event_type))
            return true;
    return false;
}

/* Move the batch's poll-endpoint events (DELIVERY_POLLED) to the end of
 * 'v', the others first, each part in its order. Returns how many others. */
static size_t write_split_polled(struct delivery **v, size_t n)
{
    size_t pushed = 0, npolled = 0;
    struct delivery **polled = NULL;
    for (size_t i = 0; i < n; i++) {
        if (v[i]->outcome != DELIVERY_POLLED) {
            v[pushed++] = v[i];
            continue;
        }
        if (polled == NULL && (polled = malloc(n * sizeof(*polled))) == NULL)
            abort();            /* cannot keep the record: better to crash and redeliver */
        polled[npolled++] = v[i];
    }
    if (npolled > 0)
        memcpy(v + pushed, polled, npolled * sizeof(*polled));
    free(polled);
    return pushed;
}

int attempts_write(PGconn *pg, struct delivery **v, size_t n_all, const char *dispatcher, const struct hl_config *cfg,
                   struct hl_error *err)
{
    /* events for poll endpoints are appended to their logs, and nothing else */
    size_t n = write_split_polled(v, n_all);
    long disable_after_ms = cfg->disable_after_ms;
    static atomic_ullong batches;
    unsigned long long batch = atomic_fetch_add(&batches, 1) + 1;
    long long now_ms = hl_time_now_ms();
    struct wbuf copy = { 0 };
    write_copy_rows(&copy, v, n, dispatcher);
    char *failures = write_rows_json(v, n, 'f', now_ms);
    char *deferred = write_rows_json(v, n, 'd', now_ms);
    char *ordered = write_rows_json(v, n, 'o', now_ms);
    char *settled = NULL, *settled_epochs = NULL;
    write_settled(v, n, &settled, &settled_epochs);
    /* endpoint health from the attempts made: deferred ones go last, out of its reach */
    size_t attempted = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i]->outcome != DELIVERY_DEFERRED) {
            struct delivery *d = v[i];
            v[i] = v[attempted];
            v[attempted++] = d;
        }
    char *health_ok = NULL, *health = NULL;
    write_health_rows(v, attempted, &health_ok, &health);
    char *stats = attempts_stats_rows(v, attempted);
    int rc = HL_EDB;
    if (db_begin(pg, err) < 0 || write_bodies(pg, v, n, now_ms, batch, err) < 0 ||
        (copy.n > 0 && write_copy(pg, &copy, err) < 0))
        goto out;
    if (deferred && write_deferred(pg, deferred, err) < 0)
        goto out;
    if (ordered) {
        const char *params[1] = { ordered };
        if (db_exec_prepared(pg, err, "SELECT hl_ordered_append($1::json)", 1, params) < 0)
            goto out;
    }
    if (failures && write_retries(pg, failures, err) < 0)
        goto out;
    if (settled) {
        const char *params[2] = { settled, settled_epochs };
        if (db_exec_prepared(pg, err,
                    "DELETE FROM retries r USING unnest($1::bigint[], $2::bigint[]) AS s(id, epoch) "
                    "WHERE r.id = s.id AND r.epoch = s.epoch", 2, params) < 0)
            goto out;
    }
    /* a 410, or an endpoint failing for too long, disables that endpoint */
    bool doomed = false;
    for (size_t i = 0; i < attempted && !doomed; i++)
        doomed = v[i]->gone;
    struct write_notices notices = { false, false };
    if ((health_ok && write_health_ok(pg, health_ok, &notices.recovered, err) < 0) ||
        (health && write_health(pg, health, disable_after_ms, cfg->failing_notice_ms, &doomed, &notices, err) < 0))
        goto out;
    /* the tenant's operational events, in the transaction that records their cause */
    if (notices.failing && ops_events_failing(pg, health, cfg->failing_notice_ms, err) < 0)
        goto out;
    if (notices.recovered && ((health_ok && ops_events_recovered(pg, health_ok, err) < 0) ||
                              (health && ops_events_recovered(pg, health, err) < 0)))
        goto out;
    if (failures && write_any_exhausted(v, attempted) && ops_events_exhausted(pg, failures, err) < 0)
        goto out;
    if (doomed && write_disable(pg, failures, disable_after_ms, err) < 0)
        goto out;
    if (n_all > n && poll_write(pg, v + n, n_all - n, err) < 0)
        goto out;
    /* last: the hot rows of webhook_stats are held only until the commit */
    if (stats && attempts_stats_write(pg, stats, err) < 0)
        goto out;
    rc = db_commit(pg, err);
    /* the bodies are stored: later batches of the same events skip them */
    for (size_t i = 0; rc == 0 && i < n; i++)
        v[i]->payload->body_day_stored = write_body_day(v[i], now_ms) + 1;
out:
    if (rc != 0)
        db_rollback(pg);
    free(copy.p);
    free(failures);
    free(deferred);
    free(ordered);
    free(settled);
    free(settled_epochs);
    free(health_ok);
    free(health);
    free(stats);
    return rc;
}
