/* test_api_destinations.c: which endpoint URLs a webhook may have.
 *
 * Where private targets are not allowed, loopback, RFC 1918, link-local,
 * metadata and local names are refused at create and at change; every row
 * of the table of special-purpose ranges (tests/data/dest_policy/
 * ranges.txt) refuses a literal address inside it with a 400 naming the
 * row, and accepts one just outside it; with the TLS check on, an endpoint
 * whose certificate the CA does not trust is refused (test_api_tls_check
 * has the rest of the check), and http:// only where
 * HOOKLINE_ALLOW_HTTP=true.
 */
#include "api_e2e.h"

/* A deployment without private targets refuses local and internal URLs. */
static void wh_private_targets(void)
{
    struct hx_stack_opts opts = {.env = {"HOOKLINE_ALLOW_PRIVATE_TARGETS=false"}};
    struct hx_stack *st = hx_stack_start(&opts);
    char key[128], id[64];
    CHECK_FATAL(hx_tenant_new(st, "strict", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);

    E2E_SECTION("private targets refused: loopback, RFC 1918, link-local/metadata, [::1], localhost -> 400");
    static const char *const urls[] = {
        "https://127.0.0.1/h",
        "https://127.0.0.1:8443/h",
        "https://10.0.0.1/h",
        "https://192.168.1.10/h",
        "https://172.16.5.4/h",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/h",
        "https://[::ffff:127.0.0.1]/h",
        "https://[fe80::1]/h",
        "https://localhost/h",
        "https://LOCALHOST./h",
        "https://api.localhost/h",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://127.1/h",
        "https://2130706433/h",
        "https://0x7f.0.0.1/h",
        "https://0.0.0.0/h",
        "https://100.64.0.1/h",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body), "{\"name\":\"p%zu\",\"url\":\"%s\",\"events\":\"booking\"}", i, urls[i]);
        E2E_EXPECT(st, "POST", key, "/v1/webhooks", body, 400, "A valid \"url\" must be specified.");
    }
    E2E_EXPECT(st, "POST", key, "/v1/webhooks",
               "{\"name\":\"mixed\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"https://hooks.example.com/a\"},"
               "{\"url\":\"https://10.1.2.3/b\"}]}",
               400, "A valid \"url\" must be specified.");

    E2E_SECTION("a public host is accepted; changing it to a private one is refused");
    CHECK_EQ_INT(e2e_webhook_new(st, key, "public", "https://hooks.example.com/in", id, NULL), 201);
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    E2E_EXPECT(st, "PATCH", key, path, "{\"url\":\"https://169.254.169.254/\"}", 400,
               "A valid \"url\" must be specified.");
    E2E_EXPECT(st, "PUT", key, path, "{\"name\":\"public\",\"url\":\"https://[::1]:9/\",\"events\":\"booking\"}", 400,
               "A valid \"url\" must be specified.");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks", NULL, NULL), 1);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), 1);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
}

/* Every address of ranges.txt as the host of a new webhook's URL. */
static void wh_special_ranges(void)
{
    struct hx_stack_opts opts = {.env = {"HOOKLINE_ALLOW_PRIVATE_TARGETS=false"}};
    struct hx_stack *st = hx_stack_start(&opts);
    char key[128];
    CHECK_FATAL(hx_tenant_new(st, "ranges", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    FILE *f = fopen(HL_TEST_DATA "/dest_policy/ranges.txt", "r");
    CHECK_FATAL(f != NULL);

    E2E_SECTION("each special-purpose range: a literal address inside -> 400 naming the range, just outside -> 201");
    char line[1024];
    int n = 0, refused = 0, accepted = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *row = strtok_r(line, " \t\n", &save), *tok;
        if (row == NULL || row[0] == '#')
            continue;
        bool allow_row = strcmp(row, "2000::/3") == 0, inside = true;
        CHECK_FATAL((tok = strtok_r(NULL, " \t\n", &save)) != NULL && strcmp(tok, "in") == 0);
        while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL) {
            if (strcmp(tok, "out") == 0) {
                inside = false;
                continue;
            }
            bool want_refused = inside != allow_row;
            char body[512], named[96];
            snprintf(body, sizeof(body), "{\"name\":\"r%d\",\"url\":\"https://%s%s%s/hook\",\"events\":\"booking\"}",
                     ++n, strchr(tok, ':') ? "[" : "", tok, strchr(tok, ':') ? "]" : "");
            struct hx_resp resp;
            long status = hx_api(st, "POST", key, body, &resp, "/v1/webhooks");
            snprintf(named, sizeof(named), "(%s: ", row);
            bool ok = want_refused ? status == 400 && e2e_starts_with(e2e_error(&resp), "A valid \"url\" must be specified.") &&
                                         (!inside || strstr(e2e_error(&resp), named) != NULL)
                                   : status == 201;
            if (!ok)
                fprintf(stderr, "range %s, address %s: want %s, got %ld %s\n", row, tok,
                        want_refused ? "400 naming the range" : "201", status, resp.body);
            CHECK(ok);
            refused += want_refused;
            accepted += !want_refused;
            hx_resp_free(&resp);
        }
    }
    fclose(f);
    printf("%d addresses refused, %d accepted\n", refused, accepted);
    CHECK(refused >= 100 && accepted >= 30);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks", NULL, NULL), accepted);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
}

/* HOOKLINE_TLS_CHECK=true with the test CA; HOOKLINE_ALLOW_HTTP=true.
 * test_api_tls_check has the check itself. */
static void wh_tls_check(void)
{
    struct hx_stack_opts opts = {.env = {"HOOKLINE_TLS_CHECK=true", "HOOKLINE_ALLOW_HTTP=true"}};
    struct hx_stack *st = hx_stack_start(&opts);
    struct hx_receiver_opts untrusted_opts = {.untrusted_cert = true}, plain_opts = {.plain_http = true};
    struct hx_receiver *good = hx_receiver_start(NULL), *bad = hx_receiver_start(&untrusted_opts),
                       *plain = hx_receiver_start(&plain_opts);
    char key[128], id[64], url[256], body[1024];
    CHECK_FATAL(hx_tenant_new(st, "tls", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);

    E2E_SECTION("TLS check: an endpoint whose certificate the CA does not trust -> 400 naming the field");
    snprintf(body, sizeof(body), "{\"name\":\"untrusted\",\"url\":\"%s/hook\",\"events\":\"booking\"}",
             hx_receiver_url(bad));
    E2E_EXPECT(st, "POST", key, "/v1/webhooks", body, 400, "url: TLS check failed");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks", NULL, NULL), 0);

    E2E_SECTION("TLS check: an endpoint with a certificate from the configured CA -> 201");
    snprintf(url, sizeof(url), "%s/hook", hx_receiver_url(good));
    CHECK_EQ_INT(e2e_webhook_new(st, key, "trusted", url, id, NULL), 201);

    E2E_SECTION("http:// is accepted where HOOKLINE_ALLOW_HTTP=true: it has no TLS to check");
    snprintf(url, sizeof(url), "%s/plain", hx_receiver_url(plain));
    CHECK(e2e_starts_with(url, "http://"));
    CHECK_EQ_INT(e2e_webhook_new(st, key, "plain", url, id, NULL), 201);

    hx_receiver_stop(good);
    hx_receiver_stop(bad);
    hx_receiver_stop(plain);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
}

int main(void)
{
    wh_private_targets();
    wh_special_ranges();
    wh_tls_check();
    return check_exit();
}
