/* fuzz_dest_policy.c: dest_policy_check_url and dest_policy_ip_forbidden
 * on arbitrary strings.
 *
 * Checks the contract as well as memory safety: a refusal is HL_EINVAL
 * with the fixed first sentence; a looser policy never refuses what a
 * stricter one accepts; an accepted strict URL has no userinfo marker and
 * no fragment; an address refused always comes with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dest_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PREFIX "A valid \"url\" must be specified. "

static int fuzz_check(bool allow_http, bool allow_private, const char *url)
{
    struct dest_policy policy = { .allow_http = allow_http, .allow_private = allow_private };
    struct hl_error err = { 0 };
    int rc = dest_policy_check_url(&policy, url, &err);
    if (rc != 0 && (rc != HL_EINVAL || strncmp(err.msg, FUZZ_PREFIX, strlen(FUZZ_PREFIX)) != 0))
        abort();
    if (rc == 0 && err.code != 0)
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > DEST_URL_MAX + 16)
        return 0;
    char *url = malloc(size + 1);
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0'; /* an embedded NUL just ends the string early */

    int strict = fuzz_check(false, false, url);
    int http = fuzz_check(true, false, url);
    int priv = fuzz_check(false, true, url);
    int lax = fuzz_check(true, true, url);
    if ((strict == 0 && (http != 0 || priv != 0)) || ((http == 0 || priv == 0) && lax != 0))
        abort();
    if (strict == 0 && strchr(url, '#') != NULL)
        abort();

    /* the verdict with its reason is the verdict; a refusal always says why */
    char why[256];
    bool forbidden = dest_policy_ip_explain(url, why, sizeof(why));
    if (forbidden != dest_policy_ip_forbidden(url) || (forbidden && why[0] == '\0'))
        abort();
    free(url);
    return 0;
}
