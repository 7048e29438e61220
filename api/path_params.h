/* path_params.h: the ":name" segments of a request path.
 *
 * ulfius mixes path parameters with query parameters; the api matches the
 * path against the route's pattern itself and keeps them apart. Pure (no
 * request), so it is fuzzed on its own (tests/fuzz/fuzz_path_params.c).
 */
#ifndef HL_PATH_PARAMS_H
#define HL_PATH_PARAMS_H

#include <stdbool.h>
#include "hl_limits.h"

#define PATH_PARAMS_MAX 4
#define PATH_PARAM_NAME_MAX 15

/* A value longer than LIMIT_PATH_PARAM_MAX names nothing that can exist:
 * it is kept cut short and 'too_long' is set, so the call answers 404
 * rather than look up a value cut short. */
struct path_params {
    int n;
    bool too_long;
    char name[PATH_PARAMS_MAX][PATH_PARAM_NAME_MAX + 1];
    char value[PATH_PARAMS_MAX][LIMIT_PATH_PARAM_MAX + 1];
};

/* Match the request path 'path' against the route's 'pattern' (e.g.
 * "/v1/webhooks/:id/deliveries/:did") segment by segment, a run of '/'
 * separating two, up to the end of either or a '?' in 'path'. Each
 * pattern segment ":name" takes the path's segment at its place as the
 * value of "name" (the first PATH_PARAMS_MAX of them). Fills 'pp'. */
void path_params_parse(struct path_params *pp, const char *pattern, const char *path);

#endif
