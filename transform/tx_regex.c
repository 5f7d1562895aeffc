/* tx_regex.c -- A regex that takes a value out of a text response body (HTML, JS, plain).
 *
 * The pattern is some literal text before the value's first occurrence, a capture group of
 * the value's character class, and the byte after it. It is checked with PCRE2 against the
 * body it came from: the first match must capture exactly that occurrence, else the left
 * context widens, and past MAX_LEFT the value is left alone. Only syntax that PCRE2 and
 * Python's re read alike is written, as the locustfile runs the same pattern. */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>
#include <strings.h>

#include "rr/buf.h"
#include "tx_int.h"

#define MAX_LEFT 40  /* literal bytes before the value, at most (more grows fragile) */
#define TAG_SPAN 512 /* how far around the value its HTML tag is looked for */

static bool word_ch(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool b64_ch(unsigned char c)
{
    return word_ch(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

static bool attr_ch(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"'<>&", c);
}

static bool space_ch(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The narrowest class holding every byte of the value, or NULL (spaces, quotes, non-ASCII). */
static const char *value_class(const char *v, size_t n, bool (**in)(unsigned char))
{
    static const struct {
        bool (*fn)(unsigned char);
        const char *re;
    } cls[] = {
        {word_ch, "[A-Za-z0-9_\\-]"}, {b64_ch, "[A-Za-z0-9_\\-.~+/=]"}, {attr_ch, "[^\"'<>\\s&]"}};
    for (size_t k = 0; k < sizeof(cls) / sizeof(cls[0]); k++) {
        size_t i = 0;
        while (i < n && cls[k].fn((unsigned char)v[i]))
            i++;
        if (i == n) {
            *in = cls[k].fn;
            return cls[k].re;
        }
    }
    return NULL;
}

static void lit(struct rr_buf *re, unsigned char c)
{
    if (strchr("\\^$.|?*+()[]{}/#", c))
        rr_buf_addc(re, '\\');
    rr_buf_addc(re, c);
}

/* Literal text with whitespace runs as \s+ (a page's indentation may not be kept). */
static void literal(struct rr_buf *re, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (space_ch((unsigned char)s[i])) {
            while (i < n && space_ch((unsigned char)s[i]))
                i++;
            rr_buf_adds(re, "\\s+");
            continue;
        }
        lit(re, (unsigned char)s[i++]);
    }
}

/* Reads an attribute's value after "name=" at s (quoted or not) into out. */
static void attr_value(const char *s, const char *end, struct rr_buf *out)
{
    char q = s < end && (*s == '"' || *s == '\'') ? *s : 0;
    if (q)
        s++;
    while (s < end && (q ? *s != q : !space_ch((unsigned char)*s) && *s != '>' && *s != '/'))
        rr_buf_addc(out, (unsigned char)*s++);
}

/* The name the page gives the value: its tag's name= (or id=), or the JS/key=value name
 * right before it. Empty when none is evident. */
static void evident_name(const char *body, size_t blen, size_t pos, size_t vlen,
                         struct rr_buf *name)
{
    size_t lo = pos > TAG_SPAN ? pos - TAG_SPAN : 0;
    size_t t = pos;
    while (t > lo && body[t - 1] != '<' && body[t - 1] != '>')
        t--;
    if (t > 0 && body[t - 1] == '<') {
        size_t hi = pos + vlen + TAG_SPAN < blen ? pos + vlen + TAG_SPAN : blen;
        const char *e = memchr(body + pos + vlen, '>', hi - pos - vlen);
        const char *tag = body + t, *end = e ? e : body + hi;
        static const char *const attrs[] = {" name=", " id=", " property="};
        for (size_t a = 0; a < 3 && !name->len; a++) {
            const char *m = memmem(tag, (size_t)(end - tag), attrs[a], strlen(attrs[a]));
            /* the value itself sitting in that attribute names nothing */
            if (m && (m + strlen(attrs[a]) + 1 < body + pos || m > body + pos + vlen))
                attr_value(m + strlen(attrs[a]), end, name);
            if (name->len && memmem(name->p, name->len, body + pos, vlen))
                rr_buf_reset(name);
        }
        if (name->len)
            return;
    }
    /* name = "value", name: 'value', "name": "value", name=value */
    size_t i = pos;
    while (i > lo && (body[i - 1] == '"' || body[i - 1] == '\'' || space_ch(body[i - 1])))
        i--;
    if (i == lo || (body[i - 1] != '=' && body[i - 1] != ':'))
        return;
    i--;
    while (i > lo && (body[i - 1] == '"' || body[i - 1] == '\'' || space_ch(body[i - 1])))
        i--;
    size_t j = i;
    while (j > lo && (word_ch((unsigned char)body[j - 1]) || body[j - 1] == '.'))
        j--;
    while (j < i && body[j] == '.')
        j++;
    /* window.app.csrfToken: the last part */
    const char *dot = memrchr(body + j, '.', i - j);
    if (dot)
        j = (size_t)(dot + 1 - body);
    if (j < i)
        rr_buf_add(name, body + j, i - j);
}

static bool first_match_is(const char *pattern, const char *body, size_t blen, size_t pos,
                           size_t vlen)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    if (!re)
        return false;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int n = pcre2_match(re, (PCRE2_SPTR)body, blen, 0, 0, md, NULL);
    bool ok = false;
    if (n > 1) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        ok = ov[2] == pos && ov[3] == pos + vlen;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return ok;
}

int tx_regex_for(const char *body, size_t blen, const char *val, size_t vlen, struct rr_buf *re,
                 struct rr_buf *name)
{
    bool (*in)(unsigned char) = NULL;
    const char *cls = vlen ? value_class(val, vlen, &in) : NULL;
    const char *hit = cls ? memmem(body, blen, val, vlen) : NULL;
    if (!hit)
        return -1;
    size_t pos = (size_t)(hit - body), after = pos + vlen;
    /* a value that is only the start of a longer run of its class is not a value of its own */
    if ((after < blen && in((unsigned char)body[after])) ||
        (pos > 0 && word_ch((unsigned char)body[pos - 1]) && word_ch((unsigned char)val[0])))
        return -1;
    static const size_t widths[] = {12, 24, MAX_LEFT};
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        size_t s = pos > widths[w] ? pos - widths[w] : 0;
        /* the context starts at a word's start, after any byte Python and PCRE2 might read
         * apart (non-ASCII, controls), and not on whitespace */
        for (size_t k = 0; k < 12 && s > 0 && word_ch((unsigned char)body[s - 1]); k++)
            s--;
        for (size_t k = pos; k > s; k--) {
            unsigned char c = (unsigned char)body[k - 1];
            if (c >= 0x7f || (c < 0x20 && !space_ch(c))) {
                s = k;
                break;
            }
        }
        while (s < pos && space_ch((unsigned char)body[s]))
            s++;
        rr_buf_reset(re);
        if (s == 0)
            rr_buf_addc(re, '^');
        literal(re, body + s, pos - s);
        rr_buf_printf(re, "(%s+)", cls);
        if (after < blen && !space_ch((unsigned char)body[after]) &&
            (unsigned char)body[after] >= 0x20 && (unsigned char)body[after] < 0x7f)
            lit(re, (unsigned char)body[after]);
        if (first_match_is(rr_buf_cstr(re), body, blen, pos, vlen)) {
            rr_buf_reset(name);
            evident_name(body, blen, pos, vlen, name);
            /* the attribute holding the value says nothing of what it is */
            static const char *const vague[] = {"value", "content", "data", "val", "v", NULL};
            for (int k = 0; vague[k] && name->len; k++)
                if (!strcasecmp(rr_buf_cstr(name), vague[k]))
                    rr_buf_reset(name);
            return 0;
        }
        if (s == 0)
            break;
    }
    rr_buf_reset(re);
    return -1;
}
