/* wait_gate.c: a counting semaphore with a bounded wait (wait_gate.h). */
#include "wait_gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "hl_cond.h"

struct wait_gate {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int places;
    int used;
};

struct wait_gate *wait_gate_new(int places)
{
    struct wait_gate *gate = calloc(1, sizeof(*gate));
    if (gate == NULL)
        return NULL;
    hl_cond_init_monotonic(&gate->freed);
    pthread_mutex_init(&gate->lock, NULL);
    gate->places = places < 1 ? 1 : places;
    return gate;
}

void wait_gate_free(struct wait_gate *gate)
{
    if (gate == NULL)
        return;
    pthread_cond_destroy(&gate->freed);
    pthread_mutex_destroy(&gate->lock);
    free(gate);
}

bool wait_gate_enter(struct wait_gate *gate, long wait_ms)
{
    struct timespec until = hl_cond_deadline(wait_ms);
    pthread_mutex_lock(&gate->lock);
    int rc = 0;
    while (gate->used >= gate->places && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&gate->freed, &gate->lock, &until);
    bool entered = gate->used < gate->places;
    if (entered)
        gate->used++;
    pthread_mutex_unlock(&gate->lock);
    return entered;
}

void wait_gate_take(struct wait_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    while (gate->used >= gate->places)
        pthread_cond_wait(&gate->freed, &gate->lock);
    gate->used++;
    pthread_mutex_unlock(&gate->lock);
}

void wait_gate_leave(struct wait_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    gate->used--;
    pthread_cond_signal(&gate->freed);
    pthread_mutex_unlock(&gate->lock);
}

int wait_gate_used(struct wait_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    int used = gate->used;
    pthread_mutex_unlock(&gate->lock);
    return used;
}
