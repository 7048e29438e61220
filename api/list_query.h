/* list_query.h: the query parameters every list route shares, checked at
 * the edge, and the list envelope they shape.
 *
 *   page=&size=     1-based page of 'size' rows (the default)
 *   skip=&take=     the seeds' alternative: skip rows, then take at most
 *                   'take'; one pair or the other, never both (400)
 *   sort=FIELD      ascending; sort=-FIELD descending; FIELD from the
 *                   route's own list
 *
 * Every bad value is HL_EINVAL with a message naming the parameter.
 */
#ifndef HL_LIST_QUERY_H
#define HL_LIST_QUERY_H

#include <stdbool.h>
#include <jansson.h>

#include "api.h"

#define LIST_PAGE_MAX 1000000L          /* highest page= */
#define LIST_SKIP_MAX 100000000L        /* highest skip=: as far as page= reaches */
#define LIST_SORT_MAX 32                /* longest sort= value */

/* Which rows of the list a request wants. */
struct list_window {
    long offset;                /* rows skipped */
    long limit;                 /* rows at most: size or take */
    long page;                  /* page= (1 when skip/take is used) */
    bool by_skip;               /* skip/take given */
};

/* Read page/size or skip/take of 'call' into *w; 'max_size' bounds size
 * and take, and is the default of both. Returns 0 or HL_EINVAL (a bad
 * value, or page/size mixed with skip/take) with the reason in call->err. */
int list_window_parse(struct api_call *call, long max_size, struct list_window *w) HL_MUST_CHECK;

/* Read sort= of 'call': one of 'fields' (NULL-terminated), optionally
 * prefixed by '-' for descending. Absent leaves *field and *desc as they
 * are (the route's default). Returns 0 with the index into 'fields', or
 * HL_EINVAL naming "sort" and the fields allowed. */
int list_sort_parse(struct api_call *call, const char *const *fields, int *field, bool *desc) HL_MUST_CHECK;

/* The list envelope for 'count' matching rows seen through 'w', without
 * its elements: {"entities","count","per_page","pages":{"current","max"}}
 * plus "skip" and "take" when w->by_skip. New reference, or NULL. The
 * caller adds "elements" last. */
json_t *list_envelope_new(const char *entities, long count, const struct list_window *w);

#endif
