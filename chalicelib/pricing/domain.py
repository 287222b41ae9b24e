"""The pricing engine: one pure function prices a cart for every channel (shop quote, order, POS quote, POS
sale). No I/O, no clock, no settings: everything it needs is an argument, so the same input always gives the
same output.

    price_cart(lines, ctx, promotions=(), coupons=(), gift_stock=None) -> Priced

Stages (docs/pricing.md explains them to operators):

1. prices      member-level and time-limited prices: the lowest applicable unit price per line;
2. items       buy N get M free (the cheapest units of the scope free), percentage discounts;
3. order       spend thresholds (满X减Y, tiers or "every X save Y"), all measured on the amount left after
               stages 1-2 (never after another threshold, so a bigger cart never gets a smaller discount);
4. gifts       combo gifts (buy A and B, get C): a gift line at zero, taking stock;
5. coupons     the member's chosen coupons on what the promotions left of the lines they may touch
               (each measured on that amount, never on what another coupon left).

Stacking: the stackable promotions form one option; each exclusive promotion alone is another option. Every
option is evaluated (with the coupons) and the one with the largest money discount wins (ties: the option
that uses the chosen coupons, then more gift value, then the first option). Every discount is allocated to
lines exact to the fen (largest remainder, by the line's remaining payable), so line amounts always add up
to the totals and refunds/commissions can use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.money import yuan
from chalicelib.pricing.errors import PricingCode

SHOP, POS = "shop", "pos"
CHANNELS = (SHOP, POS)

# Promotion kinds and the stage they run in.
THRESHOLD = "threshold"
PERCENT = "percent"
BUY_N_GET_M = "buy_n_get_m"
COMBO_GIFT = "combo_gift"
MEMBER_PRICE = "member_price"
TIME_PRICE = "time_price"
PROMOTION_KINDS = (THRESHOLD, PERCENT, BUY_N_GET_M, COMBO_GIFT, MEMBER_PRICE, TIME_PRICE)

# Coupon kinds.
AMOUNT_OFF = "amount_off"
PERCENT_OFF = "percent_off"
NO_THRESHOLD = "no_threshold"
GIFT = "gift"
COUPON_KINDS = (AMOUNT_OFF, PERCENT_OFF, NO_THRESHOLD, GIFT)


# =========================================================================================== input
@dataclass(frozen=True)
class CartLine:
    sku: str
    name: str
    qty: int
    unit_price_fen: int
    category: str = ""


@dataclass(frozen=True)
class PricingContext:
    channel: str  # shop | pos
    store_id: str | None
    at: datetime  # the moment, timezone-aware
    member_id: str | None = None
    member_level: int | None = None  # the level's rank (0 = the entry level)
    tz: tzinfo | None = None  # BUSINESS_TZ for weekdays and hours; None: the zone of ``at``

    def local(self) -> datetime:
        return self.at.astimezone(self.tz) if self.tz is not None else self.at


@dataclass(frozen=True)
class Scope:
    """Where a promotion or coupon applies. Empty sets mean "all". ``skus``/``categories``/``exclude_skus``
    choose the lines; ``stores``/``channels``/``min_level`` choose the orders (``min_level`` None: anyone,
    members or not; 0: any member; n: members of level n or above)."""

    skus: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()
    stores: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    min_level: int | None = None

    def admits(self, ctx: PricingContext) -> bool:
        if self.stores and ctx.store_id not in self.stores:
            return False
        if self.channels and ctx.channel not in self.channels:
            return False
        if self.min_level is not None:
            if ctx.member_id is None:
                return False
            if self.min_level > 0 and (ctx.member_level or 0) < self.min_level:
                return False
        return True

    def covers(self, line: CartLine) -> bool:
        if line.sku in self.exclude_skus:
            return False
        if not self.skus and not self.categories:
            return True
        return line.sku in self.skus or line.category in self.categories

    @property
    def needs_level(self) -> bool:
        return bool(self.min_level)


@dataclass(frozen=True)
class Schedule:
    """``starts_at <= at < ends_at``, and - when given - on one of ``weekdays`` (ISO 1 = Monday .. 7) and
    between ``start_time`` and ``end_time`` (exclusive; None = end of day), in BUSINESS_TZ."""

    starts_at: datetime
    ends_at: datetime
    weekdays: frozenset[int] = frozenset()
    start_time: time | None = None
    end_time: time | None = None

    def active(self, ctx: PricingContext) -> bool:
        if not (self.starts_at <= ctx.at < self.ends_at):
            return False
        local = ctx.local()
        if self.weekdays and local.isoweekday() not in self.weekdays:
            return False
        t = local.time().replace(tzinfo=None)
        if self.start_time is not None and t < self.start_time:
            return False
        if self.end_time is not None and t >= self.end_time:
            return False
        return True


@dataclass(frozen=True)
class Tier:
    min_fen: int
    off_fen: int


@dataclass(frozen=True)
class ThresholdRule:
    """满X减Y: the best tier reached, or "every ``every_fen`` save ``every_off_fen``" (capped by
    ``max_off_fen``); never more than the amount it is measured on."""

    tiers: tuple[Tier, ...] = ()
    every_fen: int = 0
    every_off_fen: int = 0
    max_off_fen: int | None = None

    def off(self, base: int) -> int:
        best = max((t.off_fen for t in self.tiers if base >= t.min_fen), default=0)
        if self.every_fen > 0:
            rep = (base // self.every_fen) * self.every_off_fen
            if self.max_off_fen is not None:
                rep = min(rep, self.max_off_fen)
            best = max(best, rep)
        return max(0, min(best, base))

    def next_step(self, base: int) -> tuple[int, int] | None:
        """(fen still missing, discount then) for the nearest bigger discount, if any."""
        now = self.off(base)
        steps = [(t.min_fen - base, t.off_fen) for t in self.tiers if t.min_fen > base and t.off_fen > now]
        if self.every_fen > 0:
            target = (base // self.every_fen + 1) * self.every_fen
            if self.off(target) > now:
                steps.append((target - base, self.off(target)))
        return min(steps) if steps else None


@dataclass(frozen=True)
class PercentRule:
    percent_off: int  # 20 = 20 % off (8折)


@dataclass(frozen=True)
class BuyGetRule:
    buy_qty: int  # buy N ...
    free_qty: int  # ... get M free: per N+M units of the scope, the M cheapest are free


@dataclass(frozen=True)
class Gift:
    sku: str
    name: str
    qty: int = 1
    value_fen: int = 0  # catalog price of one unit when the rule was set up (display, ranking)


@dataclass(frozen=True)
class ComboGiftRule:
    requires: tuple[tuple[str, int], ...]  # (sku, qty) that must all be in the cart
    gift: Gift
    repeat: bool = False  # one gift per complete set (else one per order)


@dataclass(frozen=True)
class PriceRule:
    """Member-level or time-limited unit prices, per sku."""

    prices: tuple[tuple[str, int], ...]

    def price_of(self, sku: str) -> int | None:
        for s, p in self.prices:
            if s == sku:
                return p
        return None


Rule = ThresholdRule | PercentRule | BuyGetRule | ComboGiftRule | PriceRule


@dataclass(frozen=True, eq=False)
class Promotion:
    promo_id: str
    kind: str
    title: str
    rule: Any  # one of the Rule classes above, matching ``kind``
    scope: Scope = Scope()
    schedule: Schedule | None = None  # None: always (admin promotions always have one)
    priority: int = 100  # higher runs first and wins ties
    exclusive: bool = False  # never combined with another promotion on the same order
    with_coupons: bool = True  # coupons may also discount the lines this promotion discounted
    stacks_with_level: bool = False  # also applies on top of the member's level discount

    def live(self, ctx: PricingContext) -> bool:
        return (self.schedule is None or self.schedule.active(ctx)) and self.scope.admits(ctx)


@dataclass(frozen=True)
class LevelDiscount:
    """The member's level discount (basis points off the whole cart). The customer gets the better of it and
    the promotions, not both, except promotions that say ``stacks_with_level``."""

    level_id: str
    name: str
    discount_bp: int


@dataclass(frozen=True)
class PointsOffer:
    """Points the customer wants to redeem, what they have and the chain's rules (points settings)."""

    wanted: int
    balance: int
    fen_per_point: int
    max_redeem_bp: int  # at most this share of the payable
    max_redeem_points: int | None = None  # at most this many per order (None: no cap)


def points_redeemable(offer: PointsOffer, payable_fen: int) -> int:
    """How many of the wanted points an order of ``payable_fen`` may take: no more than the balance, the cap
    per order and ``max_redeem_bp`` of the payable, in whole points, and never the whole order (at least 1 fen
    is left to pay)."""
    if offer.wanted <= 0 or offer.fen_per_point <= 0 or payable_fen <= 1:
        return 0
    by_share = payable_fen * max(0, offer.max_redeem_bp) // 10000 // offer.fen_per_point
    by_rest = (payable_fen - 1) // offer.fen_per_point
    caps = [offer.wanted, max(0, offer.balance), by_share, by_rest]
    if offer.max_redeem_points is not None:
        caps.append(offer.max_redeem_points)
    return max(0, min(caps))


@dataclass(frozen=True, eq=False)
class CouponOffer:
    """A coupon the member chose, with the terms it was issued with (validity is checked before)."""

    coupon_id: str
    template_id: str
    title: str
    kind: str  # amount_off | percent_off | no_threshold | gift
    threshold_fen: int = 0
    off_fen: int = 0
    percent_off: int = 0
    cap_fen: int | None = None
    gift: Gift | None = None
    scope: Scope = Scope()
    stackable: bool = False  # may be combined with other coupons on one order


# =========================================================================================== output
@dataclass
class PricedLine:
    sku: str
    name: str
    qty: int
    unit_price_fen: int
    discount_fen: int = 0
    gift: bool = False
    category: str | None = None  # the product's category (campaign stats: spend per category)

    @property
    def subtotal_fen(self) -> int:
        return self.qty * self.unit_price_fen

    @property
    def payable_fen(self) -> int:
        return self.subtotal_fen - self.discount_fen

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "qty": self.qty,
            "unit_price_fen": self.unit_price_fen,
            "discount_fen": self.discount_fen,
            "payable_fen": self.payable_fen,
            "gift": self.gift,
            **({"category": self.category} if self.category else {}),
        }


@dataclass
class Priced:
    lines: list[PricedLine]
    applied: list[dict[str, Any]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # chosen coupons that could not be used

    @property
    def subtotal_fen(self) -> int:
        return sum(line.subtotal_fen for line in self.lines)

    @property
    def discount_fen(self) -> int:
        return sum(line.discount_fen for line in self.lines)

    @property
    def payable_fen(self) -> int:
        return sum(line.payable_fen for line in self.lines)

    def coupon_ids(self) -> list[str]:
        return [a["id"] for a in self.applied if a["kind"] == "coupon"]

    @property
    def points_redeemed(self) -> int:
        return sum(int(a.get("points", 0)) for a in self.applied if a["kind"] == "points")


# =========================================================================================== helpers
def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` fen over ``weights`` proportionally, exact to the fen (largest remainder; ties to
    the earlier weight). Used to spread discounts over lines and to size partial refunds. With
    ``total <= sum(weights)`` no share exceeds its weight."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("allocate takes non-negative numbers")
    s = sum(weights)
    if s == 0:
        return [0] * len(weights)
    shares = [total * w // s for w in weights]
    rema = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % s), i))
    for i in rema[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _order(promos: Iterable[Promotion]) -> list[Promotion]:
    return sorted(promos, key=lambda p: (-p.priority, p.promo_id))


def live_promotions(promotions: Iterable[Promotion], ctx: PricingContext) -> list[Promotion]:
    """The promotions that apply to this order at this moment (schedule and scope), in priority order."""
    return _order(p for p in promotions if p.live(ctx))


def needs_member_level(promotions: Iterable[Promotion]) -> bool:
    """Whether any of these promotions depends on the member's level (only then is the member read)."""
    return any(p.scope.needs_level for p in promotions)


def gift_skus(promotions: Iterable[Promotion], cart_skus: Iterable[str]) -> set[str]:
    """Gift skus of combo promotions whose required skus are all in the cart (their stock is read with the
    cart, so a gift that is not there is left out rather than failing the order)."""
    have = set(cart_skus)
    return {p.rule.gift.sku for p in promotions if p.kind == COMBO_GIFT and all(s in have for s, _ in p.rule.requires)}


# =========================================================================================== engine
class _Eval:
    """One option (a set of promotions) evaluated over the cart, plus the coupons."""

    def __init__(self, lines: Sequence[CartLine], ctx: PricingContext, gift_stock: Mapping[str, int] | None):
        self.lines = lines
        self.ctx = ctx
        self.unit = [ln.unit_price_fen for ln in lines]  # after stage 1
        self.disc = [0] * len(lines)
        self.no_coupon = [False] * len(lines)
        self.applied: list[dict[str, Any]] = []
        self.hints: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.gift_lines: list[PricedLine] = []
        self.gift_left = dict(gift_stock) if gift_stock is not None else None
        self.gift_value = 0
        self.coupons_used = 0

    # ----------------------------------------------------------------------------- primitives
    def remaining(self, i: int) -> int:
        ln = self.lines[i]
        return ln.qty * ln.unit_price_fen - self.disc[i]

    def covered(self, scope: Scope) -> list[int]:
        return [i for i, ln in enumerate(self.lines) if scope.covers(ln)]

    def take(self, idxs: Sequence[int], amount: int, exact: Sequence[int] | None = None) -> dict[int, int]:
        """Discount ``amount`` over ``idxs`` (by remaining payable, or ``exact`` shares); returns the shares."""
        if exact is not None:
            shares = [min(e, self.remaining(i)) for i, e in zip(idxs, exact)]
        else:
            weights = [self.remaining(i) for i in idxs]
            shares = allocate(min(amount, sum(weights)), weights)
        out = {}
        for i, s in zip(idxs, shares):
            if s > 0:
                self.disc[i] += s
                out[i] = s
        return out

    def record(
        self,
        kind: str,
        rule: str,
        id_: str,
        title: str,
        shares: Mapping[int, int],
        lock_coupons: bool = False,
        **extra: Any,
    ) -> None:
        amount = sum(shares.values())
        if amount <= 0 and "gift" not in extra:
            return
        if lock_coupons:
            for i in shares:
                self.no_coupon[i] = True
        self.applied.append(
            {
                "kind": kind,
                "rule": rule,
                "id": id_,
                "title": title,
                "discount_fen": amount,
                "allocation": [
                    {"sku": self.lines[i].sku, "discount_fen": s} for i, s in sorted(shares.items()) if s > 0
                ],
                **extra,
            }
        )

    def hint(self, source: Promotion | CouponOffer, code: str, message: str, **fields: Any) -> None:
        if isinstance(source, Promotion):
            ref = {"kind": "promotion", "rule": source.kind, "id": source.promo_id}
        else:
            ref = {"kind": "coupon", "rule": source.kind, "id": source.coupon_id}
        self.hints.append({**ref, "title": source.title, "code": code, "message": message, **fields})

    def add_gift(self, gift: Gift, qty: int) -> int:
        if self.gift_left is not None and gift.sku in self.gift_left:  # else unknown: the order's stock decides
            qty = min(qty, max(0, self.gift_left.get(gift.sku, 0)))
            self.gift_left[gift.sku] = self.gift_left.get(gift.sku, 0) - qty
        if qty > 0:
            self.gift_lines.append(PricedLine(sku=gift.sku, name=gift.name, qty=qty, unit_price_fen=0, gift=True))
            self.gift_value += qty * gift.value_fen
        return qty

    @property
    def money(self) -> int:
        return sum(self.disc)

    # ----------------------------------------------------------------------------- stages
    def prices(self, promos: Sequence[Promotion]) -> None:
        rules = [p for p in promos if p.kind in (MEMBER_PRICE, TIME_PRICE)]
        if not rules:
            return
        won: dict[str, dict[int, int]] = {}
        for i, ln in enumerate(self.lines):
            best: tuple[int, Promotion] | None = None
            for p in rules:  # priority order: the first of equal prices wins
                price = p.rule.price_of(ln.sku)
                if price is not None and p.scope.covers(ln) and (best is None or price < best[0]):
                    best = (price, p)
            if best is not None and best[0] < ln.unit_price_fen:
                price, p = best
                self.unit[i] = price
                won.setdefault(p.promo_id, {}).update(self.take([i], 0, exact=[(ln.unit_price_fen - price) * ln.qty]))
        for p in rules:
            if p.promo_id in won:
                self.record("promotion", p.kind, p.promo_id, p.title, won[p.promo_id], not p.with_coupons)

    def items(self, promos: Sequence[Promotion]) -> None:
        for p in promos:
            if p.kind == BUY_N_GET_M:
                self._buy_get(p)
            elif p.kind == PERCENT:
                idxs = self.covered(p.scope)
                base = sum(self.remaining(i) for i in idxs)
                shares = self.take(idxs, base * p.rule.percent_off // 100)
                self.record("promotion", p.kind, p.promo_id, p.title, shares, not p.with_coupons)

    def _buy_get(self, p: Promotion) -> None:
        n, m = p.rule.buy_qty, p.rule.free_qty
        idxs = self.covered(p.scope)
        units = sum(self.lines[i].qty for i in idxs)
        free = units // (n + m) * m
        rest = units % (n + m)
        if idxs and rest >= n:
            more = n + m - rest
            self.hint(p, "ADD_ITEMS", f"add {more} more to get {m} free", missing_qty=more, free_qty=m)
        if free == 0:
            return
        exact, left = [], free
        cheapest = sorted(idxs, key=lambda i: (self.unit[i], self.lines[i].sku))
        for i in cheapest:
            k = min(self.lines[i].qty, left)
            left -= k
            exact.append(k * self.unit[i])
        shares = self.take(cheapest, 0, exact=exact)
        self.record("promotion", p.kind, p.promo_id, p.title, shares, not p.with_coupons, free_qty=free)

    def thresholds(self, promos: Sequence[Promotion]) -> None:
        rules = [p for p in promos if p.kind == THRESHOLD]
        # Every threshold is measured on what stages 1-2 left, not on what another threshold left.
        entry = [self.remaining(i) for i in range(len(self.lines))]
        for p in rules:
            idxs = self.covered(p.scope)
            base = sum(entry[i] for i in idxs)
            off = p.rule.off(base)
            shares = self.take(idxs, off)
            self.record("promotion", p.kind, p.promo_id, p.title, shares, not p.with_coupons, base_fen=base)
            step = p.rule.next_step(base) if base > 0 else None
            if step is not None:
                missing, saves = step
                self.hint(
                    p,
                    "SPEND_MORE",
                    f"add {yuan(missing)} more to save {yuan(saves)}",
                    missing_fen=missing,
                    saves_fen=saves,
                )

    def combos(self, promos: Sequence[Promotion]) -> None:
        in_cart: dict[str, int] = {}
        where: dict[str, list[int]] = {}
        for i, ln in enumerate(self.lines):
            in_cart[ln.sku] = in_cart.get(ln.sku, 0) + ln.qty
            where.setdefault(ln.sku, []).append(i)
        for p in promos:
            if p.kind != COMBO_GIFT:
                continue
            rule: ComboGiftRule = p.rule
            sets = min(in_cart.get(s, 0) // q for s, q in rule.requires)
            if sets == 0:
                missing = [{"sku": s, "qty": q - in_cart.get(s, 0)} for s, q in rule.requires if in_cart.get(s, 0) < q]
                if len(missing) < len(rule.requires):
                    names = ", ".join(f"{x['qty']} x {x['sku']}" for x in missing)
                    self.hint(
                        p, "ADD_ITEMS", f"add {names} to get {rule.gift.qty} x {rule.gift.name} free", missing=missing
                    )
                continue
            want = rule.gift.qty * (sets if rule.repeat else 1)
            got = self.add_gift(rule.gift, want)
            if got == 0:
                self.hint(p, "GIFT_OUT_OF_STOCK", f"{rule.gift.name} is out of stock here", sku=rule.gift.sku)
                continue
            touched = {i: 0 for s, _ in rule.requires for i in where.get(s, [])}
            self.record(
                "promotion",
                p.kind,
                p.promo_id,
                p.title,
                touched,
                not p.with_coupons,
                gift={"sku": rule.gift.sku, "name": rule.gift.name, "qty": got, "value_fen": got * rule.gift.value_fen},
            )

    def coupons(self, coupons: Sequence[CouponOffer]) -> None:
        if not coupons:
            return
        use = list(coupons)
        if len(use) > 1 and not all(c.stackable for c in use):
            for c in use[1:]:
                self.reject(c, "NOT_STACKABLE", "only one coupon per order unless every coupon is stackable")
            use = use[:1]
        # Like thresholds, every coupon is measured on what the promotions left (never on what another
        # coupon left), so adding a coupon can never undo another one: gifts first, then the others.
        entry = [self.remaining(i) for i in range(len(self.lines))]
        for c in sorted(use, key=lambda c: c.kind != GIFT):
            self._coupon(c, entry)

    def reject(self, c: CouponOffer, reason: str, message: str, **fields: Any) -> None:
        self.rejected.append(
            {
                "code": PricingCode.COUPON_NOT_APPLICABLE,
                "coupon_id": c.coupon_id,
                "reason": reason,
                "message": message,
                **fields,
            }
        )

    def _coupon(self, c: CouponOffer, entry: Sequence[int]) -> None:
        if not c.scope.admits(self.ctx):
            self.reject(c, "SCOPE", "this coupon is not valid for this store, channel or member")
            return
        covered = self.covered(c.scope)
        idxs = [i for i in covered if not self.no_coupon[i]]
        if not covered:
            self.reject(c, "NO_ELIGIBLE_ITEMS", "nothing in the cart is eligible for this coupon")
            return
        if not idxs:
            self.reject(c, "EXCLUDED_BY_PROMOTION", "the promotions on these items do not combine with coupons")
            return
        base = sum(entry[i] for i in idxs)
        if base < c.threshold_fen:
            missing = c.threshold_fen - base
            self.reject(c, "THRESHOLD_NOT_MET", f"add {yuan(missing)} more to use this coupon", missing_fen=missing)
            self.hint(c, "SPEND_MORE", f"add {yuan(missing)} more to use this coupon", missing_fen=missing)
            return
        extra: dict[str, Any] = {"template_id": c.template_id}
        if c.kind == GIFT:
            gift = c.gift
            got = self.add_gift(gift, gift.qty) if gift is not None else 0
            if got == 0:
                self.reject(c, "GIFT_OUT_OF_STOCK", "the gift is out of stock here")
                return
            self.coupons_used += 1
            self.record(
                "coupon",
                c.kind,
                c.coupon_id,
                c.title,
                {},
                gift={"sku": gift.sku, "name": gift.name, "qty": got, "value_fen": got * gift.value_fen},
                **extra,
            )
            return
        if c.kind == PERCENT_OFF:
            amount = base * c.percent_off // 100
            if c.cap_fen is not None:
                amount = min(amount, c.cap_fen)
        else:
            amount = c.off_fen
        shares = self.take(idxs, amount)
        if not shares:
            self.reject(c, "NOTHING_TO_DISCOUNT", "the eligible items are already free")
            return
        self.coupons_used += 1
        self.record("coupon", c.kind, c.coupon_id, c.title, shares, **extra)

    def level(self, level: LevelDiscount) -> None:
        idxs = list(range(len(self.lines)))
        base = sum(self.remaining(i) for i in idxs)
        shares = self.take(idxs, base * level.discount_bp // 10000)
        self.record("level", "level_discount", level.level_id, f"{level.name}折扣", shares)

    def points(self, offer: PointsOffer) -> None:
        idxs = list(range(len(self.lines)))
        payable = sum(self.remaining(i) for i in idxs)
        n = points_redeemable(offer, payable)
        if offer.wanted > n:
            self.hints.append(
                {
                    "kind": "points",
                    "code": PricingCode.POINTS_LIMITED,
                    "message": f"at most {n} points on this order",
                    "points": n,
                }
            )
        if n > 0:
            shares = self.take(idxs, n * offer.fen_per_point)
            self.record("points", "points", "points", "积分抵扣", shares, points=n)

    def result(self) -> Priced:
        lines = [
            PricedLine(
                sku=ln.sku,
                name=ln.name,
                qty=ln.qty,
                unit_price_fen=ln.unit_price_fen,
                discount_fen=self.disc[i],
                category=ln.category,
            )
            for i, ln in enumerate(self.lines)
        ]
        return Priced(lines=lines + self.gift_lines, applied=self.applied, hints=self.hints, rejected=self.rejected)


def _evaluate(
    lines: Sequence[CartLine],
    ctx: PricingContext,
    promos: Sequence[Promotion],
    coupons: Sequence[CouponOffer],
    gift_stock: Mapping[str, int] | None,
    level: LevelDiscount | None = None,
) -> _Eval:
    ev = _Eval(lines, ctx, gift_stock)
    ev.prices(promos)
    ev.items(promos)
    ev.thresholds(promos)
    ev.combos(promos)
    if level is not None:
        ev.level(level)
    ev.coupons(coupons)
    return ev


def price_cart(
    lines: Sequence[CartLine],
    ctx: PricingContext,
    promotions: Iterable[Promotion] = (),
    coupons: Sequence[CouponOffer] = (),
    gift_stock: Mapping[str, int] | None = None,
    level: LevelDiscount | None = None,
    points: PointsOffer | None = None,
) -> Priced:
    """Price a cart. Deterministic: the same lines, context, promotions and coupons give the same answer.

    ``promotions`` may hold every promotion of the chain: those not live for ``ctx`` (schedule, store,
    channel, member level) are ignored. ``coupons`` have been checked for ownership and validity already;
    the engine decides whether they apply to this cart. ``gift_stock`` is what the store has for gift skus
    (None: unknown, the order's stock condition decides).

    ``level``: the member's level discount, an option of its own (with the promotions that stack with it)
    against the promotions; the customer gets whichever saves more. ``points``: redeemed last, on what is left
    to pay (see :func:`points_redeemable`).
    """
    lines = list(lines)
    live = live_promotions(promotions, ctx)
    stackable = [p for p in live if not p.exclusive]
    options: list[tuple[list[Promotion], LevelDiscount | None]] = [(stackable, None)]
    options += [([p], None) for p in live if p.exclusive]
    if level is not None and level.discount_bp > 0:
        options.append(([p for p in stackable if p.stacks_with_level], level))
    best: tuple[tuple, _Eval] | None = None
    for n, (option, lvl) in enumerate(options):
        ev = _evaluate(lines, ctx, option, coupons, gift_stock, lvl)
        key = (ev.money, ev.coupons_used, ev.gift_value, -n)
        if best is None or key > best[0]:
            best = (key, ev)
    if points is not None:
        best[1].points(points)
    return best[1].result()


def gift_snapshot(consult_only: bool, name: str, price_fen: int, field: str) -> dict[str, Any]:
    """What a promotion or coupon keeps of its gift product (its name and value at the time it was set up);
    consult-only goods cannot be gifts (422 GIFT_NOT_ALLOWED on ``field``)."""
    if consult_only:
        raise ValidationFailed(
            "Consult-only goods cannot be gifts",
            code=PricingCode.GIFT_NOT_ALLOWED,
            details={"fields": [{"field": field, "message": "consult-only"}]},
        )
    return {"gift_name": name, "gift_value_fen": int(price_fen)}
