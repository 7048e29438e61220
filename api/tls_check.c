/* tls_check.c: verify an endpoint's TLS certificate when a webhook is
 * created or its URL changes, so a tenant learns of a bad certificate at
 * once rather than from a log of failed deliveries.
 */
#include "api.h"

#include <curl/curl.h>
#include <string.h>

#include "log.h"

int tls_check_url(const struct api_ctx *ctx, const char *url, struct hl_error *err)
{
    if (strncasecmp(url, "https://", 8) != 0)
        return 0;
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return hl_error_set(err, HL_ENOMEM, "TLS check: out of memory");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    if (ctx->cfg.ca_file[0]) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, ctx->cfg.ca_file);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    CURLcode rc = curl_easy_perform(curl);
    int result = 0;
    char *ip = NULL;
    switch (rc) {
    case CURLE_OK:
        curl_easy_getinfo(curl, CURLINFO_PRIMARY_IP, &ip);
        if (!ctx->policy.allow_private && ip && dest_policy_ip_forbidden(ip))
            result = hl_error_set(err, HL_EINVAL, "A valid \"url\" must be specified. %s resolves to a forbidden address.", url);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
        /* not reachable yet: the endpoint may be deployed after the webhook */
        log_info("TLS check skipped, endpoint unreachable: %s", errbuf);
        break;
    default:
        result = hl_error_set(err, HL_EINVAL, "TLS certificate validation failed for %s: %s", url,
                              errbuf[0] ? errbuf : curl_easy_strerror(rc));
        break;
    }
    curl_easy_cleanup(curl);
    return result;
}
