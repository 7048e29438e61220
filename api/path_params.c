/* path_params.c: the ":name" segments of a request path. */
#include "path_params.h"

#include <stdio.h>
#include <string.h>

void path_params_parse(struct path_params *pp, const char *pattern, const char *path)
{
    pp->n = 0;
    pp->too_long = false;
    while (*pattern && *path) {
        while (*pattern == '/')
            pattern++;
        while (*path == '/')
            path++;
        size_t plen = strcspn(pattern, "/"), vlen = strcspn(path, "/?");
        if (pattern[0] == ':' && pp->n < PATH_PARAMS_MAX) {
            if (vlen > LIMIT_PATH_PARAM_MAX)
                pp->too_long = true;
            snprintf(pp->name[pp->n], sizeof(pp->name[0]), "%.*s", (int)(plen - 1), pattern + 1);
            snprintf(pp->value[pp->n], sizeof(pp->value[0]), "%.*s", (int)vlen, path);
            pp->n++;
        }
        pattern += plen;
        path += vlen;
        if (*path == '?')
            break;
    }
}
