/* test_codec.c -- The exchange and connection records: round trips of every field and flag,
 * and damage (truncation, bit flips, bad counts) reported as RR_ECORRUPT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../store/store_int.h"
#include "rr/store.h"
#include "rr/util.h"

static struct rr_view V(const char *s) {
    return rr_view_of(s, strlen(s));
}

static struct rr_header req_h[3],
    resp_h[2];

static void full_exchange(struct rr_exchange *x)
{
    memset(x, 0, sizeof(*x));
    x->conn_id = 0x1234567890ull;
    x->h2_stream = 0x7fffffff;
    x->version = 20;
    x->flags = RR_XF_KNOWN;
    x->t_req_start_us = 1764200000000001ull;
    x->t_req_end_us = 1764200000000002ull;
    x->t_resp_start_us = UINT64_MAX;
    x->t_resp_end_us = 1764200000900000ull;
    x->method = V("POST");
    x->scheme = V("https");
    x->authority = V("api.example.com:8443");
    x->target = V("/api/cart?x=1&y=%20");
    req_h[0] = (struct rr_header){V("Content-Type"), V("application/json")};
    req_h[1] = (struct rr_header){V("X-Empty"), V("")};
    req_h[2] = (struct rr_header){V(""), V("odd")};
    x->req_headers = req_h;
    x->n_req_headers = 3;
    x->req_body = (struct rr_body_ref){{1, UINT64_MAX}, 42};
    x->status = 200;
    x->n_interim = 2;
    x->interim[0] = 100;
    x->interim[1] = 103;
    x->reason = V("OK");
    resp_h[0] = (struct rr_header){V("Set-Cookie"), V("s=abc; Path=/")};
    resp_h[1] = (struct rr_header){V("Content-Encoding"), V("gzip")};
    x->resp_headers = resp_h;
    x->n_resp_headers = 2;
    x->resp_wire_len = 1000;
    x->resp_body = (struct rr_body_ref){{0xdeadbeefull, 7}, 5000};
}

static void assert_view(struct rr_view a, struct rr_view b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.p, b.p, a.len);
}

static void assert_headers(const struct rr_header *a, const struct rr_header *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_view(a[i].name, b[i].name);
        assert_view(a[i].value, b[i].value);
    }
}

static void assert_same(const struct rr_exchange *a, const struct rr_exchange *b)
{
    assert_int_equal(a->conn_id, b->conn_id);
    assert_int_equal(a->h2_stream, b->h2_stream);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->t_req_start_us, b->t_req_start_us);
    assert_int_equal(a->t_req_end_us, b->t_req_end_us);
    assert_int_equal(a->t_resp_start_us, b->t_resp_start_us);
    assert_int_equal(a->t_resp_end_us, b->t_resp_end_us);
    assert_view(a->method, b->method);
    assert_view(a->scheme, b->scheme);
    assert_view(a->authority, b->authority);
    assert_view(a->target, b->target);
    assert_int_equal(a->n_req_headers, b->n_req_headers);
    assert_headers(a->req_headers, b->req_headers, a->n_req_headers);
    assert_memory_equal(&a->req_body, &b->req_body, sizeof(a->req_body));
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->n_interim, b->n_interim);
    for (unsigned i = 0; i < a->n_interim; i++)
        assert_int_equal(a->interim[i], b->interim[i]);
    assert_view(a->reason, b->reason);
    assert_int_equal(a->n_resp_headers, b->n_resp_headers);
    assert_headers(a->resp_headers, b->resp_headers, a->n_resp_headers);
    assert_int_equal(a->resp_wire_len, b->resp_wire_len);
    assert_memory_equal(&a->resp_body, &b->resp_body, sizeof(a->resp_body));
}

static void roundtrip(const struct rr_exchange *x)
{
    struct rr_buf enc, scratch;
    struct rr_exchange y;
    rr_buf_init(&enc);
    rr_buf_init(&scratch);
    rr_exchange_encode(x, &enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), 0);
    assert_same(x, &y);
    rr_buf_fini(&enc);
    rr_buf_fini(&scratch);
}

static void exchange_roundtrip_full(void **state)
{
    struct rr_exchange x;
    full_exchange(&x);
    roundtrip(&x);
}

static void exchange_roundtrip_each_flag(void **state)
{
    struct rr_exchange x;
    full_exchange(&x);
    for (uint32_t f = 1; f <= RR_XF_KNOWN; f <<= 1) {
        x.flags = f;
        roundtrip(&x);
    }
    x.flags = 0;
    roundtrip(&x);
}

static void exchange_roundtrip_minimal(void **state)
{
    struct rr_exchange x;
    memset(&x, 0, sizeof(x));
    roundtrip(&x);
    x.version = 11;
    x.method = V("GET");
    x.target = V("/");
    x.flags = RR_XF_NO_RESPONSE;
    roundtrip(&x);
    /* every HTTP version the recorder may write */
    static const uint8_t versions[] = {0, 9, 10, 11, 20, 30};
    for (size_t i = 0; i < sizeof(versions); i++) {
        x.version = versions[i];
        roundtrip(&x);
    }
}

static void exchange_many_headers(void **state)
{
    static struct rr_header many[500];
    struct rr_exchange x;
    full_exchange(&x);
    for (size_t i = 0; i < 500; i++)
        many[i] = (struct rr_header){V("X-H"), V(i % 2 ? "v" : "")};
    x.req_headers = many;
    x.n_req_headers = 500;
    x.resp_headers = many;
    x.n_resp_headers = 499;
    roundtrip(&x);
}

static void encode(const struct rr_exchange *x, struct rr_buf *b)
{
    rr_buf_init(b);
    rr_exchange_encode(x, b);
}

static void exchange_truncated(void **state)
{
    struct rr_exchange x, y;
    struct rr_buf enc, scratch;
    full_exchange(&x);
    encode(&x, &enc);
    rr_buf_init(&scratch);
    for (size_t n = 0; n < enc.len; n++)
        assert_int_equal(rr_exchange_decode(enc.p, n, &y, &scratch), RR_ECORRUPT);
    /* trailing garbage */
    rr_buf_addc(&enc, 0);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&enc);
    rr_buf_fini(&scratch);
}

static void exchange_bit_flips(void **state)
{
    struct rr_exchange x, y;
    struct rr_buf enc, scratch;
    full_exchange(&x);
    encode(&x, &enc);
    rr_buf_init(&scratch);
    for (size_t i = 0; i < enc.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            enc.p[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
            enc.p[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), 0);
    rr_buf_fini(&enc);
    rr_buf_fini(&scratch);
}

/* Re-seals a hand-made record so the check passes and the field validation is what rejects it. */
static void reseal(struct rr_buf *b)
{
    b->len -= 4;
    rr_buf_be32(b, (uint32_t)rr_hash64(b->p, b->len, RR_REC_CHECK_SEED));
}

static void exchange_bad_fields_with_good_check(void **state)
{
    struct rr_exchange x, y;
    struct rr_buf enc, scratch;
    rr_buf_init(&scratch);

    /* A header count far beyond the bytes left must not allocate or read. */
    struct rr_buf b;
    rr_buf_init(&b);
    rr_buf_addc(&b, RR_XREC_MAGIC);
    rr_buf_addc(&b, RR_REC_VERSION);
    rr_buf_varint(&b, 0); /* flags */
    rr_buf_varint(&b, 1); /* conn */
    rr_buf_varint(&b, 0); /* stream */
    rr_buf_addc(&b, 11);  /* version */
    for (int i = 0; i < 4; i++)
        rr_buf_varint(&b, 0); /* times */
    for (int i = 0; i < 4; i++)
        rr_buf_lenstr(&b, "", 0);
    rr_buf_varint(&b, UINT64_MAX / 8); /* request header count */
    rr_buf_be32(&b, 0);
    reseal(&b);
    assert_int_equal(rr_exchange_decode(b.p, b.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&b);

    full_exchange(&x);
    x.flags = 1u << 20; /* unknown flag */
    encode(&x, &enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&enc);

    full_exchange(&x);
    x.status = 42;
    encode(&x, &enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&enc);

    full_exchange(&x);
    x.interim[1] = 200;
    encode(&x, &enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&enc);

    full_exchange(&x);
    x.version = 12;
    encode(&x, &enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&enc);

    full_exchange(&x);
    x.h2_stream = 0x80000000u;
    encode(&x, &enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&enc);

    /* A newer record version with an intact check is a version problem, not damage. */
    full_exchange(&x);
    encode(&x, &enc);
    enc.p[1] = RR_REC_VERSION + 1;
    reseal(&enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_EVERSION);
    enc.p[1] = 0;
    reseal(&enc);
    assert_int_equal(rr_exchange_decode(enc.p, enc.len, &y, &scratch), RR_ECORRUPT);
    rr_buf_fini(&enc);
    rr_buf_fini(&scratch);
}

static void full_conn(struct rr_conn *c, int v6)
{
    memset(c, 0, sizeof(*c));
    c->proto = RR_PROTO_H2;
    c->ip_version = v6 ? 6 : 4;
    for (int i = 0; i < (v6 ? 16 : 4); i++) {
        c->client_ip[i] = (uint8_t)(i + 1);
        c->server_ip[i] = (uint8_t)(0xf0 + i);
    }
    c->client_port = 54321;
    c->server_port = 443;
    c->flags = RR_CF_KNOWN;
    c->t_first_us = 1764200000000000ull;
    c->t_last_us = UINT64_MAX;
}

static void conn_roundtrip(void **state)
{
    for (int v6 = 0; v6 < 2; v6++) {
        struct rr_conn c, d;
        struct rr_buf b;
        full_conn(&c, v6);
        rr_buf_init(&b);
        rr_conn_encode(&c, &b);
        assert_int_equal(rr_conn_decode(b.p, b.len, &d), 0);
        assert_memory_equal(&c, &d, sizeof(c));
        for (uint32_t f = 1; f <= RR_CF_KNOWN; f <<= 1) {
            c.flags = f;
            rr_buf_reset(&b);
            rr_conn_encode(&c, &b);
            assert_int_equal(rr_conn_decode(b.p, b.len, &d), 0);
            assert_int_equal(d.flags, f);
        }
        for (size_t n = 0; n < b.len; n++)
            assert_int_equal(rr_conn_decode(b.p, n, &d), RR_ECORRUPT);
        for (size_t i = 0; i < b.len; i++)
            for (int bit = 0; bit < 8; bit++) {
                b.p[i] ^= (uint8_t)(1u << bit);
                assert_int_equal(rr_conn_decode(b.p, b.len, &d), RR_ECORRUPT);
                b.p[i] ^= (uint8_t)(1u << bit);
            }
        /* an exchange record is not a connection record */
        struct rr_exchange x;
        full_exchange(&x);
        rr_buf_reset(&b);
        rr_exchange_encode(&x, &b);
        assert_int_equal(rr_conn_decode(b.p, b.len, &d), RR_ECORRUPT);
        rr_buf_fini(&b);
    }
}

/* One table of reason phrases for HTTP/2's missing ones: the words of RFC 9110. */
static void http_reasons(void **state)
{
    (void)state;
    assert_string_equal(rr_http_reason(200), "OK");
    assert_string_equal(rr_http_reason(413), "Content Too Large");
    assert_string_equal(rr_http_reason(422), "Unprocessable Content");
    assert_string_equal(rr_http_reason(500), "Internal Server Error");
    assert_string_equal(rr_http_reason(599), "");
    assert_string_equal(rr_http_reason(0), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exchange_roundtrip_full),
        cmocka_unit_test(exchange_roundtrip_each_flag),
        cmocka_unit_test(exchange_roundtrip_minimal),
        cmocka_unit_test(exchange_many_headers),
        cmocka_unit_test(exchange_truncated),
        cmocka_unit_test(exchange_bit_flips),
        cmocka_unit_test(exchange_bad_fields_with_good_check),
        cmocka_unit_test(conn_roundtrip),
        cmocka_unit_test(http_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
