"""The pricing engine: examples of every rule kind, and hypothesis properties over random carts, promotions
and coupons (pure: no AWS, milliseconds)."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.pricing.domain import (
    AMOUNT_OFF,
    BUY_N_GET_M,
    COMBO_GIFT,
    GIFT,
    MEMBER_PRICE,
    NO_THRESHOLD,
    PERCENT,
    PERCENT_OFF,
    THRESHOLD,
    TIME_PRICE,
    BuyGetRule,
    CartLine,
    ComboGiftRule,
    CouponOffer,
    Gift,
    PercentRule,
    PriceRule,
    PricingContext,
    Promotion,
    Schedule,
    Scope,
    ThresholdRule,
    Tier,
    allocate,
    price_cart,
)

TZ = ZoneInfo("Asia/Shanghai")
FRIDAY = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # Friday 12:00 in Shanghai
YEAR = Schedule(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
FRIDAYS = Schedule(YEAR.starts_at, YEAR.ends_at, weekdays=frozenset({5}))
MEMBERS = Scope(min_level=0)


def ctx(channel="shop", at=FRIDAY, member="01JMEMBER00000000000000000", level=0, store="S1"):
    return PricingContext(
        channel=channel, store_id=store, at=at, member_id=member, member_level=level if member else None, tz=TZ
    )


def line(sku, qty, price, category="misc"):
    return CartLine(sku=sku, name=sku, qty=qty, unit_price_fen=price, category=category)


def promo(pid, kind, rule, scope=Scope(), schedule=YEAR, **kw):
    return Promotion(promo_id=pid, kind=kind, title=pid, rule=rule, scope=scope, schedule=schedule, **kw)


def coupon(cid, kind=AMOUNT_OFF, scope=Scope(), **kw):
    return CouponOffer(coupon_id=cid, template_id="T" + cid, title=cid, kind=kind, scope=scope, **kw)


MEMBER_DAY = [
    promo(
        "BAIJIU-200-10",
        THRESHOLD,
        ThresholdRule(tiers=(Tier(20000, 1000),)),
        Scope(categories=frozenset({"baijiu"}), min_level=0),
        FRIDAYS,
    ),
    promo("BEER-2+1", BUY_N_GET_M, BuyGetRule(2, 1), Scope(skus=frozenset({"BEER"}), min_level=0), FRIDAYS),
]
MEMBER_DAY_CART = [line("JNC", 2, 11000, "baijiu"), line("BEER", 3, 600, "beer")]


# =========================================================================================== examples
def test_member_day_on_friday_and_not_on_thursday():
    fri = price_cart(MEMBER_DAY_CART, ctx(), MEMBER_DAY)
    assert (fri.subtotal_fen, fri.discount_fen, fri.payable_fen) == (23800, 1600, 22200)
    assert [(ln.sku, ln.discount_fen, ln.payable_fen) for ln in fri.lines] == [
        ("JNC", 1000, 21000),
        ("BEER", 600, 1200),
    ]
    assert {a["id"]: a["discount_fen"] for a in fri.applied} == {"BAIJIU-200-10": 1000, "BEER-2+1": 600}
    thu = price_cart(MEMBER_DAY_CART, ctx(at=FRIDAY - timedelta(days=1)), MEMBER_DAY)
    assert thu.discount_fen == 0 and thu.applied == []
    walk_in = price_cart(MEMBER_DAY_CART, ctx(member=None), MEMBER_DAY)  # members only
    assert walk_in.discount_fen == 0


def test_weekday_and_hours_are_business_time_not_utc():
    # Friday 00:30 in Shanghai is Thursday 16:30 UTC: it is the member day
    just_after_midnight = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
    assert price_cart(MEMBER_DAY_CART, ctx(at=just_after_midnight), MEMBER_DAY).discount_fen == 1600
    happy = Schedule(YEAR.starts_at, YEAR.ends_at, frozenset({5}), time(18, 0), time(20, 0))
    p = [promo("HAPPY", PERCENT, PercentRule(10), schedule=happy)]

    def at(h, m=0):
        return datetime(2026, 11, 27, h, m, tzinfo=TZ)

    cart = [line("A", 1, 1000)]
    assert [price_cart(cart, ctx(at=at(h, m)), p).discount_fen for h, m in ((17, 59), (18, 0), (19, 59), (20, 0))] == [
        0,
        100,
        100,
        0,
    ]


def test_hint_says_how_much_more_to_spend():
    q = price_cart([line("JNC", 1, 16500, "baijiu"), line("BEER", 2, 600, "beer")], ctx(channel="pos"), MEMBER_DAY)
    assert q.discount_fen == 0
    msgs = {h["id"]: h for h in q.hints}
    assert msgs["BAIJIU-200-10"]["message"] == "add 35.00 more to save 10.00"
    assert (msgs["BAIJIU-200-10"]["missing_fen"], msgs["BAIJIU-200-10"]["saves_fen"]) == (3500, 1000)
    assert msgs["BEER-2+1"]["message"] == "add 1 more to get 1 free"


def test_tiers_take_the_best_reached_and_repeat_every_200_save_10_with_cap():
    tiers = [promo("T", THRESHOLD, ThresholdRule(tiers=(Tier(10000, 500), Tier(30000, 2000), Tier(50000, 4000))))]
    assert price_cart([line("A", 1, 29999)], ctx(), tiers).discount_fen == 500
    assert price_cart([line("A", 1, 30000)], ctx(), tiers).discount_fen == 2000
    hint = price_cart([line("A", 1, 29000)], ctx(), tiers).hints[0]
    assert (hint["missing_fen"], hint["saves_fen"]) == (1000, 2000)
    every = [promo("E", THRESHOLD, ThresholdRule(every_fen=20000, every_off_fen=1000, max_off_fen=3000))]
    assert [price_cart([line("A", 1, v)], ctx(), every).discount_fen for v in (19999, 20000, 45000, 99999)] == [
        0,
        1000,
        2000,
        3000,
    ]


def test_buy_two_get_one_frees_the_cheapest_units_of_the_scope():
    p = [promo("B", BUY_N_GET_M, BuyGetRule(2, 1), Scope(categories=frozenset({"beer"})))]
    cart = [line("IPA", 2, 1500, "beer"), line("LAGER", 4, 600, "beer"), line("CHIPS", 1, 800, "snack")]
    q = price_cart(cart, ctx(), p)
    # 6 beers -> 2 free, the two cheapest (lager)
    assert [(ln.sku, ln.discount_fen) for ln in q.lines] == [("IPA", 0), ("LAGER", 1200), ("CHIPS", 0)]
    assert q.applied[0]["free_qty"] == 2


def test_percent_member_price_and_time_price():
    cart = [line("A", 3, 1001), line("B", 1, 5000)]
    q = price_cart(cart, ctx(), [promo("P", PERCENT, PercentRule(15), Scope(skus=frozenset({"A"})))])
    assert q.discount_fen == 3003 * 15 // 100 == 450
    gold = promo("GOLD", MEMBER_PRICE, PriceRule((("B", 4200),)), Scope(min_level=2))
    assert price_cart(cart, ctx(level=1), [gold]).discount_fen == 0
    assert price_cart(cart, ctx(level=2), [gold]).lines[1].payable_fen == 4200
    flash = promo("FLASH", TIME_PRICE, PriceRule((("B", 3900), ("A", 2000))))
    q = price_cart(cart, ctx(level=2), [gold, flash])
    assert [ln.payable_fen for ln in q.lines] == [3003, 3900]  # lowest price wins; a higher one is ignored
    assert [a["id"] for a in q.applied] == ["FLASH"]


def test_combo_gift_adds_a_zero_line_only_when_in_stock():
    rule = ComboGiftRule(requires=(("A", 1), ("B", 1)), gift=Gift("C", "杯子", 1, 1500))
    p = [promo("COMBO", COMBO_GIFT, rule)]
    cart = [line("A", 1, 1000), line("B", 2, 2000)]
    q = price_cart(cart, ctx(), p, gift_stock={"C": 5})
    assert q.lines[-1].as_dict() == {
        "sku": "C",
        "name": "杯子",
        "qty": 1,
        "unit_price_fen": 0,
        "discount_fen": 0,
        "payable_fen": 0,
        "gift": True,
    }
    assert q.payable_fen == q.subtotal_fen == 5000 and q.applied[0]["gift"]["qty"] == 1
    gone = price_cart(cart, ctx(), p, gift_stock={"C": 0})
    assert len(gone.lines) == 2 and gone.hints[0]["code"] == "GIFT_OUT_OF_STOCK"
    half = price_cart([line("A", 1, 1000)], ctx(), p, gift_stock={"C": 5})
    assert half.hints[0]["code"] == "ADD_ITEMS" and half.hints[0]["missing"] == [{"sku": "B", "qty": 1}]


def test_exclusive_promotion_competes_with_the_stackable_ones():
    stack = [promo("S1", PERCENT, PercentRule(5)), promo("S2", THRESHOLD, ThresholdRule(tiers=(Tier(10000, 500),)))]
    excl = promo("X", PERCENT, PercentRule(12), exclusive=True)
    cart = [line("A", 1, 10000)]
    # stackable: 5 % (500) + 10000 -> 9500 left, threshold measured on 9500: not reached -> 500; exclusive 1200
    q = price_cart(cart, ctx(), stack + [excl])
    assert [a["id"] for a in q.applied] == ["X"] and q.discount_fen == 1200
    excl_small = promo("X", PERCENT, PercentRule(3), exclusive=True)
    assert {a["id"] for a in price_cart(cart, ctx(), stack + [excl_small]).applied} == {"S1"}


def test_coupons_thresholds_caps_stacking_and_promotions_that_refuse_coupons():
    cart = [line("A", 2, 5000, "baijiu"), line("B", 1, 3000, "beer")]
    c10 = coupon("C1", AMOUNT_OFF, threshold_fen=10000, off_fen=1000)
    q = price_cart(cart, ctx(), coupons=[c10])
    assert q.discount_fen == 1000 and sum(a["discount_fen"] for a in q.applied[0]["allocation"]) == 1000
    big = coupon("C2", AMOUNT_OFF, threshold_fen=20000, off_fen=3000)
    q = price_cart(cart, ctx(), coupons=[big])
    assert q.discount_fen == 0 and q.rejected[0]["reason"] == "THRESHOLD_NOT_MET"
    assert q.rejected[0]["missing_fen"] == 7000 and q.hints[0]["code"] == "SPEND_MORE"
    pct = coupon("C3", PERCENT_OFF, percent_off=50, cap_fen=2000)
    assert price_cart(cart, ctx(), coupons=[pct]).discount_fen == 2000
    two = price_cart(cart, ctx(), coupons=[c10, coupon("C4", NO_THRESHOLD, off_fen=100)])
    assert two.discount_fen == 1000 and two.rejected[0]["reason"] == "NOT_STACKABLE"
    both = price_cart(
        cart,
        ctx(),
        coupons=[
            coupon("C5", NO_THRESHOLD, off_fen=100, stackable=True),
            coupon("C6", NO_THRESHOLD, off_fen=200, stackable=True),
        ],
    )
    assert both.discount_fen == 300 and both.coupon_ids() == ["C5", "C6"]
    no_coupons = promo("NC", PERCENT, PercentRule(10), Scope(categories=frozenset({"baijiu"})), with_coupons=False)
    beer_only = coupon("C7", NO_THRESHOLD, off_fen=500, scope=Scope(categories=frozenset({"baijiu"})))
    q = price_cart(cart, ctx(), [no_coupons], [beer_only])
    assert q.rejected[0]["reason"] == "EXCLUDED_BY_PROMOTION" and q.discount_fen == 1000
    store_only = coupon("C8", NO_THRESHOLD, off_fen=500, scope=Scope(stores=frozenset({"S2"})))
    assert price_cart(cart, ctx(), coupons=[store_only]).rejected[0]["reason"] == "SCOPE"


def test_gift_coupon_and_unknown_gift_stock():
    c = coupon("G", GIFT, gift=Gift("CUP", "杯子", 2, 1500), threshold_fen=1000)
    q = price_cart([line("A", 1, 1000)], ctx(), coupons=[c])
    assert q.lines[-1].gift and q.lines[-1].qty == 2 and q.payable_fen == 1000 and q.coupon_ids() == ["G"]
    assert (
        price_cart([line("A", 1, 1000)], ctx(), coupons=[c], gift_stock={"CUP": 0}).rejected[0]["reason"]
        == "GIFT_OUT_OF_STOCK"
    )


def test_allocation_is_exact_to_the_fen():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(1000, [3333, 3333, 3334]) == [333, 333, 334]
    q = price_cart(
        [line("A", 1, 333), line("B", 1, 333), line("C", 1, 334)],
        ctx(),
        [promo("T", THRESHOLD, ThresholdRule(tiers=(Tier(1000, 100),)))],
    )
    assert [ln.discount_fen for ln in q.lines] == [33, 33, 34] and q.discount_fen == 100


# =========================================================================================== properties
SKUS = ["A", "B", "C", "D", "E", "F"]
CATS = ["baijiu", "beer", "wine"]
CAT_OF = {s: CATS[i % 3] for i, s in enumerate(SKUS)}
fen = st.integers(min_value=0, max_value=60_000)


@st.composite
def carts(draw, min_size=1):
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=min_size, max_size=len(SKUS), unique=True))
    return [line(s, draw(st.integers(1, 12)), draw(fen), CAT_OF[s]) for s in skus]


@st.composite
def scopes(draw, lines_only=False):
    choice = draw(st.sampled_from(["all", "skus", "cats"]))
    kw = {}
    if choice == "skus":
        kw["skus"] = frozenset(draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3)))
    elif choice == "cats":
        kw["categories"] = frozenset(draw(st.lists(st.sampled_from(CATS), min_size=1, max_size=2)))
    if not lines_only:
        kw["min_level"] = draw(st.sampled_from([None, None, 0, 1, 3]))
    return Scope(**kw)


@st.composite
def thresholds(draw):
    if draw(st.booleans()):
        mins = sorted(draw(st.lists(st.integers(1, 80_000), min_size=1, max_size=3, unique=True)))
        offs = sorted(draw(st.lists(st.integers(1, 10_000), min_size=len(mins), max_size=len(mins), unique=True)))
        return ThresholdRule(tiers=tuple(Tier(m, min(o, m)) for m, o in zip(mins, offs)))
    every = draw(st.integers(1, 30_000))
    return ThresholdRule(
        every_fen=every, every_off_fen=draw(st.integers(1, every)), max_off_fen=draw(st.none() | st.integers(1, 20_000))
    )


@st.composite
def promotions(draw, kinds=(THRESHOLD, PERCENT, BUY_N_GET_M, COMBO_GIFT, MEMBER_PRICE, TIME_PRICE), max_size=6):
    out = []
    for n in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(kinds))
        if kind == THRESHOLD:
            rule = draw(thresholds())
        elif kind == PERCENT:
            rule = PercentRule(draw(st.integers(1, 99)))
        elif kind == BUY_N_GET_M:
            rule = BuyGetRule(draw(st.integers(1, 4)), draw(st.integers(1, 3)))
        elif kind == COMBO_GIFT:
            req = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=2, unique=True))
            rule = ComboGiftRule(
                tuple((s, draw(st.integers(1, 3))) for s in req),
                Gift(draw(st.sampled_from(SKUS + ["GIFT"])), "gift", draw(st.integers(1, 2)), 500),
                repeat=draw(st.booleans()),
            )
        else:
            rule = PriceRule(
                tuple(
                    (s, draw(fen)) for s in draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=4, unique=True))
                )
            )
        scope = draw(scopes())
        if kind == MEMBER_PRICE and scope.min_level is None:
            scope = Scope(skus=scope.skus, categories=scope.categories, min_level=0)
        out.append(
            promo(
                f"P{n}",
                kind,
                rule,
                scope,
                priority=draw(st.integers(0, 3)),
                exclusive=draw(st.booleans()),
                with_coupons=draw(st.booleans()),
            )
        )
    return out


@st.composite
def coupon_lists(draw, max_size=3):
    out = []
    for n in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from([AMOUNT_OFF, PERCENT_OFF, NO_THRESHOLD, GIFT]))
        kw = {
            "threshold_fen": draw(st.sampled_from([0, 1000, 20_000, 100_000])),
            "stackable": draw(st.booleans()),
            "scope": draw(scopes(lines_only=True)),
        }
        if kind in (AMOUNT_OFF, NO_THRESHOLD):
            kw["off_fen"] = draw(st.integers(1, 50_000))
        elif kind == PERCENT_OFF:
            kw["percent_off"] = draw(st.integers(1, 99))
            kw["cap_fen"] = draw(st.none() | st.integers(1, 30_000))
        else:
            kw["gift"] = Gift("GIFT", "gift", 1, 900)
        out.append(coupon(f"C{n}", kind, **kw))
    return out


contexts = st.builds(
    lambda ch, member, level: ctx(channel=ch, member=member, level=level),
    st.sampled_from(["shop", "pos"]),
    st.sampled_from([None, "01JMEMBER00000000000000000"]),
    st.integers(0, 4),
)
gift_stocks = st.none() | st.fixed_dictionaries({"GIFT": st.integers(0, 3), "A": st.integers(0, 3)})
# PRICING_EXAMPLES=5000 for a long run (the suite was checked at 5000 per property).
PROPS = settings(
    max_examples=int(os.environ.get("PRICING_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _check_consistent(q, cart):
    catalog = sum(ln.qty * ln.unit_price_fen for ln in cart)
    assert 0 <= q.payable_fen <= q.subtotal_fen == catalog
    assert all(0 <= ln.discount_fen <= ln.subtotal_fen for ln in q.lines)
    assert all(ln.unit_price_fen == 0 for ln in q.lines if ln.gift)
    # every rule's allocation adds up to its amount, and the rules add up to each line's discount
    per_sku: dict[str, int] = {}
    for a in q.applied:
        assert sum(x["discount_fen"] for x in a["allocation"]) == a["discount_fen"] >= 0
        for x in a["allocation"]:
            per_sku[x["sku"]] = per_sku.get(x["sku"], 0) + x["discount_fen"]
    assert per_sku == {ln.sku: ln.discount_fen for ln in q.lines if ln.discount_fen}
    assert sum(a["discount_fen"] for a in q.applied) == q.discount_fen


@PROPS
@given(carts(), promotions(), coupon_lists(), contexts, gift_stocks)
def test_payable_within_bounds_and_allocations_exact(cart, promos, coupons, c, gifts):
    _check_consistent(price_cart(cart, c, promos, coupons, gifts), cart)


@PROPS
@given(carts(), promotions(), coupon_lists(max_size=2), contexts, gift_stocks)
def test_a_coupon_never_raises_the_payable(cart, promos, coupons, c, gifts):
    without = price_cart(cart, c, promos, (), gifts)
    with_ = price_cart(cart, c, promos, coupons, gifts)
    assert with_.payable_fen <= without.payable_fen
    for n in range(len(coupons)):  # nor does any one more coupon
        assert (
            price_cart(cart, c, promos, coupons[: n + 1], gifts).payable_fen
            <= price_cart(cart, c, promos, coupons[:n], gifts).payable_fen
        )


@PROPS
@given(carts(), promotions(kinds=(THRESHOLD,)), contexts, st.data())
def test_with_thresholds_alone_a_bigger_cart_never_gets_a_smaller_discount(cart, promos, c, data):
    small = price_cart(cart, c, promos)
    grown = []
    for ln in cart:  # more of some lines ...
        grown.append(line(ln.sku, ln.qty + data.draw(st.integers(0, 5)), ln.unit_price_fen, ln.category))
    for s in SKUS:  # ... and maybe new ones
        if s not in {ln.sku for ln in cart} and data.draw(st.booleans()):
            grown.append(line(s, data.draw(st.integers(1, 5)), data.draw(fen), CAT_OF[s]))
    assert price_cart(grown, c, promos).discount_fen >= small.discount_fen


def _snapshot(q):
    return ([ln.as_dict() for ln in q.lines], q.applied, q.hints, q.rejected)


@PROPS
@given(carts(), promotions(), coupon_lists(), contexts, gift_stocks, st.randoms(use_true_random=False))
def test_same_input_same_output_whatever_the_order_promotions_come_in(cart, promos, coupons, c, gifts, rnd):
    first = _snapshot(price_cart(cart, c, promos, coupons, gifts))
    assert _snapshot(price_cart(list(cart), c, list(promos), list(coupons), dict(gifts) if gifts else gifts)) == first
    shuffled = list(promos)
    rnd.shuffle(shuffled)
    assert _snapshot(price_cart(cart, c, shuffled, coupons, gifts)) == first


@PROPS
@given(
    carts(),
    promotions(),
    coupon_lists(),
    st.sampled_from([None, "01JMEMBER00000000000000000"]),
    st.integers(0, 4),
    gift_stocks,
)
def test_shop_and_pos_give_the_same_answer(cart, promos, coupons, member, level, gifts):
    shop = price_cart(cart, ctx("shop", member=member, level=level), promos, coupons, gifts)
    pos = price_cart(cart, ctx("pos", member=member, level=level), promos, coupons, gifts)
    assert _snapshot(shop) == _snapshot(pos)


def test_fifty_lines_thirty_promotions_is_fast_and_exact():
    import time as _t

    rnd = random.Random(5)
    cart = [line(f"S{i:02d}", rnd.randint(1, 6), rnd.randint(100, 90_000), CATS[i % 3]) for i in range(50)]
    promos = [
        promo(
            f"P{i:02d}",
            THRESHOLD,
            ThresholdRule(tiers=(Tier(10_000 * (i + 1), 500 * (i + 1)),)),
            Scope(categories=frozenset({CATS[i % 3]})),
        )
        for i in range(15)
    ]
    promos += [
        promo(f"Q{i:02d}", BUY_N_GET_M, BuyGetRule(2, 1), Scope(skus=frozenset({f"S{i:02d}"})), exclusive=i % 5 == 0)
        for i in range(10)
    ]
    promos += [
        promo(f"R{i:02d}", PERCENT, PercentRule(5 + i), Scope(skus=frozenset({f"S{40 + i:02d}"}))) for i in range(5)
    ]
    t0 = _t.perf_counter()
    q = price_cart(cart, ctx(), promos, [coupon("C", PERCENT_OFF, percent_off=5, cap_fen=5000)])
    assert _t.perf_counter() - t0 < 1.0
    _check_consistent(q, cart)


# ----------------------------------------------------------------------------- level discount and points
def test_the_level_discount_or_the_promotions_whichever_saves_more_not_both():
    from chalicelib.pricing.domain import LevelDiscount

    gold = LevelDiscount(level_id="L-GOLD", name="金卡", discount_bp=500)  # 5 % off
    cart = [line("A", 2, 10000)]  # 200.00
    ten_off = promo("P10", THRESHOLD, ThresholdRule(tiers=(Tier(10000, 1000),)))  # 10.00 off
    assert price_cart(cart, ctx(), [ten_off], level=gold).applied[0]["kind"] == "promotion"  # a tie: promotions
    twenty_off = promo("P20", THRESHOLD, ThresholdRule(tiers=(Tier(10000, 2000),)))
    p = price_cart(cart, ctx(), [twenty_off], level=gold)
    assert p.discount_fen == 2000 and [a["kind"] for a in p.applied] == ["promotion"]
    five_off = promo("P5", THRESHOLD, ThresholdRule(tiers=(Tier(10000, 500),)))
    p = price_cart(cart, ctx(), [five_off], level=gold)
    assert p.discount_fen == 1000 and [a["kind"] for a in p.applied] == ["level"]
    # a promotion that stacks applies first, then the level discount on what is left
    stacking = promo("S5", THRESHOLD, ThresholdRule(tiers=(Tier(10000, 500),)), stacks_with_level=True)
    p = price_cart(cart, ctx(), [stacking], level=gold)
    assert [a["kind"] for a in p.applied] == ["promotion", "level"]
    assert p.discount_fen == 500 + (20000 - 500) * 500 // 10000
    assert sum(ln.payable_fen for ln in p.lines) == p.payable_fen == 20000 - p.discount_fen


def test_points_are_capped_by_balance_share_per_order_cap_and_never_make_an_order_free():
    from chalicelib.pricing.domain import PointsOffer, points_redeemable

    rules = {"fen_per_point": 1, "max_redeem_bp": 5000}  # 1 point = 1 fen, at most half the payable
    assert points_redeemable(PointsOffer(wanted=800, balance=1000, **rules), 1000) == 500
    assert points_redeemable(PointsOffer(wanted=800, balance=300, **rules), 1000) == 300
    assert points_redeemable(PointsOffer(wanted=800, balance=1000, max_redeem_points=100, **rules), 1000) == 100
    everything = PointsOffer(wanted=10**6, balance=10**6, fen_per_point=10, max_redeem_bp=10000)
    assert points_redeemable(everything, 1000) == 99  # 990 fen: 10 fen are left to pay
    assert points_redeemable(everything, 1) == 0
    p = price_cart(
        [line("A", 1, 1000), line("B", 1, 3000)], ctx(), points=PointsOffer(wanted=600, balance=10**4, **rules)
    )
    assert p.points_redeemed == 600 and p.payable_fen == 3400
    assert [a for a in p.applied if a["kind"] == "points"][0]["allocation"] == [
        {"sku": "A", "discount_fen": 150},
        {"sku": "B", "discount_fen": 450},
    ]
    limited = price_cart([line("A", 1, 1000)], ctx(), points=PointsOffer(wanted=900, balance=10**4, **rules))
    assert limited.points_redeemed == 500 and limited.hints[-1]["code"] == "POINTS_LIMITED"
