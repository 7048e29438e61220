/* secrets_rekey.h: seal again, under the current key, the webhook secrets
 * and header values that are not sealed under it: in every webhook row and
 * in every outbox row that carries a webhook document (webhook_seal.h).
 *
 * Rows are taken in key order, a batch at a time, locked (FOR UPDATE)
 * against a concurrent change by the api or a dispatcher and rewritten in
 * one short transaction; a webhook keeps its version and updated_at (what
 * its tenant sees does not change) and no lifecycle event is written
 * (every dispatcher holds the same values opened). Running it twice, or
 * while the services run, is safe. A row whose values do not open (a key
 * no longer in HOOKLINE_SECRETS_KEY, an altered value, a value copied from
 * another row) is logged with its id, counted and left as it is.
 */
#ifndef HL_SECRETS_REKEY_H
#define HL_SECRETS_REKEY_H

#include <libpq-fe.h>
#include "hl_error.h"
#include "secretbox.h"

enum rekey_mode {
    REKEY_PLAIN,    /* only rows with a plain value (the previous release's): the api at start,
                     * through the partial indexes of sql/006 */
    REKEY_ALL,      /* every row, each value opened; those not sealed under the current key (plain or
                     * an older key) rewritten: rotate-secrets-key */
};

struct rekey_counts {
    long webhooks;  /* webhook rows sealed again */
    long outbox;    /* outbox rows sealed again */
    long failed;    /* rows left as they were: a value does not open */
    long checked;   /* rows read (webhooks and outbox rows with a document) */
};

/* Run over both tables on 'pg' (a session of its own, outside any
 * transaction, with a statement timeout fit for batches) and add to
 * 'counts'. Returns 0 (even with failed rows), or HL_EDB with the reason in
 * 'err' when PostgreSQL fails three times over the same batch. */
int secrets_rekey(PGconn *pg, const struct secretbox *sb, enum rekey_mode mode, struct rekey_counts *counts,
                  struct hl_error *err) HL_MUST_CHECK;

#endif
