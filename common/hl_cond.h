/* hl_cond.h: condition variables timed on the monotonic clock, so a wall
 * clock step never stretches or cuts a bounded wait. */
#ifndef HL_COND_H
#define HL_COND_H

#include <pthread.h>
#include <time.h>

/* Initialise 'c' to time its waits on CLOCK_MONOTONIC. */
static inline void hl_cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
}

/* The CLOCK_MONOTONIC time 'ms' from now, for pthread_cond_timedwait on a
 * condition made by hl_cond_init_monotonic. */
static inline struct timespec hl_cond_deadline(long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

#endif
