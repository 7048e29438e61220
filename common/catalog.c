/* catalog.c: matching event types against subscribed types and groups. */
#include "catalog.h"

#include <string.h>

size_t catalog_group_len(const char *type)
{
    const char *dot = strchr(type, '.');
    return dot ? (size_t)(dot - type) : strlen(type);
}

bool catalog_matches(const char *sub, const char *type)
{
    if (strcmp(sub, type) == 0)
        return true;
    if (strchr(sub, '.') != NULL)
        return false;
    size_t n = strlen(sub);
    return strncmp(sub, type, n) == 0 && type[n] == '.';
}
