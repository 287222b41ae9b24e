"""A local stand-in for WeChat's mini-program server APIs, for tests and the local stack:

- ``GET /sns/jscode2session`` (login): ``<anything>`` -> openid ``wx-<anything>``;
- ``GET /cgi-bin/token`` (client credential) -> an access token valid 7200 s;
- ``POST /wxa/business/getuserphonenumber?access_token=`` ``{code}`` (the mini-program's ``getPhoneNumber``):
  a code ``phone-<11 digits>[-<anything>]`` -> that mainland number (``+86``), anything else 40029.

Codes listed in ``FakeWechat.errors`` answer with that WeChat errcode (e.g. 40029 invalid code, 45011 rate
limit, -1 busy); a login or phone code may be used only once, as on WeChat (40163 on reuse). Requests are
recorded so tests can check what our client sent.
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
        self.tokens: set[str] = set()
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append({"path": url.path, **q})
                self._reply(*fake.answer(url.path, q))

            def do_POST(self):
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                fake.requests.append({"path": url.path, **q, **{f"body.{k}": v for k, v in body.items()}})
                self._reply(*fake.answer_post(url.path, q, body))

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
        if path not in ("/sns/jscode2session", "/cgi-bin/token"):
            return 404, {"errcode": 404, "errmsg": "not found"}
        if q.get("appid") != self.appid or q.get("secret") != self.secret:
            return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
        if path == "/cgi-bin/token":
            if q.get("grant_type") != "client_credential":
                return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
            token = f"at-{len(self.tokens) + 1}"
            self.tokens.add(token)
            return 200, {"access_token": token, "expires_in": 7200}
        if q.get("grant_type") != "authorization_code":
            return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = q.get("js_code", "")
        if code in self.errors:
            return 200, {"errcode": self.errors[code], "errmsg": "error"}
        if code in self.used:
            return 200, {"errcode": 40163, "errmsg": "code been used"}
        self.used.add(code)
        return 200, {"openid": f"wx-{code}", "session_key": "c2Vzc2lvbmtleQ==", "unionid": f"un-{code}"}

    def answer_post(self, path: str, q: dict[str, str], body: dict) -> tuple[int, dict]:
        if self.status != 200:
            return self.status, {"errmsg": "server error"}
        if path != "/wxa/business/getuserphonenumber":
            return 404, {"errcode": 404, "errmsg": "not found"}
        if q.get("access_token") not in self.tokens:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        code = str(body.get("code") or "")
        if code in self.errors:
            return 200, {"errcode": self.errors[code], "errmsg": "error"}
        digits = code.removeprefix("phone-").split("-")[0]
        if not code.startswith("phone-") or len(digits) != 11 or not digits.isdigit():
            return 200, {"errcode": 40029, "errmsg": "invalid code"}
        if code in self.used:
            return 200, {"errcode": 40163, "errmsg": "code been used"}
        self.used.add(code)
        info = {"phoneNumber": f"+86{digits}", "purePhoneNumber": digits, "countryCode": "86"}
        return 200, {"errcode": 0, "errmsg": "ok", "phone_info": info}

    def start(self) -> FakeWechat:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
