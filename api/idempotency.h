/* idempotency.h: the Idempotency-Key of POST /v1/events (table
 * idempotency_keys, one row per tenant and key, kept 24 h).
 *
 * A request claims its key before it publishes, naming the event id it
 * will publish; then it settles the row: with its answer (replayed to
 * every later request with the key), by releasing it (nothing was
 * published: the key is free again), or by marking it in doubt (the
 * outcome was not known in time). An in-doubt row is settled by the
 * producer's late delivery report (publish.c): answered if the event was
 * written, released if it certainly was not, left in doubt if nobody can
 * tell. Settling touches only the claim of that event id that has no
 * answer yet, so a late report never changes a later claim of the key.
 */
#ifndef HL_IDEMPOTENCY_H
#define HL_IDEMPOTENCY_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "hl_error.h"

/* What a claim found when the key was taken already. */
struct idempotency_seen {
    int status;             /* the answer's status; 0: none yet */
    json_t *reply;          /* the answer's body (new reference, caller frees), or NULL */
    bool in_doubt;          /* no answer: the publish's outcome is in doubt */
};

/* Claim 'key' of 'tenant' for event 'event_id'. Returns 1 when claimed
 * (publish, then settle); 0 when the key has an answer, in *seen; or
 * HL_ECONFLICT when its first request is still running or its outcome is
 * in doubt (seen->in_doubt; the reason, fit for the client, in 'err'); or
 * HL_EDB. */
int idempotency_claim(PGconn *pg, const char *tenant, const char *key, const char *event_id,
                      struct idempotency_seen *seen, struct hl_error *err) HL_MUST_CHECK;

/* Store the answer of the claim of 'event_id': 'status' and 'reply' (JSON
 * text). Returns 0 or HL_EDB. */
int idempotency_answer(PGconn *pg, const char *tenant, const char *key, const char *event_id, int status,
                       const char *reply, struct hl_error *err) HL_MUST_CHECK;

/* Drop the claim of 'event_id' unless it has an answer: nothing was
 * published. Returns 0 or HL_EDB. */
int idempotency_release(PGconn *pg, const char *tenant, const char *key, const char *event_id,
                        struct hl_error *err) HL_MUST_CHECK;

/* Mark the claim of 'event_id' in doubt unless it has an answer already.
 * Returns 0 or HL_EDB. */
int idempotency_mark_in_doubt(PGconn *pg, const char *tenant, const char *key, const char *event_id,
                              struct hl_error *err) HL_MUST_CHECK;

#endif
