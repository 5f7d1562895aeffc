"""The worker against a scripted master speaking what newer Locust masters send.

usage: test_worker_proto.py DEMO_TARGET_EXE
A ROUTER socket plays the master: extra keys in ack and spawn, master heartbeats (2.19+),
message types the worker does not know (update_user_class, spawning_complete, custom), a stale
spawn, stop and rejoin, reconnect, and finally a master that stays connected but goes silent:
the worker must stop its users and exit 1 once --master-timeout has passed.
Needs pyzmq and msgpack (Debian's python3-zmq, python3-msgpack); exit 77 without them.
"""
import os
import re
import subprocess
import sys
import time

try:
    import msgpack
    import zmq
except ImportError:
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3" \
            and not os.environ.get("RR_REEXEC"):
        os.environ["RR_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: pyzmq/msgpack not installed")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402

ENTRY_KEYS = ["name", "method", "last_request_timestamp", "start_time", "num_requests",
              "num_none_requests", "num_failures", "total_response_time", "max_response_time",
              "min_response_time", "total_content_length", "response_times", "num_reqs_per_sec",
              "num_fail_per_sec"]


class Master:
    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.bind("tcp://127.0.0.1:0")
        self.port = int(self.sock.getsockopt_string(zmq.LAST_ENDPOINT).rsplit(":", 1)[1])
        self.node = None
        self.seen = []
        self.answer_heartbeats = True  # as masters >= 2.19 do

    def send(self, typ, data):
        self.sock.send_multipart([self.node.encode(), msgpack.dumps([typ, data, self.node])])

    def recv(self, timeout=3.0):
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError("no message from the worker in %.1f s (seen %s)"
                                 % (timeout, self.seen[-8:]))
        ident, payload = self.sock.recv_multipart()
        msg = msgpack.loads(payload, raw=False, strict_map_key=False)
        assert isinstance(msg, list) and len(msg) == 3, msg
        typ, data, node = msg
        assert ident.decode() == node, (ident, node)
        if self.node is None:
            self.node = node
        assert node == self.node
        self.seen.append(typ)
        if typ == "heartbeat" and self.answer_heartbeats:
            self.send("heartbeat", None)
        return typ, data

    def expect(self, typ, timeout=3.0, skip=("heartbeat", "stats")):
        deadline = time.time() + timeout
        while True:
            t, d = self.recv(max(0.05, deadline - time.time()))
            if t == typ:
                return d
            assert t in skip, "expected %s, got %s %r" % (typ, t, d)


def check_stats(d):
    for k in ("stats", "stats_total", "errors", "user_classes_count", "user_count"):
        assert k in d, (k, d.keys())
    for e in d["stats"] + [d["stats_total"]]:
        assert list(e.keys()) == ENTRY_KEYS, list(e.keys())
    assert d["stats_total"]["name"] == "Aggregated" and d["stats_total"]["method"] == ""


def main():
    exe = os.path.abspath(sys.argv[1])
    rrload = os.environ["RRLOAD"]
    m = Master()
    target = DemoTarget(exe, log=True, h2c=False)
    target.start()
    w = subprocess.Popen([rrload, "worker", "--master-host", "127.0.0.1", "--master-port",
                          str(m.port), "--url", "/", "--master-timeout", "2s", "--log-level", os.environ.get("WLOG", "info")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        t, d = m.recv(5)
        assert (t, d) == ("client_ready", -1), (t, d)
        assert re.fullmatch(r"[^_]+_[0-9a-f]{32}", m.node), m.node
        m.send("ack", {"index": 0, "some_future_key": [1, 2]})
        hb = m.expect("heartbeat", 2.5)
        assert hb["state"] == "ready" and isinstance(hb["current_cpu_usage"], float), hb
        assert isinstance(hb["current_memory_usage"], int) and hb["current_memory_usage"] > 0
        st = m.expect("stats", 4)
        check_stats(st)
        assert st["user_classes_count"] == {} and st["user_count"] == 0, st

        # what newer masters send and a worker must tolerate
        m.send("heartbeat", None)
        m.send("update_user_class", {"user_class_name": "A", "weight": 3, "tasks": []})
        m.send("spawning_complete", {"user_count": 0})
        m.send("some_custom_message", {"x": 1})
        ts = time.time()
        m.send("spawn", {"timestamp": ts, "user_classes_count": {"A": 2, "B": 0},
                         "host": target.url, "stop_timeout": None,
                         "parsed_options": {"num_users": 2, "future_option": True}})
        assert m.expect("spawning") is None
        sc = m.expect("spawning_complete")
        assert sc == {"user_classes_count": {"A": 2, "B": 0}, "user_count": 2}, sc
        # a stale spawn is acknowledged with spawning but not applied
        m.send("spawn", {"timestamp": ts - 1, "user_classes_count": {"A": 5, "B": 0},
                         "host": target.url, "stop_timeout": None, "parsed_options": {}})
        m.expect("spawning")
        hb = m.expect("heartbeat", 2.5)
        assert hb["state"] == "running", hb
        while True:
            st = m.expect("stats", 4)
            check_stats(st)
            assert "spawning_complete" not in m.seen[m.seen.index("spawning_complete") + 1:]
            assert st["user_classes_count"] == {"A": 2, "B": 0}, st
            if st["stats_total"]["num_requests"] > 0:
                break
        e = st["stats"][0]
        assert (e["method"], e["name"]) == ("GET", "/"), e
        assert sum(e["num_reqs_per_sec"].values()) == e["num_requests"]
        assert sum(e["response_times"].values()) == e["num_requests"]

        # stop: users stop, client_stopped, then client_ready again (stop_timeout nil = 0 s)
        m.send("stop", None)
        assert m.expect("client_stopped") is None
        assert m.expect("client_ready") == -1
        m.send("ack", {"index": 0})
        n = len(open(target.log_path).readlines())
        time.sleep(0.3)
        assert len(open(target.log_path).readlines()) == n, "users run after stop"
        hb = m.expect("heartbeat", 2.5)
        assert hb["state"] == "ready", hb
        st = m.expect("stats", 4)
        assert st["user_count"] == 0, st

        # reconnect: a new connection with the same identity, and client_ready again
        m.send("reconnect", None)
        assert m.expect("client_ready", 8) == -1
        m.send("ack", {"index": 0})

        # a master that sends heartbeats and then falls silent (connection still up)
        m.send("spawn", {"timestamp": time.time(), "user_classes_count": {"A": 1, "B": 0},
                         "host": target.url, "stop_timeout": 1, "parsed_options": {}})
        m.expect("spawning_complete", skip=("heartbeat", "stats", "spawning"))
        end = time.time() + 2.5
        while time.time() < end:
            m.recv()
        assert w.poll() is None, "worker left while the master's heartbeats came"
        m.answer_heartbeats = False
        while m.sock.poll(0):
            m.recv()
        t0 = time.time()
        rc = w.wait(timeout=6)
        took = time.time() - t0
        out = w.stdout.read().decode()
        assert rc == 1, (rc, out)
        assert took <= 4, took
        assert "is gone" in out, out
        assert "Sanitizer" not in out and "runtime error" not in out, out
        print("ok: %s" % " ".join(dict.fromkeys(m.seen)))
    except BaseException:
        if w.poll() is None:
            w.kill()
        w.wait()
        print("worker exit %s:\n%s" % (w.returncode, w.stdout.read().decode()[-4000:]))
        raise
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
        target.stop()
        target.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
