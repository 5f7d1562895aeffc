"""Start and stop the demo target from an integration test (import it next to your test).

    from demotarget import DemoTarget
    with DemoTarget(os.environ["RR_BUILD_ROOT"] + "/samples/demo_target", log=True) as t:
        requests.get(t.url + "/")          # t.http, t.h2c ports; t.h2c_url
        ...
    lines = t.log_lines()                  # the request log as a list of dicts, after exit

Ports are ephemeral (--port 0), learnt from --port-file. Leaving the block sends SIGTERM and
requires a clean exit (status 0, no sanitizer report), else AssertionError.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time


class DemoTarget:
    def __init__(self, exe, log=False, h2c=True, threads=1, extra=()):
        self.exe = exe
        self.want_log = log
        self.want_h2c = h2c
        self.threads = threads
        self.extra = list(extra)
        self.tmp = None
        self.proc = None
        self.http = self.h2c = 0
        self.url = self.h2c_url = None
        self.log_path = None
        self.stderr = ""

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="rr-demo-target-")
        pf = os.path.join(self.tmp, "ports")
        args = [self.exe, "--port", "0", "--port-file", pf, "--threads", str(self.threads)]
        if self.want_h2c:
            args += ["--h2-port", "0"]
        if self.want_log:
            self.log_path = os.path.join(self.tmp, "requests.log")
            args += ["--log", self.log_path]
        self.proc = subprocess.Popen(args + self.extra, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while not os.path.exists(pf):
            if self.proc.poll() is not None or time.time() > deadline:
                err = self.proc.communicate()[1] if self.proc.poll() is not None else b""
                self.proc.kill()
                raise RuntimeError("demo_target did not start: %r" % err)
            time.sleep(0.02)
        m = re.fullmatch(r"http=(\d+) h2c=(\d+)\n", open(pf).read())
        self.http, self.h2c = int(m.group(1)), int(m.group(2))
        self.url = "http://127.0.0.1:%d" % self.http
        self.h2c_url = "http://127.0.0.1:%d" % self.h2c if self.want_h2c else None
        return self

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=10)
            rc = self.proc.returncode
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            rc = None
        self.proc = None
        self.stderr = err.decode("utf-8", "replace")
        return rc

    def log_lines(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f]

    def cleanup(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        rc = self.stop()
        clean = rc == 0 and "runtime error" not in self.stderr and "Sanitizer" not in self.stderr
        if et is None and not clean:
            raise AssertionError("demo_target did not exit cleanly (status %r): %s"
                                 % (rc, self.stderr[-2000:]))
        # the log stays readable after the block; the folder goes when the object does
        return False

    def __del__(self):
        self.cleanup()
