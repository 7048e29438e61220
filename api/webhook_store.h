/* webhook_store.h: webhooks in PostgreSQL, each write with its lifecycle
 * event in the outbox in the same transaction.
 *
 * Documents are the JSON of the webhook_docs view. Every function takes
 * the tenant, so one tenant can never read or change another's webhook:
 * a foreign id is simply not found. Secrets and header values are sealed
 * on the way in and opened on the way out (webhook_seal.h, key ring 'sb'):
 * PostgreSQL, the outbox and the lifecycle events hold them sealed, the
 * documents these functions take and return hold them plain. A stored
 * value that does not open fails the read with HL_ESECRET.
 */
#ifndef HL_WEBHOOK_STORE_H
#define HL_WEBHOOK_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "hl_error.h"
#include "secretbox.h"

/* The orders GET /v1/webhooks sorts by; ties go by id, the same way. */
enum webhook_sort {
    WEBHOOK_SORT_CREATED_AT,
    WEBHOOK_SORT_NAME,
};

struct webhook_list_query {
    long offset;            /* rows skipped */
    long limit;             /* rows at most, 1..100 */
    const char *event;      /* webhooks that would receive this type; NULL = any */
    const char *name;       /* case-insensitive substring; NULL = any */
    const char *created_by; /* the key id (or "admin") that created it; NULL = any */
    const char *owner;      /* its filter's "data.owner" is, or lists, this string; NULL = any */
    const char *team;       /* its filter's "data.team" is, or lists, this string; NULL = any */
    int active;             /* -1 any, 0 inactive, 1 active */
    enum webhook_sort sort;
    bool desc;
};

/* The document of webhook 'id' of 'tenant' (new reference), locked FOR
 * UPDATE when 'lock' (inside the caller's transaction), or NULL with
 * HL_ENOTFOUND ("Webhook not found."), HL_ESECRET or HL_EDB. */
json_t *webhook_store_get(PGconn *pg, const struct secretbox *sb, const char *tenant, const char *id, bool lock,
                          struct hl_error *err);

/* Insert 'doc' (borrowed) and its webhook.created event in one transaction.
 * Returns the stored document (new reference) or NULL with HL_EDUP (name
 * taken) or HL_EDB. */
json_t *webhook_store_insert(PGconn *pg, const struct secretbox *sb, const json_t *doc, struct hl_error *err);

/* Write 'doc' (borrowed) over the stored webhook, bump its version and
 * append lifecycle event 'kind'. Runs inside the caller's transaction.
 * Returns the stored document (new reference) or NULL with HL_EDUP,
 * HL_ENOTFOUND or HL_EDB. */
json_t *webhook_store_update(PGconn *pg, const struct secretbox *sb, const json_t *doc, const char *kind,
                             struct hl_error *err);

/* Delete webhook 'id' of 'tenant' and append webhook.deleted, atomically.
 * Returns 0, HL_ENOTFOUND or HL_EDB. */
int webhook_store_delete(PGconn *pg, const char *tenant, const char *id, struct hl_error *err) HL_MUST_CHECK;

/* The ids of one page of the tenant's webhooks matching 'q', in its
 * order: column 0 of the result (caller PQclears), with the number of all
 * that match in *count. NULL with HL_EDB. One query, two when the page is
 * past the end (the count is then asked for on its own). */
PGresult *webhook_store_list_ids(PGconn *pg, const char *tenant, const struct webhook_list_query *q, long *count,
                                 struct hl_error *err);

/* The public (redacted) documents of the tenant's webhooks 'ids' ('n',
 * borrowed) as an object id -> document (new reference); an id that is not
 * the tenant's, or no longer there, is left out. NULL with HL_EDB, or
 * HL_ESECRET when one does not open (never a document shown half sealed). */
json_t *webhook_store_public_docs(PGconn *pg, const struct secretbox *sb, const char *tenant,
                                  const char *const *ids, int n, struct hl_error *err);

/* The latest 'per_webhook' attempts (payload left out) of each of the
 * tenant's webhooks 'ids' ('n', borrowed), newest first, as an object
 * id -> array (new reference; a webhook with none has no key). NULL with
 * HL_EDB. One query, along the attempts (webhook_id, sent_at) index. */
json_t *webhook_store_latest_attempts(PGconn *pg, const char *tenant, const char *const *ids, int n,
                                      int per_webhook, struct hl_error *err);

/* Every event type and group name, as an object name -> true (new
 * reference), or NULL with HL_EDB. */
json_t *catalog_names_load(PGconn *pg, struct hl_error *err);

/* The catalog for GET /v1/webhook-types (new reference), or NULL. */
json_t *catalog_list_load(PGconn *pg, struct hl_error *err);

#endif
