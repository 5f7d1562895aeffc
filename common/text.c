/* text.c -- UTF-8, hex and base64 helpers (rr/text.h). */
#include "rr/text.h"

int rr_utf8_seq_len(const uint8_t *p, size_t n)
{
    int len;
    uint32_t cp;

    if (!n)
        return 0;
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    /* 0xc0, 0xc1 and 0xf5.. can only start overlong or out-of-range forms */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool rr_utf8_is_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int l = rr_utf8_seq_len(p + i, n - i);
        if (!l)
            return false;
        i += (size_t)l;
    }
    return true;
}

int rr_escape_byte(struct rr_buf *out, uint8_t c, uint8_t quote)
{
    if (c == '\\' || c == quote) {
        rr_buf_addc(out, '\\');
        rr_buf_addc(out, c);
    } else if (c == '\n') {
        rr_buf_adds(out, "\\n");
    } else if (c == '\r') {
        rr_buf_adds(out, "\\r");
    } else if (c == '\t') {
        rr_buf_adds(out, "\\t");
    } else if (c < 0x20 || c == 0x7f) {
        rr_buf_printf(out, "\\x%02x", c);
    } else {
        return 0;
    }
    return 1;
}

int rr_hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void rr_base64_encode(const uint8_t *p, size_t n, struct rr_buf *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;

    rr_buf_reserve(out, (n + 2) / 3 * 4);
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        rr_buf_addc(out, (uint8_t)a[v >> 18]);
        rr_buf_addc(out, (uint8_t)a[(v >> 12) & 63]);
        rr_buf_addc(out, (uint8_t)a[(v >> 6) & 63]);
        rr_buf_addc(out, (uint8_t)a[v & 63]);
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        rr_buf_addc(out, (uint8_t)a[v >> 18]);
        rr_buf_addc(out, (uint8_t)a[(v >> 12) & 63]);
        rr_buf_addc(out, i + 1 < n ? (uint8_t)a[(v >> 6) & 63] : '=');
        rr_buf_addc(out, '=');
    }
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int rr_base64_decode(const char *s, size_t n, struct rr_buf *out)
{
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '=')
            break;
        /* the whitespace of isspace() in the C locale, without depending on the locale */
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            continue;
        int v = b64val(c);
        if (v < 0)
            return RR_EPARSE;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            rr_buf_addc(out, (uint8_t)(acc >> bits));
        }
    }
    return 0;
}
