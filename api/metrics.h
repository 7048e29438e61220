/* metrics.h: the api's Prometheus metrics (GET /metrics).
 *
 * server.c reports every answered request here (route pattern, status,
 * time taken); the /metrics route formats them with the outbox backlog
 * and the retention job's counts. Counters are C11 atomics: any MHD worker
 * thread records, any thread reads, nobody waits.
 */
#ifndef HL_API_METRICS_H
#define HL_API_METRICS_H

#include "api.h"

/* Record one answered request of the route 'method' 'pattern' (static
 * strings, borrowed for the life of the process: the route table's; NULL
 * for a request that matched no route) with HTTP 'status' after
 * 'elapsed_us'. Any thread. */
void api_metrics_observe(const char *method, const char *pattern, long status, long long elapsed_us);

/* GET /metrics */
extern const struct api_route routes_metrics[];

#endif
