/* lanes.c: the slow lanes, deliveries waiting in PostgreSQL (see
 * sql/005_lanes.sql for the tables and their invariants).
 *
 * A dispatcher with room leases free lanes that have rows due, oldest
 * first, takes their due rows oldest first as far as each lane's room
 * allows (queue.c then paces them by the endpoint's concurrency and rate
 * limit), renews its leases while it serves them, and lets a lane go once
 * nothing of it is due, waiting or in flight, writing back when its
 * earliest row is due and when the rate limit lets the next one start.
 * Every row it takes carries the lane's epoch, so only the lease's holder
 * settles it (attempts_write.c). The lane of an ordered webhook gives its
 * head alone, one at a time (sql/016_ordered.sql), and is served again as
 * soon as its head is settled. All of it runs on the loop's thread and
 * connection; each statement is bounded by that session's statement
 * timeout, and a failure only means trying again at the next turn.
 */
#include "lanes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "envelope.h"
#include "log.h"

#define LANES_EVERY_MS 100          /* take rows and lanes this often ... */
#define LANES_BUSY_MS 20            /* ... and this often while lanes are held */

/* Is lane 'l' to be served: its webhook active and its endpoint not
 * disabled on its own (sql/007_endpoint_state.sql, the same test as its
 * hl_lanes_touch)? */
#define LANE_LIVE \
    "EXISTS (SELECT 1 FROM webhooks wh WHERE wh.id = l.webhook_id AND wh.is_active AND NOT EXISTS " \
    "(SELECT 1 FROM jsonb_array_elements(wh.endpoints) e WHERE e->>'id' = l.endpoint_id " \
    "AND e->'is_active' = 'false'::jsonb))"
#define LANES_SCRATCH 64            /* text of one number */

struct lane {
    char endpoint_id[HL_ID_MAX];
    char webhook_id[HL_ID_MAX];
    int64_t epoch;
    int outstanding;                /* rows taken and not yet recorded or dropped: the lane is
                                     * ours to keep until none is left */
    int unfinished;                 /* of those, not yet finished (waiting or in flight): what
                                     * its room counts (a finished one waits for the writer in
                                     * the attempt batch, which the budget bounds) */
    bool drained;                   /* the last take found nothing more due */
    bool parked;                    /* its webhook or endpoint is disabled: let go, keep nothing */
    long long send_ms;              /* rate limit: no start before (from the previous holder) */
    long long lease_ms;             /* the lease holds at least until then (this host's clock: the
                                     * time its statement was sent, plus HOOKLINE_LANE_LEASE) */
    bool ordered;                   /* its webhook is ordered (the last take said so) */
};

struct lanes {
    const struct hl_config *cfg;
    struct queue *q;
    char owner[128];
    struct strmap *held;            /* endpoint id -> struct lane */
    size_t max_held;
    long long next_turn_ms, next_renew_ms;
};

struct lanes *lanes_new(const struct hl_config *cfg, struct queue *q, const char *owner)
{
    struct lanes *ln = calloc(1, sizeof(*ln));
    if (ln == NULL || (ln->held = strmap_new()) == NULL) {
        free(ln);
        return NULL;
    }
    ln->cfg = cfg;
    ln->q = q;
    snprintf(ln->owner, sizeof(ln->owner), "%s", owner);
    /* each held lane may have up to HOOKLINE_LANE_SIZE rows in memory */
    ln->max_held = (size_t)cfg->max_in_flight;
    return ln;
}

void lanes_free(struct lanes *ln)
{
    if (ln == NULL)
        return;
    strmap_free(ln->held, free);
    free(ln);
}

size_t lanes_held(const struct lanes *ln)
{
    return strmap_size(ln->held);
}

/* ---- arrays of the held lanes as PostgreSQL literals ---- */

struct arr {
    char *p;
    size_t n, cap;
};

static void arr_add(struct arr *a, const char *s)
{
    size_t len = strlen(s);
    if (a->n + len + 4 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        while (cap < a->n + len + 4)
            cap *= 2;
        char *p = realloc(a->p, cap);
        if (p == NULL)
            abort();
        a->p = p;
        a->cap = cap;
    }
    a->p[a->n] = a->n == 0 ? '{' : ',';
    a->n++;
    memcpy(a->p + a->n, s, len);    /* ids and numbers: nothing to quote */
    a->n += len;
    a->p[a->n] = '\0';
}

/* Tenant ids ([A-Za-z0-9_-]) quoted: an unquoted NULL would be no text. */
static void arr_add_quoted(const char *s, void *acc)
{
    char text[ENVELOPE_TENANT_MAX + 3];
    snprintf(text, sizeof(text), "\"%s\"", s);
    arr_add(acc, text);
}

/* The array literal; only called with at least one element added. */
static const char *arr_end(struct arr *a)
{
    a->p[a->n++] = '}';
    a->p[a->n] = '\0';
    return a->p;
}

static void arr_num(struct arr *a, long long v)
{
    char text[LANES_SCRATCH];
    snprintf(text, sizeof(text), "%lld", v);
    arr_add(a, text);
}

/* ---- letting lanes go ---- */

struct pick {
    struct lanes *ln;
    struct arr ids, epochs, extra;
    bool (*want)(const struct lane *l, void *arg);
    void *arg;
    int n;
};

static void pick_one(const char *key, void *value, void *arg)
{
    struct pick *p = arg;
    struct lane *l = value;
    (void)key;
    if (!p->want(l, p->arg))
        return;
    arr_add(&p->ids, l->endpoint_id);
    arr_num(&p->epochs, l->epoch);
    arr_num(&p->extra, queue_next_start(p->ln->q, l->endpoint_id));
    p->n++;
}

static void pick_free(struct pick *p)
{
    free(p->ids.p);
    free(p->epochs.p);
    free(p->extra.p);
}

static bool want_idle(const struct lane *l, void *arg)
{
    (void)arg;
    return l->outstanding == 0 && (l->drained || l->parked);
}

static bool want_none(const struct lane *l, void *arg)
{
    (void)arg;
    (void)l;
    return false;
}

static bool want_all(const struct lane *l, void *arg)
{
    (void)arg;
    (void)l;
    return true;
}

/* Keep only the held lanes 'keep' says yes to (a new map: a strmap cannot
 * lose entries while it is walked). */
struct keep_walk {
    struct strmap *kept;
    bool (*keep)(const struct lane *l, void *arg);
    void *arg;
};

static void keep_one(const char *key, void *value, void *arg)
{
    struct keep_walk *w = arg;
    struct lane *l = value;
    (void)key;
    if (w->keep(l, w->arg)) {
        if (strmap_put(w->kept, l->endpoint_id, l, NULL) < 0)
            abort();
    } else {
        free(l);
    }
}

static void lanes_keep(struct lanes *ln, bool (*keep)(const struct lane *l, void *arg), void *arg)
{
    struct keep_walk w = { strmap_new(), keep, arg };
    if (w.kept == NULL)
        abort();
    strmap_foreach(ln->held, keep_one, &w);
    strmap_free(ln->held, NULL);
    ln->held = w.kept;
}

/* After a let-go: keep what was not picked, and the picks still ours. */
struct keep_unpicked {
    bool (*want)(const struct lane *l, void *arg);
    struct strmap *still;
};

static bool keep_unpicked(const struct lane *l, void *arg)
{
    const struct keep_unpicked *k = arg;
    return !k->want(l, NULL) || strmap_get(k->still, l->endpoint_id) != NULL;
}

/* The first column of 'res' as a set (values borrowed from 'ln': only
 * keys are kept, copied by the map). */
static struct strmap *lanes_column_set(struct lanes *ln, PGresult *res)
{
    struct strmap *set = strmap_new();
    if (set == NULL)
        abort();
    for (int i = 0; res && i < PQntuples(res); i++)
        if (strmap_put(set, PQgetvalue(res, i, 0), ln, NULL) < 0)
            abort();
    return set;
}

/* Let go of the lanes 'want' picks: no owner, the earliest due row as the
 * next due time (none while the webhook or the endpoint is disabled), the
 * rate limit's next start carried over. The lanes rows are locked first,
 * so the due time is read after any concurrent insert that touched them
 * committed. With 'wait' false, a row an attempt writer's transaction
 * holds (its inserts of due rows touch their lanes) is skipped, so the
 * loop never waits on one: that lane, which is getting rows, stays held
 * for a later turn. Every other pick is no longer held: let go, or no
 * longer ours. Returns 0, or HL_EDB (all still held). */
static int lanes_let_go(struct lanes *ln, PGconn *pg, bool (*want)(const struct lane *l, void *arg), bool wait)
{
    struct pick p = { .ln = ln, .want = want };
    strmap_foreach(ln->held, pick_one, &p);
    if (p.n == 0)
        return 0;
    const char *params[4] = { ln->owner, arr_end(&p.ids), arr_end(&p.epochs), arr_end(&p.extra) };
    struct hl_error err = { 0 };
    PGresult *locked = NULL, *busy = NULL;
    int rc = db_begin(pg, &err);
    if (rc == 0 && (locked = db_query_prepared(pg, &err, wait
            ? "SELECT endpoint_id FROM lanes WHERE endpoint_id = ANY($2::text[]) AND owner = $1 "
              "ORDER BY endpoint_id FOR UPDATE"
            : "SELECT endpoint_id FROM lanes WHERE endpoint_id = ANY($2::text[]) AND owner = $1 "
              "ORDER BY endpoint_id FOR UPDATE SKIP LOCKED", 2, params)) == NULL)
        rc = HL_EDB;
    /* only the rows locked above: one an insert still holds would be
     * waited for, and its rows, committed after this statement's snapshot,
     * missed in the due time (the lane would never be leased again) */
    struct arr mine = { 0 };
    for (int i = 0; rc == 0 && i < PQntuples(locked); i++)
        arr_add(&mine, PQgetvalue(locked, i, 0));
    const char *lparams[5] = { params[0], params[1], params[2], params[3], mine.n ? arr_end(&mine) : "{}" };
    if (rc == 0 && mine.n > 0)
        rc = db_exec_prepared(pg, &err,
            "UPDATE lanes l SET owner = NULL, lease_until = NULL, "
            "send_after = CASE WHEN w.send_ms > 0 THEN to_timestamp(w.send_ms / 1000.0) END, "
            "next_due_at = CASE WHEN " LANE_LIVE " "
            "  THEN hl_lane_due(l.endpoint_id, (SELECT wh.ordered FROM webhooks wh WHERE wh.id = l.webhook_id)) END "
            "FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS w(endpoint_id, epoch, send_ms) "
            "WHERE l.endpoint_id = w.endpoint_id AND l.epoch = w.epoch AND l.owner = $1 "
            "AND l.endpoint_id = ANY($5::text[])",
            5, lparams);
    free(mine.p);
    /* skipped: still ours, locked by another transaction */
    if (rc == 0 && PQntuples(locked) < p.n &&
        (busy = db_query_prepared(pg, &err, "SELECT endpoint_id FROM lanes WHERE endpoint_id = ANY($2::text[]) AND owner = $1",
                         2, params)) == NULL)
        rc = HL_EDB;
    if (rc == 0)
        rc = db_commit(pg, &err);
    if (rc != 0) {
        db_rollback(pg);
        log_warn("slow lanes: letting %d go: %s (their leases run out instead)", p.n, err.msg);
    } else {
        struct keep_unpicked k = { want, lanes_column_set(ln, busy) };
        lanes_keep(ln, keep_unpicked, &k);
        strmap_free(k.still, NULL);
    }
    PQclear(locked);
    PQclear(busy);
    pick_free(&p);
    return rc;
}

/* ---- leases ---- */

static bool keep_listed(const struct lane *l, void *arg)
{
    return strmap_get(arg, l->endpoint_id) != NULL;
}

/* Renew the leases of the held lanes. A lane row an attempt writer's
 * transaction holds is not waited for: still ours, it is renewed at a
 * turn soon after. */
static bool lanes_renew(struct lanes *ln, PGconn *pg, long long now_ms)
{
    struct pick p = { .ln = ln, .want = want_all };
    strmap_foreach(ln->held, pick_one, &p);
    if (p.n == 0)
        return true;
    char lease[32];
    snprintf(lease, sizeof(lease), "%.3f", ln->cfg->lane_lease_ms / 1000.0);
    const char *params[4] = { ln->owner, arr_end(&p.ids), arr_end(&p.epochs), lease };
    struct hl_error err = { 0 };
    PGresult *res = db_query_prepared(pg, &err,
        "WITH w AS (SELECT * FROM unnest($2::text[], $3::bigint[]) AS w(endpoint_id, epoch)), "
        "ours AS (SELECT l.endpoint_id FROM lanes l JOIN w ON l.endpoint_id = w.endpoint_id "
        "  AND l.epoch = w.epoch AND l.owner = $1), "
        "mine AS (SELECT l.endpoint_id FROM lanes l JOIN ours o ON o.endpoint_id = l.endpoint_id "
        "  FOR UPDATE OF l SKIP LOCKED), "
        "renewed AS (UPDATE lanes l SET lease_until = now() + make_interval(secs => $4::float8) "
        "  FROM mine m WHERE l.endpoint_id = m.endpoint_id RETURNING l.endpoint_id) "
        "SELECT o.endpoint_id, o.endpoint_id IN (SELECT endpoint_id FROM renewed) FROM ours o",
        4, params);
    pick_free(&p);
    if (res == NULL) {
        log_warn("slow lanes: renewing %zu leases: %s", lanes_held(ln), err.msg);
        return false;
    }
    /* a lane no longer ours has passed to another dispatcher (our lease
     * ran out): it serves the rows now, we stop */
    struct strmap *ours = lanes_column_set(ln, res);
    bool all_renewed = true;
    for (int i = 0; i < PQntuples(res); i++) {
        bool renewed = PQgetvalue(res, i, 1)[0] == 't';
        struct lane *l = strmap_get(ln->held, PQgetvalue(res, i, 0));
        if (renewed && l != NULL)
            l->lease_ms = now_ms + ln->cfg->lane_lease_ms;
        all_renewed = all_renewed && renewed;
    }
    PQclear(res);
    size_t before = lanes_held(ln);
    lanes_keep(ln, keep_listed, ours);
    strmap_free(ours, NULL);
    if (lanes_held(ln) < before)
        log_warn("slow lanes: %zu leases ran out before they were renewed; other dispatchers serve them",
                 before - lanes_held(ln));
    ln->next_renew_ms = now_ms + (all_renewed ? ln->cfg->lane_lease_ms / 4 : LANES_EVERY_MS);
    return true;
}

/* Lease up to 'max' free lanes with rows due, oldest first. */
static int lanes_acquire(struct lanes *ln, PGconn *pg, long long now_ms, int max, const char *skip_tenants)
{
    char limit[16], lease[32];
    snprintf(limit, sizeof(limit), "%d", max);
    snprintf(lease, sizeof(lease), "%.3f", ln->cfg->lane_lease_ms / 1000.0);
    const char *params[4] = { ln->owner, lease, limit, skip_tenants };
    struct hl_error err = { 0 };
    PGresult *res = db_query_prepared(pg, &err,
        "UPDATE lanes l SET owner = $1, lease_until = now() + make_interval(secs => $2::float8), epoch = l.epoch + 1 "
        "FROM (SELECT endpoint_id FROM lanes WHERE next_due_at <= now() "
        "      AND (lease_until IS NULL OR lease_until < now()) "
        "      AND ($4::text[] IS NULL OR tenant_id <> ALL($4::text[])) "
        "      ORDER BY next_due_at LIMIT $3::int FOR UPDATE SKIP LOCKED) c "
        "WHERE l.endpoint_id = c.endpoint_id "
        "RETURNING l.endpoint_id, l.webhook_id, l.epoch, "
        "coalesce((extract(epoch FROM l.send_after) * 1000)::bigint, 0)",
        4, params);
    if (res == NULL) {
        log_warn("slow lanes: leasing: %s", err.msg);
        return HL_EDB;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        struct lane *l = calloc(1, sizeof(*l));
        if (l == NULL)
            abort();
        snprintf(l->endpoint_id, sizeof(l->endpoint_id), "%s", PQgetvalue(res, i, 0));
        snprintf(l->webhook_id, sizeof(l->webhook_id), "%s", PQgetvalue(res, i, 1));
        l->epoch = atoll(PQgetvalue(res, i, 2));
        l->send_ms = atoll(PQgetvalue(res, i, 3));
        l->lease_ms = now_ms + ln->cfg->lane_lease_ms;
        struct lane *old = NULL;
        if (strmap_put(ln->held, l->endpoint_id, l, (void **)&old) < 0)
            abort();
        free(old);
    }
    PQclear(res);
    return n;
}

/* ---- taking rows ---- */

struct room_walk {
    struct lanes *ln;
    struct arr ids, epochs, counts;
    int (*room)(const char *webhook_id, const char *endpoint_id, void *arg);
    void *arg;
    int budget, n;
};

static void room_one(const char *key, void *value, void *arg)
{
    struct room_walk *w = arg;
    struct lane *l = value;
    (void)key;
    if (l->parked || w->budget <= 0)
        return;
    int room = w->room(l->webhook_id, l->endpoint_id, w->arg);
    if (room < 0 && l->outstanding == 0)
        l->drained = true;          /* let go at the next turn, for another dispatcher */
    /* an ordered lane's next head is its settled row's successor: only after the record */
    int want = room - (l->ordered ? l->outstanding : l->unfinished);
    if (want <= 0)
        return;
    if (want > w->budget)
        want = w->budget;
    w->budget -= want;
    arr_add(&w->ids, l->endpoint_id);
    arr_num(&w->epochs, l->epoch);
    arr_num(&w->counts, want);
    l->drained = true;              /* until the take says otherwise */
    w->n++;
}

static int lanes_take(struct lanes *ln, PGconn *pg, int budget,
                      int (*room)(const char *webhook_id, const char *endpoint_id, void *arg),
                      void (*taken)(const struct lane_row *row, void *arg), void *arg)
{
    struct room_walk w = { .ln = ln, .room = room, .arg = arg, .budget = budget };
    strmap_foreach(ln->held, room_one, &w);
    int n = 0;
    if (w.n > 0) {
        const char *params[4] = { ln->owner, arr_end(&w.ids), arr_end(&w.epochs), arr_end(&w.counts) };
        struct hl_error err = { 0 };
        PGresult *res = db_query_prepared(pg, &err,
            "WITH want AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::int[]) AS w(endpoint_id, epoch, n)), "
            "pick AS (SELECT r.id, w.epoch, o.ordered FROM want w "
            "  JOIN lanes l ON l.endpoint_id = w.endpoint_id AND l.owner = $1 AND l.epoch = w.epoch "
            "  AND " LANE_LIVE " "
            "  JOIN webhooks o ON o.id = l.webhook_id "
            /* an unordered lane: its due rows, oldest first */
            "  CROSS JOIN LATERAL (SELECT id FROM (SELECT id FROM retries r WHERE NOT o.ordered "
            "    AND r.endpoint_id = w.endpoint_id AND r.due_at <= now() "
            "    AND (r.epoch IS NULL OR r.epoch < w.epoch) ORDER BY r.due_at, r.id LIMIT w.n "
            "    FOR UPDATE SKIP LOCKED) u "
            /* an ordered one (sql/016_ordered.sql): its head alone, if due and free; locked by another
             * transaction, it waits for a later turn (never the row behind it) */
            "    UNION ALL SELECT id FROM (SELECT id FROM retries r WHERE o.ordered AND r.id = "
            "      (SELECT h.id FROM retries h WHERE h.endpoint_id = w.endpoint_id "
            "       ORDER BY h.pos NULLS FIRST, h.due_at, h.id LIMIT 1) "
            "    AND r.due_at <= now() AND (r.epoch IS NULL OR r.epoch < w.epoch) FOR UPDATE SKIP LOCKED) h) r), "
            "taken AS (UPDATE retries r SET epoch = p.epoch FROM pick p WHERE r.id = p.id "
            "  RETURNING r.id, r.epoch, r.webhook_id, r.endpoint_id, r.event_id, r.event_type, r.attempt, "
            "  (extract(epoch FROM r.due_at) * 1000)::bigint AS due_ms, r.tenant_id, r.body_day, p.ordered) "
            /* the body: sql/010_bodies_partitions.sql keeps it while the row refers to it */
            "SELECT t.id, t.epoch, t.webhook_id, t.endpoint_id, t.event_id, t.event_type, b.body, t.attempt, "
            "t.due_ms, t.ordered FROM taken t LEFT JOIN bodies b "
            "ON b.tenant_id = t.tenant_id AND b.event_id = t.event_id AND b.day = t.body_day",
            4, params);
        if (res == NULL) {
            log_warn("slow lanes: taking rows: %s", err.msg);
            n = HL_EDB;
        } else {
            n = PQntuples(res);
            for (int i = 0; i < n; i++) {
                struct lane *l = strmap_get(ln->held, PQgetvalue(res, i, 3));
                if (l == NULL)
                    continue;
                l->outstanding++;
                l->unfinished++;
                l->drained = false;
                l->ordered = PQgetvalue(res, i, 9)[0] == 't';
                struct lane_row row = {
                    .retry_id = atoll(PQgetvalue(res, i, 0)), .epoch = atoll(PQgetvalue(res, i, 1)),
                    .webhook_id = PQgetvalue(res, i, 2), .endpoint_id = PQgetvalue(res, i, 3),
                    .event_id = PQgetvalue(res, i, 4), .event_type = PQgetvalue(res, i, 5),
                    .payload = PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6), .payload_len = (size_t)PQgetlength(res, i, 6),
                    .attempt = atoi(PQgetvalue(res, i, 7)), .due_ms = atoll(PQgetvalue(res, i, 8)),
                    .send_ms = l->send_ms, .ordered = l->ordered,
                };
                taken(&row, arg);
            }
            PQclear(res);
        }
    }
    free(w.ids.p);
    free(w.epochs.p);
    free(w.counts.p);
    return n;
}

int lanes_serve(struct lanes *ln, PGconn *pg, long long now_ms, int budget,
                void (*skip)(void (*add)(const char *tenant, void *acc), void *acc, void *arg),
                int (*room)(const char *webhook_id, const char *endpoint_id, void *arg),
                void (*taken)(const struct lane_row *row, void *arg), void *arg)
{
    if (now_ms < ln->next_turn_ms)
        return 0;
    ln->next_turn_ms = now_ms + LANES_EVERY_MS;
    if (PQstatus(pg) != CONNECTION_OK)
        return HL_EDB;              /* the loop's connection is reset elsewhere */
    if (now_ms >= ln->next_renew_ms && !lanes_renew(ln, pg, now_ms))
        return HL_EDB;
    (void)lanes_let_go(ln, pg, want_idle, false);
    int n = 0;
    if (budget > 0 && lanes_held(ln) > 0)
        n = lanes_take(ln, pg, budget, room, taken, arg);
    if (n >= 0 && budget - n > 0 && lanes_held(ln) < ln->max_held) {
        size_t room_left = ln->max_held - lanes_held(ln);
        int max = room_left < 32 ? (int)room_left : 32;
        struct arr skipped = { 0 };
        if (skip)
            skip(arr_add_quoted, &skipped, arg);
        if (lanes_acquire(ln, pg, now_ms, max, skipped.n ? arr_end(&skipped) : NULL) > 0)
            n += lanes_take(ln, pg, budget - n, room, taken, arg);
        free(skipped.p);
    }
    /* while lanes are held, look again soon: a lane of a fast endpoint then
     * moves a lane's worth every LANES_BUSY_MS, and a turn with no budget,
     * or whose lanes have all their rows out, asks PostgreSQL nothing; with
     * none held, each turn asks for lanes */
    if (n > 0 || budget <= 0 || lanes_held(ln) > 0)
        ln->next_turn_ms = now_ms + LANES_BUSY_MS;
    return n;
}

bool lanes_holds(const struct lanes *ln, const char *endpoint_id, int64_t epoch)
{
    const struct lane *l = strmap_get(ln->held, endpoint_id);
    return l != NULL && l->epoch == epoch;
}

void lanes_finished(struct lanes *ln, const char *endpoint_id, int64_t epoch)
{
    struct lane *l = strmap_get(ln->held, endpoint_id);
    if (l != NULL && l->epoch == epoch && l->unfinished > 0)
        l->unfinished--;
}

void lanes_done(struct lanes *ln, const char *endpoint_id, int64_t epoch, bool finished)
{
    struct lane *l = strmap_get(ln->held, endpoint_id);
    if (l != NULL && l->epoch == epoch && l->outstanding > 0) {
        l->outstanding--;
        if (!finished && l->unfinished > 0)
            l->unfinished--;
        /* an ordered lane's next head goes at once, not at the next turn */
        if (l->ordered)
            ln->next_turn_ms = 0;
    }
}

long long lanes_lease_left(const struct lanes *ln, const char *endpoint_id, int64_t epoch, long long now_ms)
{
    const struct lane *l = strmap_get(ln->held, endpoint_id);
    return l != NULL && l->epoch == epoch ? l->lease_ms - now_ms : -1;
}

void lanes_park(struct lanes *ln, const char *endpoint_id)
{
    struct lane *l = strmap_get(ln->held, endpoint_id);
    if (l != NULL)
        l->parked = true;
}

void lanes_forget_row(PGconn *pg, int64_t retry_id)
{
    char id[LANES_SCRATCH];
    snprintf(id, sizeof(id), "%lld", (long long)retry_id);
    const char *params[1] = { id };
    struct hl_error err = { 0 };
    /* only when PostgreSQL itself says the webhook or the endpoint is gone */
    if (db_exec(pg, &err,
                "DELETE FROM retries r WHERE r.id = $1::bigint AND NOT EXISTS (SELECT 1 FROM webhooks w, "
                "jsonb_array_elements(w.endpoints) e WHERE w.id = r.webhook_id AND e->>'id' = r.endpoint_id)",
                1, params) < 0)
        log_warn("slow lanes: row %s: %s", id, err.msg);
}

void lanes_release_all(struct lanes *ln, PGconn *pg)
{
    if (lanes_held(ln) == 0 || PQstatus(pg) != CONNECTION_OK)
        return;
    size_t held = lanes_held(ln);
    if (lanes_let_go(ln, pg, want_all, true) == 0)
        log_info("slow lanes: let %zu go", held);
    lanes_keep(ln, want_none, NULL);
}
