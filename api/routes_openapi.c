/* routes_openapi.c: the API's description.
 *
 *   GET /openapi.json   the OpenAPI 3.1 document of every route (api/openapi.json)
 *
 * The file is <prefix>/share/hookline/openapi.json when installed, else the
 * source tree's api/openapi.json (found next to the migrations, as
 * db_sql_dir() finds those). It is read and checked once, on the first
 * request, and served from memory after that.
 */
#include "api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#ifndef HOOKLINE_SQL_DIR
#define HOOKLINE_SQL_DIR "/usr/local/share/hookline/sql"
#endif
#ifndef HOOKLINE_SOURCE_SQL_DIR
#define HOOKLINE_SOURCE_SQL_DIR "sql"
#endif

#define OPENAPI_INSTALLED HOOKLINE_SQL_DIR "/../openapi.json"
#define OPENAPI_SOURCE HOOKLINE_SOURCE_SQL_DIR "/../api/openapi.json"
#define OPENAPI_MAX_BYTES (1024L * 1024)

static pthread_once_t openapi_once = PTHREAD_ONCE_INIT;
static char *openapi_text;      /* NULL if the file is missing or broken */
static size_t openapi_len;

/* Read and check the document once; say which file it came from. */
static void openapi_load(void)
{
    struct stat sb;
    const char *path = stat(OPENAPI_INSTALLED, &sb) == 0 ? OPENAPI_INSTALLED : OPENAPI_SOURCE;
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        log_error("OpenAPI document %s: %s (line %d); GET /openapi.json answers 500", path, jerr.text, jerr.line);
        return;
    }
    FILE *fp = fopen(path, "rb");
    char *buf = malloc(OPENAPI_MAX_BYTES + 1);
    size_t n = fp && buf ? fread(buf, 1, OPENAPI_MAX_BYTES + 1, fp) : 0;
    if (fp)
        fclose(fp);
    if (n == 0 || n > OPENAPI_MAX_BYTES) {
        log_error("OpenAPI document %s: unreadable or larger than %ld bytes", path, OPENAPI_MAX_BYTES);
        free(buf);
    } else {
        openapi_text = buf;
        openapi_len = n;
        log_info("OpenAPI document served from %s", path);
    }
    json_decref(doc);
}

static int openapi_get(struct api_call *call)
{
    pthread_once(&openapi_once, openapi_load);
    if (openapi_text == NULL)
        return hl_error_set(&call->err, HL_EIO, "the OpenAPI document is missing or broken (see the start-up log)");
    if (ulfius_set_binary_body_response(call->resp, 200, openapi_text, openapi_len) != U_OK)
        return hl_error_set(&call->err, HL_ENOMEM, "cannot set the body of /openapi.json");
    u_map_put(call->resp->map_header, "Content-Type", "application/json");
    call->status = 200;     /* no call->reply: the body set here is sent as it is */
    return 0;
}

const struct api_route routes_openapi[] = {
    { "GET", "/openapi.json", SCOPE_NONE, false, openapi_get },
    { NULL, NULL, 0, false, NULL },
};
