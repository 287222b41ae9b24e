"""The single application table: PynamoDB base item, lazy connection settings, transactions, pagination.

Every domain's ``models.py`` subclasses :class:`Item` with a discriminator. Key layout and access patterns
are listed in docs/data-model.md; the table itself is defined once in infra/resources.yml.
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import DiscriminatorAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core import clock
from chalicelib.core.errors import TryAgain, invalid_cursor
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

    @property
    def read_timeout_seconds(cls) -> float:
        return get_settings().dynamodb_read_timeout_s


class _TableMeta(metaclass=_LazyTableMeta):
    max_retry_attempts = 3
    connect_timeout_seconds = 2


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
    def _get_connection(cls):
        """One connection (one botocore client) for every model of the table. PynamoDB otherwise builds a
        session and a client per model class on first use (pynamodb/PynamoDB#1245): ~0.1 s of CPU each, paid
        again for every model a cold Lambda touches, and by every thread that races to a fresh model."""
        if cls is not Item:
            return Item._get_connection()
        return super()._get_connection()

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
    for cache in _caches:
        cache.clear()


def connection() -> Connection:
    """The low-level connection behind every model (transactions go through it too)."""
    return Item._get_connection().connection


# --------------------------------------------------------------------------------------- transactions
@dataclass
class Tx:
    """A TransactWriteItems being assembled by one use case, possibly from several domains' repositories.

    Each item carries a ``tag`` so that a cancelled transaction can say which condition failed. Items are sent
    grouped as condition checks, deletes, puts and updates (PynamoDB's order), so tags are kept per group and
    joined in the same order to line up with DynamoDB's ``CancellationReasons``.
    """

    _items: dict[str, list[dict]] = field(default_factory=lambda: {"cc": [], "del": [], "put": [], "upd": []})
    _tags: dict[str, list[Any]] = field(default_factory=lambda: {"cc": [], "del": [], "put": [], "upd": []})
    _versioned: list[Item] = field(default_factory=list)
    _after: list[Callable[[], None]] = field(default_factory=list)

    def condition_check(self, model_cls: type, hash_key: str, range_key: str, condition, tag: Any = None) -> None:
        self._add(
            "cc", model_cls.get_operation_kwargs_from_class(hash_key, range_key=range_key, condition=condition), tag
        )

    def delete(self, model: Item, condition=None, tag: Any = None) -> None:
        self._add("del", model.get_delete_kwargs_from_instance(condition=condition), tag)

    def save(self, model: Item, condition=None, tag: Any = None) -> None:
        self._add("put", model.get_save_kwargs_from_instance(condition=condition), tag)
        self._versioned.append(model)

    def update(self, model: Item, actions: list, condition=None, tag: Any = None) -> None:
        self._add("upd", model.get_update_kwargs_from_instance(actions=actions, condition=condition), tag)
        self._versioned.append(model)

    def _add(self, group: str, kwargs: dict, tag: Any) -> None:
        self._items[group].append(kwargs)
        self._tags[group].append(tag)

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the transaction has committed (never if it is cancelled)."""
        self._after.append(fn)

    def ordered_tags(self) -> list[Any]:
        return self._tags["cc"] + self._tags["del"] + self._tags["put"] + self._tags["upd"]

    def __len__(self) -> int:
        return sum(len(v) for v in self._tags.values())

    def commit(self, token: str) -> None:
        connection().transact_write_items(
            condition_check_items=self._items["cc"],
            delete_items=self._items["del"],
            put_items=self._items["put"],
            update_items=self._items["upd"],
            client_request_token=token,
        )
        for model in self._versioned:
            model.update_local_version_attribute()


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


# Transient failures. A transaction cancelled only for these reasons wrote nothing; a top-level error of these
# codes (or a lost connection) may or may not have been applied. Either way the same request is sent again with
# the same ClientRequestToken, so DynamoDB applies it at most once.
TRANSIENT_CANCEL_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalServerError",  # also DynamoDB Local's "too long waiting for a lock"
        "ServiceUnavailable",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)
TX_ATTEMPTS = 8
TX_MAX_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
BACKOFF_BASE_S = 0.025
BACKOFF_CAP_S = 1.0


def transient(e: Exception) -> bool:
    """Whether a PynamoDB error is one that a later identical request may not meet (throttle, conflict, 5xx,
    lost connection)."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if getattr(e, "cause_response_code", None) in TRANSIENT_ERROR_CODES:
        return True
    return isinstance(getattr(e, "cause", None), (BotoConnectionError, HTTPClientError))


def backoff_s(attempt: int) -> float:
    """Capped exponential backoff with full jitter before retry number ``attempt`` (1, 2, ...)."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))


@dataclass
class Rider:
    """An item that must be written with the request's change, never without it (an action-log entry): ``add``
    puts it into the first transaction of the request that has room for it; ``carried`` once that one committed.
    ``add`` must build the same item every time it is called (a retried commit resends what it added once)."""

    add: Callable[[Tx], None]
    carried: bool = False


_rider: ContextVar[Rider | None] = ContextVar("tx_rider", default=None)


def ride_along(add: Callable[[Tx], None]) -> Rider:
    """Until :func:`drop_rider`, the next transaction that commits in this context also carries ``add``'s item."""
    rider = Rider(add)
    _rider.set(rider)
    return rider


def drop_rider() -> None:
    _rider.set(None)


def _board(tx: Tx) -> Rider | None:
    rider = _rider.get()
    if rider is None or rider.carried or len(tx) >= TX_MAX_ITEMS:
        return None
    rider.add(tx)
    return rider


@contextmanager
def transaction(client_request_token: str | None = None) -> Iterator[Tx]:
    """Collect items, commit once on exit. Raises :class:`TxCancelled` when a condition fails and
    :class:`~chalicelib.core.errors.TryAgain` (503) when transient failures outlast the retries.

    Every attempt carries the same ClientRequestToken: an attempt whose answer was lost (a 500, a timeout) and
    that did apply is not applied again by the next one. Transient failures (``TransactionConflict``,
    throttling, ``InternalServerError``, DynamoDB Local's lock wait) are retried here, for every caller, with
    capped, jittered backoff.

    A request's :class:`Rider` (an action-log entry, see ``ride_along``) is added to the first transaction with
    room that it reaches, so it commits with the change or not at all.
    """
    tx = Tx()
    yield tx
    if not len(tx):
        return
    rider = _board(tx)  # added once: every attempt below sends the same items under the same token
    token = client_request_token or str(uuid.uuid4())
    for attempt in range(TX_ATTEMPTS):
        if attempt:
            time.sleep(backoff_s(attempt))
        try:
            tx.commit(token)
        except TransactWriteError as e:
            code = getattr(e, "cause_response_code", None)  # the property fails when there was no response
            reasons = [r.code if r else None for r in (e.cancellation_reasons or [])] if code else []
            if code == "TransactionCanceledException" and reasons:
                failed_tags = [tag for tag, r in zip(tx.ordered_tags(), reasons) if r == "ConditionalCheckFailed"]
                if failed_tags or not all(r in TRANSIENT_CANCEL_REASONS for r in reasons if r):
                    raise TxCancelled(failed_tags, reasons) from e
            elif not transient(e):
                raise
            last = e
            continue
        if rider is not None:
            rider.carried = True
        for fn in tx._after:
            fn()
        return
    raise TryAgain("The store is busy; please try again in a moment", retry_after_s=1) from last


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
        if (
            not isinstance(data, dict)
            or not data
            or not all(
                isinstance(k, str) and isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
                for k, v in data.items()
            )
        ):
            raise ValueError
        return data
    except ValueError:
        raise invalid_cursor()


@dataclass
class Page:
    items: Sequence[Any]
    next: str | None


def page_list(items: Sequence[Any], key: Callable[[Any], str], *, limit: int, cursor: str | None) -> Page:
    """One page of a short list read whole (a chain's levels, its tags), in the list's order, with the same opaque
    cursor as :func:`page`: the key of the last item given."""
    after = decode_cursor(cursor)
    start = 0
    if after is not None:
        keys = [key(i) for i in items]
        last = (after.get("after") or {}).get("S")
        if last not in keys:
            raise invalid_cursor("cursor mismatch")
        start = keys.index(last) + 1
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return Page(items=chunk, next=encode_cursor({"after": {"S": key(chunk[-1])}}) if more and chunk else None)


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
            raise invalid_cursor("cursor mismatch")
        raise
    return Page(items=items, next=encode_cursor(it.last_evaluated_key) if len(items) >= limit else None)
