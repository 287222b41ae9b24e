"""Pure promotion rules: stored promotion JSON -> the pricing engine's Promotion, status, checks. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import ValidationFailed
from chalicelib.pricing import domain as engine
from chalicelib.pricing.schemas import scope_from

ACTIVE, PAUSED, ENDED = "active", "paused", "ended"


def _time(hhmm: str | None) -> time | None:
    if hhmm is None or hhmm == "24:00":
        return None
    h, m = hhmm.split(":")
    return time(int(h), int(m))


def schedule_from(data: Mapping[str, Any]) -> engine.Schedule:
    hours = data.get("hours") or {}
    return engine.Schedule(
        starts_at=clock.parse(data["starts_at"]),
        ends_at=clock.parse(data["ends_at"]),
        weekdays=frozenset(data.get("weekdays") or ()),
        start_time=_time(hours.get("start")) if hours else None,
        end_time=_time(hours.get("end")) if hours else None,
    )


def rule_from(kind: str, rule: Mapping[str, Any]) -> Any:
    if kind == engine.THRESHOLD:
        return engine.ThresholdRule(
            tiers=tuple(engine.Tier(int(t["min_fen"]), int(t["off_fen"])) for t in rule.get("tiers") or ()),
            every_fen=int(rule.get("every_fen") or 0),
            every_off_fen=int(rule.get("every_off_fen") or 0),
            max_off_fen=int(rule["max_off_fen"]) if rule.get("max_off_fen") else None,
        )
    if kind == engine.PERCENT:
        return engine.PercentRule(percent_off=int(rule["percent_off"]))
    if kind == engine.BUY_N_GET_M:
        return engine.BuyGetRule(buy_qty=int(rule["buy_qty"]), free_qty=int(rule["free_qty"]))
    if kind == engine.COMBO_GIFT:
        return engine.ComboGiftRule(
            requires=tuple((r["sku"], int(r.get("qty", 1))) for r in rule["requires"]),
            gift=engine.Gift(
                sku=rule["gift_sku"],
                name=rule.get("gift_name") or rule["gift_sku"],
                qty=int(rule.get("gift_qty", 1)),
                value_fen=int(rule.get("gift_value_fen") or 0),
            ),
            repeat=bool(rule.get("repeat")),
        )
    if kind in (engine.MEMBER_PRICE, engine.TIME_PRICE):
        return engine.PriceRule(prices=tuple((p["sku"], int(p["price_fen"])) for p in rule["prices"]))
    raise ValueError(f"unknown promotion kind {kind}")


def promotion_from(fields: Mapping[str, Any]) -> engine.Promotion:
    """The engine's view of a stored promotion (``fields``: promo_id, kind, title, rule, scope, schedule,
    priority, exclusive, with_coupons)."""
    return engine.Promotion(
        promo_id=fields["promo_id"],
        kind=fields["kind"],
        title=fields["title"],
        rule=rule_from(fields["kind"], fields["rule"]),
        scope=scope_from(fields.get("scope")),
        schedule=schedule_from(fields["schedule"]),
        priority=int(fields.get("priority", 100)),
        exclusive=bool(fields.get("exclusive")),
        with_coupons=bool(fields.get("with_coupons", True)),
        stacks_with_level=bool(fields.get("stacks_with_level", False)),
    )


def status_of(stored_status: str, ends_at_iso: str, now_iso: str) -> str:
    """active | paused as set by head office; ended once the schedule is over."""
    return ENDED if ends_at_iso <= now_iso else stored_status


def check(fields: Mapping[str, Any]) -> None:
    """Rules on a whole promotion (after a PATCH merged into it)."""
    if fields["kind"] == engine.MEMBER_PRICE and (fields.get("scope") or {}).get("min_level") is None:
        raise ValidationFailed(
            "member_price needs scope.min_level (0 = every member)",
            details={"in": "body", "fields": [{"field": "scope.min_level", "message": "required for member_price"}]},
        )


def skus_named(kind: str, rule: Mapping[str, Any], scope: Mapping[str, Any]) -> set[str]:
    """Every sku a promotion names (they must exist in the catalog)."""
    skus = set(scope.get("skus") or ()) | set(scope.get("exclude_skus") or ())
    if kind == engine.COMBO_GIFT:
        skus |= {r["sku"] for r in rule["requires"]} | {rule["gift_sku"]}
    if kind in (engine.MEMBER_PRICE, engine.TIME_PRICE):
        skus |= {p["sku"] for p in rule["prices"]}
    return skus


def visible_to_store(scope: Mapping[str, Any], store_id: str | None) -> bool:
    """A store manager sees chain-wide promotions and those of their own store."""
    stores = (scope or {}).get("stores") or []
    return not stores or store_id in stores


def live_now(promotions: Iterable[engine.Promotion], now: datetime) -> list[engine.Promotion]:
    """Drop promotions that ended since they were cached."""
    return [p for p in promotions if p.schedule is None or p.schedule.ends_at > now]
