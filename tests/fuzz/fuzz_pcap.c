/* fuzz_pcap.c -- Fuzz target for the capture path: the input is a pcap or pcapng file, read by
 * libpcap from memory and fed through the whole recorder (link layer to HTTP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "fuzz_sink.h"
#include "rr/recorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_conn(void *ud, struct rr_conn *c)
{
    c->id = 1;
    return 0;
}

static int on_x(void *ud, const struct rr_conn *c, struct rr_exchange *x, const uint8_t *rq,
                size_t rql, const uint8_t *rs, size_t rsl)
{
    *(size_t *)ud += fuzz_touch(x, rq, rql, rs, rsl);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char eb[PCAP_ERRBUF_SIZE];
    size_t sum = 0;
    struct rr_rec_sink sink = {on_conn, on_x, &sum};
    struct rr_rec_opts o;
    struct rr_rec *r = NULL;
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (!f)
        return 0;
    pcap_t *pc = pcap_fopen_offline(f, eb);
    if (!pc) {
        fclose(f);
        return 0;
    }
    rr_rec_opts_default(&o);
    o.max_body = 4096;
    o.max_conns = 8;
    o.max_buffered = 4096;
    o.max_conn_buffered = 1024;
    if (rr_rec_new(&r, &o, &sink))
        abort();
    if (rr_rec_set_linktype(r, pcap_datalink(pc)) == 0) {
        struct pcap_pkthdr *h;
        const u_char *p;
        while (pcap_next_ex(pc, &h, &p) == 1) {
            if (rr_rec_packet(r, p, h->caplen, h->len,
                              (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec))
                abort();
        }
    }
    if (rr_rec_finish(r))
        abort();
    rr_rec_free(&r);
    pcap_close(pc);
    return 0;
}

/* The plain build's runner (standalone_main.c) also flips bytes and cuts ranges of each seed,
 * 3000 times, so header fields (IP fragment offsets and lengths, TCP offsets) take values the
 * seeds do not have. */
struct rr_fuzz_config {
    unsigned mutations;
    const char *const *tokens;
    size_t n_tokens;
};
const struct rr_fuzz_config *rr_fuzz_config(void);
const struct rr_fuzz_config *rr_fuzz_config(void)
{
    static const struct rr_fuzz_config c = {3000, NULL, 0};
    return &c;
}
