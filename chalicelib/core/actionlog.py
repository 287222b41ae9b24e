"""The log of sensitive actions (refunds at the till, product and price changes, stock counts, staff changes,
promotion changes) that head office reads at ``GET /admin/audit-log``.

A route declares ``audit="<action>"`` (``core.http.route``); after the handler answers 2xx the HTTP layer writes
one entry: who (staff id, role, store), what (action, method and path, path parameters, the request body without
secrets), anything the use case added with ``note(...)`` (e.g. the manager who approved a refund), and when.
The entry is written right after the change commits (not in its transaction): a process that dies in between
loses that entry, never the change.

Items: pk=ACTIONLOG#<business day>, sk=<at>#<id>: a day's entries in time order (readers go newest first).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core import clock
from chalicelib.core.dynamo import Item, Page, page
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


def begin() -> None:
    _notes.set({})


def note(**details: Any) -> None:
    """Add facts to the entry the current request will write (no-op outside an audited route)."""
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


def write(action: str, principal: Any, method: str, path: str, params: dict, body: Any, status: int) -> None:
    now = clock.now()
    entry_id = new_id()
    ActionLogItem(
        _pk(business_day(now)),
        f"{clock.iso(now)}#{entry_id}",
        entry_id=entry_id,
        action=action,
        actor=principal.sub,
        role=principal.role,
        store_id=principal.store_id,
        method=method,
        path=path,
        params=params or None,
        body=clean(body) if body is not None else None,
        details=_notes.get() or None,
        status=status,
        at=clock.iso(now),
        created_at=now,
    ).save()
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
