#!/usr/bin/env python3
"""Real client sessions against the demo target, for recording the bundled samples.

usage: clients.py SCENARIO HTTP_PORT [H2C_PORT]
SCENARIO: shop-h1 | mix-123 | lookups | shop-h2c | features-h1

Choices are drawn from a fixed seed so each run makes the same number of exchanges; only the
tokens (fresh random ones per login) and the timings change between runs. Prints the number
of exchanges it made.
"""
import json
import socket
import random
import subprocess
import sys
import time

import requests

EXCHANGES = 0


class User:
    """One browser-like user: its own requests.Session, so its own connection and cookies."""

    def __init__(self, base, name, rng):
        self.base = base
        self.name = name
        self.rng = rng
        self.s = requests.Session()
        self.s.headers["User-Agent"] = "rrload-sample/1.0 (%s)" % name

    def think(self):
        time.sleep(self.rng.uniform(0.005, 0.03))

    def req(self, method, path, expect, **kw):
        global EXCHANGES
        r = self.s.request(method, self.base + path, timeout=10, **kw)
        EXCHANGES += 1
        if r.status_code != expect:
            raise SystemExit("%s %s: status %d, expected %d" % (method, path, r.status_code,
                                                                 expect))
        self.think()
        return r

    def assets(self):
        self.req("GET", "/", 200)
        self.req("GET", "/static/style.css", 200)
        self.req("GET", "/static/app.js", 200)

    def login(self):
        r = self.req("POST", "/login", 200, json={"user": self.name, "password": "secret"})
        self.s.headers["Authorization"] = "Bearer " + r.json()["token"]

    def lookup(self, customer, code):
        r = self.req("POST", "/api/lookup", 200, json={"customer": customer})
        if r.json()["retCode"] != code:
            raise SystemExit("lookup %s: retCode %s" % (customer, r.json()["retCode"]))

    def logout(self):
        self.req("POST", "/api/logout", 200)
        del self.s.headers["Authorization"]
        self.s.close()


def shop_h1(base, rng):
    """8 users: assets -> login -> browse -> cart -> lookups -> logout."""
    for i in range(8):
        u = User(base, "shopper%02d" % (i + 1), rng)
        u.assets()
        if i % 2 == 0:
            u.req("GET", "/favicon.ico", 200)
        u.login()
        pages = rng.sample([1, 2, 3, 4, 5], 2)
        for p in pages:
            u.req("GET", "/api/items?page=%d" % p, 200)
        items = [rng.randint((p - 1) * 10 + 1, p * 10) for p in pages]
        for it in items:
            u.req("GET", "/api/items/%d" % it, 200)
            u.req("POST", "/api/cart", 201, json={"item": it})
        u.req("GET", "/api/cart", 200)
        u.lookup("%d" % (100100 + 37 * i), "000000")
        if i % 3 == 0:
            u.lookup("%d" % (200000 + i), "100404")
        u.logout()


def mix_123(base, rng):
    """Three session kinds, 5 x A (browser), 10 x B (buyer), 15 x C (checker), interleaved."""
    kinds = ["A"] * 5 + ["B"] * 10 + ["C"] * 15
    rng.shuffle(kinds)
    n = {"A": 0, "B": 0, "C": 0}
    for k in kinds:
        n[k] += 1
        u = User(base, "%s-user%02d" % (k.lower(), n[k]), rng)
        if k == "A":  # browser: the page and its assets, one catalogue page
            u.assets()
            u.login()
            u.req("GET", "/api/items?page=1", 200)
            u.logout()
        elif k == "B":  # buyer: one item into the cart
            u.login()
            it = rng.randint(1, 50)
            u.req("GET", "/api/items/%d" % it, 200)
            u.req("POST", "/api/cart", 201, json={"item": it})
            u.req("GET", "/api/cart", 200)
            u.logout()
        else:  # checker: a customer lookup
            u.login()
            u.lookup("%d" % rng.randint(100000, 100999), "000000")
            u.logout()


def lookups(base, rng):
    """20 sessions, each looking up a different known customer number."""
    customers = rng.sample(range(100000, 101000), 20)
    for i, c in enumerate(customers):
        u = User(base, "agent%02d" % (i + 1), rng)
        u.login()
        u.lookup("%d" % c, "000000")
        u.logout()


def nghttp_get(base, paths, token=None):
    """GETs as concurrent streams of one h2c prior-knowledge connection (nghttp)."""
    global EXCHANGES
    args = ["nghttp", "-H", "user-agent: rrload-sample-nghttp/1.0"]
    if token:
        args += ["-H", "authorization: Bearer " + token]
    args += [base + p for p in paths]
    out = subprocess.run(args, capture_output=True, timeout=20, check=True).stdout
    EXCHANGES += len(paths)
    return out.decode("utf-8", "replace")


def curl_post(base, path, body, token=None):
    """One POST on its own h2c prior-knowledge connection (curl). curl 7.88 cannot reuse a
    prior-knowledge connection for a second request, hence one connection per POST."""
    global EXCHANGES
    args = ["curl", "-sS", "--http2-prior-knowledge", "-A", "rrload-sample-curl/1.0", "-X",
            "POST"]
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = subprocess.run(args + [base + path], capture_output=True, text=True, timeout=20,
                         check=True).stdout
    EXCHANGES += 1
    return json.loads(out)


def shop_h2c(base, rng):
    """4 users over h2c: GETs batched on nghttp connections, POSTs through curl."""
    for i in range(4):
        name = "h2shopper%02d" % (i + 1)
        nghttp_get(base, ["/", "/static/style.css", "/static/app.js"])
        token = curl_post(base, "/login", {"user": name, "password": "secret"})["token"]
        p = rng.randint(1, 5)
        it = rng.randint((p - 1) * 10 + 1, p * 10)
        out = nghttp_get(base, ["/api/items?page=%d" % p, "/api/items/%d" % it], token)
        if '"id":%d,' % it not in out:
            raise SystemExit("h2c session %d: browsing failed: %r" % (i, out))
        if curl_post(base, "/api/cart", {"item": it}, token)["count"] != 1:
            raise SystemExit("h2c session %d: cart add failed" % i)
        out = nghttp_get(base, ["/api/cart"], token)
        if '"count":1' not in out:
            raise SystemExit("h2c session %d: cart view failed: %r" % (i, out))
        r = curl_post(base, "/api/lookup", {"customer": "%d" % (100300 + 11 * i)}, token)
        if r["retCode"] != "000000":
            raise SystemExit("h2c session %d: lookup failed" % i)
        if curl_post(base, "/api/logout", None, token).get("ok") is not True:
            raise SystemExit("h2c session %d: logout failed" % i)
        time.sleep(rng.uniform(0.005, 0.03))


def features_h1(base, rng):
    """The protocol features a recorder must handle, one or two exchanges each."""
    global EXCHANGES
    u = User(base, "features", rng)
    r = u.req("GET", "/gzip", 200)  # requests decodes it; the capture holds gzip bytes
    if r.json().get("gzipped") is not True:
        raise SystemExit("gzip body did not decode")
    r = u.req("GET", "/chunked", 200)
    if len(r.text.splitlines()) != 5:
        raise SystemExit("chunked body wrong")
    u.req("HEAD", "/", 200)
    u.req("GET", "/status/404", 404)
    u.req("GET", "/status/204", 204)
    u.req("GET", "/status/302", 302, allow_redirects=False)
    u.req("GET", "/delay/50", 200)
    u.req("GET", "/api/cart", 401)  # no token
    u.req("POST", "/login", 401, json={"user": "features", "password": "wrong"})
    u.login()
    u.req("POST", "/api/cart", 201, json={"item": 42})
    u.req("PUT", "/api/cart", 405, json={"item": 42})
    u.logout()
    # curl: HTTP/1.0 (connection closes), then two requests on one keep-alive connection
    host = base.split("//")[1]
    subprocess.run(["curl", "-s", "-0", "-o", "/dev/null", base + "/static/style.css"],
                   check=True, timeout=10)
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-o", "/dev/null", base + "/favicon.ico",
                    base + "/gzip", "-H", "Accept-Encoding: gzip"], check=True, timeout=10)
    EXCHANGES += 3
    # two requests pipelined in one segment, the first delayed: answers come back in order
    sk = socket.create_connection((host.split(":")[0], int(host.split(":")[1])))
    sk.sendall(b"GET /delay/20 HTTP/1.1\r\nHost: %s\r\n\r\n"
               b"GET /chunked HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (host.encode(), host.encode()))
    got = b""
    while True:
        x = sk.recv(65536)
        if not x:
            break
        got += x
    sk.close()
    if got.count(b"HTTP/1.1 200") != 2:
        raise SystemExit("pipelined pair failed: %r" % got)
    EXCHANGES += 2


def main():
    scenario, port = sys.argv[1], int(sys.argv[2])
    rng = random.Random("rrload-" + scenario)
    if scenario == "shop-h2c":
        shop_h2c("http://127.0.0.1:%d" % int(sys.argv[3]), rng)
    else:
        {"shop-h1": shop_h1, "mix-123": mix_123, "lookups": lookups,
         "features-h1": features_h1}[scenario](
            "http://127.0.0.1:%d" % port, rng)
    print(EXCHANGES)


if __name__ == "__main__":
    main()
