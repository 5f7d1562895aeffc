/* log.c -- Leveled logging to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rr/log.h"

int rr_log_level = RR_LOG_INFO;

static const char *const names[] = {"err", "warn", "info", "debug", "trace"};

int rr_log_set_level(const char *name)
{
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        if (strcmp(name, names[i]) == 0) {
            rr_log_level = i;
            return RR_OK;
        }
    }
    return RR_EUSAGE;
}

void rr_log_emit(enum rr_log_level lvl, const char *mod, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (lvl <= RR_LOG_WARN)
        fprintf(stderr, "rrload: %s%s\n", lvl == RR_LOG_ERR ? "error: " : "warning: ", line);
    else
        fprintf(stderr, "[%s] %s: %s\n", names[lvl], mod, line);
}
