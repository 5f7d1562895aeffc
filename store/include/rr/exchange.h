/* exchange.h -- The recorded-traffic model: connections and HTTP exchanges.
 *
 * This is a persisted format (the store's `conns` and `exchanges` databases), shared by the
 * recorder (which writes it), the transform and the replayer (which read it). Strings are
 * views: who owns the bytes is said by the function that produced the struct. */
#ifndef RR_EXCHANGE_H
#define RR_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"

enum rr_proto {
    RR_PROTO_UNKNOWN = 0,
    RR_PROTO_H1 = 1,
    RR_PROTO_H2 = 2
};

enum rr_conn_flag {
    RR_CF_MIDSTREAM = 1 << 0, /* the capture started after the handshake */
    RR_CF_FIN = 1 << 1,
    RR_CF_RST = 1 << 2,
    RR_CF_EVICTED = 1 << 3,  /* idle or over a cap before it ended */
    RR_CF_UPGRADED = 1 << 4, /* 101 Switching Protocols: later bytes are not HTTP/1 */
    RR_CF_PROXY = 1 << 5,    /* recorded by the proxy, not from packets */
};

struct rr_conn {
    uint64_t id;           /* assigned by the store when 0 */
    uint8_t proto;         /* enum rr_proto */
    uint8_t ip_version;    /* 4 or 6 */
    uint8_t client_ip[16]; /* IPv4 in the first 4 bytes */
    uint8_t server_ip[16];
    uint16_t client_port;
    uint16_t server_port;
    uint32_t flags;      /* enum rr_conn_flag */
    uint64_t t_first_us; /* Unix epoch microseconds */
    uint64_t t_last_us;
};

enum rr_exchange_flag {
    RR_XF_INCOMPLETE = 1 << 0,  /* part of the request or response is missing */
    RR_XF_GAP = 1 << 1,         /* a TCP gap fell inside this exchange */
    RR_XF_DECODED = 1 << 2,     /* resp_body holds the body after Content-Encoding was undone */
    RR_XF_NO_RESPONSE = 1 << 3, /* no response was seen */
    RR_XF_UPGRADE = 1 << 4,     /* the response switched protocols (101) */
    RR_XF_TRUNCATED = 1 << 5,   /* snaplen cut packets of this exchange */
    RR_XF_PUSH = 1 << 6,        /* HTTP/2 server push: the request was promised, not sent */
    RR_XF_RESET = 1 << 7,       /* HTTP/2 stream reset or TCP RST before the end */
    RR_XF_BODY_CAPPED = 1 << 8, /* a body was longer than the store cap; only its head is kept */
};

struct rr_header {
    struct rr_view name;
    struct rr_view value;
};

/* A body stored once per content: the hash of its bytes and its length. len 0: no body. */
struct rr_body_ref {
    uint64_t hash[2];
    uint64_t len;
};

#define RR_MAX_INTERIM 4

struct rr_exchange {
    uint64_t id; /* capture order; assigned by the store when 0 */
    uint64_t conn_id;
    uint32_t h2_stream; /* 0 for HTTP/1.x */
    uint8_t version;    /* 10, 11 or 20 */
    uint32_t flags;     /* enum rr_exchange_flag */
    /* Unix epoch microseconds; 0 where not seen. */
    uint64_t t_req_start_us;  /* first byte of the request */
    uint64_t t_req_end_us;    /* last byte of the request */
    uint64_t t_resp_start_us; /* first byte of the final response */
    uint64_t t_resp_end_us;

    struct rr_view method;
    struct rr_view scheme;    /* "http" unless known otherwise */
    struct rr_view authority; /* Host header or :authority */
    struct rr_view target;    /* request-target as sent: path and query (or absolute form) */
    size_t n_req_headers;     /* in wire order, original case (HTTP/2: lowercase, no pseudo) */
    struct rr_header *req_headers;
    struct rr_body_ref req_body; /* raw bytes after removing chunked framing */

    uint16_t status; /* final status; 0 when no response */
    uint8_t n_interim;
    uint16_t interim[RR_MAX_INTERIM]; /* 1xx statuses seen before the final one */
    struct rr_view reason;
    size_t n_resp_headers;
    struct rr_header *resp_headers;
    uint64_t resp_wire_len;       /* body length after de-chunking, before content decoding */
    struct rr_body_ref resp_body; /* decoded when RR_XF_DECODED, else as on the wire */
};

/* Returns the value of the first header named name (ASCII case-insensitive), or an empty
 * view with p == NULL. */
struct rr_view rr_exchange_header(const struct rr_header *h, size_t n, const char *name);

/* The standard reason phrase of a status (RFC 9110's words), "" for one it does not know: what
 * HTTP/2, which sends none, is shown and reported with (the h2 replay engine, the HAR
 * writer), so both say the same thing. */
const char *rr_http_reason(unsigned status);

/* Content codings that rr_exchange_inflate undoes (Content-Encoding). */
enum rr_coding {
    RR_CODING_GZIP = 1,    /* gzip and x-gzip; a zlib stream sent under that name passes too */
    RR_CODING_DEFLATE = 2, /* zlib-wrapped as RFC 9110 says, or raw as some servers send it */
};

enum rr_inflate_flag {
    /* A stream that stops without its final block (servers that Z_SYNC_FLUSH and never
     * finish; browsers accept them) counts as decoded when some bytes came out. */
    RR_INFLATE_PARTIAL = 1 << 0,
};

/* Decodes body p into out (reset first), at most cap bytes. One loop for the recorder's
 * dissectors and the HAR writer, so all of them agree on what decodes. Returns 0, RR_ELIMIT
 * when more than cap bytes would come out, RR_ETRUNC for a stream cut short (without
 * RR_INFLATE_PARTIAL), RR_EPARSE for damaged data, RR_ELIB when zlib cannot start. On error
 * out holds garbage: callers keep the encoded bytes. */
int rr_exchange_inflate(const uint8_t *p, size_t n, enum rr_coding coding, size_t cap,
                        unsigned flags, struct rr_buf *out) RR_WUR;

#endif
