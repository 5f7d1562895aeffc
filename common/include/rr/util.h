/* util.h -- Time, parsing of command-line values, hashing. */
#ifndef RR_UTIL_H
#define RR_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"

/* Microseconds: CLOCK_MONOTONIC for intervals, CLOCK_REALTIME for timestamps. */
uint64_t rr_now_mono_us(void);
uint64_t rr_now_real_us(void);

/* Parses a Locust-style duration ("300s", "20m", "1h30m", "90" = seconds, "250ms") into
 * microseconds. Returns RR_EPARSE for anything else. */
int rr_parse_duration(const char *s, uint64_t *out_us) RR_WUR;
/* Parses a size with an optional k/M/G suffix (powers of 1024). */
int rr_parse_size(const char *s, uint64_t *out) RR_WUR;
/* Parses a whole non-negative number that fits in max. */
int rr_parse_u64(const char *s, uint64_t max, uint64_t *out) RR_WUR;
/* Parses a finite non-negative decimal number. */
int rr_parse_double(const char *s, double *out) RR_WUR;

/* 64-bit hash of bytes (FNV-1a with a final avalanche); seed selects independent hashes. */
uint64_t rr_hash64(const void *p, size_t n, uint64_t seed);

#endif
