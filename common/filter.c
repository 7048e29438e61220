/* filter.c: payload filters on webhooks.
 *
 * A filter maps dotted paths into the event envelope to a scalar (must be
 * equal) or an array of scalars (any may match); all conditions must hold.
 * Paths walk object keys; an all-digit segment may also index an array.
 * Equality is json_equal()'s, except that numbers compare by value.
 */
#include "filter.h"

#include <math.h>
#include <string.h>

#define FILTER_ERR_PREFIX "A valid \"filter\" must be specified. "

static bool filter_is_scalar(const json_t *value)
{
    return json_is_string(value) || json_is_number(value) || json_is_boolean(value) || json_is_null(value);
}

/* Check one path: non-empty, not too long, no empty segment, no NUL. */
static int filter_validate_path(const char *path, size_t len, struct hl_error *err)
{
    if (len == 0)
        return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "A condition has an empty path.");
    if (len > FILTER_MAX_PATH)
        return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "The path \"%.40s...\" is longer than %d characters.",
                            path, FILTER_MAX_PATH);
    if (strlen(path) != len)
        return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "A path contains a NUL character.");
    if (path[0] == '.' || path[len - 1] == '.' || strstr(path, "..") != NULL)
        return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "The path \"%s\" has an empty segment.", path);
    return 0;
}

int filter_validate(const json_t *filter, struct hl_error *err)
{
    const char *path;
    size_t path_len;
    json_t *value;

    if (filter == NULL || json_is_null(filter))
        return 0;
    if (!json_is_object(filter))
        return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "It must be an object from paths to values.");
    if (json_object_size(filter) > FILTER_MAX_CONDITIONS)
        return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "It has more than %d conditions.", FILTER_MAX_CONDITIONS);
    /* json_dumpb with no buffer only measures */
    if (json_dumpb(filter, NULL, 0, JSON_COMPACT) > FILTER_MAX_BYTES)
        return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "It is larger than %d bytes as compact JSON.",
                            FILTER_MAX_BYTES);
    /* json_object_keylen_foreach wants a non-const object; we only read */
    json_object_keylen_foreach((json_t *)filter, path, path_len, value) {
        if (filter_validate_path(path, path_len, err) < 0)
            return HL_EINVAL;
        if (filter_is_scalar(value))
            continue;
        if (!json_is_array(value))
            return hl_error_set(err, HL_EINVAL,
                                FILTER_ERR_PREFIX "The value of \"%s\" must be a string, number, boolean, null or an array of them.",
                                path);
        size_t n = json_array_size(value);
        if (n == 0 || n > FILTER_MAX_VALUES)
            return hl_error_set(err, HL_EINVAL, FILTER_ERR_PREFIX "The array for \"%s\" must hold 1 to %d values.",
                                path, FILTER_MAX_VALUES);
        for (size_t i = 0; i < n; i++)
            if (!filter_is_scalar(json_array_get(value, i)))
                return hl_error_set(err, HL_EINVAL,
                                    FILTER_ERR_PREFIX "The array for \"%s\" may hold only strings, numbers, booleans and null.",
                                    path);
    }
    return 0;
}

/* The array index an all-digit segment names, or -1 if it is not one. */
static long filter_segment_index(const char *seg, size_t len)
{
    long idx = 0;
    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return -1;
        idx = idx * 10 + (seg[i] - '0');
    }
    return idx;
}

/* Borrowed reference to the value at dotted 'path' in 'root', or NULL. */
static const json_t *filter_lookup(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, seg, len);
        } else if (json_is_array(cur)) {
            long idx = filter_segment_index(seg, len);
            cur = idx < 0 ? NULL : json_array_get(cur, (size_t)idx);
        } else {
            cur = NULL;
        }
        if (cur == NULL || dot == NULL)
            return cur;
        seg = dot + 1;
    }
}

/* Numbers by value: an integer equals a real holding the same integer. */
static bool filter_number_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    const json_t *i = json_is_integer(a) ? a : b;
    double r = json_real_value(json_is_real(a) ? a : b);
    /* compare in the integer domain: a double cannot hold every json_int_t */
    if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0) || r != trunc(r))
        return false;
    return (json_int_t)r == json_integer_value(i);
}

static bool filter_value_equal(const json_t *want, const json_t *got)
{
    if (json_is_number(want) && json_is_number(got))
        return filter_number_equal(want, got);
    return json_equal(want, got) != 0;
}

bool filter_match(const json_t *filter, const json_t *envelope)
{
    const char *path;
    json_t *want;

    if (filter == NULL || json_is_null(filter))
        return true;
    if (!json_is_object(filter))
        return false; /* not a filter at all: fail closed */
    json_object_foreach((json_t *)filter, path, want) {
        const json_t *got = filter_lookup(envelope, path);
        if (got == NULL)
            return false;
        bool ok = false;
        if (json_is_array(want)) {
            for (size_t i = 0; i < json_array_size(want) && !ok; i++)
                ok = filter_value_equal(json_array_get(want, i), got);
        } else {
            ok = filter_value_equal(want, got);
        }
        if (!ok)
            return false;
    }
    return true;
}
