/* routes_poll.c: fetching the events of a webhook whose endpoint is a poll
 * endpoint ({"kind": "poll"}), which hookline never pushes to.
 *
 *   GET /v1/webhooks/:id/poll?cursor=&limit=
 *       -> {"data": [envelopes], "next_cursor", "done", "acked_cursor", "acked_at"}
 *
 * The dispatchers append each event to the webhook's log with the next
 * position (sql/014_poll_endpoints.sql). A cursor names a position: the
 * events after it are returned, oldest first, and fetching with a cursor
 * acknowledges every event up to it (the stored position only moves
 * forward; an older cursor still re-reads what retention keeps). Without
 * one, the fetch starts at the acknowledged position. A cursor below what
 * retention removed answers 410 with "oldest_cursor", the oldest valid one.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_WEBHOOK_ID_MAX 64
#define POLL_LIMIT_DEFAULT 100
#define POLL_LIMIT_MAX 1000
#define POLL_PAGE_BYTES_MAX (8u << 20)  /* a page stops growing past this (at least one event) */
#define POLL_CURSOR_PREFIX "pc_"
#define POLL_CURSOR_DIGITS_MAX 18

/* Parse a cursor: "pc_" and the position in decimal. Returns 0 with *pos,
 * or HL_EINVAL naming "cursor". */
static int poll_cursor_parse(struct api_call *call, const char *s, long long *pos)
{
    size_t n = strlen(POLL_CURSOR_PREFIX), len = strlen(s);
    bool ok = len > n && len - n <= POLL_CURSOR_DIGITS_MAX && strncmp(s, POLL_CURSOR_PREFIX, n) == 0 &&
              strspn(s + n, "0123456789") == len - n;
    if (!ok)
        return hl_error_set(&call->err, HL_EINVAL,
                            "\"cursor\" must be a cursor this API returned (\"next_cursor\" of an earlier fetch).");
    *pos = strtoll(s + n, NULL, 10);
    return 0;
}

static void poll_cursor_format(long long pos, char out[32])
{
    snprintf(out, 32, POLL_CURSOR_PREFIX "%lld", pos);
}

/* A growable reply text, bounded by POLL_PAGE_BYTES_MAX plus one event. */
struct poll_buf {
    char *p;
    size_t n, cap;
};

static int poll_buf_add(struct poll_buf *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return HL_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
    return 0;
}

/* Is webhook 'id' the caller's (else HL_ENOTFOUND), with a poll endpoint
 * now (*poll)? Returns 0, HL_ENOTFOUND or HL_EDB. */
static int poll_webhook_find(struct api_call *call, const char *id, bool *poll)
{
    return api_webhook_flag(call,
        "SELECT EXISTS (SELECT 1 FROM jsonb_array_elements(w.endpoints) e WHERE e->>'kind' = 'poll') "
        "FROM webhooks w WHERE w.id = $1 AND w.tenant_id = $2", id, poll);
}

static int poll_fetch(struct api_call *call)
{
    const char *id = api_param(call, "id");
    if (id == NULL || strlen(id) > POLL_WEBHOOK_ID_MAX || strncmp(id, "wh_", 3) != 0)
        return hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
    long limit = POLL_LIMIT_DEFAULT;
    int rc = api_query_int(call, "limit", 1, POLL_LIMIT_MAX, &limit);
    if (rc < 0)
        return rc;
    const char *cursor = api_query(call, "cursor");
    long long pos = -1;
    if (cursor != NULL && *cursor != '\0' && (rc = poll_cursor_parse(call, cursor, &pos)) < 0)
        return rc;
    bool poll = false;
    if ((rc = poll_webhook_find(call, id, &poll)) < 0)
        return rc;

    /* the state and the page in one statement: one snapshot, so a page is
     * never missing events that retention removed after 'purged' was read */
    char pos_text[32], lim_text[32];
    snprintf(pos_text, sizeof(pos_text), "%lld", pos);
    snprintf(lim_text, sizeof(lim_text), "%ld", limit + 1);
    const char *params[3] = { id, pos >= 0 ? pos_text : NULL, lim_text };
    PGresult *res = db_query(call->pg, &call->err,
        "SELECT s.last_seq, s.acked, s.purged, hl_ts(s.acked_at), e.seq, e.body FROM poll_state s "
        "LEFT JOIN LATERAL (SELECT p.seq, p.body FROM poll_events p WHERE p.webhook_id = s.webhook_id "
        "  AND p.seq > coalesce($2::bigint, s.acked) ORDER BY p.seq LIMIT $3::int) e ON true "
        "WHERE s.webhook_id = $1 ORDER BY e.seq", 3, params);
    if (res == NULL)
        return HL_EDB;
    struct poll_buf b = { 0 };
    json_t *acked_when = NULL;
    if (PQntuples(res) == 0 && !poll) {
        rc = hl_error_set(&call->err, HL_ECONFLICT,
                          "This webhook has no poll endpoint: its events are pushed to its endpoints.");
        goto out;
    }
    long long last = 0, acked = 0, purged = 0;
    const char *acked_at = NULL;
    if (PQntuples(res) > 0) {
        last = atoll(PQgetvalue(res, 0, 0));
        acked = atoll(PQgetvalue(res, 0, 1));
        purged = atoll(PQgetvalue(res, 0, 2));
        acked_at = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
    }
    if (pos < 0)
        pos = acked;
    char text[32];
    if (pos > last) {
        rc = hl_error_set(&call->err, HL_EINVAL, "\"cursor\" is beyond this webhook's newest event; use a "
                                                 "\"next_cursor\" this webhook's fetches returned.");
        goto out;
    }
    if (pos < purged) {
        poll_cursor_format(purged, text);
        rc = api_reply(call, 410, json_pack("{s:s,s:s}", "error",
            "The events after this cursor are gone: retention (HOOKLINE_RETENTION) removed some of them. "
            "Continue from \"oldest_cursor\", the oldest cursor still valid.", "oldest_cursor", text));
        goto out;
    }
    /* acknowledge up to the cursor given: the stored position moves forward only */
    if (cursor != NULL && *cursor != '\0' && pos > acked) {
        const char *up[2] = { id, pos_text };
        PGresult *ack = db_query(call->pg, &call->err,
            "UPDATE poll_state SET acked = $2::bigint, acked_at = now() WHERE webhook_id = $1 AND acked < $2::bigint "
            "RETURNING acked, hl_ts(acked_at)", 2, up);
        if (ack == NULL) {
            rc = HL_EDB;
            goto out;
        }
        if (PQntuples(ack) == 1) {
            acked = atoll(PQgetvalue(ack, 0, 0));
            acked_when = json_string(PQgetvalue(ack, 0, 1));
        }
        PQclear(ack);
    }
    if (acked_when == NULL)
        acked_when = acked_at ? json_string(acked_at) : json_null();
    long long next = pos;
    int rows = 0;
    bool done = true;
    rc = poll_buf_add(&b, "{\"data\":[", 9);
    for (int i = 0; rc == 0 && i < PQntuples(res) && !PQgetisnull(res, i, 4); i++) {
        if (i == limit || (i > 0 && b.n >= POLL_PAGE_BYTES_MAX)) {
            done = false;
            break;
        }
        if (rows > 0)
            rc = poll_buf_add(&b, ",", 1);
        if (rc == 0)
            rc = poll_buf_add(&b, PQgetvalue(res, i, 5), (size_t)PQgetlength(res, i, 5));
        next = atoll(PQgetvalue(res, i, 4));
        rows++;
    }
    if (rc == 0) {
        char next_text[32], acked_text[32], end[256];
        poll_cursor_format(next, next_text);
        poll_cursor_format(acked, acked_text);
        char *at = json_dumps(acked_when, JSON_ENCODE_ANY);
        int len = snprintf(end, sizeof(end), "],\"next_cursor\":\"%s\",\"done\":%s,\"acked_cursor\":\"%s\",\"acked_at\":%s}",
                           next_text, done ? "true" : "false", acked_text, at ? at : "null");
        free(at);
        rc = poll_buf_add(&b, end, (size_t)len);
    }
    if (rc == 0)
        rc = api_reply_text(call, 200, b.p, b.n);
    else
        hl_error_set(&call->err, HL_ENOMEM, "out of memory");
out:
    json_decref(acked_when);
    free(b.p);
    PQclear(res);
    return rc;
}

const struct api_route routes_poll[] = {
    /* a read that moves the tenant's own position: webhooks:read suffices for a consumer's key */
    { "GET", "/v1/webhooks/:id/poll", SCOPE_WEBHOOKS_READ, true, poll_fetch },
    { NULL, NULL, 0, false, NULL },
};
