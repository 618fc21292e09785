"""Mock exchange server benchmark: order entry over HTTP on 127.0.0.1, with WebSocket depth
subscribers connected, against an aiohttp hello-world ceiling measured in the same run.

    python benchmarks/bench_server.py [--json] [--duration 20] [--rounds 4]
                                      [--ccxt-clients 20] [--raw-clients 20]
                                      [--subscribers 200] [--raw-params body|query]

The server runs as ``perpsim serve --no-rate-limits`` in its own process (the clients in
this one). Phases, each ``--duration`` seconds in all:

1. ``hello``: the raw clients GET an aiohttp hello-world server (another process): the
   ceiling of this machine's HTTP request rate for this client code;
1b. ``null_order``: the raw clients place and cancel (as in 2) against an aiohttp server
   that answers every order request at once with a fixed order: the ceiling of the raw
   clients themselves (signing, a larger request and answer); ``raw.vs_null_order`` is
   the server's share of it;
2. ``raw``: the raw clients (aiohttp, HMAC-SHA256-signed as Binance documents, the
   parameters in an x-www-form-urlencoded body, or in the query string with
   ``--raw-params query``) each place a resting limit order and cancel it, in a loop;
3. ``ccxt``: unmodified ``ccxt.async_support.binanceusdm`` clients do the same.

1, 1b and 2 run in turn, ``--duration / --rounds`` seconds each per round, so that a change
in the machine's speed during the run (a shared host's) falls on the ceiling and on the
orders alike; 3 runs last, in one piece. ``--subscribers`` WebSocket clients (a third
process) hold ``btcusdt@depth@100ms`` throughout and read every diff (none come while no
order reaches the exchange). ``orders_per_s`` counts order requests (a placement or a
cancel) answered per second; ``p50_ms`` / ``p99_ms`` are their latencies; ``errors`` the
answers that were not 200 plus exceptions. Targets (issue 11): raw orders_per_s ≥ 0.8 ×
the hello-world rate, p99 ≤ 50 ms, 0 errors.
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HELLO = """
import sys
sys.path.insert(0, sys.argv[2])
from aiohttp import web
from exchange.server.thread import event_loop
async def hello(request):
    return web.Response(text="hello")
app = web.Application()
app.router.add_get("/", hello)
app.router.add_post("/", hello)
# the same event loop as ``perpsim serve`` (uvloop when installed): a like-for-like ceiling
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None,
            loop=event_loop())
"""

# the raw clients' own ceiling: a server that answers every order request at once with a fixed
# order (aiohttp, the same loop), so the clients' cost of a signed request (a new URL each
# time, signing, a larger answer) is measured without any exchange behind it
NULL_ORDER = HELLO.replace(
    '''async def hello(request):
    return web.Response(text="hello")
app = web.Application()
app.router.add_get("/", hello)
app.router.add_post("/", hello)''',
    '''BODY = (b\'{"orderId":1000000001,"symbol":"BTCUSDT","status":"NEW","clientOrderId":"x",\'
        b\'"price":"48000","avgPrice":"0","origQty":"0.003","executedQty":"0","cumQty":"0",\'
        b\'"cumQuote":"0","timeInForce":"GTC","type":"LIMIT","reduceOnly":false,\'
        b\'"closePosition":false,"side":"BUY","positionSide":"BOTH","stopPrice":"0",\'
        b\'"workingType":"CONTRACT_PRICE","priceProtect":false,"origType":"LIMIT",\'
        b\'"priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":0,\'
        b\'"updateTime":1796329519049}\')
async def order(request):
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_route("*", "/fapi/v1/order", order)''')
assert NULL_ORDER != HELLO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def cpu_s(pid: int | None = None) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid`` (this one when None), from
    /proc on Linux; None where it cannot be read."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Tally:
    """One phase over its slices (the phases run in turn, one slice each per round, so that a
    change in the machine's speed during the run falls on all of them alike): the latencies,
    errors and seconds of its slices, and the CPU they cost the clients (this process) and the
    server process."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.lat: list[float] = []
        self.errors = 0
        self.elapsed = 0.0
        self.client_cpu = 0.0
        self.server_cpu: float | None = 0.0

    def run(self, phase) -> None:
        """Run one slice: ``phase``, a coroutine returning (latencies, errors, seconds)."""
        c0, s0 = cpu_s(), cpu_s(self.server_pid)
        lat, errors, elapsed = asyncio.run(phase)
        c1, s1 = cpu_s(), cpu_s(self.server_pid)
        self.lat += lat
        self.errors += errors
        self.elapsed += elapsed
        self.client_cpu += c1 - c0
        if s0 is None or s1 is None or self.server_cpu is None:
            self.server_cpu = None
        else:
            self.server_cpu += s1 - s0

    def summary(self) -> dict:
        n = len(self.lat)
        out = {"orders_per_s": round(n / self.elapsed, 1) if self.elapsed else 0.0,
               "p50_ms": round(pct(self.lat, 0.5) * 1000, 2) if n else None,
               "p99_ms": round(pct(self.lat, 0.99) * 1000, 2) if n else None,
               "errors": self.errors, "requests": n}
        if n:
            out["client_cpu_us_per_request"] = round(self.client_cpu / n * 1e6, 1)
            if self.server_cpu is not None:
                out["server_cpu_us_per_request"] = round(self.server_cpu / n * 1e6, 1)
        return out


async def hello_phase(port, clients, duration):
    import aiohttp
    from yarl import URL

    url = URL(f"http://127.0.0.1:{port}/", encoded=True)   # as the order clients' URLs

    lat, errors = [], 0
    stop = time.monotonic() + duration

    async def one():
        nonlocal errors
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < stop:
                t = time.perf_counter()
                try:
                    async with s.get(url) as r:
                        await r.read()
                        ok = r.status == 200
                except Exception:
                    ok = False
                if ok:
                    lat.append(time.perf_counter() - t)
                else:
                    errors += 1

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(clients)))
    return lat, errors, time.monotonic() - t0


async def subscribers(port, n, stop_event, counter):
    import aiohttp

    async def one(session):
        async with session.ws_connect(f"ws://127.0.0.1:{port}/ws/btcusdt@depth@100ms") as ws:
            while not stop_event.is_set():
                try:
                    msg = await asyncio.wait_for(ws.receive(), 0.5)
                except TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                counter[0] += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session) for _ in range(n)), return_exceptions=True)


async def raw_phase(port, creds, duration, params="body"):
    import aiohttp
    from yarl import URL

    lat, errors = [], 0
    stop = time.monotonic() + duration
    base = f"http://127.0.0.1:{port}/fapi/v1/order"
    url = URL(base, encoded=True)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def request(s, method, q):
        # Binance takes a signed request's parameters in the query string or, for POST, PUT
        # and DELETE, in an x-www-form-urlencoded body: the body keeps the URL the same on
        # every request (as ccxt sends a POST), the query string builds a new one each time
        if params == "body":
            return s.request(method, url, data=q.encode(), headers=form)
        return s.request(method, URL(f"{base}?{q}", encoded=True))

    try:
        from orjson import loads
    except ImportError:
        loads = json.loads

    def signed(secret: bytes, params):
        # HMAC-SHA256 of the query string, as Binance documents (the values here are
        # URL-safe, so joining them is their urlencoding); one-shot hmac.digest
        q = "&".join(f"{k}={v}" for k, v in params.items())
        return q + "&signature=" + hmac.digest(secret, q.encode(), "sha256").hex()

    async def one(n, key, secret):
        nonlocal errors
        headers = {"X-MBX-APIKEY": key}
        secret = secret.encode()
        async with aiohttp.ClientSession(headers=headers) as s:
            i = 0
            while time.monotonic() < stop:
                price = f"{48000 + (n * 37 + i) % 1000}"
                q = signed(secret, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                    "quantity": "0.003", "price": price, "timeInForce": "GTC",
                                    "timestamp": int(time.time() * 1000)})
                t = time.perf_counter()
                try:
                    async with request(s, "POST", q) as r:
                        body = loads(await r.read())
                        ok = r.status == 200
                except Exception:
                    ok, body = False, {}
                if not ok:
                    errors += 1
                    continue
                lat.append(time.perf_counter() - t)
                q = signed(secret, {"symbol": "BTCUSDT", "orderId": body["orderId"],
                                    "timestamp": int(time.time() * 1000)})
                t = time.perf_counter()
                try:
                    async with request(s, "DELETE", q) as r:
                        await r.read()
                        ok = r.status == 200
                except Exception:
                    ok = False
                if ok:
                    lat.append(time.perf_counter() - t)
                else:
                    errors += 1
                i += 1

    t0 = time.monotonic()
    await asyncio.gather(*(one(n, k, s) for n, (k, s) in enumerate(creds)))
    return lat, errors, time.monotonic() - t0


async def ccxt_phase(port, creds, duration):
    import ccxt.async_support as ccxt_async

    from exchange.server import ccxt_config

    lat, errors = [], 0
    stop = time.monotonic() + duration
    clients = [ccxt_async.binanceusdm(ccxt_config(f"http://127.0.0.1:{port}", k, s))
               for k, s in creds]
    await asyncio.gather(*(c.load_markets() for c in clients))

    async def one(n, c):
        nonlocal errors
        i = 0
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                o = await c.create_order("BTC/USDT:USDT", "limit", "buy", 0.003,
                                         48000 + (n * 37 + i) % 1000)
                lat.append(time.perf_counter() - t)
                t = time.perf_counter()
                await c.cancel_order(o["id"], "BTC/USDT:USDT")
                lat.append(time.perf_counter() - t)
            except Exception:
                errors += 1
            i += 1

    t0 = time.monotonic()
    try:
        await asyncio.gather(*(one(n, c) for n, c in enumerate(clients)))
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    return lat, errors, time.monotonic() - t0


SUBSCRIBERS = """
import asyncio, sys
sys.path.insert(0, sys.argv[3])
import bench_server
async def main():
    stop = asyncio.Event()
    counter = [0]
    task = asyncio.ensure_future(bench_server.subscribers(int(sys.argv[1]), int(sys.argv[2]),
                                                          stop, counter))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    # each line read answers the diffs read so far; "stop" (or the end of input) ends it
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() not in ("stop", ""):
        print(counter[0], flush=True)
    stop.set()
    await task
    print(counter[0], flush=True)
asyncio.run(main())
"""


class Subscribers:
    """``n`` depth subscribers in their own process (so that reading the diffs does not slow
    the order clients), connected for as long as this is open; ``received`` is the number of
    diffs they read."""

    def __init__(self, port: int, n: int):
        self.port, self.n, self.received = port, n, None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", SUBSCRIBERS, str(self.port),
                                      str(self.n), str(Path(__file__).resolve().parent)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        time.sleep(1.5)                            # the connections are made
        return self

    def _ask(self, line: str) -> int | None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        received = self.proc.stdout.readline().strip()
        return int(received) if received.isdigit() else None

    def count(self) -> int | None:
        """The diffs read so far."""
        return self._ask("count")

    def cpu_s(self) -> float | None:
        """The CPU seconds the subscribers' process has used so far."""
        return cpu_s(self.proc.pid)

    def __exit__(self, *exc):
        self.received = self._ask("stop")
        self.proc.wait(30)


def _loop_name() -> str:
    """The event loop both servers run (:func:`exchange.server.thread.event_loop`)."""
    from exchange.server.thread import event_loop

    loop = event_loop()
    try:
        return type(loop).__module__.split(".")[0]
    finally:
        loop.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--duration", type=float, default=20.0,
                   help="seconds of each phase (default 20)")
    p.add_argument("--rounds", type=int, default=4,
                   help="hello, null_order and raw run in turn, each --duration/--rounds "
                        "seconds a round (default 4)")
    p.add_argument("--ccxt-clients", type=int, default=20)
    p.add_argument("--raw-clients", type=int, default=20)
    p.add_argument("--subscribers", type=int, default=200)
    p.add_argument("--raw-params", choices=("body", "query"), default="body",
                   help="where the raw clients put a signed request's parameters (Binance "
                        "takes either for POST and DELETE; default: body)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0:
        p.error("--rounds must be ≥ 1 and --duration > 0")

    hello_port, port, null_port = free_port(), free_port(), free_port()
    n_acc = args.ccxt_clients + args.raw_clients
    procs = [subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port), str(ROOT)]),
             subprocess.Popen([sys.executable, "-m", "exchange.cli", "serve", "--no-rate-limits",
                               "--port", str(port), "--accounts", str(n_acc), "--deposit",
                               "100000000", "--mark", "BTCUSDT=50000"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True),
             subprocess.Popen([sys.executable, "-c", NULL_ORDER, str(null_port), str(ROOT)])]
    tallies = {"hello": Tally(procs[0].pid), "null_order": Tally(procs[2].pid),
               "raw": Tally(procs[1].pid), "ccxt": Tally(procs[1].pid)}
    try:
        creds = []
        for line in procs[1].stdout:
            m = re.search(r"apiKey=(\w+) secret=(\w+)", line)
            if m:
                creds.append(m.groups())
            if "Ctrl-C" in line:
                break
        procs[1].stdout.close()              # nothing more is printed (no access log)
        wait_port(port)
        wait_port(hello_port)
        wait_port(null_port)
        raw_creds, ccxt_creds = creds[:args.raw_clients], creds[args.raw_clients:]
        slice_s = args.duration / args.rounds
        # the subscribers stay connected through every phase (idle while no order reaches
        # the exchange: hello and null_order are other servers)
        subs_cpu = dict.fromkeys(tallies, 0.0)
        with Subscribers(port, args.subscribers) as subs:
            def run(name, phase):
                c0 = subs.cpu_s()
                tallies[name].run(phase)
                c1 = subs.cpu_s()
                subs_cpu[name] = None if None in (c0, c1, subs_cpu[name]) else subs_cpu[name] + c1 - c0

            for _ in range(args.rounds):
                run("hello", hello_phase(hello_port, args.raw_clients, slice_s))
                run("null_order", raw_phase(null_port, raw_creds, slice_s, args.raw_params))
                run("raw", raw_phase(port, raw_creds, slice_s, args.raw_params))
            depth_before_ccxt = subs.count()
            run("ccxt", ccxt_phase(port, ccxt_creds, args.duration))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    results = {k: t.summary() for k, t in tallies.items()}
    for k, out in results.items():
        # what reading the depth diffs cost (the subscribers share the machine's CPUs)
        if subs_cpu[k] is not None and out["requests"]:
            out["subscribers_cpu_us_per_request"] = round(subs_cpu[k] / out["requests"] * 1e6, 1)
    hello = results["hello"]
    hello["requests_per_s"] = hello.pop("orders_per_s")
    results["raw"]["depth_messages"] = depth_before_ccxt
    results["ccxt"]["depth_messages"] = (None if subs.received is None or depth_before_ccxt is None
                                         else subs.received - depth_before_ccxt)
    ceiling = hello["requests_per_s"]
    results["raw"]["vs_hello"] = round(results["raw"]["orders_per_s"] / ceiling, 3) if ceiling else None
    null = results["null_order"]["orders_per_s"]
    results["null_order"]["vs_hello"] = round(null / ceiling, 3) if ceiling else None
    results["raw"]["vs_null_order"] = round(results["raw"]["orders_per_s"] / null, 3) if null else None
    results["config"] = {"duration_s": args.duration, "rounds": args.rounds,
                         "ccxt_clients": args.ccxt_clients, "raw_clients": args.raw_clients,
                         "subscribers": args.subscribers, "raw_params": args.raw_params,
                         "cpus": os.cpu_count(), "event_loop": _loop_name()}
    results["targets_met"] = bool(
        results["raw"]["vs_hello"] is not None and results["raw"]["vs_hello"] >= 0.8
        and (results["raw"]["p99_ms"] or 1e9) <= 50 and results["raw"]["errors"] == 0
        and results["ccxt"]["errors"] == 0)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for k in ("hello", "null_order", "raw", "ccxt"):
            print(k, results[k])
        print("targets met:", results["targets_met"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
