/* error.c: first-error-wins reasons for HL_E* codes. */
#include "hl_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hl_error_set(struct hl_error *err, int code, const char *fmt, ...)
{
    if (err == NULL || err->code != 0)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void hl_error_clear(struct hl_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

const char *hl_error_name(int code)
{
    switch (code) {
    case HL_OK: return "ok";
    case HL_EINVAL: return "invalid";
    case HL_ENOTFOUND: return "not found";
    case HL_EDUP: return "duplicate";
    case HL_EUNKNOWN_EVENT: return "unknown event";
    case HL_ETOOBIG: return "too large";
    case HL_EAUTH: return "unauthorized";
    case HL_EFORBIDDEN: return "forbidden";
    case HL_EDB: return "database error";
    case HL_EKAFKA: return "broker error";
    case HL_ENOMEM: return "out of memory";
    case HL_ECONFLICT: return "conflict";
    case HL_EIO: return "i/o error";
    case HL_EBUSY: return "busy";
    case HL_EINDOUBT: return "outcome unknown";
    case HL_ESECRET: return "secret does not open";
    default: return "error";
    }
}
