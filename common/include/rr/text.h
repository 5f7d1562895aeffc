/* text.h -- Byte-level text helpers that several parsers and writers need alike: UTF-8
 * checks, hex digits, base64. One copy, so the plan, the HAR and the locustfile writers agree
 * on what counts as text. */
#ifndef RR_TEXT_H
#define RR_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"
#include "rr/err.h"

/* Length (1..4) of the valid UTF-8 sequence that starts at p, or 0 when it is not one (also
 * when n is 0). Overlong forms, surrogates and code points past U+10FFFF are invalid, as in
 * RFC 3629, so whatever passes can be written into JSON or Python source as is. NUL is a
 * valid one-byte sequence: callers that write C strings check for it themselves. */
int rr_utf8_seq_len(const uint8_t *p, size_t n);
/* Whether all n bytes are valid UTF-8 in the sense of rr_utf8_seq_len. */
bool rr_utf8_is_valid(const uint8_t *p, size_t n);

/* Appends the escape of byte c inside a string quoted with quote, in the syntax C, Python
 * and the plan format share: \\ and \<quote>, \n \r \t, other control bytes and DEL as
 * \xHH. Returns 1 when c needed one, 0 when c may stand as is (nothing written; bytes from
 * 0x80 are the caller's to judge, as the formats differ there). */
int rr_escape_byte(struct rr_buf *out, uint8_t c, uint8_t quote);

/* Value of a hex digit (either case), or -1. */
int rr_hex_val(int c);

/* Appends p as standard base64 with '=' padding (RFC 4648 section 4), as HAR writes bodies. */
void rr_base64_encode(const uint8_t *p, size_t n, struct rr_buf *out);
/* Appends the bytes of base64 text s. Lenient in what people and tools write: the standard
 * and the URL alphabet both, whitespace skipped, padding optional (decoding stops at the first
 * '='). Returns 0, or RR_EPARSE at any other character (out then holds a prefix). */
int rr_base64_decode(const char *s, size_t n, struct rr_buf *out) RR_WUR;

#endif
