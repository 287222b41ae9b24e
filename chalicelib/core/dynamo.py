"""The single application table: PynamoDB base item, lazy connection settings, transactions, pagination.

Every domain's ``models.py`` subclasses :class:`Item` with a discriminator. Key layout and access patterns
are listed in docs/data-model.md; the table itself is defined once in infra/resources.yml.
"""
from __future__ import annotations

import base64
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from pynamodb.attributes import DiscriminatorAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings


class _LazyTableMeta(type):
    """Table name, endpoint and region come from settings when first used, not when modules import."""

    @property
    def table_name(cls) -> str:
        return get_settings().table_name

    @property
    def host(cls) -> str | None:
        return get_settings().dynamodb_endpoint

    @property
    def region(cls) -> str:
        return get_settings().aws_region


class _TableMeta(metaclass=_LazyTableMeta):
    max_retry_attempts = 3
    connect_timeout_seconds = 2
    read_timeout_seconds = 5


def _index_meta(name: str) -> type:
    return type("Meta", (), {"index_name": name, "projection": AllProjection()})


class Gsi1(GlobalSecondaryIndex):
    Meta = _index_meta("gsi1")
    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    Meta = _index_meta("gsi2")
    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex):
    Meta = _index_meta("gsi3")
    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Item(Model):
    """Base of every item in the application table."""

    Meta = _TableMeta

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)

    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()

    @classmethod
    def get_or_none(cls, hash_key: str, range_key: str, consistent_read: bool = False):
        try:
            return cls.get(hash_key, range_key, consistent_read=consistent_read)
        except cls.DoesNotExist:
            return None


class SweepMark(Item, discriminator="SweepMark"):
    """pk=SWEEP#<name>, sk=META: how far a scheduled sweep has fully got (an hour bucket, a day), so the next
    run reads only what came due since."""

    mark = UnicodeAttribute()


def get_mark(name: str) -> str | None:
    item = SweepMark.get_or_none(f"SWEEP#{name}", "META", consistent_read=True)
    return item.mark if item else None


def set_mark(name: str, value: str) -> None:
    from chalicelib.core import clock

    SweepMark(f"SWEEP#{name}", "META", mark=value, updated_at=clock.now()).save()


def batch_get(keys: list[tuple[str, str]], consistent: bool = False) -> dict[tuple[str, str], Item]:
    """Items of any kind by (pk, sk) in BatchGetItem calls of up to 100 keys (one call up to 100).
    Each comes back as its own model class (discriminator)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    return {(i.pk, i.sk): i for i in Item.batch_get(wanted, consistent_read=consistent)}


def _all_models(cls: type = Item) -> Iterator[type]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _all_models(sub)


_caches: list[dict] = []


def register_cache(cache: dict) -> dict:
    """A per-process read cache that must be dropped with the connections (tests switch tables)."""
    _caches.append(cache)
    return cache


def reset_connections() -> None:
    """Forget cached connections and read caches (tests and tools that switch endpoints)."""
    for cls in _all_models():
        cls._connection = None
    _connection_cache.clear()
    for cache in _caches:
        cache.clear()


_connection_cache: dict[tuple, Connection] = {}


def connection() -> Connection:
    s = get_settings()
    key = (s.aws_region, s.dynamodb_endpoint)
    conn = _connection_cache.get(key)
    if conn is None:
        conn = _connection_cache[key] = Connection(region=s.aws_region, host=s.dynamodb_endpoint,
                                                   max_retry_attempts=3)
    return conn


# --------------------------------------------------------------------------------------- transactions
@dataclass
class Tx:
    """A TransactWriteItems being assembled by one use case, possibly from several domains' repositories.

    Each item carries a ``tag`` so that a cancelled transaction can say which condition failed. PynamoDB
    sends condition checks, deletes, puts and updates in that order, so tags are kept per group and joined
    in the same order to line up with DynamoDB's ``CancellationReasons``.
    """

    _tw: TransactWrite
    _tags: dict[str, list[Any]] = field(default_factory=lambda: {"cc": [], "del": [], "put": [], "upd": []})

    def condition_check(self, model_cls: type, hash_key: str, range_key: str, condition, tag: Any = None) -> None:
        self._tw.condition_check(model_cls, hash_key, range_key, condition=condition)
        self._tags["cc"].append(tag)

    def delete(self, model: Item, condition=None, tag: Any = None) -> None:
        self._tw.delete(model, condition=condition)
        self._tags["del"].append(tag)

    def save(self, model: Item, condition=None, tag: Any = None) -> None:
        self._tw.save(model, condition=condition)
        self._tags["put"].append(tag)

    def update(self, model: Item, actions: list, condition=None, tag: Any = None) -> None:
        self._tw.update(model, actions, condition=condition)
        self._tags["upd"].append(tag)

    def ordered_tags(self) -> list[Any]:
        return self._tags["cc"] + self._tags["del"] + self._tags["put"] + self._tags["upd"]

    def __len__(self) -> int:
        return sum(len(v) for v in self._tags.values())


def condition_failed(e: Exception) -> bool:
    """Whether a PynamoDB error is a failed ``condition=`` (not a throttle, not a validation error)."""
    return getattr(e, "cause_response_code", None) == "ConditionalCheckFailedException"


def update_if(item: Item, actions: list, condition) -> bool:
    """One conditional UpdateItem: True if it was applied, False if ``condition`` did not hold."""
    from pynamodb.exceptions import UpdateError

    try:
        item.update(actions=actions, condition=condition)
        return True
    except UpdateError as e:
        if condition_failed(e):
            return False
        raise


def put_new(item: Item) -> bool:
    """PutItem only if no item has its key: True if written, False if one was there already."""
    from pynamodb.exceptions import PutError

    try:
        item.save(condition=type(item).pk.does_not_exist())
        return True
    except PutError as e:
        if condition_failed(e):
            return False
        raise


class TxCancelled(Exception):
    """The transaction was cancelled; ``failed`` lists the tags whose condition failed, in order."""

    def __init__(self, failed: list[Any], reasons: list[str | None]):
        super().__init__(f"transaction cancelled: {failed}")
        self.failed = failed
        self.reasons = reasons


TX_ATTEMPTS = 4


@contextmanager
def transaction(client_request_token: str | None = None) -> Iterator[Tx]:
    """Collect items, commit once on exit. Raises :class:`TxCancelled` when a condition fails.

    Every attempt carries a ClientRequestToken, so botocore's own retry of a request whose response was
    lost cannot apply the writes twice. DynamoDB cancels a transaction that races another on the same
    item (``TransactionConflict``, nothing written); such a commit is tried again, with a new token, a
    few times with jittered backoff.
    """
    import random
    import time
    import uuid

    tw = TransactWrite(connection=connection(), client_request_token=client_request_token or str(uuid.uuid4()))
    tx = Tx(tw)
    yield tx
    if not len(tx):
        return
    for attempt in range(TX_ATTEMPTS):
        if attempt:
            tw._client_request_token = str(uuid.uuid4())
        try:
            tw._commit()
            return
        except TransactWriteError as e:
            reasons = [r.code if r else None for r in (e.cancellation_reasons or [])]
            if e.cause_response_code != "TransactionCanceledException" or not reasons:
                raise
            tags = tx.ordered_tags()
            failed = [tags[i] for i, code in enumerate(reasons) if code == "ConditionalCheckFailed" and i < len(tags)]
            conflict = "TransactionConflict" in reasons and not failed
            if conflict and attempt + 1 < TX_ATTEMPTS:
                time.sleep(random.uniform(0, 0.02 * 2 ** attempt))
                continue
            raise TxCancelled(failed, reasons) from e


# --------------------------------------------------------------------------------------- pagination
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(last_evaluated_key: dict | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or not data or not all(
            isinstance(k, str) and isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
            for k, v in data.items()
        ):
            raise ValueError
        return data
    except ValueError:
        raise ValidationFailed("The cursor is not valid", code="INVALID_CURSOR",
                               details={"fields": [{"field": "next", "message": "not a cursor from this API"}]})


@dataclass
class Page:
    items: Sequence[Any]
    next: str | None


def page(query_fn, *, limit: int, cursor: str | None, **kwargs) -> Page:
    """Run one page of a PynamoDB query: ``query_fn(hash_key, ..., limit=, last_evaluated_key=)``.

    A cursor from another listing makes DynamoDB reject the start key; that is a 422, not a 500.
    """
    from pynamodb.exceptions import QueryError

    start = decode_cursor(cursor)
    try:
        it = query_fn(limit=limit, page_size=limit, last_evaluated_key=start, **kwargs)
        items = list(it)
    except QueryError as e:
        if start is not None and e.cause_response_code == "ValidationException":
            raise ValidationFailed("The cursor does not belong to this list", code="INVALID_CURSOR",
                                   details={"fields": [{"field": "next", "message": "cursor mismatch"}]})
        raise
    return Page(items=items, next=encode_cursor(it.last_evaluated_key) if len(items) >= limit else None)
