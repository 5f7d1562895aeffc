/* pcap_src.c -- Capture sources: pcap/pcapng files and live interfaces (libpcap). The only file
 * of the recorder that does I/O. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "rr/recorder.h"
#include "rr/util.h"

#define LIVE_BUFFER (256 << 20)

static uint64_t ts_of(const struct pcap_pkthdr *h, int nano)
{
    return (uint64_t)h->ts.tv_sec * 1000000u +
           (uint64_t)(nano ? h->ts.tv_usec / 1000 : h->ts.tv_usec);
}

static void progress(const struct rr_rec_src_opts *o, const struct rr_rec *r, FILE *f,
                     uint64_t total, uint64_t *last)
{
    uint64_t now = rr_now_mono_us();
    if (now - *last < 250000)
        return;
    *last = now;
    const struct rr_rec_stats *s = rr_rec_stats(r);
    if (f && total) {
        long pos = ftell(f);
        fprintf(stderr, "\r%.1f / %.1f MB  %llu exchanges  ", pos / 1e6, total / 1e6,
                (unsigned long long)s->exchanges);
    } else {
        fprintf(stderr, "\r%llu exchanges  %llu packets  %llu kernel drops  ",
                (unsigned long long)s->exchanges, (unsigned long long)s->packets,
                (unsigned long long)s->kernel_drops);
    }
    (void)o;
}

static int run_file(struct rr_rec *r, const struct rr_rec_src_opts *o, char *why, size_t wl)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    FILE *f = NULL;
    pcap_t *pc = NULL;
    uint64_t total = 0, last = 0, n = 0;
    int rc = 0;

    if (strcmp(o->file, "-") == 0) {
        pc = pcap_fopen_offline_with_tstamp_precision(stdin, PCAP_TSTAMP_PRECISION_MICRO, eb);
    } else {
        f = fopen(o->file, "rb");
        if (!f) {
            rc = -errno;
            snprintf(why, wl, "%s: %s", o->file, strerror(errno));
            return rc;
        }
        struct stat sb;
        if (fstat(fileno(f), &sb) == 0)
            total = (uint64_t)sb.st_size;
        pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, eb);
    }
    if (!pc) {
        snprintf(why, wl, "%s: not a pcap or pcapng capture (%s)", o->file, eb);
        if (f)
            fclose(f);
        return RR_EPARSE;
    }
    int dlt = pcap_datalink(pc);
    if (rr_rec_set_linktype(r, dlt) != 0) {
        const char *nm = pcap_datalink_val_to_name(dlt);
        snprintf(why, wl,
                 "%s: unsupported link type %d (%s); expected Ethernet, Linux cooked, "
                 "loopback or raw IP",
                 o->file, dlt, nm ? nm : "unknown");
        rc = RR_ELIMIT;
        goto out;
    }
    if (o->bpf && *o->bpf) {
        /* The same filter language as live capture, applied while reading. */
        struct bpf_program prog;
        int bad = pcap_compile(pc, &prog, o->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0;
        if (!bad) {
            bad = pcap_setfilter(pc, &prog) != 0;
            pcap_freecode(&prog);
        }
        if (bad) {
            snprintf(why, wl, "filter '%s': %s", o->bpf, pcap_geterr(pc));
            rc = RR_EUSAGE;
            goto out;
        }
    }
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int x = pcap_next_ex(pc, &h, &data);
        if (x == -2)
            break;
        if (x == -1) {
            long before = f ? ftell(f) : 0;
            snprintf(why, wl,
                     "%s: truncated or damaged after packet %llu (read up to byte %ld): %s",
                     o->file, (unsigned long long)n, before, pcap_geterr(pc));
            rc = RR_ETRUNC;
            break;
        }
        if (x != 1)
            continue;
        n++;
        rc = rr_rec_packet(r, data, h->caplen, h->len, ts_of(h, 0));
        if (rc == RR_ESTOP) {
            rc = 0;
            break;
        }
        if (rc) {
            snprintf(why, wl, "%s: packet %llu: %s", o->file, (unsigned long long)n,
                     rr_strerror(rc));
            break;
        }
        if (o->stop && *o->stop)
            break;
        if (o->progress && (n & 1023) == 0)
            progress(o, r, f, total, &last);
    }
    if (o->progress)
        fprintf(stderr, "\r%60s\r", "");
out:
    pcap_close(pc); /* closes f */
    return rc;
}

struct live_ctx {
    struct rr_rec *r;
    int rc;
};

static void on_live_packet(u_char *ud, const struct pcap_pkthdr *h, const u_char *data)
{
    struct live_ctx *lc = (struct live_ctx *)ud;
    if (lc->rc)
        return;
    lc->rc = rr_rec_packet(lc->r, data, h->caplen, h->len, ts_of(h, 0));
}

static int run_live(struct rr_rec *r, const struct rr_rec_src_opts *o, char *why, size_t wl)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_create(o->iface, eb);
    int rc = 0;
    uint64_t last = 0, t0 = rr_now_mono_us();
    if (!pc) {
        snprintf(why, wl, "%s: %s", o->iface, eb);
        return RR_EPARSE;
    }
    (void)pcap_set_snaplen(pc, 262144);
    (void)pcap_set_promisc(pc, 0);
    (void)pcap_set_buffer_size(pc, LIVE_BUFFER);
    /* Not immediate mode: on Linux it makes libpcap use TPACKET_V2, whose ring has one
     * snaplen-sized slot per packet (about 1000 slots of 256 KiB in 256 MiB), and it drops
     * at a few 10k packets/s. TPACKET_V3 packs packets into blocks; a block is handed over
     * when full or after the timeout, which only delays recording by up to 50 ms. */
    (void)pcap_set_immediate_mode(pc, 0);
    (void)pcap_set_timeout(pc, 50);
    int x = pcap_activate(pc);
    if (x < 0) {
        snprintf(why, wl, "%s: cannot capture: %s", o->iface, pcap_geterr(pc));
        rc = x == PCAP_ERROR_PERM_DENIED ? -EPERM : RR_EPARSE;
        goto out;
    }
    if (rr_rec_set_linktype(r, pcap_datalink(pc)) != 0) {
        snprintf(why, wl, "%s: unsupported link type %d", o->iface, pcap_datalink(pc));
        rc = RR_ELIMIT;
        goto out;
    }
    if (o->bpf && *o->bpf) {
        struct bpf_program prog;
        if (pcap_compile(pc, &prog, o->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(why, wl, "filter '%s': %s", o->bpf, pcap_geterr(pc));
            rc = RR_EUSAGE;
            goto out;
        }
        x = pcap_setfilter(pc, &prog);
        pcap_freecode(&prog);
        if (x != 0) {
            snprintf(why, wl, "filter '%s': %s", o->bpf, pcap_geterr(pc));
            rc = RR_EUSAGE;
            goto out;
        }
    }
    /* Non-blocking reads and our own poll: stop requests and -t are seen within 100 ms even
     * when no packet comes. */
    if (pcap_setnonblock(pc, 1, eb) != 0) {
        snprintf(why, wl, "%s: %s", o->iface, eb);
        rc = RR_EPARSE;
        goto out;
    }
    int fd = pcap_get_selectable_fd(pc);
    if (!o->quiet) {
        /* Scripts wait for this line before they send traffic. */
        fprintf(stderr, "rrload: capturing on %s%s%s\n", o->iface, o->bpf ? ", filter " : "",
                o->bpf ? o->bpf : "");
        fflush(stderr);
    }
    struct live_ctx lc = {r, 0};
    for (;;) {
        if (o->stop && *o->stop)
            break;
        if (o->duration_us && rr_now_mono_us() - t0 >= o->duration_us)
            break;
        x = pcap_dispatch(pc, 4096, on_live_packet, (u_char *)&lc);
        if (lc.rc) {
            rc = lc.rc == RR_ESTOP ? 0 : lc.rc;
            if (rc)
                snprintf(why, wl, "%s: %s", o->iface, rr_strerror(rc));
            break;
        }
        if (x < 0 && x != PCAP_ERROR_BREAK) {
            snprintf(why, wl, "%s: %s", o->iface, pcap_geterr(pc));
            rc = RR_EPARSE;
            break;
        }
        if (x == 0 && fd >= 0) {
            struct pollfd pfd = {fd, POLLIN, 0};
            (void)poll(&pfd, 1, 100);
        }
        struct pcap_stat ps;
        if (pcap_stats(pc, &ps) == 0) {
            rr_rec__stats_mut(r)->kernel_drops = ps.ps_drop;
            rr_rec__stats_mut(r)->if_drops = ps.ps_ifdrop;
        }
        if (o->progress)
            progress(o, r, NULL, 0, &last);
    }
    struct pcap_stat ps;
    if (pcap_stats(pc, &ps) == 0) {
        rr_rec__stats_mut(r)->kernel_drops = ps.ps_drop;
        rr_rec__stats_mut(r)->if_drops = ps.ps_ifdrop;
    }
    if (o->progress)
        fprintf(stderr, "\r%60s\r", "");
out:
    pcap_close(pc);
    return rc;
}

int rr_rec_probe_file(const char *path, char *why, size_t wl)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    FILE *f = fopen(path, "rb");
    if (!f) {
        int rc = -errno;
        snprintf(why, wl, "%s: %s", path, strerror(errno));
        return rc;
    }
    pcap_t *pc = pcap_fopen_offline(f, eb);
    if (!pc) {
        snprintf(why, wl, "%s: not a pcap or pcapng capture (%s)", path, eb);
        fclose(f);
        return RR_EPARSE;
    }
    int dlt = pcap_datalink(pc), rc = 0;
    struct rr_rec_sink none = {NULL, NULL, NULL};
    struct rr_rec *r = NULL;
    if (rr_rec_new(&r, NULL, &none) == 0 && rr_rec_set_linktype(r, dlt) != 0) {
        const char *nm = pcap_datalink_val_to_name(dlt);
        snprintf(why, wl,
                 "%s: unsupported link type %d (%s); expected Ethernet, Linux cooked, "
                 "loopback or raw IP",
                 path, dlt, nm ? nm : "unknown");
        rc = RR_ELIMIT;
    }
    rr_rec_free(&r);
    pcap_close(pc);
    return rc;
}

int rr_rec_run(struct rr_rec *r, const struct rr_rec_src_opts *o, char *why, size_t whylen)
{
    if (o->file)
        return run_file(r, o, why, whylen);
    return run_live(r, o, why, whylen);
}
