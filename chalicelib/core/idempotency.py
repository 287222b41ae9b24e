"""``Idempotency-Key`` for any route (the contract: same key + same body -> the first response again;
same key + another body -> 409 ``IDEMPOTENCY_KEY_REUSED``).

A marker item per (caller, route, path params, key) in the application table:

1. read the marker (consistent); a finished one is replayed, a different body hash is a 409;
2. claim it with a conditional put (``attribute_not_exists``) so two concurrent requests cannot both run;
3. run the handler; store its response on the marker; on an error the claim is deleted, so nothing half
   written remains and the client may retry.

Use cases that must stay at one transaction (checkout, POS sale) put the marker inside their own
TransactWriteItems instead (``Claim`` below); the contract seen by clients is the same.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.core import clock
from chalicelib.core.dynamo import Item, put_new
from chalicelib.core.errors import Conflict, CoreCode, ValidationFailed

RETENTION = timedelta(hours=24)
MAX_KEY_LEN = 255


class IdempotencyRecord(Item, discriminator="Idempotency"):
    body_hash = UnicodeAttribute()
    state = UnicodeAttribute()  # pending | done
    status_code = NumberAttribute(null=True)
    response = UnicodeAttribute(null=True)  # JSON text of the first response
    expires_at = TTLAttribute(null=True)  # housekeeping only


def _keys(scope: str, key: str) -> tuple[str, str]:
    digest = hashlib.sha256(f"{scope}|{key}".encode()).hexdigest()
    return f"IDEM#{digest}", "IDEM"


def validate_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LEN or not all(" " <= c <= "~" for c in key):
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 printable ASCII characters",
            details={"in": "header", "fields": [{"field": "Idempotency-Key", "message": "1-255 printable ASCII"}]},
        )


def run(scope: str, key: str, canonical_body: bytes, fn: Callable[[], tuple[int, Any]]) -> tuple[int, Any, bool]:
    validate_key(key)
    body_hash = hashlib.sha256(canonical_body).hexdigest()
    pk, sk = _keys(scope, key)
    existing = IdempotencyRecord.get_or_none(pk, sk, consistent_read=True)
    if existing is not None:
        return (*_replay(existing, body_hash), True)

    now = clock.now()
    record = IdempotencyRecord(pk, sk, body_hash=body_hash, state="pending", created_at=now, expires_at=now + RETENTION)
    if not put_new(record):
        other = IdempotencyRecord.get(pk, sk, consistent_read=True)
        return (*_replay(other, body_hash), True)

    try:
        status, payload = fn()
    except BaseException:
        record.delete()
        raise
    record.update(
        actions=[
            IdempotencyRecord.state.set("done"),
            IdempotencyRecord.status_code.set(status),
            IdempotencyRecord.response.set(json.dumps(payload, ensure_ascii=False)),
        ]
    )
    return status, payload, False


def _replay(rec: IdempotencyRecord, body_hash: str) -> tuple[int, Any]:
    if rec.body_hash != body_hash:
        raise Conflict("This Idempotency-Key was used with a different body", code=CoreCode.IDEMPOTENCY_KEY_REUSED)
    if rec.state != "done":
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry shortly",
            code=CoreCode.IDEMPOTENCY_IN_PROGRESS,
        )
    return int(rec.status_code), json.loads(rec.response)


# --------------------------------------------------------------------------------------- in-transaction
# Use cases that must stay at one BatchGetItem + one TransactWriteItems (checkout, POS sale) write the
# marker *inside* their transaction, already "done" with the response, conditioned on not existing.
# If that condition fails, the key was used before: the stored response is replayed (or 409 on another
# body). Routes declare ``idempotent="tx"``; ``core.http`` then skips the generic claim above.
_claim: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("idempotency_claim", default=None)
MARKER_TAG = ("idempotency",)


@dataclass
class Claim:
    pk: str
    sk: str
    body_hash: str

    def add_to(self, tx, status: int, payload: Any) -> None:
        now = clock.now()
        rec = IdempotencyRecord(
            self.pk,
            self.sk,
            body_hash=self.body_hash,
            state="done",
            status_code=status,
            response=json.dumps(payload, ensure_ascii=False),
            created_at=now,
            expires_at=now + RETENTION,
        )
        tx.save(rec, condition=IdempotencyRecord.pk.does_not_exist(), tag=MARKER_TAG)


class Replay(Exception):
    """Raised by a use case whose transaction found the key already used; core.http replays it."""


def begin(scope: str, key: str, canonical_body: bytes) -> Claim:
    validate_key(key)
    pk, sk = _keys(scope, key)
    claim = Claim(pk, sk, hashlib.sha256(canonical_body).hexdigest())
    _claim.set(claim)
    return claim


def end() -> None:
    _claim.set(None)


def current() -> Claim | None:
    return _claim.get()


def used(claim: Claim) -> bool:
    """Whether the key was already used (for steps with outside effects that must not run twice)."""
    return IdempotencyRecord.get_or_none(claim.pk, claim.sk, consistent_read=True) is not None


def replay(claim: Claim) -> tuple[int, Any]:
    rec = IdempotencyRecord.get(claim.pk, claim.sk, consistent_read=True)
    return _replay(rec, claim.body_hash)
