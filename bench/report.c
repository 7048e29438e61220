/* report.c: the benchmark's figures, printed as they come, then as one
 * Markdown table with the targets on stdout and as JSON in a file.
 *
 * Sections hold figures (key, label, value, unit), notes and errors; the
 * JSON keeps the same structure so runs can be compared by key.
 */
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *report_sections;     /* array of section objects */
static json_t *report_targets;      /* array */
static json_t *report_cur;          /* borrowed from report_sections */

/* 1234567.8 -> "1,234,568"; 12.345 -> "12.3"; 0.01234 -> "0.0123". */
static void report_num(double v, char *out, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(out, cap, "n/a");
        return;
    }
    double a = fabs(v);
    if (a >= 1000) {
        char digits[64];
        snprintf(digits, sizeof(digits), "%.0f", a);
        size_t len = strlen(digits), o = 0;
        if (v < 0 && o + 1 < cap)
            out[o++] = '-';
        for (size_t i = 0; i < len && o + 2 < cap; i++) {
            if (i > 0 && (len - i) % 3 == 0)
                out[o++] = ',';
            out[o++] = digits[i];
        }
        out[o] = '\0';
    } else if (a >= 100 || v == 0 || a == floor(a)) {
        snprintf(out, cap, "%.0f", v);
    } else if (a >= 10) {
        snprintf(out, cap, "%.1f", v);
    } else if (a >= 0.1) {
        snprintf(out, cap, "%.2f", v);
    } else {
        snprintf(out, cap, "%.3g", v);
    }
}

void report_section(const char *id, const char *title)
{
    if (report_sections == NULL) {
        report_sections = json_array();
        report_targets = json_array();
    }
    report_cur = json_pack("{s:s,s:s,s:o,s:[],s:[]}", "id", id, "title", title, "figures", json_object(), "notes",
                           "errors");
    json_array_append_new(report_sections, report_cur);
    printf("\n== %s. %s ==\n", id, title);
    fflush(stdout);
}

void report_fig(const char *key, const char *label, double value, const char *unit)
{
    char num[64];
    report_num(value, num, sizeof(num));
    json_object_set_new(json_object_get(report_cur, "figures"), key,
                        json_pack("{s:s,s:f,s:s}", "label", label, "value", isfinite(value) ? value : 0.0, "unit",
                                  unit));
    printf("  %-64s %14s %s\n", label, num, unit);
    fflush(stdout);
}

void report_note(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_array_append_new(json_object_get(report_cur, "notes"), json_string(text));
    printf("  note: %s\n", text);
    fflush(stdout);
}

void report_error(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_array_append_new(json_object_get(report_cur, "errors"), json_string(text));
    printf("  ERROR: %s\n", text);
    fflush(stdout);
}

void report_target(const char *name, double measured, const char *unit, const char *bound, bool met)
{
    json_array_append_new(report_targets, json_pack("{s:s,s:f,s:s,s:s,s:b}", "target", name, "measured",
                                                    isfinite(measured) ? measured : 0.0, "unit", unit, "bound",
                                                    bound, "met", met));
}

static int report_cmp_id(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
}

/* Sections in the order of their ids, whatever order they ran in. */
static void report_sort(void)
{
    size_t n = json_array_size(report_sections);
    json_t **v = calloc(n + 1, sizeof(*v));
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(report_sections, i));
    qsort(v, n, sizeof(*v), report_cmp_id);
    json_array_clear(report_sections);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(report_sections, v[i]);
    free(v);
}

int report_finish(const char *path, json_t *meta)
{
    int missing = 0;
    size_t i, j;
    json_t *sec, *t;
    report_sort();
    printf("\n## hookline benchmark\n\n| section | figure | value |\n|---|---|---:|\n");
    json_array_foreach(report_sections, i, sec) {
        const char *id = json_string_value(json_object_get(sec, "id"));
        json_t *figs = json_object_get(sec, "figures"), *errs = json_object_get(sec, "errors");
        const char *key;
        json_t *f;
        json_object_foreach(figs, key, f) {
            char num[64];
            report_num(json_real_value(json_object_get(f, "value")), num, sizeof(num));
            const char *unit = json_string_value(json_object_get(f, "unit"));
            printf("| %s | %s | %s%s%s |\n", id, json_string_value(json_object_get(f, "label")), num,
                   unit[0] ? " " : "", unit);
        }
        json_array_foreach(errs, j, t)
            printf("| %s | ERROR: %s | |\n", id, json_string_value(t));
        if (json_object_size(figs) == 0)
            missing++;
    }
    if (json_array_size(report_targets) > 0) {
        printf("\n| target | measured | bound | met |\n|---|---:|---|---|\n");
        json_array_foreach(report_targets, i, t) {
            char num[64];
            report_num(json_real_value(json_object_get(t, "measured")), num, sizeof(num));
            const char *unit = json_string_value(json_object_get(t, "unit"));
            printf("| %s | %s%s%s | %s | %s |\n", json_string_value(json_object_get(t, "target")), num,
                   unit[0] ? " " : "", unit, json_string_value(json_object_get(t, "bound")),
                   json_is_true(json_object_get(t, "met")) ? "yes" : "**no**");
        }
    }
    json_t *root = json_pack("{s:O,s:O,s:O}", "meta", meta, "sections", report_sections, "targets", report_targets);
    if (path != NULL) {
        if (json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0)
            printf("\nJSON: %s\n", path);
        else
            fprintf(stderr, "hookline-bench: cannot write %s\n", path);
    }
    json_decref(root);
    fflush(stdout);
    return missing;
}
