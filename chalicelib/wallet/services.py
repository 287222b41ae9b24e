"""Wallet use cases: recharge packages, recharges online (WeChat Pay, credited by its notification) and at the till
(cash, WeChat payment code), the ledger, and recharge refunds by head office.

Every balance change is one TransactWriteItems: the conditional balance update and its ledger entry (repository),
with the recharge's conditional status change, the provider payment record and the ``WalletRecharged`` /
``WalletRechargeRefunded`` event (outbox)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core import clock, events, idempotency, metrics
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import Conflict, CoreCode, NotFound
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.identity import repository as identity
from chalicelib.identity import services as identity_services
from chalicelib.payments.errors import PaymentCode
from chalicelib.wallet import domain, repository
from chalicelib.wallet.domain import Balance
from chalicelib.wallet.errors import WalletCode
from chalicelib.wallet.schemas import (
    BalanceOut,
    LedgerEntryOut,
    LedgerRef,
    PackageCreate,
    PackageOut,
    PackagePatch,
    PosRechargeIn,
    RechargeIn,
    RechargeOut,
)


def _iso(dt) -> str | None:
    return clock.iso(dt) if dt else None


# --------------------------------------------------------------------------------------- packages
def package_out(item) -> PackageOut:
    return PackageOut(
        package_id=item.package_id,
        title=item.title,
        pay_fen=int(item.pay_fen),
        bonus_fen=int(item.bonus_fen),
        status=item.status,
        created_at=_iso(item.created_at),
        updated_at=_iso(item.updated_at),
    )


def create_package(principal: Principal, cmd: PackageCreate) -> PackageOut:
    item = repository.new_package(new_id(), cmd.title, cmd.pay_fen, cmd.bonus_fen, cmd.status, principal.sub)
    return package_out(item)


def _package(package_id: str):
    item = repository.get_package(package_id, consistent=True)
    if item is None:
        raise NotFound("No such recharge package", code=WalletCode.PACKAGE_NOT_FOUND)
    return item


def update_package(principal: Principal, package_id: str, cmd: PackagePatch) -> PackageOut:
    item = _package(package_id)
    changes = {k: getattr(cmd, k) for k in cmd.model_fields_set}
    return package_out(repository.save_package(item, changes))


def list_packages(limit: int, cursor: str | None) -> PageOut[PackageOut]:
    p = repository.packages_page(limit, cursor)
    return PageOut[PackageOut](items=[package_out(i) for i in p.items], next=p.next)


def list_active_packages(limit: int, cursor: str | None) -> PageOut[PackageOut]:
    p = repository.active_packages(limit, cursor)
    return PageOut[PackageOut](items=[package_out(i) for i in p.items], next=p.next)


def _terms(package_id: str | None, amount_fen: int | None) -> dict[str, Any]:
    """What a recharge pays and gets: an active package's, or a free amount without bonus."""
    if package_id is not None:
        pkg = _package(package_id)
        if pkg.status != "active":
            raise Conflict("This recharge package is not offered now", code=WalletCode.PACKAGE_INACTIVE)
        return {
            "pay_fen": int(pkg.pay_fen),
            "bonus_fen": int(pkg.bonus_fen),
            "package_id": pkg.package_id,
            "title": pkg.title,
        }
    domain.check_amount(amount_fen)
    return {"pay_fen": amount_fen, "bonus_fen": 0, "package_id": None, "title": None}


# --------------------------------------------------------------------------------------- views
def recharge_out(item, prepay: dict | None = None) -> RechargeOut:
    return RechargeOut(
        recharge_id=item.recharge_id,
        status=item.status,
        member_id=item.member_id,
        channel=item.channel,
        pay_fen=int(item.pay_fen),
        bonus_fen=int(item.bonus_fen),
        package_id=item.package_id,
        title=item.title,
        store_id=item.store_id,
        payment=item.payment,
        paid_at=item.paid_at,
        refund=item.refund,
        created_at=_iso(item.created_at),
        prepay=prepay,
    )


def my_balance(principal: Principal) -> BalanceOut:
    b = repository.get_balance(principal.sub)
    return BalanceOut(balance_fen=b.total_fen, principal_fen=b.principal_fen, bonus_fen=b.bonus_fen)


def my_ledger(principal: Principal, limit: int, cursor: str | None) -> PageOut[LedgerEntryOut]:
    """The caller's own ledger (the route takes no member id: a member only ever sees their own)."""
    rows, nxt = repository.ledger_page(principal.sub, limit, cursor)
    items = [
        LedgerEntryOut(
            entry_id=e.entry_id,
            at=clock.iso(e.created_at),
            kind=e.entry_kind,
            amount=int(e.principal_delta) + int(e.bonus_delta),
            balance_after=after.total_fen,
            principal_fen=int(e.principal_delta),
            bonus_fen=int(e.bonus_delta),
            principal_after=after.principal_fen,
            bonus_after=after.bonus_fen,
            ref=LedgerRef(type=e.ref_type, id=e.ref_id),
        )
        for e, after in rows
    ]
    return PageOut[LedgerEntryOut](items=items, next=nxt)


def my_recharges(principal: Principal, limit: int, cursor: str | None) -> PageOut[RechargeOut]:
    p = repository.recharges_page(principal.sub, limit, cursor)
    return PageOut[RechargeOut](items=[recharge_out(i) for i in p.items], next=p.next)


def my_recharge(principal: Principal, recharge_id: str) -> RechargeOut:
    item = _recharge(recharge_id)
    principal.require_member(item.member_id)
    return recharge_out(item)


def _recharge(recharge_id: str):
    item = repository.get_recharge(recharge_id)
    if item is None:
        raise NotFound("No such recharge", code=WalletCode.RECHARGE_NOT_FOUND)
    return item


# --------------------------------------------------------------------------------------- crediting
def _credit(item, payment: dict[str, Any], expected_status: str | None, claim=None) -> None:
    """One transaction: the recharge PAID (a new till recharge is put PAID, with the Idempotency-Key marker of
    ``claim``; an online one moves from PENDING_PAYMENT, conditioned), the provider payment record (once per
    transaction id), principal and bonus into the wallet with their ledger entry, and ``WalletRecharged``."""
    paid = {"status": domain.PAID, "payment": payment, "paid_at": payment["paid_at"]}
    with transaction() as tx:
        if expected_status is None:
            for k, v in paid.items():
                setattr(item, k, v)
            repository.put_recharge(item, tx)
            if claim is not None:
                claim.add_to(tx, 201, recharge_out(item).model_dump(mode="json"))
        else:
            repository.change_recharge(tx, item, expected_status, paid)
        if payment.get("transaction_id"):
            repository.add_payment_record(tx, payment["transaction_id"], item.recharge_id, int(item.pay_fen))
        repository.add_credit(tx, item.member_id, int(item.pay_fen), int(item.bonus_fen), item.recharge_id)
        events.add(tx, [_recharged(item, payment["method"])])
    metrics.count("WalletRecharges", channel=item.channel, method=payment["method"])


def _recharged(item, method: str) -> Event:
    return Event(
        "WalletRecharged",
        {
            "member_id": item.member_id,
            "recharge_id": item.recharge_id,
            "principal_fen": int(item.pay_fen),
            "bonus_fen": int(item.bonus_fen),
            "channel": item.channel,
            "method": method,
            "store_id": item.store_id,
        },
    )


# --------------------------------------------------------------------------------------- online recharge
def start_recharge(principal: Principal, cmd: RechargeIn) -> RechargeOut:
    """A PENDING_PAYMENT recharge and WeChat Pay prepay parameters for it (trade number ``R<recharge_id>``);
    WeChat's notification credits it (:func:`apply_recharge_payment`)."""
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    terms = _terms(cmd.package_id, cmd.amount_fen)
    member = identity.get_member(principal.sub)
    if member is None:
        raise NotFound("No such member", code=CoreCode.NOT_FOUND)
    recharge_id = new_id()
    item = repository.new_recharge(
        recharge_id,
        principal.sub,
        dict(channel="shop", status=domain.PENDING_PAYMENT, created_by=principal.sub, **terms),
    )
    repository.put_recharge(item)
    prepay = get_client().prepay(
        order_id=domain.trade_no(recharge_id),
        amount_fen=int(item.pay_fen),
        description=(item.title or "会员充值")[:120],
        openid=member.openid,
        expires_at=clock.now() + timedelta(seconds=get_settings().pay_deadline_s),
    )
    return recharge_out(item, prepay.as_dict())


def is_recharge_trade(out_trade_no: str) -> bool:
    return domain.recharge_of(out_trade_no) is not None


def apply_recharge_payment(out_trade_no: str, transaction_id: str, amount_fen: int, paid_at: str | None) -> str:
    """A WeChat Pay notification for a recharge: credit it exactly once. Returns ``applied`` or ``duplicate``.
    A wrong amount changes nothing (409 AMOUNT_MISMATCH, WeChat retries and someone looks at the alarm)."""
    recharge_id = domain.recharge_of(out_trade_no)
    item = repository.get_recharge(recharge_id) if recharge_id else None
    if item is None:
        raise NotFound("No such recharge", code=WalletCode.RECHARGE_NOT_FOUND)
    if repository.get_payment_record(transaction_id) is not None:
        return "duplicate"
    if int(item.pay_fen) != amount_fen:
        logger.error(
            "recharge payment amount mismatch",
            extra={"recharge_id": item.recharge_id, "expected": int(item.pay_fen), "got": amount_fen},
        )
        raise Conflict("The paid amount does not match the recharge", code=PaymentCode.AMOUNT_MISMATCH)
    if item.status != domain.PENDING_PAYMENT:
        # WeChat pays one out_trade_no once: another transaction for a paid recharge cannot happen; say so loudly
        logger.error("payment for a recharge no longer pending", extra={"recharge_id": item.recharge_id})
        return "duplicate"
    payment = {
        "method": "wechat",
        "transaction_id": transaction_id,
        "trade_no": out_trade_no,
        "amount_fen": amount_fen,
        "paid_at": paid_at or clock.iso(clock.now()),
    }
    try:
        _credit(item, payment, domain.PENDING_PAYMENT)
    except TxCancelled:
        return "duplicate"  # a concurrent delivery of the same notification credited it
    return "applied"


# --------------------------------------------------------------------------------------- till recharge
def till_recharge(principal: Principal, cmd: PosRechargeIn) -> RechargeOut:
    """A recharge at the till, PAID at once: cash, or the customer's WeChat payment code charged first (given
    back if the credit then fails). The store is the clerk's. With an Idempotency-Key its marker is written in
    the crediting transaction, and the trade number WeChat sees is derived from the key (``W`` + 31 hex), so a
    till retrying after a timeout asks WeChat about the same trade instead of charging twice."""
    claim = idempotency.current()
    if claim is not None and idempotency.used(claim):
        raise idempotency.Replay()  # answered before: do not charge again
    member_id = identity_services.resolve_code(cmd.member_code)
    terms = _terms(cmd.package_id, cmd.amount_fen)
    recharge_id = new_id()
    item = repository.new_recharge(
        recharge_id,
        member_id,
        dict(
            channel="pos", status=domain.PENDING_PAYMENT, store_id=principal.store_id, created_by=principal.sub, **terms
        ),
    )
    now = clock.iso(clock.now())
    payment: dict[str, Any] = {"method": cmd.payment.method, "amount_fen": int(item.pay_fen), "paid_at": now}
    if cmd.payment.method == "wechat_scan":
        trade_no = ("W" + claim.pk.removeprefix("IDEM#")[:31]) if claim is not None else domain.trade_no(recharge_id)
        payment |= _scan_charge(trade_no, int(item.pay_fen), cmd.payment.auth_code)
    try:
        _credit(item, payment, None, claim)
    except TxCancelled as e:
        if idempotency.MARKER_TAG in e.failed:
            raise idempotency.Replay()  # the same key won meanwhile, with this same trade: nothing to give back
        _undo_scan(payment, int(item.pay_fen))
        raise
    except Exception:
        _undo_scan(payment, int(item.pay_fen))
        raise
    return recharge_out(item)


def _undo_scan(payment: dict[str, Any], amount_fen: int) -> None:
    if payment.get("transaction_id"):
        _give_back(payment["trade_no"], amount_fen, "充值失败，交易撤销")


def _scan_charge(trade_no: str, amount_fen: int, auth_code: str) -> dict[str, Any]:
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    charge = get_client().micropay(
        order_id=trade_no, amount_fen=amount_fen, auth_code=auth_code, description="会员充值"
    )
    return {"transaction_id": charge.transaction_id, "trade_no": trade_no}


def _give_back(trade_no: str, amount_fen: int, reason: str, refund_id: str | None = None, total_fen: int | None = None):
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    return get_client().refund(
        order_id=trade_no,
        refund_id=refund_id or new_id(),
        amount_fen=amount_fen,
        total_fen=total_fen or amount_fen,
        reason=reason,
    )


# --------------------------------------------------------------------------------------- recharge refund
def refund_recharge(principal: Principal, recharge_id: str) -> RechargeOut:
    """Head office refunds a recharge: its unspent principal (``domain.unspent``) leaves the wallet and is paid
    back (WeChat: through the provider, to the payer; cash: recorded as cash paid back at the store), its unspent
    bonus is forfeited. Once: the recharge moves PAID -> REFUNDED in the same transaction as the wallet change; a
    second call returns the refunded recharge (and retries a provider payout that had not gone through)."""
    item = _recharge(recharge_id)
    if item.status == domain.PENDING_PAYMENT:
        raise Conflict("This recharge was never paid", code=WalletCode.RECHARGE_NOT_PAID)
    if item.status == domain.PAID:
        _take_back(principal, item)
    return recharge_out(_pay_out(item))


def _take_back(principal: Principal, item, attempts: int = 3) -> None:
    for _ in range(attempts):
        taken = domain.unspent(Balance(int(item.pay_fen), int(item.bonus_fen)), repository.get_balance(item.member_id))
        method = (item.payment or {}).get("method", "cash")
        refund = {
            "refund_id": new_id(),
            "principal_fen": taken.principal_fen,
            "bonus_fen": taken.bonus_fen,
            "method": method,
            "payout_status": "NONE" if not taken.principal_fen else ("CASH_PAID" if method == "cash" else "PENDING"),
            "by": principal.sub,
            "at": clock.iso(clock.now()),
        }
        try:
            with transaction() as tx:
                repository.change_recharge(tx, item, domain.PAID, {"status": domain.REFUNDED, "refund": refund})
                if taken.total_fen:
                    repository.add_recharge_refund(tx, item.member_id, taken, item.recharge_id)
                events.add(tx, [_refunded(item, taken)])
        except TxCancelled as e:
            if ("recharge", item.recharge_id) in e.failed:
                return  # refunded meanwhile by another call
            continue  # the balance moved between reading and writing: read it again
        item.status, item.refund = domain.REFUNDED, refund
        metrics.count("WalletRechargeRefunds", method=method)
        return
    raise Conflict("The wallet changed while refunding; try again", code=CoreCode.CONCURRENT_UPDATE)


def _refunded(item, taken: Balance) -> Event:
    return Event(
        "WalletRechargeRefunded",
        {
            "member_id": item.member_id,
            "recharge_id": item.recharge_id,
            "principal_fen": taken.principal_fen,
            "bonus_fen": taken.bonus_fen,
            "channel": item.channel,
            "store_id": item.store_id,
        },
    )


def _pay_out(item):
    """Pay a refunded recharge's principal back through the provider, if that is still to do. The refund id is
    fixed by the first call, so the provider pays it once however often this runs."""
    item = repository.get_recharge(item.recharge_id)
    refund = dict(item.refund or {})
    if refund.get("payout_status") != "PENDING":
        return item
    result = _give_back(
        item.payment["trade_no"],
        int(refund["principal_fen"]),
        "会员充值退款",
        refund_id=refund["refund_id"],
        total_fen=int(item.pay_fen),
    )
    refund |= {"payout_status": result.status, "provider_refund_id": result.provider_refund_id}
    repository.set_refund_payout(item, refund)
    item.refund = refund
    return item


def on_payout_notification(out_trade_no: str, refund_id: str, status: str, provider_refund_id: str | None) -> str:
    """WeChat's word on a recharge refund's payout (REFUND.SUCCESS / ABNORMAL / CLOSED): recorded once on the
    recharge; ``unknown`` if no recharge refund has this id (the caller records an anomaly)."""
    recharge_id = domain.recharge_of(out_trade_no)
    item = repository.get_recharge(recharge_id) if recharge_id else None
    refund = dict((item.refund or {}) if item is not None else {})
    if item is None or refund.get("refund_id") != refund_id:
        return "unknown"
    if refund.get("payout_status") not in ("PENDING", "PROCESSING"):
        return "duplicate"
    refund |= {"payout_status": status, "provider_refund_id": provider_refund_id or refund.get("provider_refund_id")}
    repository.set_refund_payout(item, refund)
    if status != "SUCCESS":
        logger.error("recharge refund payout not paid", extra={"recharge_id": recharge_id, "status": status})
    return "completed"
