/* http.c: the harness's HTTP client (libcurl easy, one handle per call).
 *
 * hx_http() for any URL, hx_api() against a stack's api, header lookup,
 * and tenants created through the admin REST API. Bodies are capped at
 * 64 MiB and headers at 1 MiB; https is verified against the test CA.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "hx_int.h"

#define HX_HTTP_MAX_BODY (64UL * 1024 * 1024)
#define HX_HTTP_MAX_HEADERS (1024UL * 1024)

struct hx_buf {
    char *p;
    size_t len, cap, max;
    bool overflow;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        hx_die("curl_global_init failed");
}

static size_t http_buf_append(struct hx_buf *b, const char *data, size_t n)
{
    if (b->len + n > b->max) {
        b->overflow = true;
        return 0; /* makes libcurl fail the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static size_t http_on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    return http_buf_append(userdata, data, size * nmemb);
}

void hx_resp_free(struct hx_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    free(resp->headers);
    if (resp->json)
        json_decref(resp->json);
    memset(resp, 0, sizeof(*resp));
}

long hx_http_timeout(const char *method, const char *url, const char *key, const char *body,
                     const char *const *extra_headers, struct hx_resp *resp, long timeout_ms)
{
    struct hx_buf bodybuf = { .max = HX_HTTP_MAX_BODY };
    struct hx_buf hdrbuf = { .max = HX_HTTP_MAX_HEADERS };
    struct curl_slist *hdrs = NULL, *tmp;
    char errbuf[CURL_ERROR_SIZE] = "";
    char line[1024];
    CURL *curl = NULL;
    CURLcode cc;

    memset(resp, 0, sizeof(*resp));
    pthread_once(&http_once, http_global_init);
    curl = curl_easy_init();
    if (!curl)
        hx_die("curl_easy_init failed");

    if (key) {
        snprintf(line, sizeof(line), "x-api-key: %s", key);
        if (!(tmp = curl_slist_append(hdrs, line)))
            hx_die("out of memory");
        hdrs = tmp;
    }
    if (body) {
        if (!(tmp = curl_slist_append(hdrs, "Content-Type: application/json")))
            hx_die("out of memory");
        hdrs = tmp;
    }
    /* no "Expect: 100-continue" round trip for larger bodies */
    if (!(tmp = curl_slist_append(hdrs, "Expect:")))
        hx_die("out of memory");
    hdrs = tmp;
    for (size_t i = 0; extra_headers && extra_headers[i]; i++) {
        if (!(tmp = curl_slist_append(hdrs, extra_headers[i])))
            hx_die("out of memory");
        hdrs = tmp;
    }

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bodybuf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, http_on_data);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdrbuf);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (strncmp(url, "https:", 6) == 0) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, hx_test_ca_file());
        /* only the test CA: libcurl-gnutls would also load all of
         * /etc/ssl/certs for every new connection (~25 ms of CPU) */
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }

    if (strcmp(method, "GET") == 0 && !body) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
        /* POSTFIELDS sets a Content-Length (0 without a body); CUSTOMREQUEST the verb */
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }

    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    } else {
        resp->status = 0;
        if (getenv("HX_VERBOSE"))
            fprintf(stderr, "hx: %s %s: %s\n", method, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
    if (bodybuf.overflow)
        fprintf(stderr, "hx: %s %s: response body above %lu bytes, truncated\n", method, url,
                HX_HTTP_MAX_BODY);

    resp->body = bodybuf.p ? bodybuf.p : strdup("");
    resp->len = bodybuf.len;
    resp->headers = hdrbuf.p ? hdrbuf.p : strdup("");
    if (!resp->body || !resp->headers)
        hx_die("out of memory");
    if (resp->len > 0)
        resp->json = json_loadb(resp->body, resp->len, JSON_DECODE_ANY, NULL);

    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    return resp->status;
}

long hx_http(const char *method, const char *url, const char *key, const char *body,
             const char *const *extra_headers, struct hx_resp *resp)
{
    return hx_http_timeout(method, url, key, body, extra_headers, resp, 30000);
}

long hx_api(struct hx_stack *st, const char *method, const char *key, const char *body,
            struct hx_resp *resp, const char *path_fmt, ...)
{
    char *path = NULL, *url = NULL;
    va_list ap;
    long status;

    va_start(ap, path_fmt);
    int n = vasprintf(&path, path_fmt, ap);
    va_end(ap);
    if (n < 0 || asprintf(&url, "%s%s", hx_api_url(st), path) < 0)
        hx_die("out of memory");
    status = hx_http(method, url, key, body, NULL, resp);
    free(path);
    free(url);
    return status;
}

int hx_resp_header(const struct hx_resp *resp, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    int found = -1;

    if (!resp->headers || cap == 0)
        return -1;
    for (const char *line = resp->headers; *line;) {
        const char *end = strchr(line, '\n');
        size_t llen = end ? (size_t)(end - line) : strlen(line);
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            const char *vend = line + llen;
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            while (vend > v && isspace((unsigned char)vend[-1]))
                vend--;
            size_t vlen = (size_t)(vend - v);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            found = 0; /* keep looking: the last one wins */
        }
        if (!end)
            break;
        line = end + 1;
    }
    return found;
}

int hx_tenant_new(struct hx_stack *st, const char *tenant, const char *scopes_csv,
                  char *key_out, size_t cap)
{
    struct hx_resp resp = { 0 };
    json_t *req = NULL, *scopes = NULL;
    char *body = NULL, *csv = NULL, *save = NULL;
    int rc = -1;

    req = json_pack("{s:s}", "id", tenant);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    if (!body)
        hx_die("out of memory");
    long status = hx_api(st, "POST", hx_admin_key(st), body, &resp, "/v1/tenants");
    if (status != 201 && status != 200) {
        fprintf(stderr, "hx: POST /v1/tenants %s: status %ld: %s\n", tenant, status, resp.body);
        goto out;
    }
    hx_resp_free(&resp);
    json_decref(req);
    req = NULL;
    free(body);
    body = NULL;

    scopes = json_array();
    csv = strdup(scopes_csv ? scopes_csv : "");
    if (!scopes || !csv)
        hx_die("out of memory");
    for (char *s = strtok_r(csv, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*s))
            s++;
        size_t len = strlen(s);
        while (len > 0 && isspace((unsigned char)s[len - 1]))
            s[--len] = '\0';
        if (len > 0 && json_array_append_new(scopes, json_string(s)) != 0)
            hx_die("out of memory");
    }
    req = json_pack("{s:O}", "scopes", scopes);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    if (!body)
        hx_die("out of memory");
    status = hx_api(st, "POST", hx_admin_key(st), body, &resp, "/v1/tenants/%s/keys", tenant);
    if (status != 201 && status != 200) {
        fprintf(stderr, "hx: POST /v1/tenants/%s/keys: status %ld: %s\n", tenant, status, resp.body);
        goto out;
    }
    const char *key = json_string_value(json_object_get(resp.json, "key"));
    if (!key || strlen(key) >= cap) {
        fprintf(stderr, "hx: POST /v1/tenants/%s/keys: no usable \"key\" in %s\n", tenant, resp.body);
        goto out;
    }
    strcpy(key_out, key);
    rc = 0;
out:
    hx_resp_free(&resp);
    json_decref(req);
    json_decref(scopes);
    free(body);
    free(csv);
    return rc;
}
