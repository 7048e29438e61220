/* dest_policy.c: which webhook endpoint URLs and addresses are allowed.
 *
 * URLs are parsed with libcurl's own URL API, so what we check is what the
 * dispatcher will connect to. No DNS here: literal addresses (in any
 * spelling libcurl or the resolver accepts) and well-known local names are
 * refused at create; resolved names are checked on the connected address
 * at delivery time with dest_policy_ip_forbidden().
 */
#include "dest_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define DEST_ERR_PREFIX "A valid \"url\" must be specified. "
#define DEST_HOST_MAX 256

/* True if the IPv4 address 'a' (network order bytes) is not a public one. */
static bool dest_ipv4_forbidden(const unsigned char a[4])
{
    if (a[0] == 0)                                  /* 0.0.0.0/8 "this network" */
        return true;
    if (a[0] == 127)                                /* loopback */
        return true;
    if (a[0] == 10)                                 /* RFC 1918 */
        return true;
    if (a[0] == 172 && (a[1] & 0xf0) == 16)         /* RFC 1918 172.16/12 */
        return true;
    if (a[0] == 192 && a[1] == 168)                 /* RFC 1918 */
        return true;
    if (a[0] == 100 && (a[1] & 0xc0) == 64)         /* CGNAT 100.64/10 */
        return true;
    if (a[0] == 169 && a[1] == 254)                 /* link-local, cloud metadata */
        return true;
    if (a[0] >= 224)                                /* multicast, reserved, broadcast */
        return true;
    return false;
}

/* True if the IPv6 address 'a' is not a public one, looking through the
 * forms that carry an IPv4 address inside. */
static bool dest_ipv6_forbidden(const unsigned char a[16])
{
    static const unsigned char zero10[10] = { 0 };
    static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

    /* ::ffff:a.b.c.d (mapped): the kernel connects to the IPv4 address */
    if (memcmp(a, zero10, 10) == 0 && a[10] == 0xff && a[11] == 0xff)
        return dest_ipv4_forbidden(a + 12);
    /* ::/96 holds ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d */
    if (memcmp(a, zero10, 10) == 0 && a[10] == 0 && a[11] == 0)
        return true;
    /* 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) reach the IPv4 address inside */
    if (memcmp(a, nat64, 12) == 0)
        return dest_ipv4_forbidden(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02)
        return dest_ipv4_forbidden(a + 2);
    if ((a[0] & 0xfe) == 0xfc)                      /* fc00::/7 unique local */
        return true;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)      /* fe80::/10 link-local */
        return true;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)      /* fec0::/10 old site-local */
        return true;
    if (a[0] == 0xff)                               /* ff00::/8 multicast */
        return true;
    return false;
}

bool dest_policy_ip_forbidden(const char *ip)
{
    unsigned char addr[16];
    char buf[INET6_ADDRSTRLEN + 2];

    if (ip == NULL)
        return true;
    size_t len = strlen(ip);
    /* accept the bracketed form a URL host has, too */
    if (len >= 2 && ip[0] == '[' && ip[len - 1] == ']') {
        if (len - 2 >= sizeof(buf))
            return true;
        memcpy(buf, ip + 1, len - 2);
        buf[len - 2] = '\0';
        ip = buf;
    }
    if (inet_pton(AF_INET, ip, addr) == 1)
        return dest_ipv4_forbidden(addr);
    if (inet_pton(AF_INET6, ip, addr) == 1)
        return dest_ipv6_forbidden(addr);
    return true;
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
    char host[DEST_HOST_MAX];
    struct in_addr in4;

    size_t len = strlen(curl_host);
    if (len == 0)
        return hl_error_set(err, HL_EINVAL, DEST_ERR_PREFIX "The URL has no host.");
    if (curl_host[0] == '[') {
        if (dest_policy_ip_forbidden(curl_host))
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
        if (dest_ipv4_forbidden((const unsigned char *)&in4.s_addr))
            goto forbidden_addr;
        return 0;
    }
    if (dest_name_local(host))
        return hl_error_set(err, HL_EINVAL,
                            DEST_ERR_PREFIX "Local and cloud metadata host names are not accepted.");
    return 0;
forbidden_addr:
    return hl_error_set(err, HL_EINVAL,
                        DEST_ERR_PREFIX "Loopback, private, link-local and other non-public addresses are not accepted.");
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
