"""Distribution use cases: settings, share codes and scenes, binding (on ``MemberJoined``), the order's upline
snapshot and commission records (called by orders inside its checkout / payment transactions), settlement,
reversal by refunds, withdrawals and the views."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime, timedelta
from typing import Any

from chalicelib.catalog import repository as catalog
from chalicelib.catalog.errors import CatalogCode
from chalicelib.core import clock, metrics
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import Tx, TxCancelled, batch_get, get_mark, set_mark, transaction
from chalicelib.core.errors import Conflict, NotFound, UpstreamUnavailable, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.coupons import services as coupons
from chalicelib.distribution import domain, flyers, invites, repository
from chalicelib.distribution.errors import DistributionCode
from chalicelib.distribution.schemas import (
    CommissionOut,
    DistributionSettings,
    DistributorOut,
    MeOut,
    ReportOut,
    ReportQuery,
    ReportRow,
    SceneOut,
    ShareCodeIn,
    ShareCodeOut,
    Team,
    TeamMemberOut,
    WithdrawalIn,
    WithdrawalOut,
)
from chalicelib.identity import repository as identity
from chalicelib.payments.base import Transfer
from chalicelib.wallet import repository as wallet

SETTLE_MARK = "commission-settlement"
SCENE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
SCENE_DRAWS = 5
PAYOUT_REMARK = "佣金提现"
PAYING_QUIET = timedelta(minutes=1)  # an approval still talking to WeChat is left alone this long


# --------------------------------------------------------------------------------------- settings
def get_settings() -> DistributionSettings:
    return DistributionSettings.model_validate(repository.get_rules())


def put_settings(principal: Principal, cmd: DistributionSettings) -> DistributionSettings:
    if not domain.rates_ok(cmd.level1_bp, cmd.level2_bp):
        raise ValidationFailed(
            "level1_bp + level2_bp may not exceed 10000 (100 %)",
            code=DistributionCode.RATES_TOO_HIGH,
            details={"fields": [{"field": "level2_bp", "message": "level1_bp + level2_bp > 10000"}]},
        )
    for side in ("invitee", "inviter"):  # each template exists, is for its side and is being issued (404 / 409)
        template_id = getattr(cmd.invite, f"{side}_template_id")
        if template_id:
            coupons.invite_gift_template(side, template_id)
    repository.put_rules(cmd.model_dump(mode="json"), principal.sub)
    return cmd


# --------------------------------------------------------------------------------------- distributors
def _status(rules: dict[str, Any], profile) -> str:
    if rules.get("enabled") and rules.get("who") == "everyone":
        return domain.ACTIVE
    return (profile.status if profile is not None else None) or domain.NONE


def me(principal: Principal) -> MeOut:
    profile = repository.get_profile(principal.sub)
    b = repository.balances(profile)
    return MeOut(
        status=_status(repository.get_rules(), profile),
        share_code=profile.share_code if profile else None,
        referrer_id=profile.referrer_id if profile else None,
        frozen_fen=b["frozen"],
        available_fen=b["available"],
        pending_fen=b["pending"],
        withdrawn_fen=b["withdrawn"],
        team=_team(profile),
    )


def referrer_and_status_keys(member_ids: list[str]) -> list[tuple[str, str]]:
    """What ``referrer_and_status_in`` reads (the members' profiles and the settings), for a BatchGetItem another
    domain gathers (the member's page)."""
    return [repository.profile_key(m) for m in dict.fromkeys(member_ids)] + [repository.settings_key()]


def referrer_and_status_in(got, member_id: str) -> tuple[str | None, bool]:
    """The member's referrer (one ever, also once ``bind_days`` have lapsed for commissions) and whether they are a
    distributor now (distribution on, and ``who: everyone`` or approved), from ``referrer_and_status_keys``."""
    p = repository.profile_in(got, member_id)
    status = p.status if p is not None else None
    return (p.referrer_id if p is not None else None), domain.is_distributor(repository.rules_in(got), status)


def _team(profile) -> Team:
    return Team(level1=int(profile.team1 or 0) if profile else 0, level2=int(profile.team2 or 0) if profile else 0)


def apply(principal: Principal) -> MeOut:
    """Ask to become a distributor: approved at once under ``everyone`` or a reached ``min_spend``, else waits
    for head office."""
    rules = repository.get_rules()
    if not rules.get("enabled"):
        raise Conflict("Distribution is switched off", code=DistributionCode.DISTRIBUTION_DISABLED)
    profile = repository.get_profile(principal.sub)
    if _status(rules, profile) != domain.ACTIVE:
        spend = int(profile.spend_fen or 0) if profile else 0
        repository.set_status(principal.sub, domain.ACTIVE if domain.auto_approved(rules, spend) else domain.APPLIED)
    return me(principal)


def approve(member_id: str) -> DistributorOut:
    if identity.get_member(member_id) is None:
        raise NotFound("No such member", code=DistributionCode.DISTRIBUTOR_NOT_FOUND)
    repository.set_status(member_id, domain.ACTIVE)
    return _distributor_out(repository.get_profile(member_id))


def _distributor_out(p) -> DistributorOut:
    b = repository.balances(p)
    return DistributorOut(
        member_id=p.member_id,
        status=p.status or domain.NONE,
        referrer_id=p.referrer_id,
        team=_team(p),
        frozen_fen=b["frozen"],
        available_fen=b["available"],
        withdrawn_fen=b["withdrawn"],
    )


def distributors(status: str, limit: int, cursor: str | None) -> PageOut[DistributorOut]:
    pg = repository.distributors_page(status, limit, cursor)
    return PageOut[DistributorOut](items=[_distributor_out(p) for p in pg.items], next=pg.next)


def team(principal: Principal, level: int, limit: int, cursor: str | None) -> PageOut[TeamMemberOut]:
    pg = repository.team_page(principal.sub, level, limit, cursor)
    return PageOut[TeamMemberOut](
        items=[TeamMemberOut(member_id=p.member_id, level=level, bound_at=p.bound_at) for p in pg.items], next=pg.next
    )


# --------------------------------------------------------------------------------------- share codes, scenes
def share_code(principal: Principal, cmd: ShareCodeIn) -> ShareCodeOut:
    """The member's scene for a kind (and product): made once, the same one after."""
    page_path = domain.PAGES[cmd.kind]
    if cmd.sku is not None and cmd.sku not in catalog.sellables([cmd.sku]):
        raise ValidationFailed(
            "Unknown sku",
            code=CatalogCode.UNKNOWN_SKU,
            details={"fields": [{"field": "sku", "message": f"unknown sku {cmd.sku}"}]},
        )
    got = repository.get_share(principal.sub, cmd.kind, cmd.sku)
    if got is not None:
        return ShareCodeOut(scene=got.scene, page=page_path)
    for _ in range(SCENE_DRAWS):
        scene = ("r" if cmd.kind == "referral" else "p") + "".join(secrets.choice(SCENE_ALPHABET) for _ in range(11))
        if repository.put_scene(scene, cmd.kind, principal.sub, cmd.sku):
            if cmd.kind == "referral":
                repository.set_share_code(principal.sub, scene)
            return ShareCodeOut(scene=scene, page=page_path)
    raise Conflict("Could not draw a free scene; retry", code=DistributionCode.SCENE_NOT_FOUND)


def resolve_scene(scene: str) -> SceneOut:
    """What a scanned scene names; counts the scan (no login needed)."""
    item = repository.get_scene(scene)
    if item is None:
        raise NotFound("No such scene", code=DistributionCode.SCENE_NOT_FOUND)
    if item.scene_kind == domain.FLYER:
        flyers.count_scan(item)  # the scene's scans and the promoter's and flyer's funnel counters
    else:
        repository.count_scan(scene)
    return SceneOut(
        scene=item.scene,
        kind=item.scene_kind,
        referrer_id=item.referrer_id,
        promoter_id=item.promoter_id,
        sku=item.sku,
        page=domain.PAGES[item.scene_kind],
    )


def on_member_joined(event: dict[str, Any]) -> None:
    """A new member who came by a share scene is bound to its referrer (rules in ``domain.bind_refusal``) and
    gets the invitee gift; one who came by a flyer is registered to its promoter. At least once: a second
    delivery finds the member bound (the gift's guards hold) or registered and does nothing more."""
    data = event["data"]
    scene, member_id = data.get("scene"), data["member_id"]
    item = repository.get_scene(scene) if scene else None
    if item is None:
        return
    if item.scene_kind == domain.FLYER:
        flyers.register(member_id, item, event.get("occurred_at"))
        return
    rules = repository.get_rules()
    if not rules.get("enabled"):
        return
    refusal = bind(member_id, item.referrer_id, scene, rules)
    if refusal in (None, "already_bound") and not event.get("imported"):
        invites.invitee_gift(member_id, item.referrer_id, data, rules)


def bind(member_id: str, referrer_id: str, scene: str | None, rules: dict[str, Any]) -> str | None:
    """Bind ``member_id`` to ``referrer_id``; returns why not (None: bound)."""
    got = repository.profiles([member_id, referrer_id])
    mine, theirs = got.get(member_id), got.get(referrer_id)
    chain = [x for x in ((theirs.referrer_id, theirs.upline2_id) if theirs else ()) if x]
    refusal = domain.bind_refusal(member_id, referrer_id, mine.referrer_id if mine else None, chain)
    if refusal is not None:
        logger.info("not bound", extra={"member_id": member_id, "reason": refusal})
        return refusal
    now = clock.now()
    until = domain.bound_until(now, int(rules.get("bind_days") or 0))
    fields = {"bound_at": clock.iso(now), "bound_until": clock.iso(until) if until else None, "scene": scene}
    try:
        with transaction() as tx:
            repository.add_binding(tx, member_id, referrer_id, theirs.referrer_id if theirs else None, fields)
    except TxCancelled:
        return "already_bound"
    metrics.count("ReferralsBound")
    return None


# --------------------------------------------------------------------------------------- orders' hooks
def checkout_keys(member_id: str | None) -> list[tuple[str, str]]:
    """What a checkout reads for the upline snapshot, in its one BatchGetItem."""
    return [repository.profile_key(member_id), repository.settings_key()] if member_id else []


def snapshot_in(got, member_id: str | None, overrides: dict[str, dict]) -> dict[str, Any] | None:
    """The order's referral snapshot: its two uplines at creation and the products' own commission rules."""
    if not member_id:
        return None
    rules = repository.rules_in(got)
    if not rules.get("enabled"):
        return None
    p = repository.profile_in(got, member_id)
    own = bool(rules.get("self_purchase")) and domain.is_distributor(rules, p.status if p else None)
    ups = domain.uplines(
        member_id,
        p.referrer_id if p else None,
        p.upline2_id if p else None,
        p.bound_until if p else None,
        clock.iso(clock.now()),
        own,
    )
    if not any(ups):
        return None
    return {"uplines": ups, "overrides": {k: v for k, v in overrides.items() if v}}


def add_commissions(tx: Tx, order: dict[str, Any]) -> int:
    """The paid order's commission records, FROZEN, their balance updates and ledger entries, added to the
    payment's ``tx``. ``order``: order_id, member_id, store_id, lines, delivery_fee_fen, payment, paid_at,
    referral (the snapshot). Reads the settings and the uplines' profiles (one BatchGetItem). Returns the records.
    Exactly once: each record is put with attribute_not_exists next to the order's own status condition."""
    snap = order.get("referral")
    if not snap:
        return 0
    ups = [u for u in snap["uplines"] if u]
    got = batch_get([repository.settings_key()] + [repository.profile_key(u) for u in ups])
    rules = repository.rules_in(got)
    earners = [
        u if u and domain.is_distributor(rules, getattr(repository.profile_in(got, u), "status", None)) else None
        for u in snap["uplines"]
    ]
    bonus = int(((order.get("payment") or {}).get("wallet") or {}).get("bonus_fen") or 0)
    planned = domain.plan(
        order["lines"], earners, rules, snap.get("overrides") or {}, int(order.get("delivery_fee_fen") or 0), bonus
    )
    for rec in planned:
        repository.add_record(tx, order, rec)
    return len(planned)


def on_order_completed(event: dict[str, Any]) -> None:
    """The order's records become due ``freeze_days`` after completion; the buyer's spend counts for min_spend."""
    order = event["data"]
    rules = repository.get_rules()
    completed = clock.parse(order.get("completed_at")) if order.get("completed_at") else clock.now()
    # never before now: a day the settlement job has marked done is not read again (a completion handled late)
    due = clock.iso(max(domain.due_at(completed, int(rules.get("freeze_days") or 0)), clock.now()))
    for rec in repository.records_of_order(order["order_id"]):
        if rec.status != domain.FROZEN or rec.due_at:
            continue
        with transaction() as tx:
            repository.set_due(tx, rec, due)
    if order.get("member_id") and rules.get("who") == "min_spend":
        repository.add_spend(order["member_id"], int(order.get("payable_fen") or 0))


def on_refund_completed(event: dict[str, Any]) -> None:
    """Each record of the order gives back the commission of the refunded part of its lines (both levels, FROZEN
    or AVAILABLE). Cumulative per line, so at least once is safe."""
    order = event["data"]
    refunded = {i: int(ln.get("refunded_fen") or 0) for i, ln in enumerate(order.get("lines") or [])}
    refund_id = (order.get("refund") or {}).get("refund_id") or "refund"
    for level in (1, 2):
        _reverse_one(order["order_id"], level, refunded, refund_id)


def _reverse_one(order_id: str, level: int, refunded: dict[int, int], refund_id: str, attempts: int = 5) -> int:
    for _ in range(attempts):
        rec = repository.get_record(order_id, level)
        if rec is None:
            return 0
        lines, delta = domain.reverse_lines(rec.lines, refunded)
        if delta == 0:
            return 0
        try:
            with transaction() as tx:
                repository.add_reversal(tx, rec, lines, delta, refund_id)
        except TxCancelled:
            continue  # settled or reversed meanwhile: read again
        metrics.count("CommissionReversed", delta)
        return delta
    raise RuntimeError(f"commission record {order_id} L{level} kept changing; the event is retried")


# --------------------------------------------------------------------------------------- settlement
def settle_due(now: datetime | None = None, first_days_back: int = 7) -> dict[str, int]:
    """Move FROZEN records whose due time has come to AVAILABLE, reading only the due-day buckets since the last
    run (and in each only records due by now: the sort key starts with the due time)."""
    now = now or clock.now()
    today = now.date()
    read = settled = fen = 0
    upto = clock.iso(now)
    for day in clock.days_since(get_mark(SETTLE_MARK), today, first_days_back, again=True):
        for rec in repository.due_records(day.isoformat(), upto):
            read += 1
            moved = _settle_one(rec)
            if moved is not None:
                settled, fen = settled + 1, fen + moved
        if day < today:
            set_mark(SETTLE_MARK, day.isoformat())
    return {"read": read, "processed": settled, "fen": fen}


def _settle_one(rec) -> int | None:
    for _ in range(3):
        try:
            with transaction() as tx:
                return repository.add_settlement(tx, rec)
        except TxCancelled:
            rec = repository.get_record(rec.order_id, int(rec.level))  # reversed meanwhile: settle what is left
            if rec is None or rec.status != domain.FROZEN:
                return None
    return None


# --------------------------------------------------------------------------------------- withdrawals
def _withdrawal_out(w) -> WithdrawalOut:
    return WithdrawalOut(
        withdrawal_id=w.withdrawal_id,
        member_id=w.member_id,
        amount_fen=int(w.amount_fen),
        fee_fen=int(w.fee_fen),
        net_fen=int(w.net_fen),
        to=w.to,
        status=w.status,
        reviewed_by=w.reviewed_by,
        reason=w.reason,
        payout=w.payout,
        created_at=clock.iso(w.created_at),
    )


def _short(amount: int, available: int) -> Conflict:
    return Conflict(
        "The available commission does not cover this withdrawal",
        code=DistributionCode.INSUFFICIENT_COMMISSION,
        details={"amount_fen": amount, "available_fen": available},
    )


def request_withdrawal(principal: Principal, cmd: WithdrawalIn) -> WithdrawalOut:
    """Available -> pending by one conditional write (``available_fen >= amount``) with its ledger entry and the
    withdrawal PENDING_REVIEW: two at once for the whole balance, one wins."""
    rules = repository.get_rules()
    available = repository.balances(repository.get_profile(principal.sub))["available"]
    fee = domain.withdrawal_fee(cmd.amount_fen, int(rules.get("withdraw_fee_bp") or 0))
    minimum = int(rules.get("withdraw_min_fen") or 0)
    refusal = domain.withdrawal_refusal(cmd.amount_fen, available, minimum, cmd.to, cmd.amount_fen - fee)
    if refusal == "too_small":
        raise ValidationFailed(
            "Below the minimum withdrawal",
            code=DistributionCode.WITHDRAWAL_TOO_SMALL,
            details={"fields": [{"field": "amount_fen", "message": f"at least {minimum}"}]},
        )
    if refusal == "too_large":
        raise ValidationFailed(
            "WeChat change takes at most 1999.99 yuan in one transfer; withdraw in parts, or to the wallet",
            code=DistributionCode.WITHDRAWAL_TOO_LARGE,
            details={
                "fields": [{"field": "amount_fen", "message": f"paid out at most {domain.WECHAT_TRANSFER_MAX_FEN}"}]
            },
        )
    if refusal == "insufficient":
        raise _short(cmd.amount_fen, available)
    wid = new_id()
    item = repository.new_withdrawal(
        wid,
        principal.sub,
        dict(
            amount_fen=cmd.amount_fen,
            fee_fen=fee,
            net_fen=cmd.amount_fen - fee,
            to=cmd.to,
            status=domain.PENDING_REVIEW,
        ),
    )
    try:
        with transaction() as tx:
            repository.add_change(
                tx,
                principal.sub,
                {"available": -cmd.amount_fen, "pending": cmd.amount_fen},
                "withdraw",
                ("withdrawal", wid),
                guard_available=cmd.amount_fen,
            )
            repository.add_withdrawal(tx, item)
    except TxCancelled as e:
        if repository.balance_tag(principal.sub) in e.failed:
            raise _short(cmd.amount_fen, repository.balances(repository.get_profile(principal.sub))["available"])
        raise
    metrics.count("WithdrawalsRequested", to=cmd.to)
    return _withdrawal_out(item)


def _pending(withdrawal_id: str):
    w = repository.get_withdrawal(withdrawal_id)
    if w is None:
        raise NotFound("No such withdrawal", code=DistributionCode.WITHDRAWAL_NOT_FOUND)
    if w.status != domain.PENDING_REVIEW:
        raise Conflict(
            "The withdrawal is not waiting for review",
            code=DistributionCode.WITHDRAWAL_NOT_PENDING,
            details={"status": w.status},
        )
    return w


def _changed_meanwhile() -> Conflict:
    return Conflict("The withdrawal changed meanwhile", code=DistributionCode.WITHDRAWAL_NOT_PENDING)


def _close(w, expected: str, status: str, fields: dict[str, Any], to_wallet: bool = False) -> None:
    """One transaction: the withdrawal's status and pending -> withdrawn (PAID) or back to available."""
    amount, wid = int(w.amount_fen), w.withdrawal_id
    if status == domain.PAID:
        deltas, kind = {"pending": -amount, "withdrawn": amount}, "withdraw_paid"
    else:
        deltas, kind = {"pending": -amount, "available": amount}, "withdraw_returned"
    try:
        with transaction() as tx:
            repository.change_withdrawal(tx, w, expected, {"status": status, **fields})
            repository.add_change(tx, w.member_id, deltas, kind, ("withdrawal", wid))
            if to_wallet and int(w.net_fen) > 0:
                wallet.add_commission(tx, w.member_id, int(w.net_fen), wid)
    except TxCancelled:
        raise _changed_meanwhile()
    w.status = status
    for k, v in fields.items():
        setattr(w, k, v)


def approve_withdrawal(principal: Principal, withdrawal_id: str) -> WithdrawalOut:
    """To the wallet: paid in the approving transaction (principal). To WeChat change: PAYING, then the transfer
    (商家转账到零钱): PAID on SUCCESS, FAILED with the money back to available on FAIL; while WeChat processes it,
    or did not answer, it stays PAYING and ``query_paying_withdrawals`` settles it."""
    w = _pending(withdrawal_id)
    if w.to == "wallet":
        _close(w, domain.PENDING_REVIEW, domain.PAID, {"reviewed_by": principal.sub}, to_wallet=True)
        return _withdrawal_out(w)
    try:
        with transaction() as tx:
            repository.change_withdrawal(
                tx, w, domain.PENDING_REVIEW, {"status": domain.PAYING, "reviewed_by": principal.sub}
            )
    except TxCancelled:  # approved or rejected meanwhile
        raise _changed_meanwhile()
    w.status, w.reviewed_by = domain.PAYING, principal.sub
    _pay_out(w, send=True)
    return _withdrawal_out(w)


def _transfer(w, send: bool) -> Transfer | None:
    """The transfer of a PAYING withdrawal: sent (``send``, or WeChat never got it), else as WeChat has it;
    None when WeChat did not answer (nothing decided)."""
    from chalicelib.payments.client import get_client  # the payment client loads on first use (cold start)

    member = identity.get_member(w.member_id)
    if not (member and member.openid):
        return Transfer(w.withdrawal_id, "FAIL", message="no WeChat account to pay")
    client = get_client()
    try:
        found = None if send else client.transfer_status(transfer_id=w.withdrawal_id)
        if found is None:
            found = client.transfer(
                transfer_id=w.withdrawal_id, openid=member.openid, amount_fen=int(w.net_fen), remark=PAYOUT_REMARK
            )
    except UpstreamUnavailable as e:
        logger.warning("withdrawal transfer undecided", extra={"withdrawal_id": w.withdrawal_id, "code": e.code})
        return None
    return found


def _pay_out(w, send: bool) -> str:
    """Decide a PAYING withdrawal if its transfer is decided: PAID, or FAILED with the money back. Returns the
    status after (PAYING while WeChat processes it or did not answer)."""
    result = _transfer(w, send)
    if result is None:
        return w.status
    payout = {"status": result.status, "provider_id": result.provider_id, "message": result.message}
    final = {"SUCCESS": domain.PAID, "FAIL": domain.FAILED}.get(result.status)
    try:
        if final is None:
            if w.payout != payout:
                with transaction() as tx:
                    repository.change_withdrawal(tx, w, domain.PAYING, {"status": domain.PAYING, "payout": payout})
                w.payout = payout
            return domain.PAYING
        _close(w, domain.PAYING, final, {"payout": payout})
    except (TxCancelled, Conflict):  # decided meanwhile (the approval or the job): answer what it is now
        current = repository.get_withdrawal(w.withdrawal_id)
        w.status, w.payout = current.status, current.payout
        return w.status
    return final


def query_paying(now: datetime | None = None) -> dict[str, int]:
    """Every PAYING withdrawal (its status index: only those) left by its approval over a minute ago: asks
    WeChat where its transfer is (sends it again if WeChat never got it) and closes it when decided."""
    now = now or clock.now()
    out = {"read": 0, "paid": 0, "failed": 0, "paying": 0}
    for w in repository.paying_withdrawals():
        out["read"] += 1
        if w.updated_at > now - PAYING_QUIET:
            out["paying"] += 1
            continue
        status = _pay_out(w, send=False)
        key = {domain.PAID: "paid", domain.FAILED: "failed"}.get(status, "paying")
        out[key] += 1
    return out


def reject_withdrawal(principal: Principal, withdrawal_id: str, reason: str | None) -> WithdrawalOut:
    w = _pending(withdrawal_id)
    _close(w, domain.PENDING_REVIEW, domain.REJECTED, {"reviewed_by": principal.sub, "reason": reason})
    return _withdrawal_out(w)


def withdrawals(status: str, limit: int, cursor: str | None) -> PageOut[WithdrawalOut]:
    pg = repository.withdrawals_page(status, limit, cursor)
    return PageOut[WithdrawalOut](items=[_withdrawal_out(w) for w in pg.items], next=pg.next)


def my_withdrawals(principal: Principal, limit: int, cursor: str | None) -> PageOut[WithdrawalOut]:
    pg = repository.member_withdrawals_page(principal.sub, limit, cursor)
    return PageOut[WithdrawalOut](items=[_withdrawal_out(w) for w in pg.items], next=pg.next)


# --------------------------------------------------------------------------------------- views
def commissions(principal: Principal, limit: int, cursor: str | None) -> PageOut[CommissionOut]:
    """The member's records, newest order first: one per (order line, level)."""
    pg = repository.commissions_page(principal.sub, limit, cursor)
    items = [
        CommissionOut(
            order_id=r.order_id,
            level=int(r.level),
            line=int(ln["idx"]),
            sku=ln["sku"],
            base_fen=int(ln["base_fen"]),
            rate_bp=int(ln["rate_bp"]),
            amount_fen=int(ln["amount_fen"]),
            reversed_fen=int(ln["reversed_fen"]),
            status=r.status,
            paid_at=r.paid_at,
            due_at=r.due_at,
            settled_at=r.settled_at,
        )
        for r in pg.items
        for ln in r.lines
    ]
    return PageOut[CommissionOut](items=items, next=pg.next)


def report(q: ReportQuery) -> ReportOut:
    """Per distributor over the business days from..to (by day paid): orders, sales (commission bases) and
    commission (earned minus reversed); ranked by ``order`` (head office's ranking), ties by member id."""
    rows: dict[str, dict[str, Any]] = {}
    day = q.from_
    while day <= q.to:
        for r in repository.records_of_day(day.isoformat()):
            row = rows.setdefault(r.beneficiary, {"orders": set(), "sales_fen": 0, "commission_fen": 0})
            row["orders"].add(r.order_id)
            row["sales_fen"] += sum(int(ln["base_fen"]) for ln in r.lines)
            row["commission_fen"] += int(r.amount_fen) - int(r.reversed_fen or 0)
        day += timedelta(days=1)
    items = [
        ReportRow(member_id=m, orders=len(v["orders"]), sales_fen=v["sales_fen"], commission_fen=v["commission_fen"])
        for m, v in rows.items()
    ]
    key = {"commission": "commission_fen", "sales": "sales_fen", "orders": "orders"}[q.order]
    items.sort(key=lambda r: (-getattr(r, key), r.member_id))
    return ReportOut(start=q.from_.isoformat(), end=q.to.isoformat(), items=items)


def report_csv(out: ReportOut) -> str:
    """The report as CSV, UTF-8 with a BOM (so Excel opens Chinese text right)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["member_id", "orders", "sales_fen", "commission_fen"])
    for r in out.items:
        w.writerow([r.member_id, r.orders, r.sales_fen, r.commission_fen])
    return "\ufeff" + buf.getvalue()
