"""A Star CloudPRNT printer in the terminal: polls the server like an mC-Print3 / TSP100IV, prints each ticket
(text) with a store prefix, and confirms it - or, on request, fails, goes silent or runs out of paper.

    python -m tools.printer_sim --store jfb                       # credentials from .local/printers.json
    python -m tools.printer_sim --store jfb --fail 2              # the first 2 jobs fail (520), then print
    python -m tools.printer_sim --store jfb --no-confirm          # never confirms: offered again after 60 s
    python -m tools.printer_sim --store jfb --paper-out           # reports 410 Out of paper, fetches nothing
    python -m tools.printer_sim --store jfb --silent-after 30     # stops polling after 30 s: offline alert
    python -m tools.printer_sim --printer-id 01J... --secret ... --mac 00:11:62:de:00:01 --url http://...

``make run`` starts one per demo store in its own process (threads) unless ``LOCAL_NO_PRINTERS=1``; run this
module against a store whose built-in simulator is off (``LOCAL_NO_PRINTERS=1 make run``) to try the options.
Protocol: POST poll (HTTP Basic printer_id:secret) -> GET ?mac=&type=&token= -> DELETE ?mac=&code=&token=.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / ".local" / "printers.json"
TEXT = "text/plain"
STARPRNT = "application/vnd.star.starprnt"
_print_lock = threading.Lock()


@dataclass
class Options:
    interval_s: float = 5.0
    media: str = TEXT
    fail: int = 0  # fail this many jobs first (DELETE with a failure code)
    no_confirm: bool = False  # fetch and print, never confirm
    paper_out: bool = False  # report 410 Out of paper
    silent_after_s: float | None = None
    timeout_s: float = 10.0


@dataclass
class Credentials:
    printer_id: str
    secret: str
    mac: str
    label: str = "printer"


@dataclass
class PrinterSim:
    url: str
    creds: Credentials
    options: Options = field(default_factory=Options)
    out: Callable[[str], None] = lambda line: print(line, flush=True)
    printed: list[str] = field(default_factory=list)
    failed: int = 0

    # ------------------------------------------------------------------------------------------ http
    def _request(self, method: str, query: dict | None = None, body: dict | None = None) -> tuple[int, dict, bytes]:
        url = self.url.rstrip("/") + "/cloudprnt"
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        auth = base64.b64encode(f"{self.creds.printer_id}:{self.creds.secret}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "User-Agent": "omnistore-printer-sim/1.0 (CloudPRNT/HTTP)"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "GET":
            headers["Accept"] = f"{STARPRNT}, {TEXT}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.options.timeout_s) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers or {}), e.read()

    # ------------------------------------------------------------------------------------------ protocol
    def poll_once(self) -> bool:
        """One poll; if a job is ready, fetch, print and confirm it. True if a job was handled."""
        status_code = "410 Out of paper" if self.options.paper_out else "200 OK"
        status, _, raw = self._request(
            "POST",
            body={
                "status": "23 86 00 00 00 00 00 00 00",
                "printerMAC": self.creds.mac,
                "statusCode": status_code,
                "printingInProgress": False,
            },
        )
        if status != 200:
            self.out(f"[{self.creds.label}] poll refused: HTTP {status} {raw[:200].decode(errors='replace')}")
            return False
        answer = json.loads(raw)
        if not answer.get("jobReady"):
            return False
        token = answer.get("jobToken")
        media = self.options.media if self.options.media in answer.get("mediaTypes", []) else TEXT
        query = {"mac": self.creds.mac, "type": media, **({"token": token} if token else {})}
        status, headers, job = self._request("GET", query)
        if status != 200:
            self.out(f"[{self.creds.label}] job fetch failed: HTTP {status}")
            self._confirm(token, "520 Timeout")
            return True
        text = job.decode("utf-8")
        if media == STARPRNT:
            text = decode_starprnt(text)
        if self.failed < self.options.fail:
            self.failed += 1
            result = self._confirm(token, "520 Timeout")
            then = {
                "retry": "the server offers it again",
                "failed": "the server gave up and told the store manager",
            }.get(result, result)
            self.out(
                f"[{self.creds.label}] !! simulated failure {self.failed}/{self.options.fail} (DELETE code 520): {then}"
            )
            return True
        self._print(text)
        if self.options.no_confirm:
            self.out(f"[{self.creds.label}] (not confirming: the server offers it again after its timeout)")
            return True
        self._confirm(token, "200 OK")
        return True

    def _confirm(self, token: str | None, code: str) -> str:
        """DELETE with ``code``; returns the server's result (done, retry, failed, ignored) or the HTTP error."""
        query = {"mac": self.creds.mac, "code": code, **({"token": token} if token else {})}
        status, _, raw = self._request("DELETE", query)
        if status != 200:
            self.out(f"[{self.creds.label}] confirmation refused: HTTP {status} {raw[:200]!r}")
            return f"HTTP {status}"
        return json.loads(raw).get("result", "")

    def _print(self, text: str) -> None:
        self.printed.append(text)
        prefix = f"[{self.creds.label}] "
        with _print_lock:
            self.out(prefix + "┌" + "─" * 40)
            for line in text.rstrip("\n").split("\n"):
                self.out(prefix + "│ " + line)
            self.out(prefix + "└" + "─" * 40 + " ✂")

    # ------------------------------------------------------------------------------------------ loop
    def run(self, stop: threading.Event) -> None:
        started = time.monotonic()
        silent = False
        while not stop.is_set():
            if self.options.silent_after_s is not None and time.monotonic() - started > self.options.silent_after_s:
                if not silent:
                    self.out(f"[{self.creds.label}] going silent (unplugged): no more polls")
                    silent = True
                stop.wait(1.0)
                continue
            handled = False
            try:
                handled = self.poll_once()
            except (OSError, ValueError) as e:
                self.out(f"[{self.creds.label}] server unreachable: {e}")
            # after a job, poll again at once (more tickets may be waiting); else at the polling interval
            stop.wait(0.2 if handled else self.options.interval_s)


# =========================================================================================== StarPRNT
def decode_starprnt(job: str) -> str:
    """The text of a StarPRNT job as this backend writes it, commands dropped (QR codes shown as a marker)."""
    out: list[str] = []
    i, n = 0, len(job)
    while i < n:
        c = job[i]
        if c != "\x1b":
            out.append(c)
            i += 1
            continue
        nxt = job[i + 1 : i + 2]
        if nxt == "\x1d":
            op = job[i + 2 : i + 3]
            if op == ")":  # ESC GS ) U pL pH data
                length = ord(job[i + 4]) + 256 * ord(job[i + 5])
                i += 6 + length
            elif op == "a":  # ESC GS a n
                i += 4
            elif op == "y":
                sub = job[i + 3 : i + 4]
                if sub == "S":  # ESC GS y S k n
                    i += 6
                elif sub == "D":  # ESC GS y D 1 m nL nH data
                    length = ord(job[i + 6]) + 256 * ord(job[i + 7])
                    out.append(f"[QR {job[i + 8 : i + 8 + length]}]")
                    i += 8 + length
                else:  # ESC GS y P
                    i += 4
            else:
                i += 3
        elif nxt == "i":  # ESC i h w
            i += 4
        elif nxt == "d":  # ESC d n: cut
            i += 3
        else:  # ESC E / ESC F
            i += 2
    return "".join(out)


# =========================================================================================== CLI
def load_printers(path: Path) -> dict:
    if not path.exists():
        raise SystemExit(
            f"{path} does not exist: start the local stack once (make run) to create demo printers, "
            "or pass --printer-id/--secret/--mac"
        )
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.printer_sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="demo store code (jfb gyq np spb yjp dp) or store_id in the printers file")
    ap.add_argument("--printers-file", default=os.environ.get("LOCAL_PRINTERS_FILE", str(DEFAULT_FILE)))
    ap.add_argument("--url", default=None, help="server base URL (default: the printers file's, or :8000)")
    ap.add_argument("--printer-id")
    ap.add_argument("--secret")
    ap.add_argument("--mac")
    ap.add_argument("--interval", type=float, default=5.0, help="polling time in seconds (Star default 5)")
    ap.add_argument("--media", choices=[TEXT, STARPRNT], default=TEXT)
    ap.add_argument("--fail", type=int, default=0, help="fail the first N jobs (DELETE code 520)")
    ap.add_argument("--no-confirm", action="store_true", help="print but never confirm")
    ap.add_argument("--paper-out", action="store_true", help="report 410 Out of paper")
    ap.add_argument("--silent-after", type=float, default=None, help="stop polling after N seconds")
    ap.add_argument("--once", action="store_true", help="one poll, then exit")
    args = ap.parse_args(argv)

    url = args.url
    if args.printer_id:
        if not (args.secret and args.mac):
            ap.error("--printer-id needs --secret and --mac")
        creds = Credentials(args.printer_id, args.secret, args.mac, label=args.printer_id[-6:])
    else:
        if not args.store:
            ap.error("give --store (demo printers) or --printer-id/--secret/--mac")
        data = load_printers(Path(args.printers_file))
        entry = data.get("printers", {}).get(args.store) or next(
            (p for p in data.get("printers", {}).values() if p.get("store_id") == args.store), None
        )
        if entry is None:
            raise SystemExit(
                f"no printer for store {args.store!r} in {args.printers_file} "
                f"(have: {', '.join(data.get('printers', {}))})"
            )
        creds = Credentials(entry["printer_id"], entry["secret"], entry["mac"], label=entry.get("label", args.store))
        url = url or data.get("url")
    sim = PrinterSim(
        url or "http://127.0.0.1:8000",
        creds,
        Options(
            interval_s=args.interval,
            media=args.media,
            fail=args.fail,
            no_confirm=args.no_confirm,
            paper_out=args.paper_out,
            silent_after_s=args.silent_after,
        ),
    )
    if args.once:
        sim.poll_once()
        return 0
    print(
        f"printer {creds.label} ({creds.printer_id}, {creds.mac}) polling {sim.url}/cloudprnt every "
        f"{args.interval:g} s; Ctrl-C stops",
        flush=True,
    )
    stop = threading.Event()
    try:
        sim.run(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
