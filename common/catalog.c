/* catalog.c: matching event types against subscribed types and groups, and
 * which types are hookline's operational ones. */
#include "catalog.h"

#include <string.h>

size_t catalog_group_len(const char *type)
{
    const char *dot = strchr(type, '.');
    return dot ? (size_t)(dot - type) : strlen(type);
}

static const char *const catalog_ops[] = {
    "webhook.disabled", "endpoint.failing", "endpoint.recovered", "delivery.exhausted",
};

bool catalog_is_operational(const char *type)
{
    for (size_t i = 0; i < sizeof(catalog_ops) / sizeof(catalog_ops[0]); i++)
        if (strcmp(type, catalog_ops[i]) == 0)
            return true;
    return false;
}

bool catalog_group_of(const char *type, char *out, size_t cap)
{
    const char *group = catalog_is_operational(type) ? CATALOG_OPS_GROUP : type;
    size_t n = group == type ? catalog_group_len(type) : strlen(group);
    if ((group == type && n == strlen(type)) || n + 1 > cap)
        return false;
    memcpy(out, group, n);
    out[n] = '\0';
    return true;
}

bool catalog_matches(const char *sub, const char *type)
{
    if (strcmp(sub, type) == 0)
        return true;
    if (strchr(sub, '.') != NULL)
        return false;
    if (catalog_is_operational(type))
        return strcmp(sub, CATALOG_OPS_GROUP) == 0;
    size_t n = strlen(sub);
    return strncmp(sub, type, n) == 0 && type[n] == '.';
}
