/* idempotency.c: SQL for Idempotency-Key rows (idempotency.h). */
#include "idempotency.h"

#include <stdio.h>
#include <stdlib.h>

#include "db.h"

int idempotency_claim(PGconn *pg, const char *tenant, const char *key, const char *event_id,
                      struct idempotency_seen *seen, struct hl_error *err)
{
    *seen = (struct idempotency_seen){ 0 };
    const char *params[3] = { tenant, key, event_id };
    /* an expired claim is someone else's past: forget it first */
    if (db_exec(pg, err,
                "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'",
                2, params) < 0)
        return HL_EDB;
    PGresult *res = db_query(pg, err,
        "INSERT INTO idempotency_keys (tenant_id, key, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
        3, params);
    if (res == NULL)
        return HL_EDB;
    int claimed = PQntuples(res) == 1;
    PQclear(res);
    if (claimed)
        return 1;
    res = db_query(pg, err,
        "SELECT status, response::text, in_doubt FROM idempotency_keys WHERE tenant_id = $1 AND key = $2", 2, params);
    if (res == NULL)
        return HL_EDB;
    int rc;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        seen->status = atoi(PQgetvalue(res, 0, 0));
        seen->reply = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
        rc = 0;
    } else if (PQntuples(res) == 1 && PQgetvalue(res, 0, 2)[0] == 't') {
        seen->in_doubt = true;
        rc = hl_error_set(err, HL_ECONFLICT,
                          "Publish outcome unknown for this Idempotency-Key: the event bus has not confirmed it yet; "
                          "retry later.");
    } else {
        /* the row may have gone since the insert: its claim was released */
        rc = hl_error_set(err, HL_ECONFLICT, "A request with this Idempotency-Key is in progress; retry later.");
    }
    PQclear(res);
    return rc;
}

int idempotency_answer(PGconn *pg, const char *tenant, const char *key, const char *event_id, int status,
                       const char *reply, struct hl_error *err)
{
    char code[16];
    snprintf(code, sizeof(code), "%d", status);
    const char *params[5] = { tenant, key, event_id, code, reply };
    return db_exec(pg, err,
                   "UPDATE idempotency_keys SET status = $4::int, response = $5::jsonb, in_doubt = false "
                   "WHERE tenant_id = $1 AND key = $2 AND event_id = $3 AND status IS NULL",
                   5, params);
}

int idempotency_release(PGconn *pg, const char *tenant, const char *key, const char *event_id, struct hl_error *err)
{
    const char *params[3] = { tenant, key, event_id };
    return db_exec(pg, err,
                   "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND event_id = $3 AND status IS NULL",
                   3, params);
}

int idempotency_mark_in_doubt(PGconn *pg, const char *tenant, const char *key, const char *event_id,
                              struct hl_error *err)
{
    const char *params[3] = { tenant, key, event_id };
    return db_exec(pg, err,
                   "UPDATE idempotency_keys SET in_doubt = true "
                   "WHERE tenant_id = $1 AND key = $2 AND event_id = $3 AND status IS NULL",
                   3, params);
}
