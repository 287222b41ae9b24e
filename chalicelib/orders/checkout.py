"""Checkout use cases: shop quote and order (routed to a store), POS quote and sale.

A checkout is one BatchGetItem (products and stock of the cart in the chosen store) and one
TransactWriteItems (every stock decrement with its ledger movement, the order, the Idempotency-Key
marker). Events are written in the same transaction (outbox).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from chalicelib.catalog import repository as catalog
from chalicelib.catalog.domain import Sellable
from chalicelib.catalog.errors import CatalogCode
from chalicelib.core import clock, events, idempotency, metrics
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, batch_get, transaction
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.core.settings import get_settings
from chalicelib.coupons import services as coupons
from chalicelib.coupons.errors import CouponCode
from chalicelib.distribution import services as distribution
from chalicelib.identity import repository as members
from chalicelib.identity import services as identity
from chalicelib.identity.errors import IdentityCode
from chalicelib.inventory import domain as stock_domain
from chalicelib.inventory import repository as stock_repo
from chalicelib.inventory.errors import InventoryCode
from chalicelib.inventory.services import out_of_stock
from chalicelib.orders import domain, repository
from chalicelib.orders import pricing as checkout_pricing
from chalicelib.orders.errors import OrderCode
from chalicelib.orders.models import OrderItem
from chalicelib.orders.schemas import OrderOut, PosQuoteIn, PosSaleIn, QuoteOut, ShopQuoteIn
from chalicelib.orders.views import cart_of, commission_order, order_out, snapshot
from chalicelib.points import repository as points_repo
from chalicelib.points.errors import PointsCode
from chalicelib.pricing.domain import CartLine, Priced
from chalicelib.pricing.errors import PricingCode
from chalicelib.stores import domain as store_domain
from chalicelib.stores import services as stores
from chalicelib.wallet import domain as wallet_domain
from chalicelib.wallet import repository as wallet_repo

BATCH_KEYS = 100  # one BatchGetItem


# --------------------------------------------------------------------------------------- products and stock
def _load(
    cart: Mapping[str, int],
    store_ids: Iterable[str],
    with_products: bool = True,
    extra: Iterable[tuple[str, str]] = (),
    checkout: bool = False,
) -> tuple[dict[str, Sellable], dict[str, dict[str, int]], dict]:
    """Products of the cart, their stock in each store and ``extra`` keys (coupons, member, gift stock):
    one BatchGetItem up to 100 keys. Each key comes from the repository of the domain that owns the item.

    A checkout into one store whose keys would overflow one call (a 50-line cart is already 100 keys; a
    coupon makes 101) does not read the stock of its last lines: the transaction's ``qty >= n`` conditions
    are the real check anyway, and a shortage there is the same 409 OUT_OF_STOCK. So a checkout stays at one
    BatchGetItem + one TransactWriteItems whatever the cart (docs/pricing.md, "Round trips")."""
    store_ids = list(store_ids)
    keys = catalog.product_keys(cart) if with_products else []
    keys += [k for k in extra if k not in keys]
    stock_of = stock_repo.stock_keys(store_ids, cart)
    stock_keys = [k for k in stock_of if k not in keys]
    unread: list[tuple[str, str]] = []
    if checkout and len(store_ids) == 1 and len(keys) + len(stock_keys) > BATCH_KEYS:
        room = max(0, BATCH_KEYS - len(keys))
        stock_keys, unread = stock_keys[:room], stock_keys[room:]
    got = batch_get(keys + stock_keys)
    stock = {st: {} for st in store_ids} | stock_repo.stock_in(got)
    for key in unread:  # not read: assume enough, the transaction decides
        store_id, sku = stock_of[key]
        stock[store_id][sku] = cart[sku]
    return catalog.sellables_in(got), stock, got


def _product_problems(cart: Mapping[str, int], products: Mapping[str, Sellable], channel: str) -> list[dict]:
    problems = []
    for sku in cart:
        p = products.get(sku)
        if p is None:
            problems.append({"code": CatalogCode.UNKNOWN_SKU, "sku": sku})
        elif p.status != "on_sale":
            problems.append({"code": CatalogCode.OFF_SALE, "sku": sku})
        elif channel == "shop" and p.consult_only:
            problems.append({"code": CatalogCode.CONSULT_ONLY, "sku": sku, "contact_hint": p.contact_hint})
    return problems


def _lines(cart: Mapping[str, int], products: Mapping[str, Sellable]) -> list[CartLine]:
    return [
        CartLine(
            sku=sku,
            name=products[sku].name,
            qty=qty,
            unit_price_fen=products[sku].price_fen,
            category=products[sku].category,
        )
        for sku, qty in cart.items()
        if sku in products
    ]


def _stock_quantities(priced: Priced) -> dict[str, int]:
    """Units leaving the store: every line, gifts included (a gift sku may also be a paid line)."""
    return stock_domain.merge_lines((ln.sku, ln.qty) for ln in priced.lines)


def _store_infos(location) -> list[domain.StoreInfo]:
    local = clock.business_now()
    out = []
    for s in stores.chain():
        dist = (
            store_domain.distance_m(location.lat, location.lng, float(s.lat), float(s.lng))
            if location is not None
            else None
        )
        out.append(
            domain.StoreInfo(
                store_id=s.store_id,
                name=s.name,
                distance_m=dist,
                open_now=store_domain.is_open(store_domain.periods_from(s.opening_hours), local),
                active=s.status == "active",
                delivery_radius_m=int(s.delivery_radius_m),
                pickup_radius_m=int(s.pickup_radius_m),
            )
        )
    return out


# --------------------------------------------------------------------------------------- the plan
class _Plan:
    """Everything a quote or an order needs: where, what, at which price, and what is wrong."""

    referral: dict | None = None  # an order's upline snapshot (distribution), read with the cart

    def __init__(
        self,
        store_id: str | None,
        cart: dict[str, int],
        products: dict,
        priced: Priced | None,
        problems: list[dict],
        suggested: str | None,
        pricing: checkout_pricing.Pricing | None = None,
        delivery_fee_fen: int = 0,
    ):
        self.store_id, self.cart, self.products = store_id, cart, products
        self.priced, self.problems, self.suggested = priced, problems, suggested
        self.member_level = pricing.member_level() if pricing is not None else None
        self.wallet = pricing.wallet if pricing is not None else None
        self.delivery_fee_fen = delivery_fee_fen

    @property
    def points_redeemed(self) -> int:
        return self.priced.points_redeemed if self.priced else 0

    @property
    def payable_fen(self) -> int:
        """What the customer pays: the priced goods plus the delivery fee (added after pricing: never
        discounted)."""
        return (self.priced.payable_fen if self.priced else 0) + self.delivery_fee_fen

    @property
    def stock_out(self) -> dict[str, int]:
        return _stock_quantities(self.priced)

    @property
    def coupon_ids(self) -> list[str]:
        return self.priced.coupon_ids() if self.priced else []

    def quote(self) -> QuoteOut:
        priced = self.priced
        return QuoteOut(
            store_id=self.store_id,
            lines=[ln.as_dict() for ln in priced.lines] if priced else [],
            subtotal_fen=priced.subtotal_fen if priced else 0,
            discount_fen=priced.discount_fen if priced else 0,
            delivery_fee_fen=self.delivery_fee_fen,
            payable_fen=self.payable_fen,
            applied=priced.applied if priced else [],
            hints=priced.hints if priced else [],
            problems=self.problems,
            suggested_store_id=self.suggested,
        )


def _shop_plan(principal: Principal, cmd: ShopQuoteIn, checkout: bool = False) -> _Plan:
    cart = cart_of(cmd.lines)
    infos = _store_infos(cmd.location)
    if cmd.store_id is not None:
        candidates = [cmd.store_id] + [s.store_id for s in domain.alternatives(infos, cmd.fulfillment, cmd.store_id)]
    else:
        candidates = [s.store_id for s in infos if s.active and s.open_now and domain.in_range(s, cmd.fulfillment)]
    pricing = checkout_pricing.prepare("shop", cart, principal.sub, cmd.coupon_ids, cmd.points)
    # With a chosen store the batch holds its stock only, unless it falls short (then the others are read
    # to suggest one): the common checkout stays at one BatchGetItem. An order also reads its member: a deleted
    # account's token (valid for days) places nothing.
    read = candidates[:1] if cmd.store_id else candidates
    extra = pricing.keys(read)
    if checkout:
        extra += [members.member_key(principal.sub), *distribution.checkout_keys(principal.sub)]
    products, stock, got = _load(cart, read, extra=extra, checkout=checkout)
    if checkout and members.deleted_in(got, principal.sub):
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    problems = _product_problems(cart, products, "shop")
    routed = domain.route(cart, cmd.fulfillment, infos, stock, chosen=cmd.store_id)
    if cmd.store_id and any(p["code"] == InventoryCode.OUT_OF_STOCK for p in routed.problems) and len(candidates) > 1:
        _, more, _ = _load(cart, candidates[1:], with_products=False)
        routed = domain.route(cart, cmd.fulfillment, infos, {**stock, **more}, chosen=cmd.store_id)
    priced, pricing_problems = pricing.price(
        _lines(cart, products), routed.store_id, got, stock.get(routed.store_id) if routed.store_id else None, cart
    )
    fee, delivery_problems = _delivery(cmd.fulfillment, routed.store_id, priced)
    plan = _Plan(
        routed.store_id,
        cart,
        products,
        priced,
        problems + routed.problems + pricing_problems + delivery_problems,
        routed.suggested_store_id,
        pricing,
        fee,
    )
    if checkout:
        plan.referral = _referral(got, principal.sub, products)
    return plan


def _referral(got: dict, member_id: str | None, products: dict[str, Sellable]) -> dict | None:
    return distribution.snapshot_in(got, member_id, {sku: p.commission for sku, p in products.items()})


def _delivery(fulfillment: str, store_id: str | None, priced: Priced | None) -> tuple[int, list[dict]]:
    """A delivery order's fee at the routed store, and the problem of a cart below its minimum order (both on
    the goods' payable, after promotions and coupons)."""
    store = next((s for s in stores.chain() if s.store_id == store_id), None)
    if fulfillment != "delivery" or store is None or priced is None:
        return 0, []
    goods = priced.payable_fen
    minimum = int(store.delivery_min_order_fen or 0)
    free_over = None if store.free_delivery_over_fen is None else int(store.free_delivery_over_fen)
    fee = domain.delivery_fee(goods, int(store.delivery_fee_fen or 0), free_over)
    if goods < minimum:
        problem = {"code": OrderCode.BELOW_MINIMUM_ORDER, "store_id": store_id, "min_order_fen": minimum}
        return fee, [{**problem, "missing_fen": minimum - goods}]
    return fee, []


def shop_quote(principal: Principal, cmd: ShopQuoteIn) -> QuoteOut:
    return _shop_plan(principal, cmd).quote()


def _refuse(problems: list[dict]) -> None:
    """Turn a quote's problems into the order's error. If this request's Idempotency-Key was already used
    (a retry after a lost response: its own order now holds the stock and the coupon), replay instead."""
    claim = idempotency.current()
    if claim is not None and idempotency.used(claim):
        raise idempotency.Replay()
    codes = [p["code"] for p in problems]
    if CatalogCode.UNKNOWN_SKU in codes:
        raise ValidationFailed(
            "Unknown sku",
            code=CatalogCode.UNKNOWN_SKU,
            details={
                "problems": problems,
                "fields": [
                    {"field": "lines", "message": f"unknown sku {p['sku']}"}
                    for p in problems
                    if p["code"] == CatalogCode.UNKNOWN_SKU
                ],
            },
        )
    for code, title, field_msg in (
        (CouponCode.UNKNOWN_COUPON, "Unknown coupon", "not one of your coupons"),
        (OrderCode.COUPON_NEEDS_MEMBER, "Coupons need a member", "coupons need member_code"),
        (OrderCode.POINTS_NEED_MEMBER, "Points need a member", "points need member_code"),
    ):
        if code in codes:
            field = "points" if code == OrderCode.POINTS_NEED_MEMBER else "coupon_ids"
            fields = [
                {"field": field, "message": f"{p.get('coupon_id', '')} {field_msg}".strip()}
                for p in problems
                if p["code"] == code
            ]
            raise ValidationFailed(title, code=code, details={"problems": problems, "fields": fields})
    first = problems[0]
    status_codes = {
        InventoryCode.OUT_OF_STOCK: "Not enough stock",
        CatalogCode.CONSULT_ONLY: "Consult-only goods cannot be ordered online",
        CatalogCode.OFF_SALE: "A product is not on sale",
        OrderCode.STORE_CLOSED: "The store is closed now",
        OrderCode.STORE_UNAVAILABLE: "The store does not take orders",
        OrderCode.NO_STORE_IN_RANGE: "No store serves you",
        OrderCode.OUT_OF_DELIVERY_RANGE: "The address is outside the store's delivery range",
        OrderCode.BELOW_MINIMUM_ORDER: "Below the store's minimum order for delivery",
        CouponCode.COUPON_UNAVAILABLE: "The coupon is already used or held by another order",
        CouponCode.COUPON_EXPIRED: "The coupon has expired",
        CouponCode.COUPON_NOT_YET_VALID: "The coupon is not valid yet",
        PricingCode.COUPON_NOT_APPLICABLE: "The coupon cannot be used on this order",
    }
    details: dict[str, Any] = {"problems": problems}
    if first["code"] == InventoryCode.OUT_OF_STOCK:
        details["short"] = [
            {k: p[k] for k in ("sku", "requested", "available", "store_id")}
            for p in problems
            if p["code"] == InventoryCode.OUT_OF_STOCK
        ]
    raise Conflict(status_codes.get(first["code"], "The order cannot be placed"), code=first["code"], details=details)


# --------------------------------------------------------------------------------------- placing an order
def _order_lines(priced: Priced, products: Mapping[str, Sellable]) -> list[dict]:
    """The priced lines, each with the product's cost at the time of sale (reports' cost and margin)."""
    return [
        {**ln.as_dict(), "refunded_qty": 0, "refunded_fen": 0, "unit_cost_fen": _unit_cost(products, ln.sku)}
        for ln in priced.lines
    ]


def _unit_cost(products: Mapping[str, Sellable], sku: str) -> int:
    p = products.get(sku)
    return int(p.cost_fen or 0) if p is not None else 0


def _commit_new_order(item: OrderItem, plan: _Plan, kind: str, viewer: Principal, reported: list[str]) -> OrderOut:
    """One transaction: stock out of the store (+ ledger, StockMoved), the chosen coupons locked (a till sale:
    used), the points redeemed, a till sale's wallet payment, the order, its events (``reported``: event types
    carrying the order's snapshot), the Idempotency-Key marker."""
    out = order_out(item, viewer)
    claim = idempotency.current()
    try:
        with transaction() as tx:
            stock_repo.add_movement(
                tx,
                plan.store_id,
                stock_domain.movement_deltas(kind, plan.stock_out),
                kind,
                ref_type="order",
                ref_id=item.order_id,
                actor=viewer.sub,
            )
            coupons.add_locks(tx, item.member_id, plan.coupon_ids, item.order_id, final=item.channel == "pos")
            _add_member_effects(tx, item, plan)
            if item.status == domain.COMPLETED:  # a till sale is paid at once: its commission records now
                distribution.add_commissions(tx, commission_order(item))
            repository.add_order(tx, item)
            events.add(tx, [Event(t, snapshot(item)) for t in reported])
            if claim is not None:
                claim.add_to(tx, 201, out.model_dump(mode="json"))
    except TxCancelled as e:
        raise _refusal(e, item, plan)
    metrics.count("OrdersCreated", channel=item.channel, store_id=plan.store_id)
    return out


def _add_member_effects(tx, item: OrderItem, plan: _Plan) -> None:
    """The member's points redeemed by the order and, for a till sale paid from the wallet, the wallet debit."""
    if plan.points_redeemed:
        points_repo.add_redeem(tx, item.member_id, plan.points_redeemed, "order", item.order_id)
    paid = (item.payment or {}).get("wallet")
    if paid:
        wallet_repo.add_payment(tx, item.member_id, paid["principal_fen"], paid["bonus_fen"], "order", item.order_id)


def _refusal(e: TxCancelled, item: OrderItem, plan: _Plan) -> Exception:
    if idempotency.MARKER_TAG in e.failed:
        return idempotency.Replay()
    if any(t and t[0] == "stock" for t in e.failed):
        return out_of_stock(plan.store_id, plan.stock_out, e.failed)
    taken = [t[1] for t in e.failed if t and t[0] == "coupon"]
    if taken:
        return Conflict(
            "The coupon was just used by another order (or has expired)",
            code=CouponCode.COUPON_UNAVAILABLE,
            details={"coupon_ids": taken},
        )
    if item.member_id and points_repo.balance_tag(item.member_id) in e.failed:
        return Conflict("Not enough points (they were just used)", code=PointsCode.INSUFFICIENT_POINTS)
    if item.member_id and wallet_repo.balance_tag(item.member_id) in e.failed:
        return wallet_domain.insufficient(int(item.payable_fen), plan.wallet or wallet_domain.Balance(0, 0))
    return e


def create_order(principal: Principal, cmd: ShopQuoteIn) -> OrderOut:
    plan = _shop_plan(principal, cmd, checkout=True)
    if plan.problems:
        _refuse(plan.problems)
    now = clock.now()
    deadline = clock.iso(now + timedelta(seconds=get_settings().pay_deadline_s))
    order_id = new_id()
    item = repository.new_order(
        order_id,
        dict(
            channel="shop",
            status=domain.PENDING_PAYMENT,
            store_id=plan.store_id,
            member_id=principal.sub,
            fulfillment=cmd.fulfillment,
            lines=_order_lines(plan.priced, plan.products),
            subtotal_fen=plan.priced.subtotal_fen,
            discount_fen=plan.priced.discount_fen,
            delivery_fee_fen=plan.delivery_fee_fen,
            payable_fen=plan.payable_fen,
            refunded_fen=0,
            applied=plan.priced.applied,
            member_level=plan.member_level,
            pickup_code=domain.new_pickup_code() if cmd.fulfillment == "pickup" else None,
            pay_deadline=deadline,
            address=cmd.address.model_dump() | cmd.location.model_dump() if cmd.address else None,
            note=cmd.note,
            created_by=principal.sub,
            referral=plan.referral,
        ),
    )
    return _commit_new_order(item, plan, "order_hold", principal, ["OrderCreated"])


# --------------------------------------------------------------------------------------- POS
def _pos_plan(
    principal: Principal, cmd: PosQuoteIn, checkout: bool = False, by_wallet: bool = False
) -> tuple[_Plan, str | None]:
    """``by_wallet``: a sale paid from the member's wallet, whose balance is read with the cart."""
    member_id = identity.resolve_code(cmd.member_code)
    cart = cart_of(cmd.lines)
    store_id = principal.store_id
    pricing = checkout_pricing.prepare("pos", cart, member_id, cmd.coupon_ids, cmd.points, by_wallet)
    extra = pricing.keys([store_id]) + (distribution.checkout_keys(member_id) if checkout else [])
    products, stock, got = _load(cart, [store_id], extra=extra, checkout=checkout)
    problems = _product_problems(cart, products, "pos")
    problems += [
        {"code": InventoryCode.OUT_OF_STOCK, "store_id": store_id, **x}
        for x in domain.shortages(cart, stock.get(store_id, {}))
        if x["sku"] in products
    ]
    priced, pricing_problems = pricing.price(_lines(cart, products), store_id, got, stock.get(store_id, {}), cart)
    plan = _Plan(store_id, cart, products, priced, problems + pricing_problems, None, pricing)
    if checkout:
        plan.referral = _referral(got, member_id, products)
    return plan, member_id


def pos_quote(principal: Principal, cmd: PosQuoteIn) -> QuoteOut:
    return _pos_plan(principal, cmd)[0].quote()


def _cash(pay, payable: int) -> dict[str, Any]:
    if pay.tendered_fen is None:
        return {}
    if pay.tendered_fen < payable:
        raise ValidationFailed(
            "Less cash than the total",
            code=OrderCode.CASH_SHORT,
            details={"fields": [{"field": "payment.tendered_fen", "message": f"at least {payable}"}]},
        )
    return {"tendered_fen": pay.tendered_fen, "change_fen": pay.tendered_fen - payable}


def _scan_charge(pay, payable: int, order_id: str):
    """Charge the customer's payment code. With an Idempotency-Key the trade number WeChat sees is derived from
    the key, so a till that retries after a timeout asks WeChat about the same trade instead of charging twice."""
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    claim = idempotency.current()
    if claim is not None and idempotency.used(claim):
        raise idempotency.Replay()  # answered before: do not charge again
    trade_no = ("P" + claim.pk.removeprefix("IDEM#")[:31]) if claim is not None else order_id
    charge = get_client().micropay(
        order_id=trade_no, amount_fen=payable, auth_code=pay.auth_code, description="门店消费"
    )
    return charge, {"transaction_id": charge.transaction_id, "trade_no": trade_no}


def _wallet_split(member_id: str | None, payable: int, plan: _Plan) -> dict[str, Any]:
    """A till sale paid from the member's wallet: principal and bonus in proportion to the balances read with
    the cart (409 INSUFFICIENT_BALANCE when short; the debit's condition decides if they changed meanwhile)."""
    if member_id is None:
        raise ValidationFailed(
            "Paying from the wallet needs the member's code",
            code=OrderCode.WALLET_NEEDS_MEMBER,
            details={"fields": [{"field": "member_code", "message": "required for payment.method wallet"}]},
        )
    principal, bonus = wallet_domain.split(payable, plan.wallet or wallet_domain.Balance(0, 0))
    return {"wallet": {"principal_fen": principal, "bonus_fen": bonus}}


def _undo_charge(trade_no: str, payable: int) -> None:
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    get_client().refund(
        order_id=trade_no, refund_id=new_id(), amount_fen=payable, total_fen=payable, reason="库存不足，交易撤销"
    )


def pos_sale(principal: Principal, cmd: PosSaleIn) -> OrderOut:
    """A completed sale at the till, from the same stock and the same pricing as online orders.
    wechat_scan charges the customer's payment code first; if the stock is then gone, it is refunded."""
    plan, member_id = _pos_plan(principal, cmd, checkout=True, by_wallet=cmd.payment.method == "wallet")
    if plan.problems:
        _refuse(plan.problems)
    payable = plan.priced.payable_fen
    pay = cmd.payment
    order_id = new_id()
    now = clock.iso(clock.now())
    payment: dict[str, Any] = {"method": pay.method, "amount_fen": payable, "paid_at": now}
    charge = None
    if pay.method == "wallet":
        payment |= _wallet_split(member_id, payable, plan)
    elif pay.method == "cash":
        payment |= _cash(pay, payable)
    elif pay.method == "wechat_scan":
        charge, charged = _scan_charge(pay, payable, order_id)
        payment |= charged
    item = repository.new_order(
        order_id,
        dict(
            channel="pos",
            status=domain.COMPLETED,
            store_id=principal.store_id,
            member_id=member_id,
            fulfillment="instore",
            lines=_order_lines(plan.priced, plan.products),
            subtotal_fen=plan.priced.subtotal_fen,
            discount_fen=plan.priced.discount_fen,
            payable_fen=payable,
            refunded_fen=0,
            applied=plan.priced.applied,
            member_level=plan.member_level,
            payment=payment,
            paid_at=now,
            completed_at=now,
            created_by=principal.sub,
            referral=plan.referral,
        ),
    )
    try:
        return _commit_new_order(item, plan, "sale", principal, ["OrderPaid", "OrderCompleted"])
    except Exception:
        if charge is not None:
            _undo_charge(payment["trade_no"], payable)
        raise
