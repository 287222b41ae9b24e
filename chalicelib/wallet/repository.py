"""The only code that reads or writes wallet items: packages, accounts, ledger entries, recharges and the payment
records of recharges.

For other domains (orders pays with the wallet inside *its* transaction): ``account_key`` for the BatchGetItem
it gathers, ``balance_in`` to read the balance back, ``add_payment`` / ``add_refund`` to add the conditional
balance update and its ledger entry to the ``Tx`` it commits. A failed balance condition surfaces as
``TxCancelled`` with the tag ``("wallet", member_id)`` (:func:`balance_tag`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import QueryError

from chalicelib.core import clock
from chalicelib.core.dynamo import Item, Page, Tx, decode_cursor, encode_cursor, page
from chalicelib.core.errors import invalid_cursor
from chalicelib.core.ids import new_id
from chalicelib.core.ledger import Book, audit_accounts, business_day, day_bucket
from chalicelib.wallet import domain
from chalicelib.wallet.domain import Balance
from chalicelib.wallet.models import (
    ACCOUNT_SK,
    ACTIVE_PACKAGES_GSI2PK,
    AUDIT_DAY_PREFIX,
    ENTRY_PREFIX,
    META,
    PACKAGES_GSI1PK,
    WALLET_PREFIX,
    RechargeItem,
    RechargePackageItem,
    WalletAccountItem,
    WalletEntryItem,
    WalletPaymentRecordItem,
    entry_sk,
    member_pk,
    member_recharges,
    package_pk,
    payment_record_pk,
    recharge_pk,
)


def balance_tag(member_id: str) -> tuple[str, str]:
    """The tag of a member's balance update in a transaction: ``TxCancelled.failed`` names it when the balance
    did not cover a payment."""
    return ("wallet", member_id)


# --------------------------------------------------------------------------------------- balances
def account_key(member_id: str) -> tuple[str, str]:
    """Key of the member's wallet account, to add to a BatchGetItem another domain gathers."""
    return member_pk(member_id), ACCOUNT_SK


def balance_in(got: Mapping[tuple[str, str], Any], member_id: str) -> Balance:
    """The member's balance among a BatchGetItem's items (zero when the member never had a wallet)."""
    item = got.get(account_key(member_id))
    return _balance(item) if isinstance(item, WalletAccountItem) else domain.ZERO


def get_balance(member_id: str, consistent: bool = True) -> Balance:
    item = WalletAccountItem.get_or_none(*account_key(member_id), consistent_read=consistent)
    return _balance(item) if item is not None else domain.ZERO


def _balance(item: WalletAccountItem) -> Balance:
    return Balance(int(item.principal_fen or 0), int(item.bonus_fen or 0))


def _change(tx: Tx, member_id: str, principal: int, bonus: int, kind: str, ref_type: str, ref_id: str) -> str:
    """Add to ``tx`` the balance update (ADD, conditioned on never going below zero) and its ledger entry."""
    if principal == 0 and bonus == 0:
        raise ValueError("a wallet change moves at least one fen")
    now = clock.now()
    actions = [
        WalletAccountItem.principal_fen.add(principal),
        WalletAccountItem.bonus_fen.add(bonus),
        WalletAccountItem.kind.set(WalletAccountItem),
        WalletAccountItem.member_id.set(member_id),
        WalletAccountItem.updated_at.set(now),
    ]
    cond = None
    if principal < 0:
        cond = WalletAccountItem.principal_fen >= -principal
    if bonus < 0:
        cond = (
            (WalletAccountItem.bonus_fen >= -bonus) if cond is None else cond & (WalletAccountItem.bonus_fen >= -bonus)
        )
    tx.update(WalletAccountItem(*account_key(member_id)), actions, condition=cond, tag=balance_tag(member_id))
    entry_id = new_id()
    entry = WalletEntryItem(
        member_pk(member_id),
        entry_sk(entry_id),
        entry_id=entry_id,
        member_id=member_id,
        entry_kind=kind,
        principal_delta=principal,
        bonus_delta=bonus,
        ref_type=ref_type,
        ref_id=ref_id,
        created_at=now,
        gsi3pk=day_bucket(AUDIT_DAY_PREFIX, business_day(now)),
        gsi3sk=f"{member_id}#{entry_id}",
    )
    tx.save(entry, condition=WalletEntryItem.pk.does_not_exist(), tag=("wallet_entry", member_id))
    return entry_id


def add_payment(tx: Tx, member_id: str, principal_fen: int, bonus_fen: int, ref_type: str, ref_id: str) -> str:
    """Take ``principal_fen`` and ``bonus_fen`` (e.g. from :func:`domain.split`) out of the wallet in ``tx``,
    conditioned on ``principal >= principal_fen AND bonus >= bonus_fen``: never negative. Returns the ledger
    entry id. A short balance cancels the whole transaction with ``balance_tag(member_id)`` in
    ``TxCancelled.failed``."""
    if principal_fen < 0 or bonus_fen < 0:
        raise ValueError("payment parts are not negative")
    return _change(tx, member_id, -principal_fen, -bonus_fen, domain.PAYMENT, ref_type, ref_id)


def add_refund(tx: Tx, member_id: str, principal_fen: int, bonus_fen: int, ref_type: str, ref_id: str) -> str:
    """Put ``principal_fen`` and ``bonus_fen`` back into the wallet in ``tx`` (an order refund, in the split of
    its payment). Returns the ledger entry id."""
    if principal_fen < 0 or bonus_fen < 0:
        raise ValueError("refund parts are not negative")
    return _change(tx, member_id, principal_fen, bonus_fen, domain.REFUND, ref_type, ref_id)


def add_credit(tx: Tx, member_id: str, principal_fen: int, bonus_fen: int, recharge_id: str) -> str:
    """A recharge's principal and bonus into the wallet."""
    return _change(tx, member_id, principal_fen, bonus_fen, domain.RECHARGE, "recharge", recharge_id)


def add_commission(tx: Tx, member_id: str, principal_fen: int, withdrawal_id: str) -> str:
    """A distributor's approved commission withdrawal into the wallet's principal (distribution's transaction)."""
    if principal_fen <= 0:
        raise ValueError("a commission payout is positive")
    return _change(tx, member_id, principal_fen, 0, domain.COMMISSION, "withdrawal", withdrawal_id)


def add_recharge_refund(tx: Tx, member_id: str, taken: Balance, recharge_id: str) -> str:
    """A recharge refund: the principal paid back and the bonus forfeited leave the wallet (conditioned)."""
    return _change(
        tx, member_id, -taken.principal_fen, -taken.bonus_fen, domain.RECHARGE_REFUND, "recharge", recharge_id
    )


# --------------------------------------------------------------------------------------- ledger
def _ledger_cursor(member_id: str, cursor: str | None) -> tuple[dict | None, Balance | None]:
    start = decode_cursor(cursor)
    if start is None:
        return None, None
    try:
        running = Balance(int(start.pop("rp")["S"]), int(start.pop("rb")["S"]))
        if set(start) != {"pk", "sk"} or start["pk"]["S"] != member_pk(member_id):
            raise ValueError
        if not start["sk"]["S"].startswith(ENTRY_PREFIX):
            raise ValueError
    except (KeyError, ValueError):
        raise invalid_cursor("cursor mismatch")
    return start, running


def ledger_page(
    member_id: str, limit: int, cursor: str | None
) -> tuple[list[tuple[WalletEntryItem, Balance]], str | None]:
    """The member's ledger entries newest first, each with the balance right after it.

    The first page is one strongly consistent Query of the member's ``WALLET#`` rows: the account (its sk sorts
    after every entry) and the newest entries, so the balances after each entry are walked back from the
    account's balance. The cursor carries the walk on to the next page."""
    start, running = _ledger_cursor(member_id, cursor)
    want = limit if start is not None else limit + 1
    try:
        rows = list(
            Item.query(
                member_pk(member_id),
                Item.sk.startswith(WALLET_PREFIX),
                scan_index_forward=False,
                consistent_read=True,
                limit=want,
                page_size=want,
                last_evaluated_key=start,
            )
        )
    except QueryError as e:
        if start is not None and e.cause_response_code == "ValidationException":
            raise invalid_cursor("cursor mismatch")
        raise
    if running is None:
        account = rows[0] if rows and isinstance(rows[0], WalletAccountItem) else None
        running = _balance(account) if account is not None else domain.ZERO
    entries = [r for r in rows if isinstance(r, WalletEntryItem)][:limit]
    afters = domain.running_balances(running, [(int(e.principal_delta), int(e.bonus_delta)) for e in entries])
    nxt = None
    if len(entries) == limit:
        last, after = entries[-1], afters[-1]
        before = after.plus(-int(last.principal_delta), -int(last.bonus_delta))
        nxt = encode_cursor(
            {
                "pk": {"S": last.pk},
                "sk": {"S": last.sk},
                "rp": {"S": str(before.principal_fen)},
                "rb": {"S": str(before.bonus_fen)},
            }
        )
    return list(zip(entries, afters)), nxt


def all_entries(member_id: str) -> list[WalletEntryItem]:
    """Every ledger entry of a member, oldest first (audits and tests)."""
    return list(
        WalletEntryItem.query(member_pk(member_id), WalletEntryItem.sk.startswith(ENTRY_PREFIX), consistent_read=True)
    )


def changed_on(day: str) -> set[str]:
    """Members whose wallet changed on business day ``day``: one Query of that day's gsi3 bucket."""
    return {e.member_id for e in WalletEntryItem.gsi3.query(day_bucket(AUDIT_DAY_PREFIX, day))}


def audit_changed(day: str) -> list[Book]:
    """Balance against ledger (principal and bonus apart) of every wallet changed on ``day``: reads that day's
    bucket, then per member the account and its entries (consistent)."""

    def balances(member_id: str) -> dict:
        b = get_balance(member_id)
        return {"principal": b.principal_fen, "bonus": b.bonus_fen}

    def ledgers(member_id: str) -> dict:
        entries = all_entries(member_id)
        return {
            "principal": sum(int(e.principal_delta) for e in entries),
            "bonus": sum(int(e.bonus_delta) for e in entries),
        }

    return audit_accounts(changed_on(day), balances, ledgers, lambda m, part: (f"wallet_{part}", m))


# --------------------------------------------------------------------------------------- packages
def new_package(
    package_id: str, title: str, pay_fen: int, bonus_fen: int, status: str, actor: str
) -> RechargePackageItem:
    now = clock.now()
    item = RechargePackageItem(
        package_pk(package_id),
        META,
        package_id=package_id,
        title=title,
        pay_fen=pay_fen,
        bonus_fen=bonus_fen,
        status=status,
        created_by=actor,
        gsi1pk=PACKAGES_GSI1PK,
        gsi1sk=package_id,
        created_at=now,
        updated_at=now,
    )
    _index_active(item)
    item.save(condition=RechargePackageItem.pk.does_not_exist())
    return item


def _index_active(item: RechargePackageItem) -> None:
    if item.status == "active":
        item.gsi2pk, item.gsi2sk = ACTIVE_PACKAGES_GSI2PK, f"{int(item.pay_fen):012d}#{item.package_id}"
    else:
        item.gsi2pk = item.gsi2sk = None


def get_package(package_id: str, consistent: bool = False) -> RechargePackageItem | None:
    return RechargePackageItem.get_or_none(package_pk(package_id), META, consistent_read=consistent)


def save_package(item: RechargePackageItem, changes: dict[str, Any]) -> RechargePackageItem:
    """Apply ``changes`` (title, pay_fen, bonus_fen, status) to a package read before (last edit wins)."""
    for k, v in changes.items():
        setattr(item, k, v)
    item.updated_at = clock.now()
    _index_active(item)
    item.save(condition=RechargePackageItem.pk.exists())
    return item


def packages_page(limit: int, cursor: str | None) -> Page:
    return page(
        RechargePackageItem.gsi1.query, hash_key=PACKAGES_GSI1PK, scan_index_forward=False, limit=limit, cursor=cursor
    )


def active_packages(limit: int, cursor: str | None) -> Page:
    return page(RechargePackageItem.gsi2.query, hash_key=ACTIVE_PACKAGES_GSI2PK, limit=limit, cursor=cursor)


# --------------------------------------------------------------------------------------- recharges
def new_recharge(recharge_id: str, member_id: str, fields: dict[str, Any]) -> RechargeItem:
    now = clock.now()
    return RechargeItem(
        recharge_pk(recharge_id),
        META,
        recharge_id=recharge_id,
        member_id=member_id,
        gsi1pk=member_recharges(member_id),
        gsi1sk=recharge_id,
        created_at=now,
        updated_at=now,
        **fields,
    )


def put_recharge(item: RechargeItem, tx: Tx | None = None) -> None:
    if tx is None:
        item.save(condition=RechargeItem.pk.does_not_exist())
    else:
        tx.save(item, condition=RechargeItem.pk.does_not_exist(), tag=("recharge", item.recharge_id))


def get_recharge(recharge_id: str, consistent: bool = True) -> RechargeItem | None:
    return RechargeItem.get_or_none(recharge_pk(recharge_id), META, consistent_read=consistent)


def recharges_page(member_id: str, limit: int, cursor: str | None) -> Page:
    return page(
        RechargeItem.gsi1.query,
        hash_key=member_recharges(member_id),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def change_recharge(tx: Tx, item: RechargeItem, expected_status: str, fields: dict[str, Any]) -> None:
    """Set ``fields`` on a recharge, conditioned on its status still being ``expected_status``."""
    actions = [getattr(RechargeItem, k).set(v) for k, v in fields.items()]
    actions.append(RechargeItem.updated_at.set(clock.now()))
    tx.update(item, actions, condition=RechargeItem.status == expected_status, tag=("recharge", item.recharge_id))


def set_refund_payout(item: RechargeItem, refund: dict[str, Any]) -> None:
    """Record where paying a refunded recharge's principal back has got to (after the provider answered)."""
    item.update(
        actions=[RechargeItem.refund.set(refund), RechargeItem.updated_at.set(clock.now())],
        condition=RechargeItem.status == domain.REFUNDED,
    )


def add_payment_record(tx: Tx, transaction_id: str, recharge_id: str, amount_fen: int) -> None:
    tx.save(
        WalletPaymentRecordItem(
            payment_record_pk(transaction_id),
            META,
            recharge_id=recharge_id,
            amount_fen=amount_fen,
            created_at=clock.now(),
        ),
        condition=WalletPaymentRecordItem.pk.does_not_exist(),
        tag=("payment", transaction_id),
    )


def get_payment_record(transaction_id: str) -> WalletPaymentRecordItem | None:
    return WalletPaymentRecordItem.get_or_none(payment_record_pk(transaction_id), META, consistent_read=True)
