"""Pricing for the checkout use cases (shop quote, order, POS quote, POS sale): what must be read together
with the cart, and the one engine call. Orders use it like this::

    p = pricing.prepare("shop", cart, member_id, coupon_ids)      # live promotions from the 30 s cache
    got = batch_get(cart keys + p.keys(store_ids))                # the checkout's one BatchGetItem
    priced, problems = p.price(lines, store_id, got, stock)       # pure engine

Reads added to the cart's BatchGetItem: the chosen coupons (member partition), the member (only when a live
promotion depends on the member's level, or to identify a till customer), and the store's stock of combo
gifts (only when a combo's required skus are all in the cart). Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core import clock
from chalicelib.coupons import services as coupons
from chalicelib.inventory import repository as stock
from chalicelib.members import repository as members
from chalicelib.members import services as member_levels
from chalicelib.members.domain import Level
from chalicelib.orders.errors import OrderCode
from chalicelib.points import repository as points
from chalicelib.points import services as points_services
from chalicelib.pricing import domain as engine
from chalicelib.promotions import services as promotions
from chalicelib.wallet import repository as wallet
from chalicelib.wallet.domain import Balance


@dataclass
class Pricing:
    channel: str
    member_id: str | None
    coupon_ids: list[str]
    promotions: list[engine.Promotion]
    read_member: bool
    gift_skus: set[str] = field(default_factory=set)
    points_wanted: int = 0
    read_wallet: bool = False  # a till sale paid from the wallet: its balance is read with the cart
    level: Level | None = None  # the member's level, known after ``price``
    wallet: Balance | None = None  # the member's wallet as read, after ``price`` (when ``read_wallet``)

    def member_key(self) -> tuple[str, str] | None:
        return members.profile_key(self.member_id) if self.member_id and self.read_member else None

    def keys(self, store_ids: Iterable[str]) -> list[tuple[str, str]]:
        """Keys to add to the cart's BatchGetItem (coupons, the member's profile, gift stock in each store),
        each built by the repository of the domain that owns the item."""
        keys = coupons.coupon_keys(self.member_id, self.coupon_ids) if self.member_id else []
        if self.member_key():
            keys.append(self.member_key())
        if self.member_id and self.points_wanted:
            keys.append(points.account_key(self.member_id))
        if self.member_id and self.read_wallet:
            keys.append(wallet.account_key(self.member_id))
        keys += list(stock.stock_keys(store_ids, sorted(self.gift_skus)))
        return keys

    def member_level(self) -> dict[str, Any] | None:
        """What the order keeps of the member's level (points and reports read it from the order's events)."""
        lv = self.level
        if lv is None:
            return None
        return {
            "level_id": lv.level_id,
            "name": lv.name,
            "rank": lv.rank,
            "discount_bp": lv.discount_bp,
            "points_multiplier_bp": lv.points_multiplier_bp,
        }

    def price(
        self,
        lines: list[engine.CartLine],
        store_id: str | None,
        got: Mapping[tuple[str, str], Any],
        stock: Mapping[str, int] | None,
        cart: Mapping[str, int],
    ) -> tuple[engine.Priced, list[dict]]:
        """The engine's answer and the problems of the chosen coupons (unknown, used, expired, not
        applicable). ``stock`` is the chosen store's stock as read (None: not read)."""
        problems: list[dict] = []
        offers: list[engine.CouponOffer] = []
        if self.coupon_ids:
            if self.member_id is None:
                problems.append({"code": OrderCode.COUPON_NEEDS_MEMBER, "coupon_ids": self.coupon_ids})
            else:
                offers, problems = coupons.offers(self.member_id, self.coupon_ids, dict(got))
        discount = None
        if self.member_key():
            self.level, discount = member_levels.level_discount(members.profile_in(got, self.member_id))
        if self.member_id and self.read_wallet:
            self.wallet = wallet.balance_in(got, self.member_id)
        offer = self._points_offer(got, problems)
        gift_stock = None
        if stock is not None and self.gift_skus:
            gift_stock = {s: stock.get(s, 0) - cart.get(s, 0) for s in self.gift_skus}
        ctx = engine.PricingContext(
            channel=self.channel,
            store_id=store_id,
            at=clock.now(),
            member_id=self.member_id,
            member_level=(self.level.rank if self.level else 0) if self.member_id else None,
            tz=clock.business_tz(),
        )
        priced = engine.price_cart(lines, ctx, self.promotions, offers, gift_stock, level=discount, points=offer)
        return priced, problems + priced.rejected

    def _points_offer(self, got: Mapping[tuple[str, str], Any], problems: list[dict]) -> engine.PointsOffer | None:
        if not self.points_wanted:
            return None
        if self.member_id is None:
            problems.append({"code": OrderCode.POINTS_NEED_MEMBER, "points": self.points_wanted})
            return None
        rules = points_services.rules()
        return engine.PointsOffer(
            wanted=self.points_wanted,
            balance=points.balance_in(got, self.member_id),
            fen_per_point=rules.fen_per_point,
            max_redeem_bp=rules.max_redeem_bp,
            max_redeem_points=rules.max_redeem_points,
        )


def prepare(
    channel: str,
    cart: Mapping[str, int],
    member_id: str | None,
    coupon_ids: Iterable[str],
    points_wanted: int = 0,
    read_wallet: bool = False,
) -> Pricing:
    """What pricing needs before the cart is read. The live promotions are filtered to this moment and
    channel (the store is known only after routing; the engine checks it)."""
    probe = engine.PricingContext(channel=channel, store_id=None, at=clock.now(), tz=clock.business_tz())
    relevant = [
        p
        for p in promotions.live()
        if (p.schedule is None or p.schedule.active(probe)) and (not p.scope.channels or channel in p.scope.channels)
    ]
    ids = list(dict.fromkeys(coupon_ids))
    return Pricing(
        channel=channel,
        member_id=member_id,
        coupon_ids=ids,
        promotions=relevant,
        # the member's profile (growth -> level) is read with the cart when levels exist or a promotion is
        # for some levels only
        read_member=member_id is not None and (bool(member_levels.levels()) or engine.needs_member_level(relevant)),
        gift_skus=engine.gift_skus(relevant, cart),
        points_wanted=points_wanted,
        read_wallet=read_wallet,
    )
