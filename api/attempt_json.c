/* attempt_json.c: attempt rows of PostgreSQL as the JSON of the delivery
 * log (see attempt_json.h). */
#include "attempt_json.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* A JSON string of column 'col' of row 'row' (null when NULL). Text that is
 * not UTF-8 (a database in SQL_ASCII keeps the receiver's bytes as they came)
 * has each bad byte replaced by U+FFFD rather than the field dropped. */
static json_t *row_string(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *s = PQgetvalue(res, row, col);
    size_t n = (size_t)PQgetlength(res, row, col);
    json_t *str = json_stringn(s, n);
    if (str != NULL)
        return str;
    char *clean = malloc(n * 3 + 1);
    if (clean == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (len == 0 || (len == 1 && s[i] == '\0')) {
            memcpy(clean + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(clean + o, s + i, len);
            o += len;
            i += len;
        }
    }
    str = json_stringn(clean, o);
    free(clean);
    return str;
}

static json_t *row_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    return json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

/* The payload as the JSON it normally is, else as a string. */
static json_t *row_payload(const PGresult *res, int row, int col)
{
    json_t *doc = json_loadb(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), JSON_DECODE_ANY, NULL);
    return doc ? doc : row_string(res, row, col);
}

json_t *attempt_json_from_row(const PGresult *res, int row, int first_col, bool with_payload)
{
    static const char *const names[] = {
        "id", "webhook_id", "endpoint_id", "endpoint_url", "event_id", "event_type", "payload", "attempt",
        "status_code", "response", "error", "success", "sent_at", "duration_ms", "next_attempt_at",
    };
    json_t *el = json_object();
    if (el == NULL)
        return NULL;
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        int col = first_col + i;
        json_t *v;
        if (i == 6 && !with_payload)
            continue;
        if (i == 6)
            v = row_payload(res, row, col);
        else if (i == 7 || i == 8 || i == 13)
            v = row_int(res, row, col);
        else if (i == 11)
            v = json_boolean(strcmp(PQgetvalue(res, row, col), "t") == 0);
        else
            v = row_string(res, row, col);
        if (json_object_set_new(el, names[i], v) < 0) {
            json_decref(el);
            return NULL;
        }
    }
    return el;
}
