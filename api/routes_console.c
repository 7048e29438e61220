/* routes_console.c: the web console's static files.
 *
 *   GET /                the console (index.html)
 *   GET /console/:file   one file of the console directory: a plain name
 *                        with a known extension, no path, at most 1 MiB
 *   GET /portal          the console again, for a portal session's link
 *                        (routes_portal.c): the only page that the origins
 *                        of HOOKLINE_PORTAL_FRAME_ANCESTORS may frame
 *
 * The directory is $HOOKLINE_CONSOLE_DIR, else the installed
 * <prefix>/share/hookline/console if it exists, else the source tree's
 * console/. Files are read per request (they are few and small). Every
 * answer carries a strict Content-Security-Policy: the console has no
 * inline script or style, and talks only to this origin's REST API.
 */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#ifndef HOOKLINE_CONSOLE_DIR_INSTALLED
#define HOOKLINE_CONSOLE_DIR_INSTALLED "/usr/local/share/hookline/console"
#endif
#ifndef HOOKLINE_SOURCE_CONSOLE_DIR
#define HOOKLINE_SOURCE_CONSOLE_DIR "console"
#endif

#define CONSOLE_FILE_MAX (1024L * 1024)  /* bigger files are refused, not streamed */
#define CONSOLE_NAME_MAX 100

#define CONSOLE_CSP_HEAD \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "connect-src 'self'; frame-ancestors "
#define CONSOLE_CSP_TAIL "; base-uri 'none'; form-action 'self'"
#define CONSOLE_CSP CONSOLE_CSP_HEAD "'none'" CONSOLE_CSP_TAIL

static const struct {
    const char *ext;
    const char *type;
} console_types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
};

static pthread_once_t console_dir_once = PTHREAD_ONCE_INIT;
static char console_dir[PATH_MAX];

static bool console_is_dir(const char *path)
{
    struct stat sb;
    return path != NULL && *path != '\0' && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Pick the directory once, on the first request, and say which. */
static void console_dir_resolve(void)
{
    const char *dir = getenv("HOOKLINE_CONSOLE_DIR");
    if (dir == NULL || *dir == '\0')
        dir = console_is_dir(HOOKLINE_CONSOLE_DIR_INSTALLED) ? HOOKLINE_CONSOLE_DIR_INSTALLED
                                                             : HOOKLINE_SOURCE_CONSOLE_DIR;
    snprintf(console_dir, sizeof(console_dir), "%s", dir);
    if (console_is_dir(console_dir))
        log_info("web console served from %s", console_dir);
    else
        log_error("web console directory %s does not exist; GET / answers 404", console_dir);
}

/* The Content-Type for 'name', or NULL when its extension is not served. */
static const char *console_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(console_types) / sizeof(console_types[0]); i++)
        if (strcmp(dot, console_types[i].ext) == 0)
            return console_types[i].type;
    return NULL;
}

/* A plain file name: letters, digits, '-', '_' and '.', not starting with
 * '.', so neither "..", a hidden file nor any path can be named. */
static bool console_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > CONSOLE_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* Send file 'name' of the console directory as the reply. Returns 0, or
 * HL_ENOTFOUND (absent, not a regular file, not servable), HL_EIO (over
 * CONSOLE_FILE_MAX, unreadable) or HL_ENOMEM with the reason in call->err. */
static int console_send(struct api_call *call, const char *name, bool portal)
{
    char path[PATH_MAX + CONSOLE_NAME_MAX + 2];
    const char *type = NULL;
    char *buf = NULL;
    int fd = -1, rc;

    const char *ancestors = call->ctx->cfg.portal_frame_ancestors;
    if (portal && ancestors[0]) {
        /* frame-ancestors alone decides; X-Frame-Options cannot name origins */
        char csp[sizeof(CONSOLE_CSP_HEAD CONSOLE_CSP_TAIL) + sizeof(call->ctx->cfg.portal_frame_ancestors)];
        snprintf(csp, sizeof(csp), "%s%s%s", CONSOLE_CSP_HEAD, ancestors, CONSOLE_CSP_TAIL);
        u_map_put(call->resp->map_header, "Content-Security-Policy", csp);
    } else {
        u_map_put(call->resp->map_header, "Content-Security-Policy", CONSOLE_CSP);
        u_map_put(call->resp->map_header, "X-Frame-Options", "DENY");
    }
    u_map_put(call->resp->map_header, "Referrer-Policy", "no-referrer");
    if (!console_name_valid(name) || (type = console_type(name)) == NULL)
        return hl_error_set(&call->err, HL_ENOTFOUND, "Not found.");

    pthread_once(&console_dir_once, console_dir_resolve);
    snprintf(path, sizeof(path), "%s/%s", console_dir, name);
    /* no symlinks: only what is really in the directory is served */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Not found.");
        goto out;
    }
    if (sb.st_size > CONSOLE_FILE_MAX) {
        /* a deployment mistake: server.c logs it and answers 500 */
        rc = hl_error_set(&call->err, HL_EIO, "console file %s is larger than %ld bytes; not served", path,
                          CONSOLE_FILE_MAX);
        goto out;
    }
    size_t len = (size_t)sb.st_size, got = 0;
    buf = malloc(len ? len : 1);
    if (buf == NULL) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = hl_error_set(&call->err, HL_EIO, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
            goto out;
        }
        got += (size_t)n;
    }
    if (ulfius_set_binary_body_response(call->resp, 200, buf, len) != U_OK) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "cannot set the body of %s", path);
        goto out;
    }
    u_map_put(call->resp->map_header, "Content-Type", type);
    /* the dispatcher sends our body as it is when call->reply stays NULL */
    call->status = 200;
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int console_index(struct api_call *call)
{
    return console_send(call, "index.html", false);
}

static int console_portal(struct api_call *call)
{
    return console_send(call, "index.html", true);
}

static int console_file(struct api_call *call)
{
    return console_send(call, api_param(call, "file"), false);
}

const struct api_route routes_console[] = {
    { "GET", "/", SCOPE_NONE, false, console_index },
    { "GET", "/console/:file", SCOPE_NONE, false, console_file },
    { "GET", "/portal", SCOPE_NONE, false, console_portal },
    { NULL, NULL, 0, false, NULL },
};
