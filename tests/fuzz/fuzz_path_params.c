/* fuzz_path_params.c: path_params_parse on arbitrary request paths (and
 * route patterns).
 *
 * Input: the pattern, a newline, then the request path. Checks the
 * contract: at most PATH_PARAMS_MAX values, each NUL-terminated within its
 * buffer, none with a '/' or '?', each a whole segment of the path or, cut
 * to LIMIT_PATH_PARAM_MAX, the start of one with too_long set; the query
 * and repeated slashes change nothing; and a path built from the pattern
 * with values of every length from the input gives back those values.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "path_params.h"

static void fuzz_check_bounds(const struct path_params *pp, const char *path)
{
    FUZZ_CHECK(pp->n >= 0 && pp->n <= PATH_PARAMS_MAX);
    bool long_seen = false;
    for (int i = 0; i < pp->n; i++) {
        FUZZ_CHECK(memchr(pp->name[i], '\0', sizeof(pp->name[i])) != NULL);
        FUZZ_CHECK(memchr(pp->value[i], '\0', sizeof(pp->value[i])) != NULL);
        const char *v = pp->value[i];
        size_t len = strlen(v);
        FUZZ_CHECK(strpbrk(v, "/?") == NULL);
        /* a whole segment of the path, or the start of a longer one */
        bool found = false;
        for (const char *at = strstr(path, v); at != NULL && !found; at = strstr(at + 1, v)) {
            bool starts = at == path || at[-1] == '/';
            size_t seg = strcspn(at, "/?");
            if (starts && (seg == len || (len == LIMIT_PATH_PARAM_MAX && seg > len)))
                found = true, long_seen = long_seen || seg > len;
            if (*at == '\0')
                break;
        }
        FUZZ_CHECK(found || len == 0);
    }
    FUZZ_CHECK(!long_seen || pp->too_long);
}

static bool fuzz_same(const struct path_params *a, const struct path_params *b)
{
    if (a->n != b->n || a->too_long != b->too_long)
        return false;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->name[i], b->name[i]) != 0 || strcmp(a->value[i], b->value[i]) != 0)
            return false;
    return true;
}

/* Fill each ":name" segment of 'pattern' with a value of [A-Za-z0-9_-] of
 * a length taken from 'data', parse, and expect those values back. */
static void fuzz_round_trip(const char *pattern, const uint8_t *data, size_t size)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    char path[4096], values[PATH_PARAMS_MAX][2 * LIMIT_PATH_PARAM_MAX + 1];
    size_t used = 0, k = 0, n = 0;
    bool too_long = false;
    for (const char *p = pattern; *p;) {
        size_t run = strspn(p, "/");
        p += run;
        size_t seg = strcspn(p, "/");
        if (seg == 0)
            break;
        char *out = path + used;
        size_t room = sizeof(path) - used;
        if (p[0] == ':') {
            size_t len = 1 + (k < size ? data[k] : 7) % (2 * LIMIT_PATH_PARAM_MAX);
            char *v = n < PATH_PARAMS_MAX ? values[n] : NULL;
            if (room < len + 2)
                return;
            out[0] = '/';
            for (size_t i = 0; i < len; i++)
                out[1 + i] = chars[(k + i * 7) % (sizeof(chars) - 1)];
            if (v != NULL) {
                memcpy(v, out + 1, len);
                v[len] = '\0';
                too_long = too_long || len > LIMIT_PATH_PARAM_MAX;
                n++;
            }
            used += len + 1;
            k++;
        } else {
            if (room < seg + 2 || memchr(p, '?', seg) != NULL)
                return;
            out[0] = '/';
            memcpy(out + 1, p, seg);
            used += seg + 1;
        }
        p += seg;
    }
    path[used] = '\0';
    struct path_params pp;
    path_params_parse(&pp, pattern, path);
    FUZZ_CHECK(pp.n == (int)n && pp.too_long == too_long);
    for (size_t i = 0; i < n; i++) {
        values[i][LIMIT_PATH_PARAM_MAX] = '\0';
        FUZZ_CHECK(strcmp(pp.value[i], values[i]) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl == NULL)
        return 0;
    char *pattern = fuzz_cstr(data, (size_t)(nl - data));
    char *path = fuzz_cstr(nl + 1, size - (size_t)(nl - data) - 1);
    struct path_params pp, other;
    path_params_parse(&pp, pattern, path);
    fuzz_check_bounds(&pp, path);

    /* a query changes nothing, when the path has none already */
    size_t plen = strlen(path);
    if (strchr(path, '?') == NULL) {
        char *query = malloc(plen + 8);
        FUZZ_CHECK(query != NULL);
        memcpy(query, path, plen);
        memcpy(query + plen, "?a=/x/y", 8);
        path_params_parse(&other, pattern, query);
        FUZZ_CHECK(fuzz_same(&pp, &other) || plen == 0 || path[plen - 1] == '/');
        free(query);
    }
    /* nor does doubling every slash */
    char *doubled = malloc(2 * plen + 1);
    FUZZ_CHECK(doubled != NULL);
    size_t d = 0;
    for (size_t i = 0; i < plen; i++) {
        doubled[d++] = path[i];
        if (path[i] == '/')
            doubled[d++] = '/';
    }
    doubled[d] = '\0';
    path_params_parse(&other, pattern, doubled);
    FUZZ_CHECK(fuzz_same(&pp, &other));
    free(doubled);

    fuzz_round_trip(pattern, nl + 1, size - (size_t)(nl - data) - 1);
    free(path);
    free(pattern);
    return 0;
}
