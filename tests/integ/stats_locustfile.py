"""Locust side of test_stats_vs_locust.py: delay endpoints with known latencies, two kinds of
HTTP error, a catch_response failure and refused connections; every request event is logged
so rrload can render the very same requests."""
import json
import os
import time

from locust import HttpUser, constant, events, task

_log = open(os.environ["RR_EVENTS"], "w")


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception, **kw):
    _log.write(json.dumps({"m": request_type, "n": name, "rt": response_time,
                           "len": response_length or 0,
                           "err": repr(exception) if exception else None,
                           "t": time.time()}) + "\n")


@events.quitting.add_listener
def _on_quit(environment, **kw):
    _log.flush()
    with open(os.environ["RR_EVENTS"] + ".meta", "w") as f:
        json.dump({"start_time": environment.stats.start_time}, f)


class Shop(HttpUser):
    wait_time = constant(0.02)

    @task(4)
    def d50(self):
        self.client.get("/delay/50")

    @task(3)
    def d120(self):
        self.client.get("/delay/120")

    @task(1)
    def missing(self):
        self.client.get("/status/404")

    @task(1)
    def broken(self):
        self.client.post("/status/500")

    @task(1)
    def check(self):
        with self.client.get("/", name="/check", catch_response=True) as r:
            r.failure("Got wrong response")

    @task(1)
    def refused(self):
        self.client.get("http://127.0.0.1:1/nope", name="refused")
