/* test_console.c: the web console, served by hookline-api and used in a
 * real browser.
 *
 * hookline-api serves GET / and GET /console/<file> from the directory in
 * $HOOKLINE_CONSOLE_DIR with the security headers, a fixed map of types,
 * and nothing else: no other extension, no path, no symlink, nothing over
 * 1 MiB. The console's code builds the DOM without HTML parsing. Then
 * tests/console/console.test.mjs drives Debian's Chromium through
 * playwright-core over the whole console (sign in, create in steps with two
 * endpoints, the secret shown once, test event and delivery log, disable,
 * rotate, edit, validation errors, XSS, paging, narrow screen, delete, an
 * endpoint disabled by a 410 and enabled again, failed deliveries
 * recovered since a date and time, sign out), and the receiver checks
 * what the test event and the recover delivered. Then
 * tests/console/portal.test.mjs opens portal session links in an iframe
 * of a page on another loopback origin (HOOKLINE_PORTAL_FRAME_ANCESTORS
 * lists http://localhost:*): signed in for that tenant alone, a webhook
 * created from the frame, the link refused after revoke and after expiry,
 * and a page of an origin not listed cannot frame it. Then
 * tests/console/poll.test.mjs creates a poll webhook in the form and
 * watches its details page show the poll URL and the acknowledged position.
 * tests/console/health.test.mjs, on a 390 px screen: the details page's
 * chart of the last 24 h against GET /v1/webhooks/{id}/stats, the list's
 * success rate, and a delivery opened from the log (payload, headers as
 * sent, response, history), with screenshots.
 * tests/console/ordered.test.mjs makes an ordered webhook in the form and
 * skips its held head from the details page's "Order" card.
 *
 * Without chromium or tests/console/node_modules the browser part is
 * skipped with a message, unless HOOKLINE_REQUIRE_BROWSER is set (as
 * tests/run.sh does): then it fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

extern char **environ;

#ifndef HOOKLINE_SOURCE_CONSOLE_DIR
#error "HOOKLINE_SOURCE_CONSOLE_DIR must be defined by the build"
#endif

#define SOURCE_ROOT HOOKLINE_SOURCE_CONSOLE_DIR "/.."
#define NODE_SCRIPT SOURCE_ROOT "/tests/console/console.test.mjs"
#define PORTAL_SCRIPT SOURCE_ROOT "/tests/console/portal.test.mjs"
#define POLL_SCRIPT SOURCE_ROOT "/tests/console/poll.test.mjs"
#define HEALTH_SCRIPT SOURCE_ROOT "/tests/console/health.test.mjs"
#define ORDERED_SCRIPT SOURCE_ROOT "/tests/console/ordered.test.mjs"
#define NODE_MODULE SOURCE_ROOT "/tests/console/node_modules/playwright-core/package.json"
#define CONSOLE_CSP                                                                              \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "           \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
#define FILE_MAX (1024L * 1024)
#define BROWSER_TIMEOUT_MS (240L * 1000)

#define SECTION(...) do { printf("-- "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)

/* ---- files ---------------------------------------------------------------- */

static char *file_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(buf, cap + 1);
            CHECK_FATAL(grown != NULL);
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void file_write(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    CHECK_FATAL(fp != NULL);
    CHECK_FATAL(fwrite(data, 1, len, fp) == len);
    CHECK_FATAL(fclose(fp) == 0);
}

/* Copy the regular files of the source console/ into 'dir'. */
static void console_copy(const char *dir)
{
    DIR *d = opendir(HOOKLINE_SOURCE_CONSOLE_DIR);
    CHECK_FATAL(d != NULL);
    struct dirent *de;
    char from[PATH_MAX], to[PATH_MAX];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(from, sizeof(from), "%s/%s", HOOKLINE_SOURCE_CONSOLE_DIR, de->d_name);
        snprintf(to, sizeof(to), "%s/%s", dir, de->d_name);
        size_t len;
        char *data = file_read(from, &len);
        CHECK_FATAL(data != NULL);
        file_write(to, data, len);
        free(data);
    }
    closedir(d);
}

static void dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    char p[PATH_MAX];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            dir_remove(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- serving ---------------------------------------------------------------- */

static long console_get(struct hx_stack *st, const char *path, struct hx_resp *resp)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", hx_api_url(st), path);
    return hx_http("GET", url, NULL, NULL, NULL, resp);
}

static void check_header(const struct hx_resp *resp, const char *name, const char *want, const char *path)
{
    char got[512];
    if (hx_resp_header(resp, name, got, sizeof(got)) < 0)
        snprintf(got, sizeof(got), "(absent)");
    check_count++;
    if (strcmp(got, want) != 0) {
        check_failures++;
        fprintf(stderr, "CHECK failed: GET %s: %s is \"%s\", want \"%s\"\n", path, name, got, want);
    }
}

/* GET 'path': 200 with 'type', the security headers, and the bytes of 'file' (may be NULL). */
static void expect_file(struct hx_stack *st, const char *path, const char *type, const char *file)
{
    struct hx_resp resp;
    long status = console_get(st, path, &resp);
    CHECK_EQ_INT(status, 200);
    check_header(&resp, "Content-Type", type, path);
    check_header(&resp, "Content-Security-Policy", CONSOLE_CSP, path);
    check_header(&resp, "X-Frame-Options", "DENY", path);
    check_header(&resp, "Referrer-Policy", "no-referrer", path);
    check_header(&resp, "X-Content-Type-Options", "nosniff", path);
    if (file != NULL) {
        size_t len;
        char *want = file_read(file, &len);
        CHECK(want != NULL);
        CHECK(want && resp.len == len && memcmp(resp.body, want, len) == 0);
        free(want);
    }
    hx_resp_free(&resp);
}

/* GET 'path': 'status' with a JSON {"error": ...} body. */
static void expect_refused(struct hx_stack *st, const char *path, long status)
{
    struct hx_resp resp;
    long got = console_get(st, path, &resp);
    check_count++;
    if (got != status || !json_is_string(json_object_get(resp.json, "error"))) {
        check_failures++;
        fprintf(stderr, "CHECK failed: GET %s -> want %ld with a JSON error, got %ld %.200s\n", path, status, got,
                resp.body);
    }
    hx_resp_free(&resp);
}

static void test_serving(struct hx_stack *st, const char *dir)
{
    char p[PATH_MAX];
    SECTION("GET / is index.html with the security headers");
    snprintf(p, sizeof(p), "%s/index.html", dir);
    expect_file(st, "/", "text/html; charset=utf-8", p);
    expect_file(st, "/console/index.html", "text/html; charset=utf-8", p);

    SECTION("console files by extension, each with its Content-Type");
    snprintf(p, sizeof(p), "%s/app.js", dir);
    expect_file(st, "/console/app.js", "text/javascript; charset=utf-8", p);
    snprintf(p, sizeof(p), "%s/console.css", dir);
    expect_file(st, "/console/console.css", "text/css; charset=utf-8", p);
    snprintf(p, sizeof(p), "%s/favicon.svg", dir);
    expect_file(st, "/console/favicon.svg", "image/svg+xml", p);
    expect_file(st, "/console/tiny.png", "image/png", NULL);
    expect_file(st, "/console/tiny.ico", "image/x-icon", NULL);
    expect_file(st, "/console/exact.js", "text/javascript; charset=utf-8", NULL);

    SECTION("nothing else: other extensions, paths, hidden files, symlinks, files over 1 MiB");
    expect_refused(st, "/console/notes.txt", 404);
    expect_refused(st, "/console/missing.js", 404);
    expect_refused(st, "/console/.hidden.js", 404);
    expect_refused(st, "/console/link.js", 404);
    expect_refused(st, "/console/sub/x.js", 404);
    expect_refused(st, "/console/..%2fCMakeLists.txt", 404);
    expect_refused(st, "/console/%2e%2e%2fsecret.js", 404);
    expect_refused(st, "/console/%2fetc%2fhostname", 404);
    expect_refused(st, "/console/sub%2fx.js", 404);
    expect_refused(st, "/console/", 404);
    expect_refused(st, "/console", 404);
    expect_refused(st, "/index.html", 404);
    expect_refused(st, "/console/big.js", 500);

    SECTION("no inline script or style, and no HTML parsing of data in the console's code");
    DIR *d = opendir(HOOKLINE_SOURCE_CONSOLE_DIR);
    CHECK_FATAL(d != NULL);
    struct dirent *de;
    static const char *const html_sinks[] = { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                                              "eval(", "new Function", "setAttribute('style'", ".style.", NULL };
    static const char *const inline_html[] = { "<script>", "<style", " style=", " onclick=", " onload=",
                                               " onerror=", "javascript:", NULL };
    while ((de = readdir(d)) != NULL) {
        const char *dot = strrchr(de->d_name, '.');
        bool js = dot && strcmp(dot, ".js") == 0, html = dot && strcmp(dot, ".html") == 0;
        if (!js && !html)
            continue;
        snprintf(p, sizeof(p), "%s/%s", HOOKLINE_SOURCE_CONSOLE_DIR, de->d_name);
        size_t len;
        char *text = file_read(p, &len);
        CHECK(text != NULL);
        for (const char *const *s = js ? html_sinks : inline_html; text && *s; s++) {
            check_count++;
            if (strstr(text, *s) != NULL) {
                check_failures++;
                fprintf(stderr, "CHECK failed: console/%s contains \"%s\"\n", de->d_name, *s);
            }
        }
        free(text);
    }
    closedir(d);
}

/* ---- the browser ------------------------------------------------------------ */

/* Whether 'prog' is an executable on PATH. */
static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
        if (n > 0 && access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* What the browser test lacks ("" if nothing), into 'out'. */
static void browser_missing(char *out, size_t cap)
{
    const char *chromium = getenv("HOOKLINE_CHROMIUM");
    if (chromium == NULL || *chromium == '\0')
        chromium = "/usr/bin/chromium";
    out[0] = '\0';
    if (access(chromium, X_OK) != 0)
        snprintf(out + strlen(out), cap - strlen(out), "%s (apt-get install chromium) ", chromium);
    if (!on_path("node"))
        snprintf(out + strlen(out), cap - strlen(out), "node (apt-get install nodejs npm) ");
    if (access(NODE_MODULE, R_OK) != 0)
        snprintf(out + strlen(out), cap - strlen(out), "tests/console/node_modules (cd tests/console && npm ci) ");
}

/* Run the node script 'script'; returns its exit status, or -1 if killed on timeout. */
static int browser_run(struct hx_stack *st, const char *script, const char *key, const char *receiver,
                       const char *artifacts)
{
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 8, sizeof(char *));
    CHECK_FATAL(envp != NULL);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "HOOKLINE_CONSOLE_", 17) != 0 && strncmp(environ[i], "HOOKLINE_RECEIVER_URL=", 22) != 0 &&
            strncmp(environ[i], "HOOKLINE_ADMIN_KEY=", 19) != 0)
            envp[k++] = environ[i];
    char *vars[5];
    CHECK_FATAL(asprintf(&vars[0], "HOOKLINE_CONSOLE_URL=%s", hx_api_url(st)) > 0);
    CHECK_FATAL(asprintf(&vars[1], "HOOKLINE_CONSOLE_KEY=%s", key) > 0);
    CHECK_FATAL(asprintf(&vars[2], "HOOKLINE_RECEIVER_URL=%s", receiver) > 0);
    CHECK_FATAL(asprintf(&vars[3], "HOOKLINE_CONSOLE_ARTIFACTS=%s", artifacts) > 0);
    CHECK_FATAL(asprintf(&vars[4], "HOOKLINE_ADMIN_KEY=%s", hx_admin_key(st)) > 0);
    for (int i = 0; i < 5; i++)
        envp[k++] = vars[i];
    envp[k] = NULL;
    char *argv[] = { "node", (char *)script, NULL };

    fflush(NULL);
    pid_t pid = fork();
    CHECK_FATAL(pid >= 0);
    if (pid == 0) {
        /* its own process group, so a timeout kill takes chromium along */
        setpgid(0, 0);
        execvpe("node", argv, envp);
        _exit(127);
    }
    setpgid(pid, pid);
    int wstatus = 0, rc;
    if (HX_WAIT(waitpid(pid, &wstatus, WNOHANG) == pid, BROWSER_TIMEOUT_MS)) {
        rc = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    } else {
        fprintf(stderr, "console.test.mjs still running after %ld s: killed\n", BROWSER_TIMEOUT_MS / 1000);
        kill(-pid, SIGKILL);
        waitpid(pid, &wstatus, 0);
        rc = -1;
    }
    for (int i = 0; i < 5; i++)
        free(vars[i]);
    free(envp);
    return rc;
}

/* What console.test.mjs typed into the form as credentials: the second
 * endpoint's Basic ones (base64 of "audit-bot:console-pass-7Qx2"), then a
 * Bearer token for the first endpoint in the edit form. */
#define CONSOLE_AUDIT_BASIC "Basic YXVkaXQtYm90OmNvbnNvbGUtcGFzcy03UXgy"
#define CONSOLE_CRM_BEARER "Bearer crm-token-Zk93.abc"

static bool str_is(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The test events the browser sent, as the receiver got them, into c[]:
 * the first at /crm (with its header, no credentials) and at /audit (no
 * header, its Basic credentials), then the one sent after the edit at
 * /crm (the new Bearer token) and /audit (the kept Basic credentials).
 * Returns whether each came at least once. */
static bool receiver_tally(struct hx_receiver *rcv, int c[4])
{
    memset(c, 0, 4 * sizeof(c[0]));
    size_t n = hx_receiver_count(rcv, NULL);
    for (size_t i = 0; i < n; i++) {
        struct hx_received *rec = hx_receiver_get(rcv, i);
        if (rec == NULL)
            continue;
        json_t *body = json_loadb(rec->body, rec->len, 0, NULL);
        const char *type = json_string_value(json_object_get(body, "type"));
        const char *hello = json_string_value(json_object_get(json_object_get(body, "data"), "hello"));
        const char *team = json_string_value(json_object_get(rec->headers, "x-team"));
        const char *authz = json_string_value(json_object_get(rec->headers, "authorization"));
        bool signed_ = json_object_get(rec->headers, "webhook-signature") != NULL;
        bool test = type && strcmp(type, "webhook.test") == 0 && signed_;
        bool first = test && str_is(hello, "console"), edited = test && str_is(hello, "edited");
        bool crm = strcmp(rec->path, "/crm") == 0 && str_is(team, "ops");
        bool audit = strcmp(rec->path, "/audit") == 0 && team == NULL && str_is(authz, CONSOLE_AUDIT_BASIC);
        c[0] += first && crm && authz == NULL;
        c[1] += first && audit;
        c[2] += edited && crm && str_is(authz, CONSOLE_CRM_BEARER);
        c[3] += edited && audit;
        json_decref(body);
        hx_received_free(rec);
    }
    return c[0] >= 1 && c[1] >= 1 && c[2] >= 1 && c[3] >= 1;
}

/* The test event the browser sent reached both endpoints, the header only
 * the one that has it, the credentials only the one that has them; the
 * test event sent after the credentials were edited carried the new token
 * and the kept password. */
static void check_receiver(struct hx_receiver *rcv)
{
    SECTION("the receiver got the browser's test events at both endpoints, with the header and credentials where set");
    CHECK(hx_receiver_count(rcv, "/crm") >= 1);
    CHECK(hx_receiver_count(rcv, "/audit") >= 1);
    int c[4];
    CHECK(HX_WAIT(receiver_tally(rcv, c), 30000));
    printf("first test event: /crm %d, /audit %d; after the edit: /crm %d, /audit %d\n", c[0], c[1], c[2], c[3]);
}

/* The recover the browser ran delivered the failed test event at /flaky
 * once more: two requests, one webhook-id, a 500 and then a 200. */
static void check_recovered(struct hx_receiver *rcv)
{
    SECTION("the receiver got the recovered delivery once more, with the same webhook-id");
    CHECK_EQ_INT(hx_receiver_count(rcv, "/flaky"), 2);
    const char *ids[2] = { NULL, NULL };
    int status[2] = { 0, 0 }, k = 0;
    struct hx_received *recs[2] = { NULL, NULL };
    size_t n = hx_receiver_count(rcv, NULL);
    for (size_t i = 0; i < n && k < 2; i++) {
        struct hx_received *rec = hx_receiver_get(rcv, i);
        if (rec != NULL && strcmp(rec->path, "/flaky") == 0) {
            recs[k] = rec;
            ids[k] = json_string_value(json_object_get(rec->headers, "webhook-id"));
            status[k++] = rec->status;
        } else {
            hx_received_free(rec);
        }
    }
    CHECK(k == 2 && ids[0] && ids[1] && strcmp(ids[0], ids[1]) == 0);
    CHECK_EQ_INT(status[0], 500);
    CHECK_EQ_INT(status[1], 200);
    for (int i = 0; i < k; i++)
        hx_received_free(recs[i]);
}

int main(void)
{
    char tmpl[] = "/tmp/hookline-console-XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK_FATAL(dir != NULL);
    char p[PATH_MAX], envdir[PATH_MAX + 32];
    console_copy(dir);
    /* what the api must refuse, or serve exactly, beside the real files */
    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    file_write(p, "not served", 10);
    snprintf(p, sizeof(p), "%s/.hidden.js", dir);
    file_write(p, "//", 2);
    snprintf(p, sizeof(p), "%s/tiny.png", dir);
    file_write(p, "\x89PNG\r\n\x1a\n", 8);
    snprintf(p, sizeof(p), "%s/tiny.ico", dir);
    file_write(p, "\0\0\1\0", 4);
    char *big = malloc(FILE_MAX + 1);
    CHECK_FATAL(big != NULL);
    memset(big, '/', FILE_MAX + 1);
    snprintf(p, sizeof(p), "%s/exact.js", dir);
    file_write(p, big, FILE_MAX);
    snprintf(p, sizeof(p), "%s/big.js", dir);
    file_write(p, big, FILE_MAX + 1);
    free(big);
    snprintf(p, sizeof(p), "%s/link.js", dir);
    CHECK_FATAL(symlink("/etc/hostname", p) == 0);
    snprintf(p, sizeof(p), "%s/sub", dir);
    CHECK_FATAL(mkdir(p, 0755) == 0);
    snprintf(p, sizeof(p), "%s/sub/x.js", dir);
    file_write(p, "//", 2);

    char missing[512];
    browser_missing(missing, sizeof(missing));
    const char *require = getenv("HOOKLINE_REQUIRE_BROWSER");

    snprintf(envdir, sizeof(envdir), "HOOKLINE_CONSOLE_DIR=%s", dir);
    struct hx_receiver *rcv = hx_receiver_start(NULL);
    /* a dispatcher only for the browser's test event; no metrics port: the
     * harness then starts it without waiting for a /healthz */
    struct hx_stack_opts opts = { .dispatchers = missing[0] ? 0 : 1,
                                  .env = { envdir, "HOOKLINE_METRICS_PORT=0",
                                           "HOOKLINE_PORTAL_FRAME_ANCESTORS=http://localhost:*", NULL } };
    struct hx_stack *st = hx_stack_start(&opts);

    test_serving(st, dir);

    if (missing[0] != '\0') {
        if (require && *require) {
            fprintf(stderr, "CHECK failed: the browser test cannot run (HOOKLINE_REQUIRE_BROWSER is set); missing: %s\n",
                    missing);
            check_count++;
            check_failures++;
        } else {
            printf("SKIPPED: the browser part of test_console; missing: %s\n"
                   "         (set HOOKLINE_REQUIRE_BROWSER=1 to make this a failure)\n", missing);
        }
    } else {
        char key[128], artifacts[PATH_MAX];
        CHECK_FATAL(hx_tenant_new(st, "console", "webhooks:read,webhooks:write,events:write", key, sizeof(key)) == 0);
        const char *bindir = getenv("HOOKLINE_BIN_DIR");
        snprintf(artifacts, sizeof(artifacts), "%s/tests/artifacts/console", bindir && *bindir ? bindir : ".");
        SECTION("the console in Chromium (tests/console/console.test.mjs); screenshots in %s", artifacts);
        /* the endpoint the browser sees disabled by hookline, and enables again */
        hx_receiver_respond(rcv, "/gone", 410, 1, NULL);
        /* the endpoint whose failed delivery the browser recovers */
        hx_receiver_respond(rcv, "/flaky", 500, 1, NULL);
        int rc = browser_run(st, NODE_SCRIPT, key, hx_receiver_url(rcv), artifacts);
        CHECK_EQ_INT(rc, 0);
        check_receiver(rcv);
        check_recovered(rcv);
        SECTION("portal links framed by another origin in Chromium (tests/console/portal.test.mjs)");
        CHECK_EQ_INT(browser_run(st, PORTAL_SCRIPT, key, hx_receiver_url(rcv), artifacts), 0);
        SECTION("poll endpoints in Chromium (tests/console/poll.test.mjs)");
        CHECK_EQ_INT(browser_run(st, POLL_SCRIPT, key, hx_receiver_url(rcv), artifacts), 0);
        SECTION("delivery health and one delivery opened, at 390 px (tests/console/health.test.mjs)");
        CHECK_EQ_INT(browser_run(st, HEALTH_SCRIPT, key, hx_receiver_url(rcv), artifacts), 0);
        SECTION("ordered webhooks in Chromium, a held head skipped (tests/console/ordered.test.mjs)");
        /* the ordered webhook's endpoint fails: its head is held */
        hx_receiver_respond(rcv, "/ordered", 500, 100000, NULL);
        CHECK_EQ_INT(browser_run(st, ORDERED_SCRIPT, key, hx_receiver_url(rcv), artifacts), 0);
    }

    CHECK_EQ_INT(hx_stack_stop(st), 0);
    hx_receiver_stop(rcv);
    dir_remove(dir);
    return check_exit();
}
