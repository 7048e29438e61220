/* test_ops_deploy.c: the deployment files agree with the code and each other.
 *
 * - README's configuration table is `hookline-api --print-config`, row for
 *   row, and is the only one.
 * - deploy/Dockerfile: two stages on debian:12; the build stage installs
 *   with deploy/install-deps.sh and builds with the same CMake commands and
 *   build type as CI (tests/run.sh, run by .ci/run) and the local runner;
 *   the run stage installs with `install-deps.sh --runtime`, takes the two
 *   service binaries CMake installs, and runs as a user that is not root.
 * - docker-compose.yml: `docker compose config` (or docker-compose) accepts
 *   it; PostgreSQL 15 on a named volume, Kafka in KRaft mode with both
 *   topics created by a one-shot service, api and dispatcher built from
 *   deploy/Dockerfile, a health check on every service, start order by
 *   health, a dispatcher that scales (no fixed name, no host port), and
 *   every HOOKLINE_* setting passed through by its table name; it refuses
 *   to start without HOOKLINE_SECRETS_KEY (`${...:?...}`), which has no
 *   default, and README has the "Secrets at rest" section and tells how to
 *   make one; the local runner makes its own for a throwaway database.
 * Without a compose tool the file is still parsed (python3-yaml) and
 * checked; without either that part is skipped with a message, unless
 * HOOKLINE_REQUIRE_COMPOSE is set: then it fails.
 */
#include <regex.h>
#include <sys/stat.h>

#include "ops_e2e.h"

static json_t *table;       /* HOOKLINE_* name -> its --print-config line */

static bool has(const char *text, const char *needle)
{
    return text != NULL && strstr(text, needle) != NULL;
}

/* Every HOOKLINE_[A-Z0-9_]+ in 'text' is a name of the table. */
static void check_names_known(const char *what, const char *text)
{
    regex_t re;
    regmatch_t m[1];
    CHECK_FATAL(regcomp(&re, "HOOKLINE_[A-Z0-9_]+", REG_EXTENDED) == 0);
    int n = 0;
    for (const char *p = text; regexec(&re, p, 1, m, 0) == 0; p += m[0].rm_eo) {
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(m[0].rm_eo - m[0].rm_so), p + m[0].rm_so);
        if (json_object_get(table, name) == NULL)
            fprintf(stderr, "%s names %s, which is not in the configuration table\n", what, name);
        CHECK(json_object_get(table, name) != NULL);
        n++;
    }
    regfree(&re);
    CHECK(n > 0);
}

/* The value of 'flag' ("-DCMAKE_BUILD_TYPE=") in 'text', into 'out'. */
static void flag_value(const char *text, const char *flag, char *out, size_t cap)
{
    const char *p = text ? strstr(text, flag) : NULL;
    out[0] = '\0';
    if (p)
        snprintf(out, cap, "%.*s", (int)strcspn(p + strlen(flag), " \t\n\\\"'"), p + strlen(flag));
}

static void check_config_table(const char *dir)
{
    OPS_SECTION("README's configuration table is hookline-api --print-config, and the only one");
    struct ops_run run;
    const char *const args[] = { "--print-config", NULL };
    ops_run_prog(dir, "hookline-api", args, NULL, 10000, &run);
    CHECK_EQ_INT(run.status, 0);
    table = json_object();
    char *readme = ops_source_file("README.md");
    CHECK_FATAL(readme != NULL);
    int rows = 0;
    for (char *line = strtok(run.out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128];
        if (sscanf(line, "| `%127[A-Z0-9_]` |", name) != 1)
            continue;
        json_object_set_new(table, name, json_string(line));
        if (!has(readme, line))
            fprintf(stderr, "README lacks the row: %s\n", line);
        CHECK(has(readme, line));
        rows++;
    }
    CHECK(rows >= 20);
    CHECK(json_object_get(table, "HOOKLINE_METRICS_PORT") && json_object_get(table, "HOOKLINE_RETENTION"));
    int readme_rows = 0;
    for (const char *p = readme; (p = strstr(p, "\n| `HOOKLINE_")) != NULL; p++)
        readme_rows++;
    CHECK_EQ_INT(readme_rows, rows);
    CHECK(has(readme, "\n## Deploying\n") && has(readme, "\n## Observability\n"));
    CHECK(has(readme, "docker compose up --scale dispatcher=3"));
    free(readme);
}

static void check_dockerfile(void)
{
    OPS_SECTION("deploy/Dockerfile builds and installs as CI does and runs as a user");
    char *df = ops_source_file("deploy/Dockerfile");
    char *ci = ops_source_file("tests/run.sh");
    char *ci_entry = ops_source_file(".ci/run");
    char *local = ops_source_file("deploy/run-local.sh");
    char *deps = ops_source_file("deploy/install-deps.sh");
    char *cmake = ops_source_file("CMakeLists.txt");
    char *readme = ops_source_file("README.md");
    CHECK_FATAL(df && ci && ci_entry && local && deps && cmake && readme);

    /* two stages, both Debian 12; the second is the image */
    const char *build_stage = strstr(df, "\nFROM debian:12 AS build\n");
    const char *run_stage = build_stage ? strstr(build_stage + 1, "\nFROM debian:12\n") : NULL;
    CHECK(build_stage != NULL && run_stage != NULL);
    int froms = 0;
    for (const char *p = df; (p = strstr(p, "\nFROM ")) != NULL; p++)
        froms++;
    CHECK_EQ_INT(froms, 2);
    if (!build_stage || !run_stage)
        goto out;
    size_t build_len = (size_t)(run_stage - build_stage);
    char *build = strndup(build_stage, build_len);
    const char *run = run_stage;

    /* the same install script everywhere, in the modes it has */
    CHECK(has(deps, "\n--runtime)") && has(deps, "\n--build)"));
    CHECK(has(build, "RUN sh deploy/install-deps.sh --build\n"));
    CHECK(has(run, "install-deps.sh --runtime"));
    CHECK(has(ci, "sh deploy/install-deps.sh"));
    CHECK(has(local, "sh deploy/install-deps.sh"));
    CHECK(has(ci_entry, "tests/run.sh"));
    CHECK(has(readme, "deploy/install-deps.sh"));

    /* the same CMake steps and build type as CI and the local runner */
    char bt_docker[64], bt_ci[64], bt_local[64];
    flag_value(build, "-DCMAKE_BUILD_TYPE=", bt_docker, sizeof(bt_docker));
    flag_value(ci, "-DCMAKE_BUILD_TYPE=", bt_ci, sizeof(bt_ci));
    flag_value(local, "-DCMAKE_BUILD_TYPE=", bt_local, sizeof(bt_local));
    CHECK(bt_docker[0] != '\0');
    CHECK_EQ_STR(bt_docker, bt_ci);
    CHECK_EQ_STR(bt_docker, bt_local);
    CHECK(has(build, "cmake -S . -B build ") && has(ci, "cmake -S "));
    CHECK(has(build, "cmake --build build") && has(ci, "cmake --build "));
    CHECK(has(build, "cmake --install build"));

    /* the binaries CMake installs, and what they read at run time */
    CHECK(has(cmake, "add_executable(hookline-api ") && has(cmake, "add_executable(hookline-dispatcher "));
    CHECK(has(cmake, "install(TARGETS hookline-api RUNTIME DESTINATION bin)"));
    CHECK(has(cmake, "install(TARGETS hookline-dispatcher RUNTIME DESTINATION bin)"));
    CHECK(has(cmake, "DESTINATION share/hookline/sql") && has(cmake, "DESTINATION share/hookline)"));
    CHECK(has(run, "COPY --from=build /usr/local/bin/hookline-api /usr/local/bin/hookline-dispatcher /usr/local/bin/"));
    CHECK(has(run, "COPY --from=build /usr/local/share/hookline /usr/local/share/hookline"));
    CHECK(has(build, "-DCMAKE_INSTALL_PREFIX=/usr/local"));
    CHECK(has(run, "CMD [\"hookline-api\"]"));

    /* not root */
    const char *user = strstr(run, "\nUSER ");
    CHECK(user != NULL);
    if (user) {
        char who[64] = "";
        sscanf(user + 6, "%63[^:\n]", who);
        CHECK(who[0] && strcmp(who, "root") != 0 && strcmp(who, "0") != 0);
        CHECK(has(run, "useradd") && has(run, who));
    }
    check_names_known("deploy/Dockerfile", df);
    free(build);
out:
    free(df);
    free(ci);
    free(ci_entry);
    free(local);
    free(deps);
    free(cmake);
    free(readme);
}

/* `cmake --install` of this build puts every file where the run stage of
 * deploy/Dockerfile copies it from. */
static void check_install_layout(const char *dir)
{
    OPS_SECTION("cmake --install lays out what the Dockerfile's run stage copies");
    const char *bindir = getenv("HOOKLINE_BIN_DIR");
    char prefix[4096], opt[4200];
    snprintf(prefix, sizeof(prefix), "%s/install", dir);
    snprintf(opt, sizeof(opt), "--prefix=%s", prefix);
    const char *const args[] = { "cmake", "--install", bindir && *bindir ? bindir : ".", opt, NULL };
    struct ops_run run;
    ops_run_path(dir, "cmake-install", "/usr/bin/env", args, NULL, 60000, &run);
    if (run.status != 0)
        fprintf(stderr, "cmake --install: %s%s\n", run.out, run.err);
    CHECK_EQ_INT(run.status, 0);
    static const char *const files[] = {
        "bin/hookline-api", "bin/hookline-dispatcher", "share/hookline/sql/001_init.sql",
        "share/hookline/sql/003_delivery_log_indexes.sql", "share/hookline/openapi.json",
        "share/hookline/console/index.html",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", prefix, files[i]);
        if (access(path, R_OK) != 0)
            fprintf(stderr, "cmake --install did not install %s\n", files[i]);
        CHECK(access(path, R_OK) == 0);
    }
}

/* ---- docker-compose.yml ----------------------------------------------------------- */

static const json_t *svc(const json_t *compose, const char *name)
{
    return json_object_get(json_object_get(compose, "services"), name);
}

static const char *dep_condition(const json_t *s, const char *on)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(s, "depends_on"), on), "condition"));
}

/* 'v' as text: a string as it is, an array joined by spaces (caller frees). */
static char *as_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    char *out = calloc(1, 1);
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        char *grown = NULL;
        const char *word = json_string_value(e) ? json_string_value(e) : "";
        CHECK_FATAL(asprintf(&grown, "%s%s%s", out, i ? " " : "", word) > 0);
        free(out);
        out = grown;
    }
    return out;
}

/* A mount of named volume 'vol' at 'target' in service 's' (short or long syntax). */
static bool has_volume(const json_t *s, const char *vol, const char *target)
{
    size_t i;
    const json_t *m;
    char want[256];
    snprintf(want, sizeof(want), "%s:%s", vol, target);
    json_array_foreach(json_object_get(s, "volumes"), i, m) {
        if (json_is_string(m) && strncmp(json_string_value(m), want, strlen(want)) == 0)
            return true;
        if (json_is_object(m) && ops_str(m, "source") && !strcmp(ops_str(m, "source"), vol) && ops_str(m, "target") &&
            !strcmp(ops_str(m, "target"), target))
            return true;
    }
    return false;
}

static void check_compose_structure(const json_t *c)
{
    OPS_SECTION("docker-compose.yml: the services, their health checks and start order");
    const char *names[] = { "postgres", "kafka", "kafka-init", "api", "dispatcher" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const json_t *s = svc(c, names[i]);
        if (s == NULL)
            fprintf(stderr, "docker-compose.yml: no service %s\n", names[i]);
        CHECK(s != NULL);
        const json_t *test = json_object_get(json_object_get(s, "healthcheck"), "test");
        if (test == NULL)
            fprintf(stderr, "docker-compose.yml: service %s has no health check\n", names[i]);
        CHECK(test != NULL && !json_object_get(json_object_get(s, "healthcheck"), "disable"));
    }
    const json_t *pg = svc(c, "postgres"), *kafka = svc(c, "kafka"), *init = svc(c, "kafka-init");
    const json_t *api = svc(c, "api"), *dsp = svc(c, "dispatcher");
    if (!pg || !kafka || !init || !api || !dsp)
        return;

    CHECK(strncmp(ops_str(pg, "image") ? ops_str(pg, "image") : "", "postgres:15", 11) == 0);
    CHECK(has_volume(pg, "pgdata", "/var/lib/postgresql/data"));
    CHECK(json_object_get(json_object_get(c, "volumes"), "pgdata") != NULL);

    CHECK(strncmp(ops_str(kafka, "image") ? ops_str(kafka, "image") : "", "apache/kafka:", 13) == 0);
    const json_t *kenv = json_object_get(kafka, "environment");
    const char *roles = ops_str(kenv, "KAFKA_PROCESS_ROLES");
    CHECK(has(roles, "broker") && has(roles, "controller"));      /* KRaft: no ZooKeeper */
    CHECK(json_object_get(kenv, "KAFKA_ZOOKEEPER_CONNECT") == NULL);
    CHECK(json_object_get(kenv, "KAFKA_CONTROLLER_QUORUM_VOTERS") != NULL);

    char *init_cmd = as_text(json_object_get(init, "command"));
    char *init_all = NULL;
    char *entry = as_text(json_object_get(init, "entrypoint"));
    CHECK_FATAL(asprintf(&init_all, "%s %s", entry, init_cmd) > 0);
    CHECK(has(init_all, "kafka-topics.sh"));
    CHECK(has(init_all, "--topic hookline.events --partitions 12"));
    CHECK(has(init_all, "--topic hookline.webhooks --partitions 3"));
    free(entry);
    free(init_cmd);
    free(init_all);
    CHECK_EQ_STR(dep_condition(init, "kafka"), "service_healthy");

    for (int i = 0; i < 2; i++) {
        const json_t *s = i ? dsp : api;
        const json_t *build = json_object_get(s, "build");
        CHECK_EQ_STR(ops_str(build, "dockerfile"), "deploy/Dockerfile");
        char *cmd = as_text(json_object_get(s, "command"));
        CHECK_EQ_STR(cmd, i ? "hookline-dispatcher" : "hookline-api");
        free(cmd);
        char *hc = as_text(json_object_get(json_object_get(s, "healthcheck"), "test"));
        CHECK(has(hc, "/healthz"));
        CHECK(has(hc, i ? "HOOKLINE_METRICS_PORT" : "HOOKLINE_HTTP_PORT"));
        free(hc);
        /* every setting of the table reaches both services by its own name */
        const char *name;
        json_t *line;
        json_object_foreach(table, name, line) {
            if (json_object_get(json_object_get(s, "environment"), name) == NULL)
                fprintf(stderr, "docker-compose.yml: %s does not pass %s\n", i ? "dispatcher" : "api", name);
            CHECK(json_object_get(json_object_get(s, "environment"), name) != NULL);
        }
        CHECK_EQ_STR(dep_condition(s, "kafka-init"), "service_completed_successfully");
    }
    CHECK_EQ_STR(dep_condition(api, "postgres"), "service_healthy");
    CHECK_EQ_STR(dep_condition(api, "kafka"), "service_healthy");
    CHECK_EQ_STR(dep_condition(dsp, "api"), "service_healthy");

    OPS_SECTION("docker-compose.yml: the dispatcher scales (no fixed name, no host port)");
    CHECK(json_object_get(dsp, "container_name") == NULL);
    CHECK(json_object_get(dsp, "ports") == NULL);
    CHECK(json_object_get(api, "container_name") == NULL);
}

/* docker-compose.yml as JSON: through `config` of whichever compose is
 * installed (which also validates it), else parsed as it is. NULL (with
 * the reason printed) when neither compose nor a YAML parser is there. */
static json_t *compose_load(const char *dir, bool *validated)
{
    char file[4096], yaml_path[4096], json_path[4096];
    snprintf(file, sizeof(file), "%s/docker-compose.yml", OPS_SOURCE_ROOT);
    struct ops_run run;
    *validated = false;
    snprintf(yaml_path, sizeof(yaml_path), "%s", file);

    const char *const v2_probe[] = { "docker", "compose", "version", NULL };
    const char *const v1_probe[] = { "docker-compose", "version", NULL };
    const char *const v2[] = { "docker", "compose", "-f", file, "config", NULL };
    const char *const v1[] = { "docker-compose", "-f", file, "config", NULL };
    const char *const *config = NULL;
    ops_run_path(dir, "compose-version", "/usr/bin/env", v2_probe, NULL, 20000, &run);
    if (run.status == 0) {
        config = v2;
    } else {
        ops_run_path(dir, "compose-version", "/usr/bin/env", v1_probe, NULL, 20000, &run);
        if (run.status == 0)
            config = v1;
    }
    if (config != NULL) {
        OPS_SECTION("`%s config` refuses docker-compose.yml without HOOKLINE_SECRETS_KEY, naming it",
                    config == v2 ? "docker compose" : "docker-compose");
        ops_run_path(dir, "compose-config-nokey", "/usr/bin/env", config, NULL, 60000, &run);
        CHECK(run.status != 0 && has(run.err, "set HOOKLINE_SECRETS_KEY"));
        OPS_SECTION("`%s config` accepts docker-compose.yml", config == v2 ? "docker compose" : "docker-compose");
        /* a syntactically fine ring; compose checks only that it is set */
        const char *const key_env[] = { "HOOKLINE_SECRETS_KEY=ci:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", NULL };
        ops_run_path(dir, "compose-config", "/usr/bin/env", config, key_env, 60000, &run);
        if (run.status != 0)
            fprintf(stderr, "compose config (exit %d): %s\n", run.status, run.err);
        CHECK_EQ_INT(run.status, 0);
        *validated = run.status == 0;
        snprintf(yaml_path, sizeof(yaml_path), "%s/compose-config.run.out", dir);
    } else {
        printf("   no compose (docker compose or docker-compose): checking the file as it is\n");
    }
    snprintf(json_path, sizeof(json_path), "%s/compose.json", dir);
    const char *const py[] = { "python3", "-c",
        "import json, sys, yaml\n"
        "json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], 'w'))\n",
        yaml_path, json_path, NULL };
    ops_run_path(dir, "yaml-to-json", "/usr/bin/env", py, NULL, 20000, &run);
    if (run.status != 0) {
        printf("   no YAML parser (apt-get install python3-yaml): %s\n", run.err);
        return NULL;
    }
    json_error_t jerr;
    json_t *c = json_load_file(json_path, 0, &jerr);
    CHECK(c != NULL);
    return c;
}

static void check_compose(const char *dir)
{
    char *text = ops_source_file("docker-compose.yml");
    CHECK_FATAL(text != NULL);
    check_names_known("docker-compose.yml", text);
    CHECK(!has(text, "zookeeper") && !has(text, "ZOOKEEPER"));
    OPS_SECTION("HOOKLINE_SECRETS_KEY: compose requires it, README says how to make one, the local runner makes its own");
    CHECK(has(text, "HOOKLINE_SECRETS_KEY: ${HOOKLINE_SECRETS_KEY:?"));
    free(text);
    char *readme = ops_source_file("README.md"), *local = ops_source_file("deploy/run-local.sh");
    CHECK_FATAL(readme != NULL && local != NULL);
    CHECK(has(readme, "\n### Secrets at rest\n"));
    CHECK(has(readme, "HOOKLINE_SECRETS_KEY=k1:$(head -c 32 /dev/urandom | base64)"));
    CHECK(has(readme, "hookline-api rotate-secrets-key"));
    CHECK(has(local, "HOOKLINE_SECRETS_KEY=\"local:$(head -c 32 /dev/urandom | base64)\""));
    free(readme);
    free(local);

    bool validated = false;
    json_t *c = compose_load(dir, &validated);
    if (getenv("HOOKLINE_REQUIRE_COMPOSE")) {
        if (!validated)
            fprintf(stderr, "HOOKLINE_REQUIRE_COMPOSE is set but no compose validated docker-compose.yml "
                            "(apt-get install docker-compose)\n");
        CHECK(validated);
    }
    if (c == NULL) {
        if (getenv("HOOKLINE_REQUIRE_COMPOSE"))
            CHECK(!"docker-compose.yml could be parsed");
        else
            printf("   skipped: the structure of docker-compose.yml\n");
        return;
    }
    check_compose_structure(c);
    json_decref(c);
}

int main(void)
{
    /* no stack: these checks read files and run programs; artifacts go
     * where the harness would put them */
    char dir[4096];
    const char *art = getenv("HOOKLINE_TEST_ARTIFACTS");
    const char *bindir = getenv("HOOKLINE_BIN_DIR");
    if (art && *art)
        snprintf(dir, sizeof(dir), "%s", art);
    else
        snprintf(dir, sizeof(dir), "%s/tests/artifacts/test_ops_deploy", bindir && *bindir ? bindir : ".");
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    }
    mkdir(dir, 0755);
    CHECK_FATAL(access(dir, W_OK) == 0);

    check_config_table(dir);
    check_dockerfile();
    check_install_layout(dir);
    check_compose(dir);
    json_decref(table);
    return check_exit();
}
