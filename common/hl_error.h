/* hl_error.h: error codes and the human reason that travels with them.
 *
 * Functions that can fail return 0 or a negative HL_E* code and, where the
 * caller may want to show why, fill an optional 'struct hl_error *'. The
 * first error set wins, so the deepest, most specific reason is kept.
 */
#ifndef HL_ERROR_H
#define HL_ERROR_H

#include <stddef.h>

#define HL_MUST_CHECK __attribute__((warn_unused_result))

enum {
    HL_OK = 0,
    HL_EINVAL = -1,     /* bad input: 400 */
    HL_ENOTFOUND = -2,  /* absent, or another tenant's: 404 */
    HL_EDUP = -3,       /* unique constraint: 409 */
    HL_EUNKNOWN_EVENT = -4, /* 422 */
    HL_ETOOBIG = -5,    /* 413 */
    HL_EAUTH = -6,      /* missing or wrong credentials: 401 */
    HL_EFORBIDDEN = -7, /* valid key, missing scope: 403 */
    HL_EDB = -8,        /* PostgreSQL failed: 500/503 */
    HL_EKAFKA = -9,     /* broker unreachable or refused: 503 */
    HL_ENOMEM = -10,
    HL_ECONFLICT = -11, /* state conflict (idempotency key in use): 409 */
    HL_EIO = -12,       /* network or file error */
    HL_EBUSY = -13,     /* too many requests already wait on that: 503, retry shortly */
    HL_EINDOUBT = -14,  /* sent, outcome not known in time: 503 */
    HL_ESECRET = -15,   /* a sealed secret does not open (secretbox.h): 500 */
};

struct hl_error {
    int code;           /* 0 while unset */
    char msg[256];
};

/* Record 'code' and a printf-style reason in 'err' (may be NULL) unless an
 * error is already recorded there. Returns 'code' so callers can write
 * 'return hl_error_set(err, HL_EINVAL, "...")'. */
int hl_error_set(struct hl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear 'err' so it can be reused. */
void hl_error_clear(struct hl_error *err);

/* Short name of a code ("invalid", "not found", ...), never NULL. */
const char *hl_error_name(int code);

#endif
