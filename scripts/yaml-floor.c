/*
 * yaml-floor: the "bare libyaml event parse" floor of SPEC §10.
 *
 *     cc -O2 -o yaml-floor scripts/yaml-floor.c -lyaml
 *     yaml-floor PATH...        (directories are searched for *.yaml and *.yml)
 *
 * Parses every file event by event with yaml_parser_parse, builds nothing, and prints
 * `files=N events=M bytes=B` to stdout. Parse errors go to stderr as
 * `path:line:col: error: problem (context)`; the exit status is then 1.
 * Files are visited in sorted order so the output is deterministic.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

struct paths {
    char **items;
    size_t count, cap;
};

static int failures;

static void push(struct paths *p, const char *path) {
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->items = realloc(p->items, p->cap * sizeof *p->items);
        if (!p->items) { perror("yaml-floor"); exit(1); }
    }
    p->items[p->count] = strdup(path);
    if (!p->items[p->count]) { perror("yaml-floor"); exit(1); }
    p->count++;
}

static int has_yaml_ext(const char *name) {
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect(struct paths *out, const char *path, int explicit) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: error: %s\n", path, strerror(errno));
        failures++;
        return;
    }
    if (S_ISREG(st.st_mode)) {
        if (explicit || has_yaml_ext(path)) push(out, path);
        return;
    }
    if (!S_ISDIR(st.st_mode)) return;
    DIR *dir = opendir(path);
    if (!dir) {
        fprintf(stderr, "%s: error: %s\n", path, strerror(errno));
        failures++;
        return;
    }
    struct paths children = {0};
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(len);
        if (!child) { perror("yaml-floor"); exit(1); }
        snprintf(child, len, "%s/%s", path, e->d_name);
        push(&children, child);
        free(child);
    }
    closedir(dir);
    qsort(children.items, children.count, sizeof *children.items, cmp_str);
    for (size_t i = 0; i < children.count; i++) {
        collect(out, children.items[i], 0);
        free(children.items[i]);
    }
    free(children.items);
}

/* Parses one file; adds its events and bytes; returns 0 on success. */
static int parse_file(const char *path, unsigned long long *events, unsigned long long *bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: error: %s\n", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fprintf(stderr, "%s: error: cannot initialise the libyaml parser\n", path);
        fclose(f);
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            /* Marks are 0-based; print 1-based like every compiler. */
            fprintf(stderr, "%s:%zu:%zu: error: %s", path,
                    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                    parser.problem ? parser.problem : "unknown YAML error");
            if (parser.context)
                fprintf(stderr, " (%s at %zu:%zu)", parser.context,
                        parser.context_mark.line + 1, parser.context_mark.column + 1);
            fputc('\n', stderr);
            rc = -1;
            break;
        }
        (*events)++;
        int done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (done) break;
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "%s: error: read failed\n", path);
        rc = -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0) *bytes += (unsigned long long)st.st_size;
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s PATH...   (files, or directories searched for *.yaml/*.yml)\n",
                argv[0]);
        return argc < 2 ? 64 : 0;
    }
    struct paths files = {0};
    for (int i = 1; i < argc; i++) collect(&files, argv[i], 1);

    unsigned long long events = 0, bytes = 0;
    for (size_t i = 0; i < files.count; i++) {
        if (parse_file(files.items[i], &events, &bytes) != 0) failures++;
        free(files.items[i]);
    }
    free(files.items);
    printf("files=%zu events=%llu bytes=%llu\n", files.count, events, bytes);
    return failures ? 1 : 0;
}
