"""Pure stock rules: movements, stock-take differences, low-stock crossings, transfer suggestions,
transfer state changes. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chalicelib.core.errors import Conflict, CoreCode, ValidationFailed

# Kinds of ledger movement and the sign their quantities must have.
INBOUND = {"receipt", "release", "refund_return", "transfer_in"}
OUTBOUND = {"order_hold", "sale", "transfer_out"}
EITHER = {"count_adjust"}
KINDS = INBOUND | OUTBOUND | EITHER


def merge_lines(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Same sku on several lines -> one quantity (carts and receipts may repeat a sku)."""
    out: dict[str, int] = {}
    for sku, qty in lines:
        out[sku] = out.get(sku, 0) + qty
    return out


def movement_deltas(kind: str, quantities: Mapping[str, int]) -> dict[str, int]:
    """Signed deltas for a movement of ``kind`` from positive quantities (count_adjust: already signed)."""
    if kind not in KINDS:
        raise ValueError(f"unknown movement kind {kind}")
    if kind in EITHER:
        return {s: q for s, q in quantities.items() if q}
    sign = 1 if kind in INBOUND else -1
    if any(q <= 0 for q in quantities.values()):
        raise ValueError("movement quantities must be positive")
    return {s: sign * q for s, q in quantities.items()}


def count_adjustments(counted: Mapping[str, int], on_hand: Mapping[str, int]) -> dict[str, int]:
    """Stock-take: the counted quantity becomes the balance; the difference is the adjustment."""
    return {sku: c - on_hand.get(sku, 0) for sku, c in counted.items() if c != on_hand.get(sku, 0)}


def low_stock_change(qty: int, threshold: int | None, alert_open: bool) -> str | None:
    """``"open"`` when stock has gone below its threshold and no alert is open (one alert per crossing),
    ``"close"`` when it is back at or above the threshold, else ``None``."""
    if threshold is None:
        return "close" if alert_open else None
    if qty < threshold and not alert_open:
        return "open"
    if qty >= threshold and alert_open:
        return "close"
    return None


@dataclass(frozen=True)
class Suggestion:
    store_id: str
    available: int
    surplus: int
    qty: int


def suggest_source(
    store_id: str, qty: int, threshold: int, others: Iterable[tuple[str, int, int | None]]
) -> Suggestion | None:
    """The store with the largest surplus above its own threshold (its "water line") that could send
    stock; the suggested quantity refills this store to twice its threshold, within that surplus."""
    want = max(2 * threshold - qty, threshold - qty, 1)
    best: Suggestion | None = None
    for other_id, other_qty, other_threshold in others:
        if other_id == store_id:
            continue
        surplus = other_qty - (other_threshold or 0)
        if surplus <= 0:
            continue
        if best is None or surplus > best.surplus or (surplus == best.surplus and other_id < best.store_id):
            best = Suggestion(other_id, other_qty, surplus, min(surplus, want))
    return best


TRANSFER_TRANSITIONS = {
    "ship": ("CREATED", "SHIPPED"),
    "receive": ("SHIPPED", "RECEIVED"),
    "cancel": ("CREATED", "CANCELLED"),
}


def transfer_transition(status: str, action: str) -> str:
    frm, to = TRANSFER_TRANSITIONS[action]
    if status != frm:
        raise Conflict(
            f"A {status.lower()} transfer cannot be {action}ped"
            if action == "ship"
            else f"A {status.lower()} transfer cannot be {action}d",
            code=CoreCode.ILLEGAL_STATE,
            details={"status": status, "action": action},
        )
    return to


def check_transfer(from_store: str, to_store: str) -> None:
    if from_store == to_store:
        raise ValidationFailed(
            "A transfer needs two different stores",
            details={"fields": [{"field": "to_store_id", "message": "same as from_store_id"}]},
        )
