"""Pure coupon and promotion rules: validity windows in BUSINESS_TZ, issuing checks, use checks, guards."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.core import phones
from chalicelib.core.errors import Conflict
from chalicelib.coupons import domain
from chalicelib.pricing import domain as engine
from chalicelib.promotions import domain as promos

TZ = ZoneInfo("Asia/Shanghai")


def test_valid_days_end_at_the_end_of_the_nth_local_day():
    issued = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 15:00 in Shanghai
    frm, until, last = domain.validity({"valid_days": 7}, issued, TZ)
    assert (frm, until, last) == ("2026-11-23T07:00:00.000Z", "2026-11-29T16:00:00.000Z", "2026-11-29")
    # issued at 23:30 local (15:30 UTC): day 1 is that local day, not the UTC one
    late = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    assert domain.validity({"valid_days": 1}, late, TZ)[1:] == ("2026-11-23T16:00:00.000Z", "2026-11-23")


def test_fixed_dates_are_whole_local_days():
    issued = datetime(2026, 11, 1, tzinfo=UTC)
    frm, until, last = domain.validity({"valid_from": "2026-11-20", "valid_until": "2026-11-30"}, issued, TZ)
    assert (frm, until, last) == ("2026-11-19T16:00:00.000Z", "2026-11-30T16:00:00.000Z", "2026-11-30")
    rule = {"valid_from": "2026-11-20", "valid_until": "2026-11-30"}
    assert not domain.template_expired(rule, datetime(2026, 11, 30, 15, 59, tzinfo=UTC), TZ)
    assert domain.template_expired(rule, datetime(2026, 11, 30, 16, 0, tzinfo=UTC), TZ)


def _tpl(**kw):
    return {"purpose": "center", "status": "active", "validity": {"valid_days": 7}, "claim_window": None, **kw}


def test_issuing_checks_purpose_status_validity_and_claim_window():
    now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    domain.check_issuable(_tpl(), now, TZ, "center")
    cases = [
        (_tpl(purpose="push"), "WRONG_TEMPLATE_PURPOSE"),
        (_tpl(status="paused"), "TEMPLATE_INACTIVE"),
        (_tpl(validity={"valid_from": "2026-11-01", "valid_until": "2026-11-22"}), "TEMPLATE_ENDED"),
        (_tpl(claim_window={"starts_at": "2026-11-24T00:00:00.000Z"}), "CLAIM_NOT_STARTED"),
        (_tpl(claim_window={"ends_at": "2026-11-23T04:00:00.000Z"}), "CLAIM_ENDED"),
    ]
    for tpl, code in cases:
        with pytest.raises(Conflict) as e:
            domain.check_issuable(tpl, now, TZ, "center")
        assert e.value.code == code
        assert not domain.claim_open(tpl, now, TZ)


def test_use_checks_and_what_the_member_sees():
    now = "2026-11-23T04:00:00.000Z"
    ok = {
        "coupon_id": "C",
        "status": "AVAILABLE",
        "valid_from": "2026-11-01T00:00:00.000Z",
        "expires_at": "2026-11-30T16:00:00.000Z",
    }
    assert domain.usable_problem(ok, now) is None
    assert domain.usable_problem({**ok, "status": "LOCKED"}, now)["code"] == "COUPON_UNAVAILABLE"
    assert domain.usable_problem({**ok, "status": "USED"}, now)["code"] == "COUPON_UNAVAILABLE"
    assert domain.usable_problem({**ok, "expires_at": now}, now)["code"] == "COUPON_EXPIRED"
    assert (
        domain.usable_problem({**ok, "valid_from": "2026-11-24T00:00:00.000Z"}, now)["code"] == "COUPON_NOT_YET_VALID"
    )
    assert domain.display_status("AVAILABLE", now, now) == "EXPIRED"
    assert domain.display_status("LOCKED", now, now) == "LOCKED"


def test_coupon_terms_snapshot_and_engine_offer():
    tpl = {
        "title": "满100减10",
        "terms": {"kind": "amount_off", "threshold_fen": 10000, "off_fen": 1000},
        "scope": {"categories": ["baijiu"], "stores": ["S1"]},
        "stackable": False,
    }
    terms = domain.terms_of(tpl)
    offer = domain.offer_from("C1", "T1", terms)
    assert (offer.kind, offer.threshold_fen, offer.off_fen, offer.title) == ("amount_off", 10000, 1000, "满100减10")
    assert offer.scope == engine.Scope(categories=frozenset({"baijiu"}), stores=frozenset({"S1"}))
    gift = domain.offer_from(
        "C2",
        "T2",
        {"title": "赠杯", "kind": "gift", "gift_sku": "CUP", "gift_qty": 2, "gift_name": "杯子", "scope": {}},
    )
    assert gift.gift == engine.Gift("CUP", "杯子", 2, 0)


def test_phone_guard_key_is_the_national_number():
    assert {phones.normalize(p) for p in ("13812345678", "+86 138-1234-5678", "8613812345678", "008613812345678")} == {
        "13812345678"
    }
    assert phones.normalize(None) is None and phones.normalize("") is None


def test_stored_promotion_round_trips_into_the_engine():
    p = promos.promotion_from(
        {
            "promo_id": "P1",
            "kind": "threshold",
            "title": "会员日",
            "priority": 5,
            "exclusive": True,
            "with_coupons": False,
            "rule": {"tiers": [{"min_fen": 20000, "off_fen": 1000}]},
            "scope": {"categories": ["baijiu"], "min_level": 0},
            "schedule": {
                "starts_at": "2026-01-01T00:00:00.000Z",
                "ends_at": "2027-01-01T00:00:00.000Z",
                "weekdays": [5],
                "hours": {"start": "10:00", "end": "24:00"},
            },
        }
    )
    assert p.rule == engine.ThresholdRule(tiers=(engine.Tier(20000, 1000),))
    assert p.schedule.weekdays == frozenset({5}) and p.schedule.end_time is None
    assert (p.priority, p.exclusive, p.with_coupons, p.scope.min_level) == (5, True, False, 0)
    assert promos.status_of("active", "2026-01-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z") == "ended"
    assert promos.visible_to_store({"stores": []}, "S1") and not promos.visible_to_store({"stores": ["S2"]}, "S1")
