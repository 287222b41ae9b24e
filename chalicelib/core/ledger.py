"""Books that balance: what every balance-owning domain hands the daily ledger audit.

Each balance (wallet principal and bonus, points, stock of (store, sku), coupon template stock) changes only in
the TransactWriteItems that also writes the ledger entry explaining it. Every such entry is also filed under the
business day it was written (the owning domain's ``<BOOK>DAY#<day>`` key on the overloaded gsi3), so the audit
reads only the accounts that changed that day. Each domain's ``repository.audit_changed(day)`` returns a
:class:`Book` per touched account, through :func:`audit_accounts` (the domain gives its two reads); the audit job
compares them (``chalicelib.audit.domain``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from chalicelib.core import clock

A = TypeVar("A")

SETTLE_ATTEMPTS = 3
SETTLE_PAUSE_S = 0.2


@dataclass(frozen=True)
class Book:
    """One balance and the sum of its ledger, read by the audit. ``book``: wallet_principal, wallet_bonus,
    points, stock, coupon_stock; ``account``: member id, ``<store_id>/<sku>``, template id."""

    book: str
    account: str
    balance: int
    ledger: int

    @property
    def drift(self) -> int:
        return self.balance - self.ledger


def business_day(at: datetime | None = None) -> str:
    """The business date (BUSINESS_TZ) of ``at`` (default now), as YYYY-MM-DD: the day an entry is filed under."""
    return (at or clock.now()).astimezone(clock.business_tz()).date().isoformat()


def day_bucket(prefix: str, day: str) -> str:
    """gsi3 partition of one book's entries of one business day, e.g. ``WALLETDAY#2026-12-03``."""
    return f"{prefix}#{day}"


def settle(
    read_balances: Callable[[], dict[Hashable, int]],
    read_ledgers: Callable[[], dict[Hashable, int]],
    attempts: int = SETTLE_ATTEMPTS,
    pause_s: float = SETTLE_PAUSE_S,
) -> tuple[dict[Hashable, int], dict[Hashable, int]]:
    """Balances and ledger sums of the same moment: balances, ledgers, balances again. A change committed
    in between (the audit runs while the shops trade) shows as balances that moved, so it reads again (up to
    ``attempts``); what still differs after that is handed on as read (the caller reports it)."""
    balances, ledgers = read_balances(), read_ledgers()
    for attempt in range(attempts):
        again = read_balances()
        if again == balances and all(balances.get(k, 0) == ledgers.get(k, 0) for k in set(balances) | set(ledgers)):
            break
        if attempt + 1 < attempts:
            time.sleep(pause_s)
        balances, ledgers = again, read_ledgers()
    return balances, ledgers


def audit_accounts(
    accounts: Iterable[A],
    read_balances: Callable[[A], dict[Hashable, int]],
    read_ledgers: Callable[[A], dict[Hashable, int]],
    name: Callable[[A, Hashable], tuple[str, str]],
) -> list[Book]:
    """A :class:`Book` per part of every account (in sorted order): the account's balances and ledger sums read
    by :func:`settle`, keyed by part (e.g. principal and bonus of a wallet, the skus of a store);
    ``name(account, part)`` gives the book and the account label. A part missing on one side counts 0."""
    books = []
    for account in sorted(accounts):
        got, sums = settle(lambda a=account: read_balances(a), lambda a=account: read_ledgers(a))
        for part in dict.fromkeys([*got, *sums]):
            books.append(Book(*name(account, part), got.get(part, 0), sums.get(part, 0)))
    return books
