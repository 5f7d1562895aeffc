/* log.h -- Leveled logging to stderr.
 *
 * Each .c file may define RR_LOG_MODULE before including this header. The level is checked
 * before the arguments are evaluated, so a disabled TRACE costs one compare. Results go to
 * stdout and report files, never through here. */
#ifndef RR_LOG_H
#define RR_LOG_H

#include "rr/err.h"

enum rr_log_level { RR_LOG_ERR, RR_LOG_WARN, RR_LOG_INFO, RR_LOG_DEBUG, RR_LOG_TRACE };

#ifndef RR_LOG_MODULE
#define RR_LOG_MODULE "rrload"
#endif

extern int rr_log_level;

/* Sets the level from a name (err, warn, info, debug, trace). Returns RR_EUSAGE if unknown. */
int rr_log_set_level(const char *name) RR_WUR;
void rr_log_emit(enum rr_log_level lvl, const char *mod, const char *fmt, ...) RR_PRINTF(3, 4);

#define rr_log(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((int)(lvl) <= rr_log_level)                                                            \
            rr_log_emit((lvl), RR_LOG_MODULE, __VA_ARGS__);                                        \
    } while (0)

#endif
