/* strmap.c: linear-probing string map (FNV-1a hash, load factor <= 0.7). */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_slot {
    char *key;          /* NULL: empty */
    void *val;
    uint64_t hash;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap;         /* power of two */
    size_t n;
    size_t key_bytes;
};

static uint64_t strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void strmap_free(struct strmap *m, void (*free_val)(void *val))
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key) {
            free(m->slots[i].key);
            if (free_val)
                free_val(m->slots[i].val);
        }
    }
    free(m->slots);
    free(m);
}

static size_t strmap_find(const struct strmap *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct strmap_slot *s = &m->slots[i];
        if (s->key == NULL || (s->hash == h && strcmp(s->key, key) == 0))
            return i;
    }
}

void *strmap_get(const struct strmap *m, const char *key)
{
    size_t i = strmap_find(m, key, strmap_hash(key));
    return m->slots[i].key ? m->slots[i].val : NULL;
}

static int strmap_grow(struct strmap *m)
{
    size_t cap = m->cap * 2;
    struct strmap_slot *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct strmap_slot *s = &m->slots[i];
        if (s->key == NULL)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int strmap_put(struct strmap *m, const char *key, void *val, void **old)
{
    if ((m->n + 1) * 10 > m->cap * 7 && strmap_grow(m) < 0)
        return -1;
    uint64_t h = strmap_hash(key);
    size_t i = strmap_find(m, key, h);
    struct strmap_slot *s = &m->slots[i];
    if (old)
        *old = s->key ? s->val : NULL;
    if (s->key == NULL) {
        size_t len = strlen(key);
        s->key = malloc(len + 1);
        if (s->key == NULL)
            return -1;
        memcpy(s->key, key, len + 1);
        s->hash = h;
        m->n++;
        m->key_bytes += len + 1;
    }
    s->val = val;
    return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = strmap_find(m, key, strmap_hash(key));
    if (m->slots[i].key == NULL)
        return NULL;
    void *val = m->slots[i].val;
    m->key_bytes -= strlen(m->slots[i].key) + 1;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->n--;
    /* shift back the entries that probed past the freed slot */
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        int between = (j > i) ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return val;
}

size_t strmap_size(const struct strmap *m)
{
    return m->n;
}

void strmap_foreach(const struct strmap *m, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            fn(m->slots[i].key, m->slots[i].val, arg);
}

size_t strmap_bytes(const struct strmap *m)
{
    return m->cap * sizeof(struct strmap_slot) + m->key_bytes;
}
