/* strmap.h: a hash map from NUL-terminated strings to pointers.
 *
 * Open addressing with linear probing and backward-shift deletion; keys
 * are copied, values are borrowed. Not thread-safe: one owner at a time.
 */
#ifndef HL_STRMAP_H
#define HL_STRMAP_H

#include <stddef.h>

struct strmap;

/* An empty map, or NULL when out of memory. */
struct strmap *strmap_new(void);

/* Free the map, calling 'free_val' (may be NULL) on every value. */
void strmap_free(struct strmap *m, void (*free_val)(void *val));

/* The value stored under 'key', or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* Store 'val' (not NULL) under 'key', replacing any value, which is
 * returned through *old (may be NULL). Returns 0 or -1 (out of memory). */
int strmap_put(struct strmap *m, const char *key, void *val, void **old);

/* Remove 'key'; returns its value, or NULL if absent. */
void *strmap_del(struct strmap *m, const char *key);

size_t strmap_size(const struct strmap *m);

/* Call 'fn' on every entry; 'fn' must not change the map. */
void strmap_foreach(const struct strmap *m, void (*fn)(const char *key, void *val, void *arg), void *arg);

/* Memory the map itself holds (slots and keys), for metrics. */
size_t strmap_bytes(const struct strmap *m);

#endif
