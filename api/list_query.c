/* list_query.c: page/size, skip/take and sort of the list routes (see
 * list_query.h). */
#include "list_query.h"

#include <string.h>

int list_window_parse(struct api_call *call, long max_size, struct list_window *w)
{
    long page = 1, size = max_size, skip = 0, take = max_size;
    bool paged = api_query(call, "page") != NULL || api_query(call, "size") != NULL;
    bool skipped = api_query(call, "skip") != NULL || api_query(call, "take") != NULL;
    if (paged && skipped)
        return hl_error_set(&call->err, HL_EINVAL,
                            "\"skip\" and \"take\" cannot be combined with \"page\" and \"size\"; use one pair.");
    if (api_query_int(call, "page", 1, LIST_PAGE_MAX, &page) < 0 ||
        api_query_int(call, "size", 1, max_size, &size) < 0 ||
        api_query_int(call, "skip", 0, LIST_SKIP_MAX, &skip) < 0 ||
        api_query_int(call, "take", 1, max_size, &take) < 0)
        return HL_EINVAL;
    w->by_skip = skipped;
    w->page = skipped ? 1 : page;
    w->limit = skipped ? take : size;
    w->offset = skipped ? skip : (page - 1) * size;
    return 0;
}

int list_sort_parse(struct api_call *call, const char *const *fields, int *field, bool *desc)
{
    const char *s = api_query(call, "sort");
    if (s == NULL)
        return 0;
    bool minus = s[0] == '-';
    const char *name = minus ? s + 1 : s;
    for (int i = 0; strlen(s) <= LIST_SORT_MAX && fields[i] != NULL; i++) {
        if (strcmp(name, fields[i]) == 0) {
            *field = i;
            *desc = minus;
            return 0;
        }
    }
    char allowed[256] = "";
    size_t used = 0;
    for (int i = 0; fields[i] != NULL && used < sizeof(allowed); i++)
        used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "", fields[i]);
    return hl_error_set(&call->err, HL_EINVAL,
                        "\"sort\" must be one of %s, each optionally prefixed by - for descending order.", allowed);
}

json_t *list_envelope_new(const char *entities, long count, const struct list_window *w)
{
    long max = count == 0 ? 1 : (count + w->limit - 1) / w->limit;
    long current = w->by_skip ? w->offset / w->limit + 1 : w->page;
    json_t *env = json_pack("{s:s,s:I,s:I,s:{s:I,s:I}}", "entities", entities, "count", (json_int_t)count,
                            "per_page", (json_int_t)w->limit, "pages", "current", (json_int_t)current, "max",
                            (json_int_t)max);
    if (env != NULL && w->by_skip &&
        (json_object_set_new(env, "skip", json_integer(w->offset)) < 0 ||
         json_object_set_new(env, "take", json_integer(w->limit)) < 0)) {
        json_decref(env);
        env = NULL;
    }
    return env;
}
