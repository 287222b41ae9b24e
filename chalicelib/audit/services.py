"""The ledger audit: for every account changed on a business day, balance == sum(ledger), for wallets
(principal and bonus), points, stock, coupon template stock and member growth. Each owning domain reads only that day's
touched accounts (``repository.audit_changed``); a drift is counted (metric ``LedgerDrift``) and reported once
per day through the outbox (``LedgerDrift`` event: the sms domain texts head office)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.audit import domain, repository
from chalicelib.core import clock, events, metrics
from chalicelib.core.dynamo import TxCancelled, get_mark, set_mark, transaction
from chalicelib.core.ledger import Book
from chalicelib.core.logging import logger
from chalicelib.coupons import repository as coupons
from chalicelib.distribution import repository as distribution
from chalicelib.inventory import repository as inventory
from chalicelib.members import repository as members
from chalicelib.points import repository as points
from chalicelib.wallet import repository as wallet

MARK = "ledger-audit"
# Looked up at call time (module, not function), so tests can spy on a domain's audit_changed / changed_on.
OWNERS = (wallet, points, inventory, coupons, members, distribution)


def books_of(day: str) -> list[Book]:
    """Every balance changed on ``day`` with its ledger sum, from each owning domain."""
    return [b for owner in OWNERS for b in owner.audit_changed(day)]


def audit_day(day: str) -> dict[str, object]:
    """Audit one business day; report its drifts (once). Returns what was found."""
    books = books_of(day)
    found = domain.drifts(books)
    reported = _report(day, books, found) if found else False
    return {"day": day, "accounts": len(books), "drifts": len(found), "reported": reported}


def _report(day: str, books: list[Book], found: list[Book]) -> bool:
    listed = [domain.describe(b) for b in found[: domain.REPORTED]]
    event = events.Event(
        "LedgerDrift",
        {
            "day": day,
            "count": len(found),
            "by_book": domain.by_book(found),
            "headline": domain.headline(found),
            "drifts": listed,
        },
    )
    try:
        with transaction() as tx:
            repository.add_report(tx, day, len(books), len(found), listed)
            events.add(tx, [event])
    except TxCancelled:
        return False  # reported before
    for book, n in domain.by_book(found).items():
        metrics.count("LedgerDrift", n, book=book)
    logger.error("ledger drift", extra={"day": day, "count": len(found), "drifts": listed})
    return True


def audit_due(now: datetime | None = None, max_days_back: int = 7) -> dict[str, object]:
    """Audit every business day since the last audited one, up to yesterday; remember how far it got."""
    today = (now or clock.now()).astimezone(clock.business_tz()).date()
    results = []
    for day in domain.days_to_audit(get_mark(MARK), today, max_days_back):
        results.append(audit_day(day.isoformat()))
        set_mark(MARK, day.isoformat())
    return {
        "days": [r["day"] for r in results],
        "accounts": sum(int(r["accounts"]) for r in results),
        "drifts": sum(int(r["drifts"]) for r in results),
    }
