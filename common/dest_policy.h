/* dest_policy.h: which webhook endpoint URLs and addresses are allowed.
 *
 * Endpoints are https:// unless the deployment allows http. Loopback,
 * private (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast and
 * cloud metadata addresses are refused unless the deployment allows
 * private targets. Names are checked at create where they are literal
 * addresses or well-known local names; every delivery checks the address
 * it actually connected to (dest_policy_ip_forbidden), which also defeats
 * DNS rebinding.
 */
#ifndef HL_DEST_POLICY_H
#define HL_DEST_POLICY_H

#include <stdbool.h>
#include "hl_error.h"
#include "hl_limits.h"

#define DEST_URL_MAX LIMIT_URL_MAX  /* the longest URL accepted, in characters */

struct dest_policy {
    bool allow_http;
    bool allow_private;
};

/* Validate 'url' under 'policy'. Returns 0, or HL_EINVAL with a reason in
 * 'err' that starts with 'A valid "url" must be specified.' followed by
 * the detail (scheme, host, forbidden address, length, credentials in
 * the URL, fragment). */
int dest_policy_check_url(const struct dest_policy *policy, const char *url, struct hl_error *err) HL_MUST_CHECK;

/* True if the numeric address 'ip' (IPv4 dotted or IPv6 text, as libcurl's
 * CURLINFO_PRIMARY_IP gives it) is one that private targets cover:
 * loopback, RFC 1918, 100.64/10, 169.254/16 (metadata included), 0/8,
 * multicast, broadcast, ::1, ::, fc00::/7, fe80::/10, and IPv4-mapped
 * forms of these. An unparsable string counts as forbidden. */
bool dest_policy_ip_forbidden(const char *ip);

#endif
