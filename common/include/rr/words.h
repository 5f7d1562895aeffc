/* words.h -- The word splitter of rrload's line-based text formats (the plan, the transform's
 * rules): one implementation, so both formats quote and escape alike and report errors alike.
 *
 * A word is bare (no space, tab, '"', '#' or control character) or a double-quoted string
 * with the escapes \" \\ \n \r \t \xHH. Words are separated by spaces or tabs; '#' outside a
 * string starts a comment. */
#ifndef RR_WORDS_H
#define RR_WORDS_H

#include <stdarg.h>
#include <stddef.h>

#include "rr/err.h"

struct rr_word {
    char *s; /* decoded and NUL-terminated (owned; rr_words_free) */
    size_t len;
    unsigned col; /* 1-based column of its first byte */
    int quoted;
    int has_nul;     /* a \x00 escape: s holds a NUL before len */
    const char *raw; /* source text of the word (borrowed from the line), quotes included */
    size_t raw_len;
};

/* Splits the line [ls, le) (without its newline) into at most max words w[0..*out_n).
 * Returns 0, or RR_EPARSE with "LINE:COL: what was expected" in why; the words are then
 * already freed and *out_n is 0. */
int rr_words_split(const char *ls, const char *le, unsigned line, struct rr_word *w, size_t max,
                   size_t *out_n, char *why, size_t whylen) RR_WUR;
/* Writes "LINE:COL: message" into why and returns RR_EPARSE: the one error form of the text
 * formats, for their parsers' errors after the split as well. */
int rr_words_verr(char *why, size_t whylen, unsigned line, unsigned col, const char *fmt,
                  va_list ap) RR_PRINTF(5, 0);
/* Frees w[0..*n) and sets *n to 0. */
void rr_words_free(struct rr_word *w, size_t *n);

#endif
