"""Small helpers for API tests: call a route, log in, build common bodies."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.core.auth import Principal, issue_token


class Api:
    """Wraps ``chalice.test.Client`` so tests read like the contract: ``api.post(path, body, token=)``."""

    def __init__(self, client):
        self.client = client

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None, raw: str | bytes | None = None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body, ensure_ascii=False) if body is not None else None)
        resp = self.client.http.request(method, path, headers=h, body=payload)
        try:
            data = json.loads(resp.body) if resp.body else None
        except ValueError:
            data = resp.body
        return Response(resp.status_code, data, resp.headers)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


class Response:
    def __init__(self, status: int, json_body: Any, headers: dict):
        self.status = status
        self.json = json_body
        self.headers = headers

    @property
    def code(self) -> str | None:
        return self.json.get("code") if isinstance(self.json, dict) else None

    def __repr__(self) -> str:
        return f"<{self.status} {self.json!r}>"


def token_for(role: str, sub: str = "01JTESTSUBJECT000000000000", store_id: str | None = None) -> str:
    return issue_token(Principal(sub=sub, role=role, store_id=store_id))[0]


STORE_BODY = {
    "name": "解放碑店",
    "address": "重庆市渝中区民族路188号",
    "lat": 29.5570,
    "lng": 106.5770,
    "phone": "023-63701234",
    "opening_hours": [{"weekday": d, "open": "09:00", "close": "23:00"} for d in range(1, 8)],
    "delivery_radius_m": 5000,
}
