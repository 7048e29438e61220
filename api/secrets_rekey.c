/* secrets_rekey.c: find the rows whose webhook secrets are not sealed under
 * the current key and seal them again, a batch per transaction.
 *
 * The predicates for plain values are those of the partial indexes of
 * sql/009_secrets_at_rest.sql, word for word, so the planner can use them.
 */
#include "secrets_rekey.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "webhook_seal.h"

#define REKEY_BATCH "200"
#define REKEY_TRIES 3

/* rows with a plain value (sql/006: webhooks_plain_secrets, outbox_plain_secrets) */
#define PLAIN_WEBHOOKS                                                                      \
    "(secret NOT LIKE 'hlenc:%' OR previous_secret NOT LIKE 'hlenc:%' "                     \
    "OR jsonb_path_exists(headers, '$.* ? (!(@ starts with \"hlenc:\"))') "                 \
    "OR jsonb_path_exists(endpoints, '$[*].headers.* ? (!(@ starts with \"hlenc:\"))'))"
#define PLAIN_OUTBOX                                                                              \
    "(jsonb_path_exists(payload, '$.webhook.secret ? (!(@ starts with \"hlenc:\"))') "            \
    "OR jsonb_path_exists(payload, '$.webhook.previous_secret ? (!(@ starts with \"hlenc:\"))') " \
    "OR jsonb_path_exists(payload, '$.webhook.headers.* ? (!(@ starts with \"hlenc:\"))') "       \
    "OR jsonb_path_exists(payload, '$.webhook.endpoints[*].headers.* ? (!(@ starts with \"hlenc:\"))'))"
#define WEBHOOKS_FROM                                                                        \
    "SELECT id, tenant_id, secret, previous_secret, headers::text, endpoints::text FROM webhooks " \
    "WHERE id > $1 AND "
#define WEBHOOKS_TAIL " ORDER BY id LIMIT " REKEY_BATCH " FOR UPDATE"
#define OUTBOX_FROM "SELECT seq, (payload->'webhook')::text FROM outbox WHERE seq > $1::bigint AND "
#define OUTBOX_TAIL " ORDER BY seq LIMIT " REKEY_BATCH " FOR UPDATE"
/* every row, so that every value is opened once: one that does not open is
 * found even when it looks sealed under the current key */
#define ALL_WEBHOOKS "true"
#define ALL_OUTBOX "payload->'webhook' ? 'secret'"

/* One table: how to read a batch, and how to rewrite its resealed rows in
 * one statement (jsonb_to_recordset of an array built by 'row'). */
struct rekey_table {
    const char *name;
    const char *select_plain, *select_all;
    /* Build the webhook document of row 'i' (new reference), or NULL. */
    json_t *(*doc)(PGresult *res, int i);
    /* The element of the rewrite's array for row 'i', resealed as 'sealed'
     * (new reference). */
    json_t *(*row)(PGresult *res, int i, const json_t *sealed);
    const char *update;     /* $1: that array */
    size_t counted;         /* offsetof its field in struct rekey_counts */
};

static json_t *rekey_webhook_doc(PGresult *res, int i)
{
    json_t *doc = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "id", PQgetvalue(res, i, 0), "tenant", PQgetvalue(res, i, 1),
                            "secret", PQgetvalue(res, i, 2), "previous_secret",
                            PQgetisnull(res, i, 3) ? json_null() : json_string(PQgetvalue(res, i, 3)),
                            "headers", json_loads(PQgetvalue(res, i, 4), 0, NULL),
                            "endpoints", json_loads(PQgetvalue(res, i, 5), 0, NULL));
    return doc;
}

static json_t *rekey_webhook_row(PGresult *res, int i, const json_t *sealed)
{
    return json_pack("{s:s,s:O,s:O,s:O,s:O}", "id", PQgetvalue(res, i, 0), "secret", json_object_get(sealed, "secret"),
                     "previous_secret", json_object_get(sealed, "previous_secret"),
                     "headers", json_object_get(sealed, "headers"), "endpoints", json_object_get(sealed, "endpoints"));
}

static json_t *rekey_outbox_doc(PGresult *res, int i)
{
    return json_loads(PQgetvalue(res, i, 1), 0, NULL);
}

static json_t *rekey_outbox_row(PGresult *res, int i, const json_t *sealed)
{
    return json_pack("{s:I,s:O}", "seq", (json_int_t)atoll(PQgetvalue(res, i, 0)), "webhook", sealed);
}

static const struct rekey_table rekey_tables[] = {
    { "webhook", WEBHOOKS_FROM PLAIN_WEBHOOKS WEBHOOKS_TAIL, WEBHOOKS_FROM ALL_WEBHOOKS WEBHOOKS_TAIL,
      rekey_webhook_doc, rekey_webhook_row,
      "UPDATE webhooks w SET secret = v.secret, previous_secret = v.previous_secret, headers = v.headers, "
      "endpoints = v.endpoints FROM jsonb_to_recordset($1::jsonb) AS v(id text, secret text, previous_secret text, "
      "headers jsonb, endpoints jsonb) WHERE w.id = v.id",
      offsetof(struct rekey_counts, webhooks) },
    { "outbox row", OUTBOX_FROM PLAIN_OUTBOX OUTBOX_TAIL, OUTBOX_FROM ALL_OUTBOX OUTBOX_TAIL,
      rekey_outbox_doc, rekey_outbox_row,
      "UPDATE outbox o SET payload = jsonb_set(o.payload, '{webhook}', v.webhook) "
      "FROM jsonb_to_recordset($1::jsonb) AS v(seq bigint, webhook jsonb) WHERE o.seq = v.seq",
      offsetof(struct rekey_counts, outbox) },
};

/* One batch after key '*last' in one transaction: returns the rows read
 * (0: the table is done) with '*last' moved past them and 'got' filled,
 * or HL_EDB. */
static int rekey_batch(PGconn *pg, const struct secretbox *sb, const struct rekey_table *t, enum rekey_mode mode,
                       char *last, size_t lastcap, struct rekey_counts *got, struct hl_error *err)
{
    const char *params[1] = { last };
    long *counted = (long *)((char *)got + t->counted);
    json_t *rows = json_array();
    char *text = NULL;
    memset(got, 0, sizeof(*got));
    if (rows == NULL || db_begin(pg, err) < 0) {
        json_decref(rows);
        return HL_EDB;
    }
    PGresult *res = db_query(pg, err, mode == REKEY_PLAIN ? t->select_plain : t->select_all, 1, params);
    if (res == NULL)
        goto fail;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        struct hl_error why = { 0 };
        json_t *doc = t->doc(res, i), *sealed = NULL;
        bool current = doc && webhook_sealed_current(doc, sb);
        got->checked++;
        if (doc == NULL) {
            hl_error_set(&why, HL_EINVAL, "its webhook document is not JSON");
        } else if (webhook_open(doc, sb, NULL, &why) == 0 && current) {
            json_decref(doc);   /* opens, and is sealed under the current key already */
            continue;
        } else if (why.code == 0 && (sealed = webhook_seal_copy(doc, sb, &why)) != NULL) {
            int rc = json_array_append_new(rows, t->row(res, i, sealed));
            json_decref(sealed);
            json_decref(doc);
            if (rc < 0) {
                hl_error_set(err, HL_ENOMEM, "out of memory");
                PQclear(res);
                goto fail;
            }
            (*counted)++;
            continue;
        }
        log_error("secrets: %s %s: %s; left as it is", t->name, PQgetvalue(res, i, 0), why.msg);
        got->failed++;
        json_decref(doc);
    }
    if (n > 0)
        snprintf(last, lastcap, "%s", PQgetvalue(res, n - 1, 0));
    PQclear(res);
    if (json_array_size(rows) > 0) {
        /* one statement for the batch: a row at a time costs a round trip each */
        const char *uparams[1] = { text = json_dumps(rows, JSON_COMPACT) };
        if (text == NULL || db_exec(pg, err, t->update, 1, uparams) < 0) {
            hl_error_set(err, HL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    free(text);
    json_decref(rows);
    if (db_commit(pg, err) < 0)
        return HL_EDB;
    return n;
fail:
    free(text);
    json_decref(rows);
    db_rollback(pg);
    return HL_EDB;
}

int secrets_rekey(PGconn *pg, const struct secretbox *sb, enum rekey_mode mode, struct rekey_counts *counts,
                  struct hl_error *err)
{
    for (size_t k = 0; k < sizeof(rekey_tables) / sizeof(rekey_tables[0]); k++) {
        const struct rekey_table *t = &rekey_tables[k];
        /* below every id and seq: webhook ids are "wh_...", seqs start at 1 */
        char last[128];
        snprintf(last, sizeof(last), "%s", k == 0 ? "" : "0");
        for (int tries = 0;;) {
            struct rekey_counts got;
            struct hl_error why = { 0 };
            int n = rekey_batch(pg, sb, t, mode, last, sizeof(last), &got, &why);
            if (n < 0) {
                /* a deadlock with a writer of the same rows, a lost session: the batch again */
                if (++tries == REKEY_TRIES)
                    return hl_error_set(err, HL_EDB, "sealing %ss again: %s", t->name, why.msg);
                log_warn("secrets: a batch of %ss failed (%s); trying it again", t->name, why.msg);
                if (db_reset(pg) < 0)
                    return hl_error_set(err, HL_EDB, "sealing %ss again: %s", t->name, PQerrorMessage(pg));
                continue;
            }
            tries = 0;
            counts->webhooks += got.webhooks;
            counts->outbox += got.outbox;
            counts->failed += got.failed;
            counts->checked += got.checked;
            if (n == 0)
                break;
        }
    }
    return 0;
}
