/* config.h: process configuration from HOOKLINE_* environment variables.
 *
 * One declarative table in config.c lists every variable with its
 * default and bounds; config_load() reads them all and stops at the first
 * bad one with a one-line reason. The README's configuration reference is
 * generated from the same table (hookline-api --print-config).
 */
#ifndef HL_CONFIG_H
#define HL_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include "hl_error.h"

#define CONFIG_RETRY_STEPS_MAX 32

struct hl_config {
    char database_url[1024];
    char kafka_brokers[512];
    int http_port;
    char admin_key[256];
    bool allow_http;
    bool allow_private_targets;
    char ca_file[512];
    char log_level[16];
    bool tls_check;           /* check endpoint TLS certificate at create */
    int db_pool_size;
    int http_threads;
    long max_body_bytes;      /* request bodies above this answer 413 */
    long event_max_bytes;     /* largest envelope POST /v1/events accepts */
    /* dispatcher */
    int max_in_flight;        /* deliveries in flight in one process */
    int max_in_flight_per_endpoint;
    int max_in_flight_per_tenant;
    int lane_size;            /* deliveries waiting in memory per endpoint */
    long lane_lease_ms;       /* lease on an endpoint's slow lane */
    long delivery_timeout_ms;
    long connect_timeout_ms;
    long retry_schedule_ms[CONFIG_RETRY_STEPS_MAX];
    int retry_steps;
    long disable_after_ms;    /* disable an endpoint failing this long */
    long failing_notice_ms;   /* at most one endpoint.failing per endpoint in this long */
    long resync_interval_ms;
    long kafka_fetch_wait_ms;
    long response_excerpt_bytes;
    int metrics_port;         /* dispatcher's metrics listener; 0 = off */
    /* api */
    long retention_ms;        /* attempts and sent outbox rows kept this long */
    long retention_interval_ms;
    long publish_timeout_ms;  /* longest an HTTP request waits for Kafka's acknowledgement */
    char public_url[512];     /* base of portal links ("https://hooks.example.com"), no trailing '/'; "" = from Host */
    char portal_frame_ancestors[1024];  /* origins that may frame /portal, space-separated; "" = none */
    /* both services */
    char secrets_key[1024];   /* key ring spec (secretbox.h); "" only where no secret is touched */
};

/* Fill 'cfg' from the environment (defaults for unset variables).
 * Returns 0, or HL_EINVAL with a one-line reason naming the variable. */
int config_load(struct hl_config *cfg, struct hl_error *err) HL_MUST_CHECK;

/* The variables both services need but the one-off commands that touch no
 * secret (--migrate, create-tenant) do not: HOOKLINE_SECRETS_KEY. Returns
 * 0, or HL_EINVAL with a one-line reason naming the variable. */
int config_require_service(const struct hl_config *cfg, struct hl_error *err) HL_MUST_CHECK;

/* Parse a duration: an integer followed by ms, s, m, h or d ("90s",
 * "5m"). Returns 0 and sets *ms, or -1. */
int config_parse_duration_ms(const char *s, long *ms);

/* Parse a comma-separated list of durations into 'out' (at most 'cap');
 * sets *n. Returns 0 or -1. */
int config_parse_schedule(const char *s, long *out, int cap, int *n);

/* Print every variable with its default and meaning, one per line. */
void config_print_reference(FILE *out);

#endif
