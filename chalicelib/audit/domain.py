"""Pure rules of the ledger audit: which books drift, and how a drift is told (no I/O)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

from chalicelib.core.ledger import Book

BOOKS = ("wallet_principal", "wallet_bonus", "points", "stock", "coupon_stock")
REPORTED = 20  # drifts listed in the event (the count is always exact)


def drifts(books: Iterable[Book]) -> list[Book]:
    """The books whose balance is not the sum of their ledger, biggest drift first (then by book, account)."""
    return sorted((b for b in books if b.balance != b.ledger), key=lambda b: (-abs(b.drift), b.book, b.account))


def by_book(books: Iterable[Book]) -> dict[str, int]:
    """How many of ``books`` there are per book, in BOOKS order (books with none left out)."""
    counts = Counter(b.book for b in books)
    return {k: counts[k] for k in BOOKS if counts[k]} | {k: v for k, v in counts.items() if k not in BOOKS}


def describe(book: Book) -> dict[str, object]:
    return {"book": book.book, "account": book.account, "balance": book.balance, "ledger": book.ledger}


def headline(found: list[Book]) -> str:
    """A short name of the biggest drift for an SMS (SMS variables are short): ``points …A1B2C3 +120``."""
    if not found:
        return "-"
    b = found[0]
    return f"{b.book} …{b.account[-6:]} {b.drift:+d}"[:30]


def days_to_audit(last_done: str | None, today: date, max_back: int) -> list[date]:
    """Business days to audit, oldest first: every day after ``last_done`` up to yesterday (today is still
    trading), at most ``max_back`` days back; the first run ever (no mark) audits yesterday."""
    first = today - timedelta(days=max_back if last_done else 1)
    if last_done:
        first = max(first, date.fromisoformat(last_done) + timedelta(days=1))
    return [first + timedelta(days=i) for i in range((today - first).days)]
