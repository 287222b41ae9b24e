"""WeChat mini-program login: exchange a ``wx.login`` code at ``/sns/jscode2session``.

The base URL is configurable (``WECHAT_API_BASE``) so tests and the local stack point it at a fake server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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


def code2session(code: str) -> Session:
    s = get_settings()
    if not s.wechat_appid or not s.wechat_secret.get_secret_value():
        raise UpstreamUnavailable("WeChat login is not configured", code=IdentityCode.WECHAT_NOT_CONFIGURED)
    import urllib3

    try:
        resp = _http().request(
            "GET",
            s.wechat_api_base.rstrip("/") + "/sns/jscode2session",
            fields={
                "appid": s.wechat_appid,
                "secret": s.wechat_secret.get_secret_value(),
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
    except urllib3.exceptions.HTTPError as e:
        logger.warning("wechat code2session unreachable", extra={"error": str(e)})
        raise UpstreamUnavailable("WeChat did not answer; try again", code=IdentityCode.WECHAT_UNAVAILABLE)
    try:
        data = json.loads(resp.data or b"{}")
    except ValueError:
        data = {}
    errcode = int(data.get("errcode") or 0) if isinstance(data, dict) else -1
    if resp.status != 200 or errcode == -1 or not isinstance(data, dict):
        raise UpstreamUnavailable("WeChat did not answer; try again", code=IdentityCode.WECHAT_UNAVAILABLE)
    if errcode in _INVALID_CODE:
        raise Unauthorized("The login code is invalid or used", code=IdentityCode.WECHAT_CODE_INVALID)
    if errcode in _BLOCKED:
        raise Forbidden("WeChat refused this user", code=IdentityCode.WECHAT_USER_BLOCKED)
    if errcode in _RATE:
        raise RateLimited("Too many logins; try again in a minute", code=IdentityCode.WECHAT_RATE_LIMITED)
    if errcode or not data.get("openid"):
        logger.warning("wechat code2session error", extra={"errcode": errcode, "errmsg": data.get("errmsg")})
        raise UpstreamUnavailable("WeChat login failed; try again", code=IdentityCode.WECHAT_UNAVAILABLE)
    return Session(openid=str(data["openid"]), unionid=data.get("unionid"))
