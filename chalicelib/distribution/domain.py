"""Pure distribution rules: settings, binding, the commission formula, reversal, settlement dates, withdrawal
fees. No boto3, no PynamoDB (tests/unit/test_distribution_domain.py).

The formula (docs/distribution.md): per order line and level,
``commission = floor(base_fen x rate_bp / 10000)`` where ``base_fen`` is the line's allocated payable (after every
discount: promotions, coupons, member level, points) minus the line's share of what the wallet's BONUS paid
(the bonus paid is spread over the lines and the delivery fee by largest remainder, like discounts). The
delivery fee is never a line, so it never earns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from chalicelib.pricing.domain import allocate

BP = 10_000
FROZEN, AVAILABLE = "FROZEN", "AVAILABLE"
PENDING_REVIEW, PAYING, PAID, REJECTED, FAILED = "PENDING_REVIEW", "PAYING", "PAID", "REJECTED", "FAILED"
NONE, APPLIED, ACTIVE = "none", "applied", "active"  # a member's distributor status
KINDS = ("referral", "product")
FLYER = "flyer"  # a promoter's flyer scene (派单): registers the member to the promoter, binds no referrer
PAGES = {"referral": "pages/index/index", "product": "pages/product/detail", FLYER: "pages/index/index"}
# an inviter's gift (邀请有礼): PENDING until due, then one of the others
INVITE_PENDING, INVITE_GRANTED, INVITE_CANCELLED = "PENDING", "GRANTED", "CANCELLED"
INVITE_CAPPED, INVITE_ALREADY, INVITE_SKIPPED = "CAPPED", "ALREADY", "SKIPPED"
FUNNEL_COUNTS = ("scanned", "registered", "first_order", "orders", "sales_fen")

DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "who": "everyone",
    "min_spend_fen": 0,
    "level1_bp": 0,
    "level2_bp": 0,
    "self_purchase": False,
    "freeze_days": 7,
    "bind_days": 0,  # 0: a binding never lapses
    "withdraw_min_fen": 100,
    "withdraw_fee_bp": 0,
    "invite": {"invitee_template_id": None, "inviter_template_id": None, "inviter_monthly_cap": 0},
}


def rules_with_defaults(stored: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULTS, **(stored or {})}


def rates_ok(level1_bp: int, level2_bp: int) -> bool:
    """Both levels together never pay out more than the line: level1 + level2 <= 100 %."""
    return 0 <= level1_bp and 0 <= level2_bp and level1_bp + level2_bp <= BP


# --------------------------------------------------------------------------------------- who distributes
def is_distributor(rules: dict[str, Any], status: str | None) -> bool:
    """``who: everyone``: every member; otherwise only an approved (``active``) one."""
    return bool(rules.get("enabled")) and (rules.get("who") == "everyone" or status == ACTIVE)


def auto_approved(rules: dict[str, Any], spend_fen: int) -> bool:
    """An application is approved at once under ``everyone``, and under ``min_spend`` once the member's completed
    spend reaches ``min_spend_fen``; under ``apply`` head office decides."""
    who = rules.get("who")
    return who == "everyone" or (who == "min_spend" and spend_fen >= int(rules.get("min_spend_fen") or 0))


# --------------------------------------------------------------------------------------- binding
def bind_refusal(
    member_id: str, referrer_id: str | None, bound_to: str | None, referrer_chain: list[str]
) -> str | None:
    """Why ``member_id`` cannot be bound to ``referrer_id`` (None: it can). One referrer ever (``bound_to``), never
    oneself, never a loop (the member already upline of the referrer: ``referrer_chain`` = the referrer's own
    referrer and second upline)."""
    if referrer_id is None:
        return "no_referrer"
    if bound_to is not None:
        return "already_bound"
    if referrer_id == member_id:
        return "self"
    if member_id in referrer_chain:
        return "loop"
    return None


def bound_until(bound_at: datetime, bind_days: int) -> datetime | None:
    return bound_at + timedelta(days=bind_days) if bind_days > 0 else None


def uplines(
    buyer_id: str, referrer_id: str | None, upline2_id: str | None, until: str | None, now_iso: str, own: bool
) -> list[str | None]:
    """The two uplines an order snapshots: the buyer's referrer and the referrer's referrer while the binding is
    valid (``until`` not passed). ``own``: self-purchase counts (the buyer is a distributor and the setting is on),
    so the buyer is level 1 and the referrer level 2."""
    if until is not None and until <= now_iso:
        referrer_id = upline2_id = None
    if own:
        return [buyer_id, referrer_id]
    return [referrer_id, upline2_id]


# --------------------------------------------------------------------------------------- the formula
def commission(base_fen: int, rate_bp: int) -> int:
    """``floor(base_fen x rate_bp / 10000)``: whole fen, never rounded up."""
    if base_fen < 0 or rate_bp < 0:
        raise ValueError("base and rate are not negative")
    return base_fen * rate_bp // BP


def line_bases(line_payables: list[int], delivery_fee_fen: int, bonus_fen: int) -> list[int]:
    """Each line's commission base: its payable minus its share of the wallet bonus paid (bonus spread over the
    lines and the delivery fee in proportion, largest remainder, so the shares add up to ``bonus_fen``)."""
    shares = allocate(bonus_fen, [*line_payables, delivery_fee_fen])
    return [p - s for p, s in zip(line_payables, shares)]


def line_rates(rules: dict[str, Any], override: dict[str, Any] | None) -> tuple[int, int]:
    """(level-1 bp, level-2 bp) of a product: its own ``commission`` rule, else the settings; excluded: 0, 0."""
    override = override or {}
    if override.get("excluded"):
        return 0, 0
    l1 = override.get("level1_bp")
    l2 = override.get("level2_bp")
    return (
        int(rules.get("level1_bp") or 0) if l1 is None else int(l1),
        int(rules.get("level2_bp") or 0) if l2 is None else int(l2),
    )


@dataclass(frozen=True)
class PlannedRecord:
    """What one beneficiary earns on one order at one level: one entry per order line."""

    level: int
    beneficiary: str
    lines: list[dict[str, Any]]

    @property
    def amount_fen(self) -> int:
        return sum(ln["amount_fen"] for ln in self.lines)


def plan(
    lines: list[dict[str, Any]],
    earners: list[str | None],
    rules: dict[str, Any],
    overrides: dict[str, dict[str, Any]],
    delivery_fee_fen: int,
    bonus_fen: int,
) -> list[PlannedRecord]:
    """The commission records of a paid order: per level with an earner, one line entry per order line (gift and
    zero lines earn 0 and are left out). ``earners[0]`` is level 1, ``earners[1]`` level 2 (None: nobody)."""
    bases = line_bases([int(ln["payable_fen"]) for ln in lines], delivery_fee_fen, bonus_fen)
    out = []
    for level, who in enumerate(earners[:2], start=1):
        if who is None:
            continue
        entries = []
        for idx, (ln, base) in enumerate(zip(lines, bases)):
            rate = line_rates(rules, overrides.get(ln["sku"]))[level - 1]
            amount = commission(base, rate)
            if amount > 0:
                entries.append(
                    {
                        "idx": idx,
                        "sku": ln["sku"],
                        "line_payable_fen": int(ln["payable_fen"]),
                        "base_fen": base,
                        "rate_bp": rate,
                        "amount_fen": amount,
                        "reversed_fen": 0,
                    }
                )
        if entries:
            out.append(PlannedRecord(level, who, entries))
    return out


# --------------------------------------------------------------------------------------- refunds
def kept(amount_fen: int, line_payable_fen: int, line_refunded_fen: int) -> int:
    """What a line's commission keeps after ``line_refunded_fen`` of its ``line_payable_fen`` was refunded:
    ``floor(amount x (payable - refunded) / payable)``; a fully refunded line keeps 0."""
    if line_payable_fen <= 0:
        return 0
    left = max(0, line_payable_fen - line_refunded_fen)
    return amount_fen * left // line_payable_fen


def reverse_lines(entries: list[dict[str, Any]], refunded_by_idx: dict[int, int]) -> tuple[list[dict[str, Any]], int]:
    """New line entries and the fen to take back, given the cumulative refunded amount of each order line. The
    target is cumulative, so a refund seen twice (or an older refund after a newer one) takes back nothing."""
    out, total = [], 0
    for e in entries:
        target = e["amount_fen"] - kept(e["amount_fen"], e["line_payable_fen"], refunded_by_idx.get(e["idx"], 0))
        delta = max(0, target - int(e["reversed_fen"]))
        out.append({**e, "reversed_fen": int(e["reversed_fen"]) + delta})
        total += delta
    return out, total


# --------------------------------------------------------------------------------------- settlement, withdrawals
def due_at(completed_at: datetime, freeze_days: int) -> datetime:
    """A record becomes available ``freeze_days`` after its order completed."""
    return completed_at + timedelta(days=max(0, freeze_days))


def withdrawal_fee(amount_fen: int, fee_bp: int) -> int:
    """The fee kept from a withdrawal: ``floor(amount x fee_bp / 10000)``."""
    return amount_fen * fee_bp // BP


# WeChat pays a transfer to change of 2,000 yuan or more only with the payee's real name, which we do not hold
WECHAT_TRANSFER_MAX_FEN = 199_999


def withdrawal_refusal(
    amount_fen: int, available_fen: int, minimum_fen: int, to: str = "wallet", net_fen: int | None = None
) -> str | None:
    """Why a withdrawal cannot be requested (None: it can). The balance must cover it, so a balance at or below 0
    (after a reversal of settled commission) blocks every withdrawal; to WeChat change, the amount paid out
    (``net_fen``, after the fee) must stay below WeChat's real-name threshold."""
    if amount_fen < max(1, minimum_fen):
        return "too_small"
    if to == "wechat" and (amount_fen if net_fen is None else net_fen) > WECHAT_TRANSFER_MAX_FEN:
        return "too_large"
    if available_fen <= 0 or amount_fen > available_fen:
        return "insufficient"
    return None


# --------------------------------------------------------------------------------------- invite gifts, funnel
def cap_month(at: datetime, tz: tzinfo) -> str:
    """The month an inviter's gift counts against the monthly cap: the business (Beijing) month, ``YYYY-MM``."""
    return at.astimezone(tz).strftime("%Y-%m")


def capped(cap: int) -> bool:
    """``inviter_monthly_cap`` 0 means no cap."""
    return cap > 0


def invite_outcome(refusal: str | None) -> tuple[str, str | None]:
    """The inviter gift's final status (and reason) for why coupons refused it: a guard (that openid / phone /
    invitee already counted) is ALREADY, anything else SKIPPED with the reason."""
    if refusal == "already":
        return INVITE_ALREADY, "already_counted"
    return INVITE_SKIPPED, refusal or "unknown"


def rate_bp(part: int, whole: int) -> int:
    """``floor(part x 10000 / whole)``: a conversion in basis points (0 when nothing to convert from)."""
    return part * BP // whole if whole > 0 else 0
