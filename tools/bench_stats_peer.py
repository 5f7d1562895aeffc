#!/usr/bin/python3
"""Peer for the rr_stats_record benchmark: Locust's own RequestStats.log_request (+ log_error
for 0.1 % of requests), 8 entries, response times spread over 0..2000 ms."""
import random
import sys
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from locust.stats import RequestStats  # noqa: E402

s = RequestStats(use_response_times_cache=True)
names = ["/e%d" % i for i in range(8)]
n = 500000
rts = [random.random() * 2000 for _ in range(1024)]
t0 = time.perf_counter()
for i in range(n):
    s.log_request("GET", names[i & 7], rts[i & 1023], 512)
    if not (i & 1023):
        s.log_error("GET", names[i & 7], "HTTPError('500')")
t1 = time.perf_counter()
print("locust RequestStats.log_request: %.1f ns/op over %d records" % ((t1 - t0) * 1e9 / n, n))
