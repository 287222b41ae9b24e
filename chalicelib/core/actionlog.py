"""The log of sensitive actions (refunds at the till, product and price changes, stock counts, staff changes,
promotion changes) that head office reads at ``GET /admin/audit-log``.

A route declares ``audit="<action>"`` (``core.http.route``). Its entry says who (staff id, role, store), what
(action, method and path, path parameters, the request body without secrets), anything the use case added with
``note(...)`` (e.g. the manager who approved a refund), and when. It is written in the change's own
TransactWriteItems: :func:`begin` hands ``core.dynamo`` a rider that the request's first committing transaction
carries, so the entry and the change exist together or not at all (a refused or cancelled change leaves no entry;
a process dying after the commit leaves both). The entry is built from what is known when that transaction is
assembled (notes made after it are not in it) and once per request (same id and time for every attempt).
Only an audited request that committed no transaction (a stock count that found no difference) gets its entry
written after it answers 2xx, by :func:`finish`.

Items: pk=ACTIONLOG#<business day>, sk=<at>#<id>: a day's entries in time order (readers go newest first).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core import clock
from chalicelib.core.dynamo import Item, Page, Rider, Tx, drop_rider, page, ride_along
from chalicelib.core.ids import new_id
from chalicelib.core.ledger import business_day

SECRET_FIELDS = frozenset({"password", "new_password", "secret"})
ACTIONS = ("refund", "product_change", "stock_adjustment", "staff_change", "promotion_change")


class ActionLogItem(Item, discriminator="ActionLog"):
    entry_id = UnicodeAttribute()
    action = UnicodeAttribute()
    actor = UnicodeAttribute()
    role = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    method = UnicodeAttribute()
    path = UnicodeAttribute()
    params = JSONAttribute(null=True)
    body = JSONAttribute(null=True)
    details = JSONAttribute(null=True)
    status = NumberAttribute()
    at = UnicodeAttribute()


def _pk(day: str) -> str:
    return f"ACTIONLOG#{day}"


_notes: ContextVar[dict | None] = ContextVar("actionlog_notes", default=None)


@dataclass
class Pending:
    """The entry of the request being handled, before it is written."""

    action: str
    principal: Any
    method: str
    path: str
    params: dict
    body: Any
    status: int
    entry_id: str = field(default_factory=new_id)
    at: datetime = field(default_factory=clock.now)
    rider: Rider | None = None

    def item(self) -> ActionLogItem:
        return ActionLogItem(
            _pk(business_day(self.at)),
            f"{clock.iso(self.at)}#{self.entry_id}",
            entry_id=self.entry_id,
            action=self.action,
            actor=self.principal.sub,
            role=self.principal.role,
            store_id=self.principal.store_id,
            method=self.method,
            path=self.path,
            params=self.params or None,
            body=clean(self.body) if self.body is not None else None,
            details=_notes.get() or None,
            status=self.status,
            at=clock.iso(self.at),
            created_at=self.at,
        )

    def add_to(self, tx: Tx) -> None:
        """Put the entry into ``tx`` (the same item whichever transaction of the request carries it)."""
        tx.save(self.item(), condition=ActionLogItem.pk.does_not_exist(), tag=TAG)


TAG = ("actionlog",)


def begin(pending: Pending) -> Pending:
    """Start an audited request: its first committing transaction will carry the entry."""
    _notes.set({})
    pending.rider = ride_along(pending.add_to)
    return pending


def note(**details: Any) -> None:
    """Add facts to the entry the current request will write (no-op outside an audited route). Only notes made
    before the change's transaction is assembled are in the entry."""
    current = _notes.get()
    if current is not None:
        current.update(details)


def clean(body: Any) -> Any:
    """The request body as logged: secrets replaced."""
    if isinstance(body, dict):
        return {k: ("***" if k in SECRET_FIELDS else clean(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [clean(v) for v in body]
    return body


def finish(pending: Pending, succeeded: bool) -> bool:
    """End the request: if it succeeded and no transaction carried the entry, write it now. True if written here."""
    try:
        if succeeded and not (pending.rider and pending.rider.carried):
            pending.item().save()
            return True
        return False
    finally:
        drop_rider()
        _notes.set(None)


def day_page(day: str, action: str | None, store_id: str | None, limit: int, cursor: str | None) -> Page:
    """One business day's entries (of one action, by staff of one store), newest first."""
    cond = None
    if action:
        cond = ActionLogItem.action == action
    if store_id:
        mine = ActionLogItem.store_id == store_id
        cond = mine if cond is None else cond & mine
    return page(
        ActionLogItem.query,
        hash_key=_pk(day),
        scan_index_forward=False,
        filter_condition=cond,
        limit=limit,
        cursor=cursor,
    )


def entry_out(i: ActionLogItem) -> dict[str, Any]:
    return {
        "entry_id": i.entry_id,
        "at": i.at,
        "action": i.action,
        "actor": i.actor,
        "role": i.role,
        "store_id": i.store_id,
        "method": i.method,
        "path": i.path,
        "params": i.params or {},
        "body": i.body,
        "details": i.details or {},
        "status": int(i.status),
    }
