/* dest_policy.c: which webhook endpoint URLs and addresses are allowed.
 *
 * URLs are parsed with libcurl's own URL API, so what we check is what the
 * dispatcher will connect to. No DNS here: literal addresses (in any
 * spelling libcurl or the resolver accepts) and well-known local names are
 * refused at create; resolved names are checked on the connected address
 * at delivery time with dest_policy_ip_forbidden(). Which addresses are
 * refused is one table, dest_ranges[], below.
 */
#include "dest_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEST_ERR_PREFIX "A valid \"url\" must be specified. "
#define DEST_HOST_MAX 256

/* Every special-purpose range of IANA's IPv4 and IPv6 Special-Purpose
 * Address Registries (RFC 6890 and the RFCs that updated them) that is not
 * globally reachable, and beside them the space that is never a unicast
 * destination (IPv4 multicast and 240/4, IPv6 outside 2000::/3) and cloud
 * platform addresses. Decisions where the registries leave room:
 * - 192.0.0.0/24 and 2001::/23 are refused whole, although IANA marks a few
 *   parts globally reachable (192.0.0.9 and .10: PCP and TURN anycast;
 *   2001:1::1-3 anycast, 2001:3::/32 AMT, 2001:4:112::/48 AS112,
 *   2001:20::/28 ORCHIDv2, 2001:30::/28 DRIP): anycast services, relays and
 *   identifiers are never webhook receivers; Oracle Cloud's metadata
 *   service is 192.0.0.192; Teredo (2001::/32) carries IPv4 addresses.
 * - Addresses that carry an IPv4 address which is the one reached
 *   (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that
 *   address. 64:ff9b:1::/48 (local-use NAT64, RFC 8215) is refused: where
 *   the IPv4 address sits in it is the local network's choice.
 * - Globally reachable blocks outside these (AS112 192.31.196.0/24 and
 *   192.175.48.0/24, AMT 192.52.193.0/24, AS112-v6 2620:4f:8000::/48) are
 *   allowed, as IANA marks them.
 * A more specific row comes before the row that contains it, so its reason
 * is the one given. */
static const struct dest_range dest_ranges[] = {
    { "0.0.0.0/8", DEST_REFUSE, 0, "\"this network\" (RFC 791, RFC 1122)" },
    { "10.0.0.0/8", DEST_REFUSE, 0, "private use (RFC 1918)" },
    { "100.64.0.0/10", DEST_REFUSE, 0, "shared address space, CGNAT (RFC 6598); Alibaba Cloud metadata" },
    { "127.0.0.0/8", DEST_REFUSE, 0, "loopback (RFC 1122)" },
    { "169.254.0.0/16", DEST_REFUSE, 0, "link local (RFC 3927); cloud metadata at 169.254.169.254" },
    { "172.16.0.0/12", DEST_REFUSE, 0, "private use (RFC 1918)" },
    { "168.63.129.16/32", DEST_REFUSE, 0, "Azure WireServer (platform DNS, DHCP, agent)" },
    { "192.0.0.0/24", DEST_REFUSE, 0, "IETF protocol assignments (RFC 6890); Oracle Cloud metadata at 192.0.0.192" },
    { "192.0.2.0/24", DEST_REFUSE, 0, "documentation, TEST-NET-1 (RFC 5737)" },
    { "192.88.99.0/24", DEST_REFUSE, 0, "deprecated 6to4 relay anycast (RFC 7526)" },
    { "192.168.0.0/16", DEST_REFUSE, 0, "private use (RFC 1918)" },
    { "198.18.0.0/15", DEST_REFUSE, 0, "benchmarking (RFC 2544)" },
    { "198.51.100.0/24", DEST_REFUSE, 0, "documentation, TEST-NET-2 (RFC 5737)" },
    { "203.0.113.0/24", DEST_REFUSE, 0, "documentation, TEST-NET-3 (RFC 5737)" },
    { "224.0.0.0/4", DEST_REFUSE, 0, "multicast (RFC 5771)" },
    { "255.255.255.255/32", DEST_REFUSE, 0, "limited broadcast (RFC 919)" },
    { "240.0.0.0/4", DEST_REFUSE, 0, "reserved for future use (RFC 1112)" },

    { "::/128", DEST_REFUSE, 0, "unspecified address (RFC 4291)" },
    { "::1/128", DEST_REFUSE, 0, "loopback (RFC 4291)" },
    { "::ffff:0:0/96", DEST_EMBEDDED_V4, 12, "IPv4-mapped (RFC 4291)" },
    { "::/96", DEST_REFUSE, 0, "IPv4-compatible, deprecated (RFC 4291)" },
    { "64:ff9b::/96", DEST_EMBEDDED_V4, 12, "IPv4/IPv6 translation, NAT64 (RFC 6052)" },
    { "64:ff9b:1::/48", DEST_REFUSE, 0, "local-use IPv4/IPv6 translation (RFC 8215)" },
    { "100::/64", DEST_REFUSE, 0, "discard-only (RFC 6666)" },
    { "2001:db8::/32", DEST_REFUSE, 0, "documentation (RFC 3849)" },
    { "2001::/23", DEST_REFUSE, 0, "IETF protocol assignments (RFC 2928): Teredo, benchmarking, anycast" },
    { "2002::/16", DEST_EMBEDDED_V4, 2, "6to4 (RFC 3056)" },
    { "3fff::/20", DEST_REFUSE, 0, "documentation (RFC 9637)" },
    { "fd00:ec2::254/128", DEST_REFUSE, 0, "AWS instance metadata (IPv6)" },
    { "fc00::/7", DEST_REFUSE, 0, "unique local (RFC 4193)" },
    { "fe80::/10", DEST_REFUSE, 0, "link-local unicast (RFC 4291)" },
    { "fec0::/10", DEST_REFUSE, 0, "site-local, deprecated (RFC 3879)" },
    { "ff00::/8", DEST_REFUSE, 0, "multicast (RFC 4291)" },
    { "2000::/3", DEST_ALLOW, 0, "global unicast (RFC 4291)" },
    { "::/0", DEST_REFUSE, 0, "outside global unicast 2000::/3: reserved or unassigned" },
};

#define DEST_NRANGES (sizeof(dest_ranges) / sizeof(dest_ranges[0]))

/* dest_ranges[] parsed once: network-order bytes and prefix length. */
struct dest_net {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

static struct dest_net dest_nets[DEST_NRANGES];
static bool dest_nets_ok;
static pthread_once_t dest_nets_once = PTHREAD_ONCE_INIT;

static void dest_nets_parse(void)
{
    for (size_t i = 0; i < DEST_NRANGES; i++) {
        char text[64];
        const char *slash = strchr(dest_ranges[i].prefix, '/');
        size_t n = slash ? (size_t)(slash - dest_ranges[i].prefix) : 0;
        struct dest_net *net = &dest_nets[i];
        if (slash == NULL || n >= sizeof(text))
            return;
        memcpy(text, dest_ranges[i].prefix, n);
        text[n] = '\0';
        net->bits = atoi(slash + 1);
        if (inet_pton(AF_INET, text, net->addr) == 1 && net->bits >= 0 && net->bits <= 32)
            net->family = AF_INET;
        else if (inet_pton(AF_INET6, text, net->addr) == 1 && net->bits >= 0 && net->bits <= 128)
            net->family = AF_INET6;
        else
            return;     /* a bad row: dest_nets_ok stays false and everything is refused */
    }
    dest_nets_ok = true;
}

const struct dest_range *dest_policy_range(size_t i)
{
    return i < DEST_NRANGES ? &dest_ranges[i] : NULL;
}

static bool dest_net_contains(const struct dest_net *net, const unsigned char *a)
{
    int whole = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->addr, a, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->addr[whole] & mask) == (a[whole] & mask);
}

/* Decide 'a' (4 or 16 network-order bytes of 'family'), writing why it is
 * forbidden into 'why' (may be NULL). Returns whether forbidden. */
static bool dest_addr_explain(int family, const unsigned char *a, char *why, size_t cap)
{
    pthread_once(&dest_nets_once, dest_nets_parse);
    if (!dest_nets_ok) {
        if (why && cap)
            snprintf(why, cap, "the address table does not parse");
        return true;
    }
    for (size_t i = 0; i < DEST_NRANGES; i++) {
        const struct dest_net *net = &dest_nets[i];
        const struct dest_range *r = &dest_ranges[i];
        if (net->family != family || !dest_net_contains(net, a))
            continue;
        if (r->verdict == DEST_ALLOW)
            return false;
        if (r->verdict == DEST_REFUSE) {
            if (why && cap)
                snprintf(why, cap, "%s: %s", r->prefix, r->reason);
            return true;
        }
        /* DEST_EMBEDDED_V4: the IPv4 address inside is the one reached */
        char inner[160] = "", v4[INET_ADDRSTRLEN] = "";
        if (!dest_addr_explain(AF_INET, a + r->embedded_at, inner, sizeof(inner)))
            return false;
        inet_ntop(AF_INET, a + r->embedded_at, v4, sizeof(v4));
        if (why && cap)
            snprintf(why, cap, "%s: %s, reaching %s, in %s", r->prefix, r->reason, v4, inner);
        return true;
    }
    return false;   /* an IPv4 address in no row: a public one */
}

bool dest_policy_ip_explain(const char *ip, char *why, size_t cap)
{
    unsigned char addr[16];
    char buf[INET6_ADDRSTRLEN + 2];

    if (why && cap)
        why[0] = '\0';
    if (ip == NULL)
        goto unparsable;
    size_t len = strlen(ip);
    /* accept the bracketed form a URL host has, too */
    if (len >= 2 && ip[0] == '[' && ip[len - 1] == ']') {
        if (len - 2 >= sizeof(buf))
            goto unparsable;
        memcpy(buf, ip + 1, len - 2);
        buf[len - 2] = '\0';
        ip = buf;
    }
    if (inet_pton(AF_INET, ip, addr) == 1)
        return dest_addr_explain(AF_INET, addr, why, cap);
    if (inet_pton(AF_INET6, ip, addr) == 1)
        return dest_addr_explain(AF_INET6, addr, why, cap);
unparsable:
    if (why && cap)
        snprintf(why, cap, "not a numeric IP address");
    return true;
}

bool dest_policy_ip_forbidden(const char *ip)
{
    return dest_policy_ip_explain(ip, NULL, 0);
}

/* True if 'host' (lower case, no trailing dot) ends with 'suffix'
 * preceded by a dot, or equals 'suffix' without its leading dot. */
static bool dest_name_under(const char *host, const char *suffix)
{
    size_t hl = strlen(host);
    size_t sl = strlen(suffix);
    if (hl == sl - 1 && memcmp(host, suffix + 1, hl) == 0)
        return true;
    return hl > sl && memcmp(host + hl - sl, suffix, sl) == 0;
}

/* True if 'host' (lower case, no trailing dot) is a name that always
 * means this machine or the cloud metadata service. */
static bool dest_name_local(const char *host)
{
    static const char *const names[] = { "metadata", "localhost.localdomain", "ip6-localhost", "ip6-loopback" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(host, names[i]) == 0)
            return true;
    /* ".internal" covers metadata.google.internal and cloud-private zones */
    return dest_name_under(host, ".localhost") || dest_name_under(host, ".internal");
}

/* Check the host part as libcurl gave it (IPv6 in brackets). Returns 0 or
 * HL_EINVAL with the reason in 'err'. */
static int dest_check_host(const char *curl_host, struct hl_error *err)
{
    char host[DEST_HOST_MAX], why[200];
    struct in_addr in4;

    size_t len = strlen(curl_host);
    if (len == 0)
        return hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The URL has no host.");
    if (curl_host[0] == '[') {
        if (dest_policy_ip_explain(curl_host, why, sizeof(why)))
            goto forbidden_addr;
        return 0;
    }
    if (len >= sizeof(host))
        return hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The host name is too long.");
    for (size_t i = 0; i <= len; i++)
        host[i] = (char)tolower((unsigned char)curl_host[i]);
    /* "localhost." and "127.0.0.1." resolve like the names without the dot */
    if (len > 1 && host[len - 1] == '.')
        host[--len] = '\0';
    /* whatever the resolver would read as an IPv4 literal (127.1, 0x7f.1,
     * 2130706433, 0177.0.0.1) is an address, not a name */
    if (inet_aton(host, &in4) != 0) {
        if (dest_addr_explain(AF_INET, (const unsigned char *)&in4.s_addr, why, sizeof(why)))
            goto forbidden_addr;
        return 0;
    }
    if (dest_name_local(host))
        return hl_error_set(err, HL_EINVAL,
                            DEST_ERR_PREFIX "Local and cloud metadata host names are not accepted.");
    return 0;
forbidden_addr:
    return hl_error_set(err, HL_EINVAL,
                        DEST_ERR_PREFIX "The address is not a public one (%s).", why);
}

int dest_policy_check_url(const struct dest_policy *policy, const char *url, struct hl_error *err)
{
    CURLU *cu = NULL;
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL, *fragment = NULL, *port = NULL;
    int rc = HL_EINVAL;
    bool allow_http = policy != NULL && policy->allow_http;
    bool allow_private = policy != NULL && policy->allow_private;

    if (url == NULL || url[0] == '\0') {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The URL is empty.");
        goto out;
    }
    if (strlen(url) > DEST_URL_MAX) {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The URL is longer than %d characters.", DEST_URL_MAX);
        goto out;
    }
    cu = curl_url();
    if (cu == NULL) {
        rc = hl_error_set(err, HL_ENOMEM, DEST_ERR_PREFIX "Out of memory.");
        goto out;
    }
    /* without CURLU_NON_SUPPORT_SCHEME: a scheme libcurl cannot speak fails here */
    if (curl_url_set(cu, CURLUPART_URL, url, 0) != CURLUE_OK) {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The URL could not be parsed.");
        goto out;
    }
    if (curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        !(strcmp(scheme, "https") == 0 || (allow_http && strcmp(scheme, "http") == 0))) {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "%s",
                     allow_http ? "Only http:// and https:// URLs are accepted." : "Only https:// URLs are accepted.");
        goto out;
    }
    if (curl_url_get(cu, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
        curl_url_get(cu, CURLUPART_PASSWORD, &password, 0) != CURLUE_NO_PASSWORD) {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "Credentials in the URL are not accepted.");
        goto out;
    }
    /* curl drops an empty fragment ("https://x/#"), so look at the text too */
    if (curl_url_get(cu, CURLUPART_FRAGMENT, &fragment, 0) != CURLUE_NO_FRAGMENT || strchr(url, '#') != NULL) {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The URL must not have a fragment (#...).");
        goto out;
    }
    if (curl_url_get(cu, CURLUPART_PORT, &port, 0) == CURLUE_OK && strcmp(port, "0") == 0) {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The port is not valid.");
        goto out;
    }
    if (curl_url_get(cu, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The URL has no host.");
        goto out;
    }
    if (!allow_private && dest_check_host(host, err) < 0)
        goto out;
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(password);
    curl_free(fragment);
    curl_free(port);
    curl_url_cleanup(cu);
    return rc;
}
