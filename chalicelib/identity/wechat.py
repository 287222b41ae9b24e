"""WeChat mini-program login: exchange a ``wx.login`` code at ``/sns/jscode2session``.

The base URL is configurable (``WECHAT_API_BASE``) so tests and the local stack point it at a fake server.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from chalicelib.core.errors import Forbidden, RateLimited, Unauthorized, UpstreamUnavailable
from chalicelib.core.logging import logger
from chalicelib.core.settings import get_settings
from chalicelib.identity.errors import IdentityCode

_pool = None


def _http():
    global _pool
    if _pool is None:
        import urllib3  # lazy: keeps it off the cold-start path of every other route

        s = get_settings()
        retry = urllib3.Retry(
            total=2,
            connect=2,
            read=1,
            backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
        )
        _pool = urllib3.PoolManager(retries=retry, timeout=urllib3.Timeout(total=s.wechat_timeout_s))
    return _pool


@dataclass(frozen=True)
class Session:
    openid: str
    unionid: str | None


# https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html
_INVALID_CODE = {40029, 40163}
_BLOCKED = {40226}
_RATE = {45011}
_TOKEN_INVALID = {40001, 42001}  # access token invalid / expired: fetch a new one and try once more


def _configured():
    s = get_settings()
    if not s.wechat_appid or not s.wechat_secret.get_secret_value():
        raise UpstreamUnavailable("WeChat is not configured", code=IdentityCode.WECHAT_NOT_CONFIGURED)
    return s


def _call(method: str, path: str, what: str, fields: dict | None = None, body: dict | None = None) -> dict:
    """One request to WeChat's server API; the answer's JSON (``errcode`` checked by the caller) or 502."""
    import urllib3

    url = _configured().wechat_api_base.rstrip("/") + path
    try:
        if body is None:
            resp = _http().request(method, url, fields=fields)
        else:
            url += "?" + urlencode(fields or {})
            resp = _http().request(method, url, body=json.dumps(body), headers={"Content-Type": "application/json"})
    except urllib3.exceptions.HTTPError as e:
        logger.warning(f"wechat {what} unreachable", extra={"error": str(e)})
        raise UpstreamUnavailable("WeChat did not answer; try again", code=IdentityCode.WECHAT_UNAVAILABLE)
    try:
        data = json.loads(resp.data or b"{}")
    except ValueError:
        data = None
    if resp.status != 200 or not isinstance(data, dict):
        raise UpstreamUnavailable("WeChat did not answer; try again", code=IdentityCode.WECHAT_UNAVAILABLE)
    return data


def _check(data: dict, what: str) -> None:
    errcode = int(data.get("errcode") or 0)
    if errcode in _INVALID_CODE:
        raise Unauthorized("The code is invalid or used", code=IdentityCode.WECHAT_CODE_INVALID)
    if errcode in _BLOCKED:
        raise Forbidden("WeChat refused this user", code=IdentityCode.WECHAT_USER_BLOCKED)
    if errcode in _RATE:
        raise RateLimited("Too many requests; try again in a minute", code=IdentityCode.WECHAT_RATE_LIMITED)
    if errcode:
        logger.warning(f"wechat {what} error", extra={"errcode": errcode, "errmsg": data.get("errmsg")})
        raise UpstreamUnavailable("WeChat failed; try again", code=IdentityCode.WECHAT_UNAVAILABLE)


def code2session(code: str) -> Session:
    s = _configured()
    fields = {
        "appid": s.wechat_appid,
        "secret": s.wechat_secret.get_secret_value(),
        "js_code": code,
        "grant_type": "authorization_code",
    }
    data = _call("GET", "/sns/jscode2session", "code2session", fields=fields)
    _check(data, "code2session")
    if not data.get("openid"):
        raise UpstreamUnavailable("WeChat login failed; try again", code=IdentityCode.WECHAT_UNAVAILABLE)
    return Session(openid=str(data["openid"]), unionid=data.get("unionid"))


_token: dict[str, tuple[str, float]] = {}
TOKEN_MARGIN_S = 300  # renew an access token this long before WeChat says it ends


def _access_token(fresh: bool = False) -> str:
    """The mini-program's access token (client credential), kept per process until shortly before it ends."""
    s = _configured()
    hit = _token.get(s.wechat_appid)
    if hit is not None and not fresh and time.monotonic() < hit[1]:
        return hit[0]
    fields = {"grant_type": "client_credential", "appid": s.wechat_appid, "secret": s.wechat_secret.get_secret_value()}
    data = _call("GET", "/cgi-bin/token", "token", fields=fields)
    _check(data, "token")
    if not data.get("access_token"):
        raise UpstreamUnavailable("WeChat failed; try again", code=IdentityCode.WECHAT_UNAVAILABLE)
    ttl = max(60, int(data.get("expires_in") or 7200) - TOKEN_MARGIN_S)
    _token[s.wechat_appid] = (str(data["access_token"]), time.monotonic() + ttl)
    return _token[s.wechat_appid][0]


# https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html
def phone_number(code: str) -> str:
    """The phone number behind a ``getPhoneNumber`` code, as WeChat gives it without the country code for
    mainland numbers (``purePhoneNumber``)."""
    for attempt in range(2):
        token = _access_token(fresh=attempt > 0)
        data = _call(
            "POST", "/wxa/business/getuserphonenumber", "phone", fields={"access_token": token}, body={"code": code}
        )
        if int(data.get("errcode") or 0) not in _TOKEN_INVALID:
            break
    _check(data, "phone")
    info = data.get("phone_info") or {}
    phone = info.get("purePhoneNumber") or info.get("phoneNumber")
    if not phone:
        raise UpstreamUnavailable("WeChat gave no phone number", code=IdentityCode.WECHAT_UNAVAILABLE)
    return str(phone)
