#!/usr/bin/env python
"""Lobby display benchmark: N WebSocket display clients on one instance, calls through
the API, event-to-screen latency; side by side with a bare `websockets` broadcast server.

For each N in --clients, each run:

1. Turnero: a real server (`python -m turnero demo`, one worker, fresh SQLite file,
   TURNERO_ACCESS_LOG=0), N clients connected to /ws/offices/LPZ-PRINCIPAL/board from
   --procs client processes (uvloop when installed; `picows` clients by default, which
   parse frames in C as a browser does, or pure-Python `websockets` clients with
   --client websockets, which may offer permessage-deflate with --compression deflate;
   Turnero's server declines it unless TURNERO_WS_COMPRESSION=1). Then --calls calls: issue a
   ticket, call-next at a desk (HTTP), finish; one call every --interval seconds.
   Latency per client and call = when the client read the `ticket.called` event −
   when the call-next request was sent (end to end: HTTP, transaction, bus, hub, socket)
   and − when its response came back (the hub's part; negative when the event beats
   the HTTP response). Every client must receive every call.
2. Baseline: a bare `websockets` server (websockets.asyncio.server + broadcast()) in its
   own process, the same N clients; a control connection sends a message of the same
   size and the server broadcasts it to every client. Latency = receipt − send.
3. Memory per connection: the server process's RSS with N clients minus before, / N.

Prints each run, then medians over --runs, and a Markdown table. Clients, server and
driver share the machine's cores: the figures include the clients' own CPU time.

    python benchmarks/displays.py --clients 1000,5000,10000 --runs 3
    python benchmarks/displays.py --client websockets --clients 5000 --runs 3
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds queue.py, and Python puts this file's folder first on sys.path:
# take it out so that `import queue` (multiprocessing) finds the standard library.
_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import argparse
import asyncio
import json
import multiprocessing as mp
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

from benchmarks.common import free_port

OFFICE = "LPZ-PRINCIPAL"
DESK = "9"            # serves SANEAMIENTO only: the benchmark's tickets
SERVICE = "SANEAMIENTO"


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------- client processes


def client_process(url: str, count: int, expect: int, ready, done_q, compression, mark: str) -> None:
    """`count` display clients; reports [(key, receive time)] for messages carrying `mark`."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    from websockets.asyncio.client import connect

    async def one(received: list, connected: asyncio.Event, counter: list):
        for attempt in range(20):
            try:
                ws = await connect(url, open_timeout=60, ping_interval=None, max_size=2**22,
                                   compression=compression)
                break
            except Exception:
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            raise RuntimeError("could not connect")
        first = json.loads(await ws.recv())
        assert first["type"] == "snapshot"
        counter[0] += 1
        if counter[0] == count:
            connected.set()
        got = 0
        try:
            while got < expect:
                text = await ws.recv()
                now = time.time()
                if mark in text:
                    msg = json.loads(text)
                    received.append((msg.get("ticket") or msg.get("id"), now))
                    got += 1
        finally:
            await ws.close()

    async def main():
        received: list = []
        connected = asyncio.Event()
        counter = [0]
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(one(received, connected, counter)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # do not SYN-flood the listen backlog
        await connected.wait()
        ready.set()
        await asyncio.gather(*tasks)
        done_q.put(received)

    asyncio.run(main())


def picows_client_process(url: str, count: int, expect: int, ready, done_q, compression, mark: str) -> None:
    """The same as `client_process` with `picows` clients (frames parsed in C, one
    callback per message, no task per connection): the screens' own CPU cost drops far
    enough that the figures are the servers', not the clients'. No compression offered."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    from picows import WSListener, WSMsgType, ws_connect

    marker = mark.encode()

    async def main():
        received: list = []  # (receive time, payload), decoded once everything has arrived
        connected, finished = asyncio.Event(), asyncio.Event()
        counts = {"connected": 0, "finished": 0}

        class Display(WSListener):
            def __init__(self):
                self.snapshot = False
                self.got = 0

            def on_ws_frame(self, transport, frame):
                if frame.msg_type != WSMsgType.TEXT:
                    return  # pings are answered by picows (enable_auto_pong)
                now = time.time()
                data = frame.get_payload_as_bytes()
                if not self.snapshot:
                    assert json.loads(data)["type"] == "snapshot", data[:80]
                    self.snapshot = True
                    counts["connected"] += 1
                    if counts["connected"] == count:
                        connected.set()
                elif marker in data:
                    received.append((now, data))
                    self.got += 1
                    if self.got == expect:
                        counts["finished"] += 1
                        if counts["finished"] == count:
                            finished.set()

        transports = []

        async def one():
            for attempt in range(20):
                try:
                    transport, _ = await ws_connect(Display, url, websocket_handshake_timeout=60,
                                                    max_frame_size=2**22)
                    transports.append(transport)
                    return
                except Exception:
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError("could not connect")

        for i in range(count):
            asyncio.create_task(one())
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # do not SYN-flood the listen backlog
        await connected.wait()
        ready.set()
        await finished.wait()
        for transport in transports:
            transport.disconnect()
        done_q.put([(json.loads(data).get("ticket"), now) for now, data in received])

    asyncio.run(main())


COMPRESSION = "deflate"  # what the clients offer (--compression)
CLIENT = client_process  # the clients' library (--client)


def start_clients(url: str, n: int, procs: int, expect: int, mark: str):
    ctx = mp.get_context("fork")
    done_q = ctx.Queue()
    readies, workers = [], []
    for p in range(procs):
        share = n // procs + (1 if p < n % procs else 0)
        if not share:
            continue
        ready = ctx.Event()
        w = ctx.Process(target=CLIENT, args=(url, share, expect, ready, done_q, COMPRESSION, mark), daemon=True)
        w.start()
        readies.append(ready)
        workers.append(w)
    return workers, readies, done_q


def wait_ready(readies, workers, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for r in readies:
        if not r.wait(max(0.1, deadline - time.monotonic())):
            raise RuntimeError("clients did not connect in time")
    for w in workers:
        if not w.is_alive():
            raise RuntimeError("a client process died")


def collect(done_q, workers, timeout: float) -> list:
    results = []
    deadline = time.monotonic() + timeout
    for _ in workers:
        results.extend(done_q.get(timeout=max(0.1, deadline - time.monotonic())))
    for w in workers:
        w.join(timeout=10)
    return results


# ---------------------------------------------------------------- Turnero


def start_turnero(directory: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "TURNERO_DATABASE_URL": f"sqlite://{directory}/bench.sqlite3",
           "TURNERO_RUN_JOBS": "0", "TURNERO_ACCESS_LOG": "0", "TURNERO_WS_CLIENT_BUFFER": "256"}
    env.pop("TURNERO_REDIS_URL", None)
    log = open(os.path.join(directory, "server.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "turnero", "demo", "--port", str(port)], cwd=REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    import httpx
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/services", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("turnero did not start")


def run_turnero(n: int, calls: int, interval: float, procs: int) -> dict:
    import httpx

    directory = tempfile.mkdtemp(prefix="turnero-displays-bench-")
    port = free_port()
    server = start_turnero(directory, port)
    try:
        base = f"http://127.0.0.1:{port}"
        http = httpx.Client(base_url=base, timeout=60)
        tok = lambda u: {"Authorization": "Bearer " + http.post(  # noqa: E731
            "/api/auth/token", json={"username": u, "password": "demo"}).json()["token"]}
        admin, kiosk = tok("admin"), tok("kiosko")
        assert http.post(f"/api/offices/{OFFICE}/desks/{DESK}/open", headers=admin).status_code == 200
        rss_before = rss_kb(server.pid)
        workers, readies, done_q = start_clients(
            f"ws://127.0.0.1:{port}/ws/offices/{OFFICE}/board", n, procs, calls, '"ticket.called"')
        t0 = time.monotonic()
        wait_ready(readies, workers, timeout=60 + n / 50)
        connect_s = time.monotonic() - t0
        time.sleep(1.0)
        rss_after = rss_kb(server.pid)
        sent, answered, call_ms = {}, {}, []
        for _ in range(calls):
            r = http.post(f"/api/offices/{OFFICE}/tickets", json={"service": SERVICE}, headers=kiosk)
            assert r.status_code == 201, r.text
            time.sleep(0.05)
            t_sent = time.time()
            r = http.post(f"/api/offices/{OFFICE}/desks/{DESK}/call-next", headers=admin)
            t_answer = time.time()
            assert r.status_code == 200, r.text
            ticket = r.json()
            sent[ticket["number"]], answered[ticket["number"]] = t_sent, t_answer
            call_ms.append((t_answer - t_sent) * 1000)
            assert http.post(f"/api/tickets/{ticket['id']}/finish", headers=admin).status_code == 200
            time.sleep(interval)
        received = collect(done_q, workers, timeout=120)
        assert len(received) == n * calls, f"{len(received)} of {n * calls} deliveries"
        e2e = [(t - sent[k]) * 1000 for k, t in received]
        hub = [(t - answered[k]) * 1000 for k, t in received]
        return {
            "clients": n, "connect_s": connect_s,
            "e2e_p50": percentile(e2e, .5), "e2e_p99": percentile(e2e, .99),
            "hub_p50": percentile(hub, .5), "hub_p99": percentile(hub, .99),
            "call_p50": percentile(call_ms, .5),
            "kb_per_conn": (rss_after - rss_before) / n,
        }
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- baseline


def baseline_server(port: int, ready) -> None:
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    from websockets.asyncio.server import broadcast, serve

    clients = set()

    async def handler(ws):
        if ws.request.path == "/control":
            async for message in ws:
                broadcast(clients, message)
            return
        await ws.send('{"type":"snapshot","seq":0}')
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async def main():
        async with serve(handler, "127.0.0.1", port, ping_interval=20, max_queue=32):
            ready.set()
            await asyncio.Future()

    asyncio.run(main())


def run_baseline(n: int, calls: int, interval: float, procs: int) -> dict:
    from websockets.sync.client import connect

    ctx = mp.get_context("fork")
    port = free_port()
    ready = ctx.Event()
    server = ctx.Process(target=baseline_server, args=(port, ready), daemon=True)
    server.start()
    ready.wait(20)
    try:
        rss_before = rss_kb(server.pid)
        workers, readies, done_q = start_clients(f"ws://127.0.0.1:{port}/board", n, procs, calls, '"ticket.called"')
        wait_ready(readies, workers, timeout=60 + n / 50)
        time.sleep(1.0)
        rss_after = rss_kb(server.pid)
        sent = {}
        with connect(f"ws://127.0.0.1:{port}/control") as control:
            for i in range(calls):
                key = f"B-{i:03d}"
                message = json.dumps({"type": "ticket.called", "seq": i + 1, "ticket": key, "service": SERVICE,
                                      "service_name": "Saneamiento de datos (gabinete jurídico)", "desk": DESK,
                                      "called_at": "2026-11-23T10:00:00-04:00", "recall_count": 0},
                                     ensure_ascii=False)
                sent[key] = time.time()
                control.send(message)
                time.sleep(interval)
        received = collect(done_q, workers, timeout=120)
        assert len(received) == n * calls, f"{len(received)} of {n * calls} deliveries"
        lat = [(t - sent[k]) * 1000 for k, t in received]
        return {"clients": n, "p50": percentile(lat, .5), "p99": percentile(lat, .99),
                "kb_per_conn": (rss_after - rss_before) / n}
    finally:
        server.terminate()
        server.join(10)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1000,5000", help="comma-separated client counts")
    parser.add_argument("--calls", type=int, default=20, help="calls per run")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between calls")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--compression", choices=("deflate", "none"), default="none",
                        help="offer permessage-deflate as browsers do (websockets clients only), or not"
                             " (Turnero's server declines it by default: TURNERO_WS_COMPRESSION)")
    parser.add_argument("--client", choices=("picows", "websockets"), default="picows",
                        help="the display clients' library: picows (C frame parser; no compression) or"
                             " websockets (pure Python, as the tests use)")
    args = parser.parse_args()
    global COMPRESSION, CLIENT
    COMPRESSION = None if args.compression == "none" else "deflate"
    CLIENT = picows_client_process if args.client == "picows" else client_process
    if args.client == "picows" and COMPRESSION:
        parser.error("picows clients do not offer compression: add --compression none")
    counts = [int(c) for c in args.clients.split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs;"
          f" clients offer compression: {args.compression}", flush=True)
    rows = []
    for n in counts:
        turnero_runs, base_runs = [], []
        for run in range(args.runs):
            t = run_turnero(n, args.calls, args.interval, args.procs)
            b = run_baseline(n, args.calls, args.interval, args.procs)
            turnero_runs.append(t)
            base_runs.append(b)
            print(f"N={n} run {run + 1}: turnero e2e p50 {t['e2e_p50']:.1f} p99 {t['e2e_p99']:.1f} ms,"
                  f" after response p50 {t['hub_p50']:.1f} p99 {t['hub_p99']:.1f} ms, call {t['call_p50']:.1f} ms,"
                  f" {t['kb_per_conn']:.1f} KB/conn, connect {t['connect_s']:.1f} s |"
                  f" baseline p50 {b['p50']:.1f} p99 {b['p99']:.1f} ms, {b['kb_per_conn']:.1f} KB/conn"
                  f" (load {os.getloadavg()[0]:.1f})", flush=True)
        med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
        rows.append((n, med(turnero_runs, "e2e_p50"), med(turnero_runs, "e2e_p99"), med(turnero_runs, "hub_p50"),
                     med(turnero_runs, "hub_p99"), med(turnero_runs, "kb_per_conn"), med(base_runs, "p50"),
                     med(base_runs, "p99"), med(base_runs, "kb_per_conn")))
    print("\n| clients | Turnero p50 ms | Turnero p99 ms | after response p50 / p99 ms | KB per connection |"
          " baseline p50 ms | baseline p99 ms | baseline KB per connection |")
    print("|---|---|---|---|---|---|---|---|")
    for n, tp50, tp99, hp50, hp99, kb, bp50, bp99, bkb in rows:
        print(f"| {n} | {tp50:.1f} | {tp99:.1f} | {hp50:.1f} / {hp99:.1f} | {kb:.1f} | {bp50:.1f} | {bp99:.1f} | {bkb:.1f} |")


if __name__ == "__main__":
    main()
