"""`make run` end to end: `python -m tools.localstack` as a real process on free ports with its state in a
temporary directory. Demo data, dev and WeChat login, nearest stores, restart (data and JWT secret kept, seed
not repeated), and a clean stop on SIGINT / SIGTERM with no Java process left behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tools.ddblocal import free_port, port_free
from tools.seed import DEMO_PASSWORDS, STORES

ROOT = Path(__file__).resolve().parents[2]


def call(base: str, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def java_processes(ddb_port: int) -> list[int]:
    """DynamoDB Local processes listening on this test's port (from /proc: no pgrep needed)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"DynamoDBLocal.jar") for a in args) and str(ddb_port).encode() in args:
            found.append(int(d.name))
    return found


class Stack:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.api, self.ddb, self.sqs = free_port(), free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.api}"
        self.proc: subprocess.Popen | None = None
        self.log = state_dir / "stack.out"

    def start(self, timeout: float = 90) -> None:
        env = {**os.environ, "LOCAL_STATE_DIR": str(self.state_dir), "LOCAL_API_PORT": str(self.api),
               "LOCAL_DDB_PORT": str(self.ddb), "LOCAL_SQS_PORT": str(self.sqs), "PYTHONUNBUFFERED": "1"}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "tools.localstack"], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"local stack exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if call(self.base, "GET", "/openapi.json")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"local stack did not come up in {timeout}s:\n{self.output()}")

    def stop(self, sig: int, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"local stack did not stop within {timeout}s after {sig}:\n{self.output()}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in java_processes(self.ddb):
            os.kill(pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path / "state")
    yield s
    s.kill()


def test_local_stack_end_to_end(stack):
    stack.start()
    try:
        out = stack.output()
        assert "seeded 6 stores" in out and stack.base in out and DEMO_PASSWORDS["hq_admin"] in out
        secret = stack.state_dir / "jwt_secret"
        assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text().strip()) >= 32

        status, dev = call(stack.base, "POST", "/auth/dev/login", {"openid": "demo-e2e", "nickname": "测试"})
        assert status == 200 and dev["member"]["is_new"] is True
        token = dev["token"]
        status, body = call(stack.base, "GET", "/shop/stores?lat=29.56&lng=106.55", token=token)
        assert status == 200
        names = [s["name"] for s in body["items"]]
        assert sorted(names) == sorted(s.name for s in STORES)
        distances = [s["distance_m"] for s in body["items"]]
        assert distances == sorted(distances) and names[0] == "烟酒行·观音桥店"
        assert all(isinstance(s["open_now"], bool) for s in body["items"])

        status, wx = call(stack.base, "POST", "/auth/wechat/login", {"code": "demo-e2e"})
        assert status == 200 and wx["member"]["member_id"] == dev["member"]["member_id"]
        assert call(stack.base, "POST", "/auth/wechat/login", {"code": "demo-e2e"})[0] == 200   # reusable
        status, bad = call(stack.base, "POST", "/auth/wechat/login", {"code": "not-a-demo-code"})
        assert status == 401 and bad["code"] == "WECHAT_CODE_INVALID"
        status, hq = call(stack.base, "POST", "/auth/staff/login",
                          {"username": "hq.admin", "password": DEMO_PASSWORDS["hq_admin"]})
        assert status == 200 and hq["staff"]["role"] == "hq_admin"
        assert len(java_processes(stack.ddb)) == 1
    finally:
        rc = stack.stop(signal.SIGINT)
    assert rc == 0, stack.output()
    assert java_processes(stack.ddb) == []
    assert all(port_free(p) for p in (stack.api, stack.ddb, stack.sqs))
    assert "stopped." in stack.output()

    # Restart on the same state: data and secret kept, nothing seeded twice, old tokens still valid.
    stack.start()
    try:
        assert "demo data already present" in stack.output()
        status, me = call(stack.base, "GET", "/shop/me", token=token)
        assert status == 200 and me["member_id"] == dev["member"]["member_id"]
        status, body = call(stack.base, "GET", "/shop/stores?lat=29.56&lng=106.55", token=token)
        assert status == 200 and len(body["items"]) == 6
    finally:
        rc = stack.stop(signal.SIGTERM)
    assert rc == 0 and java_processes(stack.ddb) == []


def test_ports_in_use_are_reported_clearly(stack):
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", stack.ddb))
        s.listen()
        env = {**os.environ, "LOCAL_STATE_DIR": str(stack.state_dir), "LOCAL_API_PORT": str(stack.api),
               "LOCAL_DDB_PORT": str(stack.ddb), "LOCAL_SQS_PORT": str(stack.sqs)}
        done = subprocess.run([sys.executable, "-m", "tools.localstack"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode != 0
    assert f"DynamoDB Local port {stack.ddb}" in done.stdout + done.stderr
    assert java_processes(stack.ddb) == []


def test_the_demo_ticket_prints_in_the_store_printer_simulator(stack):
    """README demo: place and pay an order; the store's simulated CloudPRNT printer prints it in the stack's
    terminal, and the customer's SMS is in the local outbox."""
    stack.start()
    try:
        printers_file = stack.state_dir / "printers.json"
        assert printers_file.stat().st_mode & 0o777 == 0o600
        printers = json.loads(printers_file.read_text())["printers"]
        assert len(printers) == 6 and all(p["secret"] for p in printers.values())

        status, dev = call(stack.base, "POST", "/auth/dev/login",
                           {"openid": "demo-ticket", "nickname": "阿丽", "phone": "13800138000"})
        token = dev["token"]
        store = call(stack.base, "GET", "/shop/stores?lat=29.5575&lng=106.5772", token=token)[1]["items"][0]
        assert store["store_id"] == printers["jfb"]["store_id"]
        status, order = call(stack.base, "POST", "/shop/orders", {
            "store_id": store["store_id"], "fulfillment": "pickup", "lines": [{"sku": "BR-CQ-GB-500", "qty": 2}]},
            token=token)
        assert status == 201, order
        assert call(stack.base, "POST", f"/shop/orders/{order['order_id']}/pay", {"method": "wechat"},
                    token=token)[0] == 200
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and f"[解放碑] │ 单号: {order['order_id']}" not in stack.output():
            time.sleep(0.5)
        out = stack.output()
        assert f"[解放碑] │ 单号: {order['order_id']}" in out, out[-3000:]
        assert f"取货码 {order['pickup_code']}" in out and "阿丽 138****8000" in out
        assert "POST /cloudprnt" not in out                     # polls are not logged line by line

        hq = call(stack.base, "POST", "/auth/staff/login",
                  {"username": "hq.admin", "password": DEMO_PASSWORDS["hq_admin"]})[1]["token"]
        deadline = time.monotonic() + 20
        sent = []
        while time.monotonic() < deadline and not sent:
            sent = [m for m in call(stack.base, "GET", "/admin/sms/outbox", token=hq)[1]["items"]
                    if m["template"] == "order_paid"]
            time.sleep(0.5)
        assert sent and sent[0]["phone"] == "13800138000"
        listed = call(stack.base, "GET", "/admin/printers", token=hq)[1]["items"]
        assert len(listed) == 6 and all(p["online"] for p in listed)
    finally:
        assert stack.stop(signal.SIGINT) == 0, stack.output()
