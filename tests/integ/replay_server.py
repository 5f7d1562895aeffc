#!/usr/bin/env python3
"""replay_server.py -- A small HTTP/1.1 origin for the replayer tests.

Binds 127.0.0.1 port 0, prints "PORT <n>" on stdout, and logs every request it receives as
one JSON line {"t": <monotonic s>, "raw": "<request bytes, latin-1>"} to --log. Routes:
  /                 200 "hello\\n"
  /json             200 {"token": "abc123", "items": [{"id": 7}]}
  /login            200 {"token": "tok-42"} and Set-Cookie: sid=S1
  /status/<code>    that status
  /delay?ms=<n>     200 after n ms
  /echo             200 with the request body
  /close            200 then closes the connection
  /chunked          200 with a chunked body "abcdef"
  /eof              200 with a body delimited by closing the connection
With --tls CERT KEY it speaks https. Stops after --max-seconds (default 120) whatever happens, so a broken test cannot leave it.
"""
import argparse
import asyncio
import json
import sys
import time

REASONS = {200: "OK", 201: "Created", 204: "No Content", 302: "Found", 404: "Not Found",
           500: "INTERNAL SERVER ERROR", 503: "Service Unavailable"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve https")
    args = ap.parse_args()
    logf = open(args.log, "a", buffering=1) if args.log else None

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                hdrs = {}
                for l in lines[1:]:
                    if ":" in l:
                        k, v = l.split(":", 1)
                        hdrs[k.strip().lower()] = v.strip()
                n = int(hdrs.get("content-length", "0") or 0)
                body = await reader.readexactly(n) if n else b""
                if logf:
                    logf.write(json.dumps({"t": time.monotonic(),
                                           "raw": (head + body).decode("latin-1")}) + "\n")
                path, _, query = target.partition("?")
                status, rbody, extra, close = 200, b"hello\n", [], False
                if path == "/json":
                    rbody = b'{"token": "abc123", "items": [{"id": 7}]}'
                elif path == "/login":
                    rbody = b'{"token": "tok-42"}'
                    extra.append("Set-Cookie: sid=S1; Path=/")
                elif path.startswith("/status/"):
                    status = int(path[8:])
                    rbody = b"status\n"
                elif path == "/delay":
                    ms = 0
                    for kv in query.split("&"):
                        if kv.startswith("ms="):
                            ms = int(kv[3:])
                    await asyncio.sleep(ms / 1000)
                elif path == "/echo":
                    rbody = body
                elif path == "/close":
                    close = True
                if path == "/chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
                    await writer.drain()
                    continue
                if path == "/eof":
                    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof")
                    await writer.drain()
                    break
                resp = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (
                    status, REASONS.get(status, "Unknown"), len(rbody))
                for e in extra:
                    resp += e + "\r\n"
                if close:
                    resp += "Connection: close\r\n"
                writer.write((resp + "\r\n").encode("latin-1") + (b"" if method == "HEAD" else rbody))
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def run():
        ctx = None
        if args.tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024, ssl=ctx)
        port = srv.sockets[0].getsockname()[1]
        print("PORT %d" % port, flush=True)
        await asyncio.sleep(args.max_seconds)

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
