"""rrload workers under a real Locust master (Debian's python3-locust), all on 127.0.0.1.

usage: test_worker.py SCENARIO DEMO_TARGET_EXE LOCUSTFILE
  headless  two workers, a headless run: the master's CSV counts equal what the workers sent
            and what the target received, /status/500 failures reach the failures CSV, and
            the master's exit code is 1
  kill      one worker SIGKILLed mid-run (the master notices, the other goes on), then the
            master SIGKILLed (the remaining worker stops its users and exits 1 in time)
  plan      two workers replaying a stored plan: classes named like flows run those flows,
            counts agree with the target's log, failures and exit code as above
  webui     a web-UI master driven by its HTTP API: swarm, stop (workers rejoin as ready),
            swarm again, SIGTERM (workers send their final stats and exit 0)
Exit 77 when locust is not installed.
"""
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demotarget import DemoTarget  # noqa: E402

RRLOAD = os.environ.get("RRLOAD")
LOCUST = shutil.which("locust")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Procs:
    """Every process a scenario starts, killed by pid at the end whatever happens."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, args):
        out = open(os.path.join(self.tmp, name + ".out"), "wb")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp)
        p.name = name
        self.procs.append(p)
        return p

    def output(self, name):
        with open(os.path.join(self.tmp, name + ".out"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def master_args(port, extra):
    return [LOCUST, "-f", LOCUSTFILE, "--master", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(port)] + extra


def worker_args(port, urls, extra=()):
    args = [RRLOAD, "worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    for u in urls:
        args += ["--url", u]
    return args + list(extra)


def reported(out):
    m = re.search(r"reported (\d+) requests, (\d+) failures in total", out)
    assert m, "worker printed no total:\n" + out
    return int(m.group(1)), int(m.group(2))


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def scenario_headless(ps, target):
    mp = free_port()
    master = ps.start("master", master_args(mp, [
        "--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", "3s",
        "--csv", "m", "-H", target.url]))
    urls = ["/", "/status/500", "/api/items?page=1"]
    w1 = ps.start("w1", worker_args(mp, urls))
    w2 = ps.start("w2", worker_args(mp, urls))
    rc = master.wait(timeout=25)
    r1, r2 = w1.wait(timeout=5), w2.wait(timeout=5)
    mout = ps.output("master")
    assert r1 == 0 and r2 == 0, "worker exit codes %d %d\n%s\n%s" % (
        r1, r2, ps.output("w1"), ps.output("w2"))
    assert rc == 1, "master exit code %d (failures were injected)\n%s" % (rc, mout)
    assert "Uncaught exception" not in mout and "Traceback" not in mout, mout
    assert "All users spawned" in mout, mout
    (n1, f1), (n2, f2) = reported(ps.output("w1")), reported(ps.output("w2"))
    assert n1 > 0 and n2 > 0, (n1, n2)

    rows = {(r["Type"], r["Name"]): r for r in read_csv(os.path.join(ps.tmp, "m_stats.csv"))}
    agg = rows[("", "Aggregated")]
    master_n, master_f = int(agg["Request Count"]), int(agg["Failure Count"])
    assert master_n == n1 + n2, "master counted %d, workers reported %d + %d" % (master_n, n1, n2)
    assert master_f == f1 + f2, "master failures %d, workers %d + %d" % (master_f, f1, f2)
    # the target is the referee: at most one request per user may be cut off at quit
    target.stop()
    got = len(target.log_lines())
    assert 0 <= got - master_n <= 4, "target received %d, master counted %d" % (got, master_n)
    for name in ("/", "/status/500", "/api/items?page=1"):
        assert int(rows[("GET", name)]["Request Count"]) > 0, name
    assert int(rows[("GET", "/")]["Failure Count"]) == 0
    assert rows[("GET", "/status/500")]["Failure Count"] == rows[("GET", "/status/500")][
        "Request Count"]

    fails = read_csv(os.path.join(ps.tmp, "m_failures.csv"))
    f500 = [f for f in fails if f["Name"] == "/status/500"]
    assert len(f500) == 1, fails
    assert f500[0]["Method"] == "GET"
    assert "HTTPError('500 Server Error: Internal Server Error for url: " in f500[0]["Error"], f500
    assert int(f500[0]["Occurrences"]) == int(rows[("GET", "/status/500")]["Failure Count"])
    # percentiles came through the histogram: the 100% column is a real bucket
    assert int(agg["100%"]) >= 0
    print("ok headless: workers %d + %d = master %d, target %d, failures %d"
          % (n1, n2, master_n, got, master_f))


def scenario_kill(ps, target):
    mp = free_port()
    master = ps.start("master", master_args(mp, [
        "--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", "60s",
        "--csv", "m", "-H", target.url]))
    w1 = ps.start("w1", worker_args(mp, ["/"], ["--master-timeout", "2s"]))
    w2 = ps.start("w2", worker_args(mp, ["/"], ["--master-timeout", "2s"]))
    wait_for(lambda: "All users spawned" in ps.output("master"), 15, "the users to spawn")
    time.sleep(1)
    w2.kill()
    w2.wait()
    wait_for(lambda: "setting state to missing" in ps.output("master"), 10,
             "the master to notice the killed worker")
    assert w1.poll() is None, "the other worker stopped:\n" + ps.output("w1")
    # the other worker still sends load
    before = len(open(target.log_path).readlines())
    time.sleep(1.0)
    after = len(open(target.log_path).readlines())
    assert after > before, "no load after the kill (%d -> %d)" % (before, after)
    assert master.poll() is None, ps.output("master")

    master.kill()
    master.wait()
    t0 = time.time()
    rc = w1.wait(timeout=10)
    took = time.time() - t0
    out = ps.output("w1")
    assert rc == 1, "worker exit code %d after the master died\n%s" % (rc, out)
    assert took < 6, "worker took %.1f s to give up" % took
    assert "is gone" in out, out
    # its users are stopped: the target hears nothing more
    n = len(open(target.log_path).readlines())
    time.sleep(0.5)
    assert len(open(target.log_path).readlines()) == n, "requests after the worker exited"
    print("ok kill: master noticed, survivor gave up after %.1f s" % took)


PLAN = """rrload-plan 1
host "http://127.0.0.1:1"
wait none

flow "RrloadUser" weight 3
  step "/" GET "/"
  end
  step "/status/500" GET "/status/500"
  end
end

flow "RrloadApiUser" weight 1
  step "/api/items" GET "/api/items?page=1"
  end
end
"""


def scenario_plan(ps, target):
    db = os.path.join(ps.tmp, "shop.db")
    plan = os.path.join(ps.tmp, "plan.txt")
    with open(plan, "w") as f:
        f.write(PLAN)
    pcap = os.path.join(os.environ["RR_SOURCE_ROOT"], "samples", "shop-h1.pcap")
    subprocess.run([RRLOAD, "record", "-r", pcap, "-o", db], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([RRLOAD, "plan", db, "import", plan], check=True)
    mp = free_port()
    master = ps.start("master", master_args(mp, [
        "--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", "3s",
        "--csv", "m", "-H", target.url]))
    w1 = ps.start("w1", [RRLOAD, "worker", db, "--master-host", "127.0.0.1",
                         "--master-port", str(mp)])
    w2 = ps.start("w2", [RRLOAD, "worker", plan, "--master-host", "127.0.0.1",
                         "--master-port", str(mp)])
    rc = master.wait(timeout=25)
    r1, r2 = w1.wait(timeout=5), w2.wait(timeout=5)
    mout = ps.output("master")
    assert r1 == 0 and r2 == 0, (r1, r2, ps.output("w1"), ps.output("w2"))
    assert rc == 1, "master exit code %d\n%s" % (rc, mout)
    assert '"RrloadApiUser": 1, "RrloadUser": 3' in mout, mout
    (n1, f1), (n2, f2) = reported(ps.output("w1")), reported(ps.output("w2"))
    rows = {(r["Type"], r["Name"]): r for r in read_csv(os.path.join(ps.tmp, "m_stats.csv"))}
    master_n = int(rows[("", "Aggregated")]["Request Count"])
    assert master_n == n1 + n2 and n1 > 0 and n2 > 0, (master_n, n1, n2)
    assert int(rows[("", "Aggregated")]["Failure Count"]) == f1 + f2
    target.stop()
    got = len(target.log_lines())
    assert 0 <= got - master_n <= 4, "target received %d, master counted %d" % (got, master_n)
    # the flows ran under their classes: all three steps were requested, the 500s failed
    for name in ("/", "/status/500", "/api/items"):
        assert int(rows[("GET", name)]["Request Count"]) > 0, (name, rows.keys())
    assert rows[("GET", "/status/500")]["Failure Count"] == rows[("GET", "/status/500")][
        "Request Count"]
    fails = read_csv(os.path.join(ps.tmp, "m_failures.csv"))
    assert any(f["Name"] == "/status/500" and "500 Server Error" in f["Error"] for f in fails), \
        fails
    print("ok plan: workers %d + %d = master %d, target %d" % (n1, n2, master_n, got))


def http(url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=5) as r:
        return json.loads(r.read().decode())


def scenario_webui(ps, target):
    mp, wp = free_port(), free_port()
    master = ps.start("master", master_args(mp, [
        "--web-host", "127.0.0.1", "--web-port", str(wp), "-H", target.url]))
    w1 = ps.start("w1", worker_args(mp, ["/"]))
    w2 = ps.start("w2", worker_args(mp, ["/"]))
    web = "http://127.0.0.1:%d" % wp

    def workers(state=None, users=None):
        try:
            ws = http(web + "/stats/requests").get("workers", [])
        except OSError:
            return False
        return len(ws) == 2 and all((state is None or w["state"] == state) and
                                    (users is None or w["user_count"] == users) for w in ws)

    wait_for(lambda: workers("ready"), 15, "two ready workers in the web UI")
    r = http(web + "/swarm", {"user_count": 4, "spawn_rate": 4, "host": target.url})
    assert r["success"], r
    wait_for(lambda: workers("running", 2), 10, "2 users running on each worker")
    wait_for(lambda: http(web + "/stats/requests")["stats"][-1]["num_requests"] > 0, 10,
             "requests in the master's stats")
    assert http(web + "/stop")["success"]
    wait_for(lambda: ps.output("master").count("reported as ready") >= 4, 10,
             "both workers to rejoin as ready after stop")
    n = len(open(target.log_path).readlines())
    time.sleep(0.5)
    assert len(open(target.log_path).readlines()) == n, "users still running after stop"
    r = http(web + "/swarm", {"user_count": 2, "spawn_rate": 2, "host": target.url})
    assert r["success"], r
    wait_for(lambda: workers("running", 1), 10, "1 user running on each worker")
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=10)
    r1, r2 = w1.wait(timeout=5), w2.wait(timeout=5)
    assert r1 == 0 and r2 == 0, (r1, r2, ps.output("w1"))
    assert "the master asked to quit" in ps.output("w1")
    print("ok webui: swarm, stop, swarm, quit")


def main():
    global LOCUSTFILE
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    scenario, exe = sys.argv[1], os.path.abspath(sys.argv[2])
    LOCUSTFILE = os.path.abspath(sys.argv[3])
    if not LOCUST:
        print("SKIP: locust (python3-locust) is not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="rr-worker-test-")
    ps = Procs(tmp)
    target = DemoTarget(exe, log=True, h2c=False)
    try:
        target.start()
        {"headless": scenario_headless, "kill": scenario_kill,
         "webui": scenario_webui, "plan": scenario_plan}[scenario](ps, target)
        for p in ps.procs:
            out = ps.output(p.name)
            assert "Sanitizer" not in out and "runtime error" not in out, p.name + ":\n" + out
    except BaseException:
        for p in ps.procs:
            print("---- %s (pid %d, rc %s)" % (p.name, p.pid, p.poll()))
            print(ps.output(p.name)[-3000:])
        raise
    finally:
        ps.kill_all()
        if target.proc is not None:
            target.stop()
        target.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
