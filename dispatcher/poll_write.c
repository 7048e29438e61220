/* poll_write.c: a batch's events for poll endpoints into their webhooks'
 * logs (see poll_write.h). One statement for the whole batch:
 * hl_poll_append takes a JSON array in the batch's order and gives each
 * event its webhook's next position.
 */
#include "poll_write.h"

#include <stdlib.h>

#include "db.h"

int poll_write(PGconn *pg, struct delivery *const *v, size_t n, struct hl_error *err)
{
    if (n == 0)
        return 0;
    json_t *rows = json_array();
    for (size_t i = 0; rows != NULL && i < n; i++) {
        const struct delivery *d = v[i];
        json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:s%}", "w", d->sub->id, "t", d->sub->tenant, "e",
                                d->payload->event_id, "y", d->payload->event_type, "b", d->payload->data,
                                d->payload->len);
        if (row == NULL || json_array_append_new(rows, row) < 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    if (text == NULL)
        return hl_error_set(err, HL_EDB, "poll events: out of memory building the batch");
    const char *params[1] = { text };
    int rc = db_exec_prepared(pg, err, "SELECT hl_poll_append($1::json)", 1, params) < 0 ? HL_EDB : 0;
    free(text);
    return rc;
}
