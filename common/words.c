/* words.c -- Word splitter of the line-based text formats (rr/words.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/buf.h"
#include "rr/text.h"
#include "rr/words.h"

static int werr(char *why, size_t whylen, unsigned line, unsigned col, const char *fmt, ...)
    RR_PRINTF(5, 6);

static int werr(char *why, size_t whylen, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rr_words_verr(why, whylen, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

int rr_words_verr(char *why, size_t whylen, unsigned line, unsigned col, const char *fmt,
                  va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    snprintf(why, whylen, "%u:%u: %s", line, col, msg);
    return RR_EPARSE;
}

void rr_words_free(struct rr_word *w, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(w[i].s);
    *n = 0;
}

/* Decodes the quoted string at *pp (its opening quote) into b and moves *pp past the closing
 * quote. Returns 0 or RR_EPARSE. */
static int quoted(const char **pp, const char *ls, const char *le, unsigned line, struct rr_word *w,
                  struct rr_buf *b, char *why, size_t whylen)
{
    const char *p = *pp + 1;
    for (;;) {
        if (p == le)
            return werr(why, whylen, line, (unsigned)(p - ls) + 1,
                        "expected '\"' to end the string started at column %u", w->col);
        if (*p == '"') {
            p++;
            break;
        }
        /* a tab may stay raw; other control bytes would be invisible in an editor */
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return werr(why, whylen, line, (unsigned)(p - ls) + 1,
                        "control character in a string (write it as \\xHH)");
        if (*p != '\\') {
            rr_buf_addc(b, (uint8_t)*p++);
            continue;
        }
        unsigned ecol = (unsigned)(p - ls) + 1;
        int c = p + 1 < le ? p[1] : -1, h1, h2;
        p += 2;
        switch (c) {
        case 'n':
            rr_buf_addc(b, '\n');
            break;
        case 'r':
            rr_buf_addc(b, '\r');
            break;
        case 't':
            rr_buf_addc(b, '\t');
            break;
        case '"':
            rr_buf_addc(b, '"');
            break;
        case '\\':
            rr_buf_addc(b, '\\');
            break;
        case 'x':
            h1 = p < le ? rr_hex_val(p[0]) : -1;
            h2 = p + 1 < le ? rr_hex_val(p[1]) : -1;
            if (h1 < 0 || h2 < 0)
                return werr(why, whylen, line, ecol, "expected two hex digits after \\x");
            if (!h1 && !h2)
                w->has_nul = 1;
            rr_buf_addc(b, (uint8_t)(h1 * 16 + h2));
            p += 2;
            break;
        default:
            return werr(why, whylen, line, ecol,
                        "unknown escape: expected \\n, \\r, \\t, \\\", \\\\ or \\xHH");
        }
    }
    /* "a"b would read as two words to the parser but as one to a person */
    if (p < le && *p != ' ' && *p != '\t' && *p != '#')
        return werr(why, whylen, line, (unsigned)(p - ls) + 1, "expected a space after a string");
    *pp = p;
    return 0;
}

int rr_words_split(const char *ls, const char *le, unsigned line, struct rr_word *w, size_t max,
                   size_t *out_n, char *why, size_t whylen)
{
    const char *p = ls;
    struct rr_buf b;
    size_t n = 0;
    int rc = 0;

    rr_buf_init(&b);
    while (p < le) {
        while (p < le && (*p == ' ' || *p == '\t'))
            p++;
        if (p == le || *p == '#')
            break;
        if (n == max) {
            rc = werr(why, whylen, line, (unsigned)(p - ls) + 1,
                      "too many words on one line (at most %zu)", max);
            goto fail;
        }
        struct rr_word *x = &w[n];
        memset(x, 0, sizeof(*x));
        x->col = (unsigned)(p - ls) + 1;
        x->raw = p;
        rr_buf_reset(&b);
        if (*p == '"') {
            x->quoted = 1;
            rc = quoted(&p, ls, le, line, x, &b, why, whylen);
            if (rc)
                goto fail;
        } else {
            while (p < le && *p != ' ' && *p != '\t' && *p != '#') {
                if (*p == '"' || (unsigned char)*p < 0x20) {
                    rc = werr(why, whylen, line, (unsigned)(p - ls) + 1,
                              "unexpected character in a word (quote the word)");
                    goto fail;
                }
                rr_buf_addc(&b, (uint8_t)*p++);
            }
        }
        x->raw_len = (size_t)(p - x->raw);
        x->len = b.len;
        x->s = rr_xmalloc(b.len + 1);
        if (b.len)
            memcpy(x->s, b.p, b.len);
        x->s[b.len] = 0;
        n++;
    }
    rr_buf_fini(&b);
    *out_n = n;
    return 0;

fail:
    rr_buf_fini(&b);
    rr_words_free(w, &n);
    *out_n = 0;
    return rc;
}
