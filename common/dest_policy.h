/* dest_policy.h: which webhook endpoint URLs and addresses are allowed.
 *
 * Endpoints are https:// unless the deployment allows http. Addresses in
 * the special-purpose ranges of IANA's IPv4 and IPv6 Special-Purpose
 * Address Registries (RFC 6890 and its updates) that are not globally
 * reachable, multicast, the reserved IPv4 space, IPv6 outside global
 * unicast, and cloud metadata and platform addresses are refused unless
 * the deployment allows private targets: one table in dest_policy.c, each
 * row with its reason. Names are checked at create where they are literal
 * addresses or well-known local names; every delivery checks the address
 * it actually connected to (dest_policy_ip_forbidden), which also defeats
 * DNS rebinding.
 */
#ifndef HL_DEST_POLICY_H
#define HL_DEST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
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
 * CURLINFO_PRIMARY_IP gives it; an IPv6 one may be in brackets) is one the
 * table refuses. An unparsable string counts as forbidden. Any thread. */
bool dest_policy_ip_forbidden(const char *ip);

/* Same, and when forbidden writes why into 'why' ('cap' bytes, may be 0):
 * the deciding row's prefix and reason ("10.0.0.0/8: private use (RFC
 * 1918)"), for an address with an IPv4 address inside (IPv4-mapped, NAT64,
 * 6to4) the row of that IPv4 address too. Returns whether forbidden. */
bool dest_policy_ip_explain(const char *ip, char *why, size_t cap);

/* How a row decides an address it contains. */
enum dest_verdict {
    DEST_REFUSE,            /* forbidden */
    DEST_EMBEDDED_V4,       /* as the IPv4 address it carries (embedded_at) */
    DEST_ALLOW,             /* allowed */
};

/* One row of the table. Rows are tried in order, IPv4 rows for IPv4
 * addresses and IPv6 rows for IPv6 ones; the first containing the address
 * decides. An IPv4 address no row contains is allowed; the IPv6 table ends
 * with ::/0, refused. */
struct dest_range {
    const char *prefix;         /* "192.0.0.0/24", "fc00::/7" */
    enum dest_verdict verdict;
    int embedded_at;            /* DEST_EMBEDDED_V4: byte offset of the IPv4 address */
    const char *reason;
};

/* Row 'i' of the table (borrowed, static), IPv4 rows first; NULL past the
 * end. For tests and documentation. */
const struct dest_range *dest_policy_range(size_t i);

#endif
