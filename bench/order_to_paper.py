"""Order to paper: how long a paid online order takes to reach a polling CloudPRNT printer.

Starts the local stack (DynamoDB Local in memory, the worker, the sandbox's notification POSTed to the webhook),
registers one more printer at 解放碑店 polling every second (``--interval``), then places and pays ``-n`` orders
one after another. For each: from the moment the order reads PAID (the webhook applied the payment) to the moment
the simulated printer has the ticket in hand (poll -> GET). Goal: at most the poll interval + 1 s.

    .venv/bin/python bench/order_to_paper.py [-n 10] [--interval 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.ddblocal import free_port  # noqa: E402
from tools.printer_sim import Credentials, Options, PrinterSim  # noqa: E402


def call(base: str, method: str, path: str, body=None, token: str | None = None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def start_stack(state: Path) -> tuple[subprocess.Popen, str]:
    api = free_port()
    env = {
        **os.environ,
        "LOCAL_STATE_DIR": str(state),
        "LOCAL_API_PORT": str(api),
        "LOCAL_DDB_PORT": str(free_port()),
        "LOCAL_SQS_PORT": str(free_port()),
        "LOCAL_DDB_IN_MEMORY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    out = open(state / "stack.out", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tools.localstack"], cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{api}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if call(base, "GET", "/openapi.json")[0] == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the local stack did not come up:\n" + (state / "stack.out").read_text()[-3000:])


def measure(base: str, state: Path, n: int, interval: float) -> list[float]:
    demo = json.loads((state / "printers.json").read_text())["printers"]["jfb"]
    hq = call(base, "POST", "/auth/staff/login", {"username": "hq.admin", "password": "demo-hq-2026"})[1]["token"]
    p = call(
        base,
        "POST",
        "/admin/printers",
        {"store_id": demo["store_id"], "mac": "00:11:62:be:4c:01", "name": "bench", "poll_interval_s": 1},
        token=hq,
    )[1]
    printed: dict[str, float] = {}
    sim = PrinterSim(base, Credentials(p["printer_id"], p["secret"], p["mac"], label="bench"), Options(interval))
    real_print = sim._print
    sim._print = lambda text: (printed.setdefault(text, time.monotonic()), real_print(text))
    sim.out = lambda line: None
    stop = threading.Event()
    threading.Thread(target=sim.run, args=(stop,), daemon=True).start()
    token = call(base, "POST", "/auth/dev/login", {"openid": "bench-buyer", "phone": "13800138000"})[1]["token"]
    latencies = []
    for i in range(n):
        time.sleep(random.uniform(0, interval))  # orders arrive at any phase of the printer's polling
        body = {"store_id": demo["store_id"], "fulfillment": "pickup", "lines": [{"sku": "BR-CQ-GB-500", "qty": 1}]}
        order = call(base, "POST", "/shop/orders", body, token=token, headers={"Idempotency-Key": f"bench-{i}"})[1]
        oid = order["order_id"]
        call(base, "POST", f"/shop/orders/{oid}/pay", {"method": "wechat"}, token=token)
        while call(base, "GET", f"/shop/orders/{oid}", token=token)[1]["status"] != "PAID":
            time.sleep(0.02)
        paid = time.monotonic()
        deadline = paid + 30
        while time.monotonic() < deadline and not any(oid in t for t in printed):
            time.sleep(0.01)
        at = next((v for t, v in printed.items() if oid in t), None)
        latencies.append(at - paid if at else float("inf"))
        call(base, "POST", f"/shop/orders/{oid}/cancel", token=token)  # leaves the demo stock alone (PAID: 409)
    stop.set()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        proc, base = start_stack(state)
        try:
            lat = measure(base, state, args.n, args.interval)
        finally:
            proc.terminate()
            proc.wait(30)
    goal = args.interval + 1.0
    print(f"order to paper, {len(lat)} paid orders, printer polling every {args.interval:g} s (goal <= {goal:g} s)")
    print(f"  median {statistics.median(lat):.2f} s   max {max(lat):.2f} s   min {min(lat):.2f} s")
    print("  " + " ".join(f"{x:.2f}" for x in lat))
    print("PASS" if max(lat) <= goal else "FAIL")


if __name__ == "__main__":
    main()
