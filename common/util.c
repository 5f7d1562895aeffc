/* util.c -- Time, parsing of command-line values, hashing. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rr/util.h"

uint64_t rr_now_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t rr_now_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int rr_parse_duration(const char *s, uint64_t *out_us)
{
    uint64_t total = 0;
    const char *p = s;
    int parts = 0;

    if (!s || !*s)
        return RR_EPARSE;
    while (*p) {
        if (*p < '0' || *p > '9')
            return RR_EPARSE;
        uint64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            n = n * 10 + (uint64_t)(*p - '0');
            if (n > 100000000ull)
                return RR_EPARSE;
            p++;
        }
        uint64_t mul;
        if (p[0] == 'm' && p[1] == 's') {
            mul = 1000;
            p += 2;
        } else if (*p == 'h') {
            mul = 3600000000ull;
            p++;
        } else if (*p == 'm') {
            mul = 60000000ull;
            p++;
        } else if (*p == 's') {
            mul = 1000000ull;
            p++;
        } else if (*p == '\0' && parts == 0) {
            mul = 1000000ull;
        } else {
            return RR_EPARSE;
        }
        total += n * mul;
        parts++;
    }
    *out_us = total;
    return RR_OK;
}

int rr_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return RR_EPARSE;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return RR_EPARSE;
    *out = v;
    return RR_OK;
}

int rr_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return RR_EPARSE;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return RR_EPARSE;
    uint64_t mul = 1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    default:
        return RR_EPARSE;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v > UINT64_MAX / mul)
        return RR_EPARSE;
    *out = v * mul;
    return RR_OK;
}

int rr_parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return RR_EPARSE;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0)
        return RR_EPARSE;
    *out = v;
    return RR_OK;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* unaligned-safe; the hash is defined on little-endian words */
    return v;
}

static inline uint64_t mix64(uint64_t h)
{
    /* splitmix64 finaliser: every input bit reaches every output bit */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

uint64_t rr_hash64(const void *p, size_t n, uint64_t seed)
{
    /* Word at a time: bodies are hashed on the recording path, where a byte-at-a-time hash
     * cost more than all of the parsing. Two independent lanes hide the multiply latency. */
    const uint8_t *b = p;
    uint64_t a = 0x9e3779b97f4a7c15ull ^ seed,
             c = 0xc2b2ae3d27d4eb4full + seed * 0x9e3779b97f4a7c15ull;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a = (a ^ load64(b + i)) * 0xff51afd7ed558ccdull;
        a ^= a >> 32;
        c = (c ^ load64(b + i + 8)) * 0xc4ceb9fe1a85ec53ull;
        c ^= c >> 29;
    }
    if (i + 8 <= n) {
        a = (a ^ load64(b + i)) * 0xff51afd7ed558ccdull;
        a ^= a >> 32;
        i += 8;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; k++)
        tail |= (uint64_t)b[i + k] << (8 * k);
    c = (c ^ tail) * 0xc4ceb9fe1a85ec53ull;
    return mix64(a ^ mix64(c ^ (uint64_t)n));
}
