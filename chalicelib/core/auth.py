"""JWT (PyJWT, HS256), roles and store scope.

Roles: ``member``; ``clerk`` and ``store_manager`` (both bound to one store); ``hq_admin`` (all stores).
A staff token carries its account's session version (``sv``), checked on every request (``core.sessions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jwt

from chalicelib.core import clock, sessions
from chalicelib.core.errors import CoreCode, Forbidden, Unauthorized
from chalicelib.core.settings import get_settings

MEMBER = "member"
CLERK = "clerk"
STORE_MANAGER = "store_manager"
HQ_ADMIN = "hq_admin"

STAFF_ROLES = frozenset({CLERK, STORE_MANAGER, HQ_ADMIN})
MANAGERS = frozenset({STORE_MANAGER, HQ_ADMIN})
HQ = frozenset({HQ_ADMIN})
MEMBERS = frozenset({MEMBER})
STORE_BOUND = frozenset({CLERK, STORE_MANAGER})
ALL_ROLES = frozenset({MEMBER}) | STAFF_ROLES

_ALG = "HS256"


@dataclass(frozen=True)
class Principal:
    sub: str  # staff_id or member_id
    role: str
    store_id: str | None = None
    sv: int = 0  # the session version the token was issued for (core.sessions)

    @property
    def is_hq(self) -> bool:
        return self.role == HQ_ADMIN

    @property
    def is_member(self) -> bool:
        return self.role == MEMBER

    def require_store(self, store_id: str) -> None:
        """Staff bound to a store may only touch that store; head office may touch any."""
        if self.role == HQ_ADMIN:
            return
        if self.role in STORE_BOUND and self.store_id == store_id:
            return
        raise Forbidden("You can only act on your own store", code=CoreCode.STORE_SCOPE, details={"store_id": store_id})

    def owns_store(self, store_id: str | None) -> bool:
        """Head office, or staff of this store: for reads where another store's object must look unknown (404)."""
        return self.role == HQ_ADMIN or (
            self.role in STORE_BOUND and store_id is not None and self.store_id == store_id
        )

    def require_member(self, member_id: str) -> None:
        if self.role != MEMBER or self.sub != member_id:
            raise Forbidden("This belongs to another member", code=CoreCode.MEMBER_SCOPE)


def _secret() -> str:
    secret = get_settings().jwt_secret.get_secret_value()
    if len(secret) < 32:
        # Misconfiguration, not bad input: never sign or accept tokens with a weak or missing key.
        raise RuntimeError("JWT_SECRET is missing or shorter than 32 characters")
    return secret


def issue_token(principal: Principal) -> tuple[str, int]:
    s = get_settings()
    ttl = s.member_token_ttl_s if principal.role == MEMBER else s.staff_token_ttl_s
    now = clock.now()
    claims = {
        "sub": principal.sub,
        "role": principal.role,
        "iss": s.jwt_issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    if principal.store_id:
        claims["store_id"] = principal.store_id
    claims["sv"] = principal.sv
    return jwt.encode(claims, _secret(), algorithm=_ALG), ttl


def decode_token(token: str) -> Principal:
    s = get_settings()
    try:
        claims = jwt.decode(
            token,
            _secret(),
            algorithms=[_ALG],
            issuer=s.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "role"], "verify_iat": False, "verify_exp": False},
        )
        # Expiry is checked against the injectable clock (tests and the demo move it), not the wall clock.
        if not isinstance(claims["exp"], int) or claims["exp"] <= int(clock.now().timestamp()):
            raise jwt.ExpiredSignatureError
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired", code=CoreCode.TOKEN_EXPIRED)
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid", code=CoreCode.TOKEN_INVALID)
    role = claims.get("role")
    if role not in ALL_ROLES or not isinstance(claims.get("sub"), str):
        raise Unauthorized("The token is not valid", code=CoreCode.TOKEN_INVALID)
    store_id = claims.get("store_id")
    sv = claims.get("sv", 0)
    if (role in STORE_BOUND and not store_id) or not isinstance(sv, int) or isinstance(sv, bool):
        raise Unauthorized("The token is not valid", code=CoreCode.TOKEN_INVALID)
    return Principal(sub=claims["sub"], role=role, store_id=store_id, sv=sv)


def authenticate(authorization: str | None, roles: frozenset[str]) -> Principal:
    if not authorization:
        raise Unauthorized("A bearer token is required", code=CoreCode.TOKEN_MISSING)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required", code=CoreCode.TOKEN_MISSING)
    principal = decode_token(token.strip())
    sessions.check(principal.sub, principal.sv)  # a disabled staff account, a merged or erased member: 401
    if principal.role not in roles:
        # Names no role that would be allowed: a stolen low-privilege token learns nothing from it.
        raise Forbidden("Your role may not do this", code=CoreCode.ROLE_FORBIDDEN)
    return principal
