"""A local stand-in for WeChat's ``/sns/jscode2session`` (mini-program login), for tests and the local stack.

Codes: ``<anything>`` -> openid ``wx-<anything>``; codes listed in ``FakeWechat.errors`` answer with that
WeChat errcode (e.g. 40029 invalid code, 45011 rate limit, -1 busy); a code may be used only once, as on
WeChat (40163 on reuse). Requests are recorded so tests can check what our client sent.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeWechat:
    def __init__(self, appid: str = "wx-demo-appid", secret: str = "demo-secret"):
        self.appid, self.secret = appid, secret
        self.errors: dict[str, int] = {}
        self.requests: list[dict[str, str]] = []
        self.used: set[str] = set()
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append({"path": url.path, **q})
                self._reply(*fake.answer(url.path, q))

            def _reply(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, q: dict[str, str]) -> tuple[int, dict]:
        if self.status != 200:
            return self.status, {"errmsg": "server error"}
        if path != "/sns/jscode2session":
            return 404, {"errcode": 404, "errmsg": "not found"}
        if q.get("appid") != self.appid or q.get("secret") != self.secret:
            return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
        if q.get("grant_type") != "authorization_code":
            return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = q.get("js_code", "")
        if code in self.errors:
            return 200, {"errcode": self.errors[code], "errmsg": "error"}
        if code in self.used:
            return 200, {"errcode": 40163, "errmsg": "code been used"}
        self.used.add(code)
        return 200, {"openid": f"wx-{code}", "session_key": "c2Vzc2lvbmtleQ==", "unionid": f"un-{code}"}

    def start(self) -> FakeWechat:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
