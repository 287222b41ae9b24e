"""The ledger audit's pure rules: which books drift, how they are told, which days are due; and ``settle``
(balances and ledgers of one moment) with fakes."""

from __future__ import annotations

from datetime import date

from chalicelib.audit import domain
from chalicelib.core import ledger
from chalicelib.core.ledger import Book


def test_only_books_whose_balance_is_not_their_ledger_drift_biggest_first():
    books = [
        Book("wallet_principal", "M1", 10000, 10000),
        Book("wallet_bonus", "M1", 1800, 1700),
        Book("points", "M2", 5, 125),
        Book("stock", "S1/SKU", 0, 0),
        Book("coupon_stock", "T1", -1, -1),  # equal, even if odd: the audit compares, it does not judge
    ]
    found = domain.drifts(books)
    assert [(b.book, b.drift) for b in found] == [("points", -120), ("wallet_bonus", 100)]
    assert domain.drifts([]) == [] and domain.drifts(books[:1]) == []
    assert domain.by_book(found) == {"wallet_bonus": 1, "points": 1}
    assert domain.headline(found) == "points …M2 -120" and domain.headline([]) == "-"
    assert domain.describe(found[1]) == {"book": "wallet_bonus", "account": "M1", "balance": 1800, "ledger": 1700}


def test_headline_fits_an_sms_variable():
    long = Book("coupon_stock", "01JTEMPLATE000000000000000", 10**9, 0)
    assert len(domain.headline([long])) <= 30 and domain.headline([long]).startswith("coupon_stock …000000")


def test_days_to_audit_run_from_the_mark_to_yesterday():
    today = date(2026, 11, 25)
    assert domain.days_to_audit(None, today, 7) == [date(2026, 11, 24)]  # the first run: yesterday
    assert domain.days_to_audit("2026-11-22", today, 2) == [date(2026, 11, 23), date(2026, 11, 24)]
    assert domain.days_to_audit("2026-11-23", today, 7) == [date(2026, 11, 24)]
    assert domain.days_to_audit("2026-11-24", today, 7) == []  # today is still trading
    assert len(domain.days_to_audit("2020-01-01", today, 7)) == 7  # a long outage: a week back at most


def test_settle_reads_again_while_balances_move_and_hands_on_a_stable_drift():
    balances = iter([{"a": 1}, {"a": 2}, {"a": 2}])  # a change commits between the first two reads
    ledgers = iter([{"a": 1}, {"a": 2}])
    assert ledger.settle(lambda: next(balances), lambda: next(ledgers), pause_s=0) == ({"a": 2}, {"a": 2})
    reads = []

    def stable():
        reads.append(1)
        return {"a": 5}

    assert ledger.settle(stable, lambda: {"a": 4}, attempts=3, pause_s=0) == ({"a": 5}, {"a": 4})
    assert len(reads) == 4  # the first read and three checks: a real drift survives every re-read
    clean = []
    assert ledger.settle(lambda: clean.append(1) or {"a": 3}, lambda: {"a": 3}, pause_s=0) == ({"a": 3}, {"a": 3})
    assert len(clean) == 2  # balances, ledgers, balances: equal and unmoved, done


def test_audit_accounts_gives_a_book_per_part_of_every_account_in_order_and_counts_a_missing_side_as_0():
    balances = {"S2": {"BEER": 5, "WINE": 1}, "S1": {"BEER": 3}}
    ledgers = {"S2": {"BEER": 5}, "S1": {"BEER": 3, "TEA": 2}}
    books = ledger.audit_accounts(balances, balances.get, ledgers.get, lambda store, sku: ("stock", f"{store}/{sku}"))
    assert books == [
        Book("stock", "S1/BEER", 3, 3),
        Book("stock", "S1/TEA", 0, 2),
        Book("stock", "S2/BEER", 5, 5),
        Book("stock", "S2/WINE", 1, 0),
    ]
    assert ledger.audit_accounts([], balances.get, ledgers.get, lambda a, p: (p, a)) == []


def test_entries_are_filed_under_the_business_day():
    from datetime import UTC, datetime

    assert ledger.business_day(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)) == "2026-11-24"  # 00:30 Beijing
    assert ledger.business_day(datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) == "2026-11-23"
    assert ledger.day_bucket("WALLETDAY", "2026-11-24") == "WALLETDAY#2026-11-24"
