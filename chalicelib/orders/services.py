"""Order use cases: quote, checkout, payment, cancel and the unpaid sweep, fulfilment, POS sales, refunds.

A checkout is one BatchGetItem (products and stock of the cart in the chosen store) and one
TransactWriteItems (every stock decrement with its ledger movement, the order, the Idempotency-Key
marker). Events are written in the same transaction (outbox).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from chalicelib.catalog.models import ProductItem, product_pk
from chalicelib.core import clock, events, idempotency
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, batch_get, get_mark, set_mark, transaction
from chalicelib.coupons import services as coupons
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.events import Event
from chalicelib.core.ids import is_ulid, new_id
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.inventory import domain as stock_domain
from chalicelib.inventory import repository as stock_repo
from chalicelib.inventory.models import StockItem, stock_sk
from chalicelib.inventory.services import out_of_stock
from chalicelib.orders import domain, repository
from chalicelib.orders.models import OrderItem, RefundItem
from chalicelib.orders.schemas import (OrderOut, PosQuoteIn, PosSaleIn, PrepayOut, QuoteOut, RefundIn, RefundOut,
                                       ShopQuoteIn)
from chalicelib.pricing import services as pricing_services
from chalicelib.pricing.domain import CartLine, Priced
from chalicelib.stores import domain as store_domain
from chalicelib.stores import services as stores
from chalicelib.stores.models import store_pk

META = "META"


# --------------------------------------------------------------------------------------- reading a cart
def _cart(lines: Iterable) -> dict[str, int]:
    return stock_domain.merge_lines((ln.sku, ln.qty) for ln in lines)


BATCH_KEYS = 100   # one BatchGetItem


def _load(cart: Mapping[str, int], store_ids: Iterable[str], with_products: bool = True,
          extra: Iterable[tuple[str, str]] = (), checkout: bool = False
          ) -> tuple[dict[str, ProductItem], dict[str, dict[str, int]], dict]:
    """Products of the cart, their stock in each store and ``extra`` keys (coupons, member, gift stock):
    one BatchGetItem up to 100 keys.

    A checkout into one store whose keys would overflow one call (a 50-line cart is already 100 keys; a
    coupon makes 101) does not read the stock of its last lines: the transaction's ``qty >= n`` conditions
    are the real check anyway, and a shortage there is the same 409 OUT_OF_STOCK. So a checkout stays at one
    BatchGetItem + one TransactWriteItems whatever the cart (docs/pricing.md, "Round trips")."""
    store_ids = list(store_ids)
    keys = [(product_pk(s), META) for s in cart] if with_products else []
    keys += [k for k in extra if k not in keys]
    stock_keys = [(store_pk(st), stock_sk(s)) for st in store_ids for s in cart]
    stock_keys = [k for k in stock_keys if k not in keys]
    unread: list[tuple[str, str]] = []
    if checkout and len(store_ids) == 1 and len(keys) + len(stock_keys) > BATCH_KEYS:
        room = max(0, BATCH_KEYS - len(keys))
        stock_keys, unread = stock_keys[:room], stock_keys[room:]
    got = batch_get(keys + stock_keys)
    products = {i.sku: i for i in got.values() if isinstance(i, ProductItem)}
    stock: dict[str, dict[str, int]] = {st: {} for st in store_ids}
    for i in got.values():
        if isinstance(i, StockItem):
            stock.setdefault(i.store_id, {})[i.sku] = int(i.qty or 0)
    for pk, sk in unread:   # not read: assume enough, the transaction decides
        sku = sk.removeprefix("STOCK#")
        stock[store_ids[0]][sku] = cart[sku]
    return products, stock, got


def _product_problems(cart: Mapping[str, int], products: Mapping[str, ProductItem], channel: str) -> list[dict]:
    problems = []
    for sku in cart:
        p = products.get(sku)
        if p is None:
            problems.append({"code": "UNKNOWN_SKU", "sku": sku})
        elif p.status != "on_sale":
            problems.append({"code": "OFF_SALE", "sku": sku})
        elif channel == "shop" and p.consult_only:
            problems.append({"code": "CONSULT_ONLY", "sku": sku, "contact_hint": p.contact_hint})
    return problems


def _lines(cart: Mapping[str, int], products: Mapping[str, ProductItem]) -> list[CartLine]:
    return [CartLine(sku=sku, name=products[sku].name, qty=qty, unit_price_fen=int(products[sku].price_fen),
                     category=products[sku].category) for sku, qty in cart.items() if sku in products]


def _stock_quantities(priced: Priced) -> dict[str, int]:
    """Units leaving the store: every line, gifts included (a gift sku may also be a paid line)."""
    return stock_domain.merge_lines((ln.sku, ln.qty) for ln in priced.lines)


def _store_infos(location) -> list[domain.StoreInfo]:
    local = clock.business_now()
    out = []
    for s in stores.chain():
        dist = (store_domain.distance_m(location.lat, location.lng, float(s.lat), float(s.lng))
                if location is not None else None)
        out.append(domain.StoreInfo(store_id=s.store_id, name=s.name, distance_m=dist,
                                    open_now=store_domain.is_open(store_domain.periods_from(s.opening_hours), local),
                                    active=s.status == "active", delivery_radius_m=int(s.delivery_radius_m),
                                    pickup_radius_m=int(s.pickup_radius_m)))
    return out


class _Plan:
    """Everything a quote or an order needs: where, what, at which price, and what is wrong."""

    def __init__(self, store_id: str | None, cart: dict[str, int], products: dict, priced: Priced | None,
                 problems: list[dict], suggested: str | None):
        self.store_id, self.cart, self.products = store_id, cart, products
        self.priced, self.problems, self.suggested = priced, problems, suggested

    @property
    def stock_out(self) -> dict[str, int]:
        return _stock_quantities(self.priced)

    @property
    def coupon_ids(self) -> list[str]:
        return self.priced.coupon_ids() if self.priced else []

    def quote(self) -> QuoteOut:
        priced = self.priced
        return QuoteOut(store_id=self.store_id, lines=[ln.as_dict() for ln in priced.lines] if priced else [],
                        subtotal_fen=priced.subtotal_fen if priced else 0,
                        discount_fen=priced.discount_fen if priced else 0,
                        payable_fen=priced.payable_fen if priced else 0,
                        applied=priced.applied if priced else [], hints=priced.hints if priced else [],
                        problems=self.problems, suggested_store_id=self.suggested)


def _shop_plan(principal: Principal, cmd: ShopQuoteIn, checkout: bool = False) -> _Plan:
    cart = _cart(cmd.lines)
    infos = _store_infos(cmd.location)
    if cmd.store_id is not None:
        candidates = [cmd.store_id] + [s.store_id for s in domain.alternatives(infos, cmd.fulfillment, cmd.store_id)]
    else:
        candidates = [s.store_id for s in infos if s.active and s.open_now and domain.in_range(s, cmd.fulfillment)]
    pricing = pricing_services.prepare("shop", cart, principal.sub, cmd.coupon_ids)
    # With a chosen store the batch holds its stock only, unless it falls short (then the others are read
    # to suggest one): the common checkout stays at one BatchGetItem.
    read = candidates[:1] if cmd.store_id else candidates
    products, stock, got = _load(cart, read, extra=pricing.keys(read), checkout=checkout)
    problems = _product_problems(cart, products, "shop")
    routed = domain.route(cart, cmd.fulfillment, infos, stock, chosen=cmd.store_id)
    if cmd.store_id and any(p["code"] == "OUT_OF_STOCK" for p in routed.problems) and len(candidates) > 1:
        _, more, _ = _load(cart, candidates[1:], with_products=False)
        routed = domain.route(cart, cmd.fulfillment, infos, {**stock, **more}, chosen=cmd.store_id)
    priced, pricing_problems = pricing.price(_lines(cart, products), routed.store_id, got,
                                             stock.get(routed.store_id) if routed.store_id else None, cart)
    return _Plan(routed.store_id, cart, products, priced, problems + routed.problems + pricing_problems,
                 routed.suggested_store_id)


def shop_quote(principal: Principal, cmd: ShopQuoteIn) -> QuoteOut:
    return _shop_plan(principal, cmd).quote()


def _refuse(problems: list[dict]) -> None:
    """Turn a quote's problems into the order's error. If this request's Idempotency-Key was already used
    (a retry after a lost response: its own order now holds the stock and the coupon), replay instead."""
    claim = idempotency.current()
    if claim is not None and idempotency.used(claim):
        raise idempotency.Replay()
    codes = [p["code"] for p in problems]
    if "UNKNOWN_SKU" in codes:
        raise ValidationFailed("Unknown sku", code="UNKNOWN_SKU", details={"problems": problems, "fields": [
            {"field": "lines", "message": f"unknown sku {p['sku']}"} for p in problems if p["code"] == "UNKNOWN_SKU"]})
    for code, title, field_msg in (("UNKNOWN_COUPON", "Unknown coupon", "not one of your coupons"),
                                   ("COUPON_NEEDS_MEMBER", "Coupons need a member", "coupons need member_code")):
        if code in codes:
            fields = [{"field": "coupon_ids", "message": f"{p.get('coupon_id', '')} {field_msg}".strip()}
                      for p in problems if p["code"] == code]
            raise ValidationFailed(title, code=code, details={"problems": problems, "fields": fields})
    first = problems[0]
    status_codes = {"OUT_OF_STOCK": "Not enough stock", "CONSULT_ONLY": "Consult-only goods cannot be ordered online",
                    "OFF_SALE": "A product is not on sale", "STORE_CLOSED": "The store is closed now",
                    "STORE_UNAVAILABLE": "The store does not take orders", "NO_STORE_IN_RANGE": "No store serves you",
                    "OUT_OF_DELIVERY_RANGE": "The address is outside the store's delivery range",
                    "COUPON_UNAVAILABLE": "The coupon is already used or held by another order",
                    "COUPON_EXPIRED": "The coupon has expired", "COUPON_NOT_YET_VALID": "The coupon is not valid yet",
                    "COUPON_NOT_APPLICABLE": "The coupon cannot be used on this order"}
    details: dict[str, Any] = {"problems": problems}
    if first["code"] == "OUT_OF_STOCK":
        details["short"] = [{k: p[k] for k in ("sku", "requested", "available", "store_id")}
                            for p in problems if p["code"] == "OUT_OF_STOCK"]
    raise Conflict(status_codes.get(first["code"], "The order cannot be placed"), code=first["code"], details=details)


# --------------------------------------------------------------------------------------- order views
def order_out(o: OrderItem, viewer: Principal | None = None) -> OrderOut:
    # Staff verify the pickup code the customer shows them; they never see it themselves.
    show_code = viewer is None or viewer.is_member
    return OrderOut(order_id=o.order_id, channel=o.channel, status=o.status, store_id=o.store_id, member_id=o.member_id,
                    fulfillment=o.fulfillment, lines=o.lines, subtotal_fen=int(o.subtotal_fen),
                    discount_fen=int(o.discount_fen), payable_fen=int(o.payable_fen),
                    refunded_fen=int(o.refunded_fen or 0), applied=o.applied or [],
                    pickup_code=o.pickup_code if show_code else None, pay_deadline=o.pay_deadline, payment=o.payment,
                    address=o.address, note=o.note, created_at=o.created_at, paid_at=o.paid_at,
                    completed_at=o.completed_at, cancelled_at=o.cancelled_at, cancel_reason=o.cancel_reason)


def snapshot(o: OrderItem) -> dict[str, Any]:
    """What event consumers (printing, SMS, points, commissions) need, so they never read our items."""
    return {"order_id": o.order_id, "channel": o.channel, "status": o.status, "store_id": o.store_id,
            "member_id": o.member_id, "fulfillment": o.fulfillment, "lines": o.lines,
            "subtotal_fen": int(o.subtotal_fen), "discount_fen": int(o.discount_fen),
            "payable_fen": int(o.payable_fen), "refunded_fen": int(o.refunded_fen or 0), "applied": o.applied or [],
            "pickup_code": o.pickup_code, "address": o.address, "customer": o.customer, "payment": o.payment,
            "note": o.note, "created_at": clock.iso(o.created_at)}


def _order_lines(priced: Priced) -> list[dict]:
    return [{**ln.as_dict(), "refunded_qty": 0, "refunded_fen": 0} for ln in priced.lines]


def _commit_new_order(item: OrderItem, store_id: str, cart: Mapping[str, int], kind: str, actor: str,
                      viewer: Principal, coupon_ids: list[str], reported: list[str]) -> OrderOut:
    """One transaction: stock out of the store (+ ledger, StockMoved), the chosen coupons locked (a till sale:
    used), the order, its events (``reported``: event types carrying the order's snapshot), the Idempotency-Key
    marker."""
    out = order_out(item, viewer)
    claim = idempotency.current()
    try:
        with transaction() as tx:
            stock_repo.add_movement(tx, store_id, stock_domain.movement_deltas(kind, cart), kind, ref_type="order",
                                    ref_id=item.order_id, actor=actor)
            coupons.add_locks(tx, item.member_id, coupon_ids, item.order_id, final=item.channel == "pos")
            repository.add_order(tx, item)
            events.add(tx, [Event(t, snapshot(item)) for t in reported])
            if claim is not None:
                claim.add_to(tx, 201, out.model_dump(mode="json"))
    except TxCancelled as e:
        if idempotency.MARKER_TAG in e.failed:
            raise idempotency.Replay()
        if any(t and t[0] == "stock" for t in e.failed):
            raise out_of_stock(store_id, cart, e.failed)
        taken = [t[1] for t in e.failed if t and t[0] == "coupon"]
        if taken:
            raise Conflict("The coupon was just used by another order (or has expired)", code="COUPON_UNAVAILABLE",
                           details={"coupon_ids": taken})
        raise
    return out


def create_order(principal: Principal, cmd: ShopQuoteIn) -> OrderOut:
    plan = _shop_plan(principal, cmd, checkout=True)
    if plan.problems:
        _refuse(plan.problems)
    now = clock.now()
    deadline = clock.iso(now + timedelta(seconds=get_settings().pay_deadline_s))
    order_id = new_id()
    item = repository.new_order(order_id, dict(
        channel="shop", status=domain.PENDING_PAYMENT, store_id=plan.store_id, member_id=principal.sub,
        fulfillment=cmd.fulfillment, lines=_order_lines(plan.priced), subtotal_fen=plan.priced.subtotal_fen,
        discount_fen=plan.priced.discount_fen, payable_fen=plan.priced.payable_fen, refunded_fen=0,
        applied=plan.priced.applied, pickup_code=domain.new_pickup_code() if cmd.fulfillment == "pickup" else None,
        pay_deadline=deadline, address=cmd.address.model_dump() | cmd.location.model_dump() if cmd.address else None,
        note=cmd.note, created_by=principal.sub))
    return _commit_new_order(item, plan.store_id, plan.stock_out, "order_hold", principal.sub, principal,
                             plan.coupon_ids, ["OrderCreated"])


# --------------------------------------------------------------------------------------- reading orders
def _get(order_id: str) -> OrderItem:
    item = repository.get(order_id)
    if item is None:
        raise NotFound("No such order", code="ORDER_NOT_FOUND")
    return item


def _member_order(principal: Principal, order_id: str) -> OrderItem:
    item = _get(order_id)
    if item.member_id != principal.sub:
        # Someone else's order: the same answer as an unknown one, so order ids cannot be probed.
        raise NotFound("No such order", code="ORDER_NOT_FOUND")
    return item


def _store_order(principal: Principal, order_id: str) -> OrderItem:
    item = _get(order_id)
    principal.require_store(item.store_id)
    return item


def get_member_order(principal: Principal, order_id: str) -> OrderOut:
    return order_out(_member_order(principal, order_id), principal)


def list_member_orders(principal: Principal, status: str | None, limit: int, cursor: str | None) -> PageOut[OrderOut]:
    pg = repository.member_page(principal.sub, status, limit, cursor)
    return PageOut[OrderOut](items=[order_out(o, principal) for o in pg.items], next=pg.next)


def list_store_orders(principal: Principal, status: str | None, limit: int, cursor: str | None) -> PageOut[OrderOut]:
    pg = repository.store_page(principal.store_id, status, limit, cursor)
    return PageOut[OrderOut](items=[order_out(o, principal) for o in pg.items], next=pg.next)


def get_store_order(principal: Principal, order_id: str) -> OrderOut:
    return order_out(_store_order(principal, order_id), principal)


# --------------------------------------------------------------------------------------- payment
def pay(principal: Principal, order_id: str, method: str) -> PrepayOut:
    item = _member_order(principal, order_id)
    domain.transition(item.status, "pay")
    if item.pay_deadline and item.pay_deadline <= clock.iso(clock.now()):
        raise Conflict("The time to pay this order has passed", code="PAY_DEADLINE_PASSED")
    if method == "wallet":
        raise Conflict("Wallet payment is not available yet", code="PAYMENT_METHOD_UNAVAILABLE")
    from chalicelib.identity import repository as members
    from chalicelib.payments.client import get_client

    member = members.get_member(principal.sub)
    prepay = get_client().prepay(order_id=item.order_id, amount_fen=int(item.payable_fen),
                                 description=_description(item), openid=member.openid,
                                 expires_at=datetime.fromisoformat(item.pay_deadline.replace("Z", "+00:00")))
    return PrepayOut(order_id=item.order_id, method="wechat", prepay=prepay.as_dict())


def _description(item: OrderItem) -> str:
    first = item.lines[0]["name"] if item.lines else "订单"
    more = f"等{len(item.lines)}件" if len(item.lines) > 1 else ""
    return (first + more)[:120]


def apply_payment(order_id: str, transaction_id: str, amount_fen: int, method: str, paid_at: str | None) -> str:
    """Apply a provider's payment to an order exactly once. Returns ``applied``, ``duplicate`` or ``late``
    (the order was no longer payable: the money is refunded). A wrong amount changes nothing."""
    record = repository.get_payment_record(transaction_id)
    if record is not None:
        return "duplicate"
    item = repository.get(order_id)
    if item is None:
        raise NotFound("No such order", code="ORDER_NOT_FOUND")
    if int(item.payable_fen) != amount_fen:
        logger.error("payment amount mismatch", extra={"order_id": order_id, "expected": int(item.payable_fen),
                                                       "got": amount_fen, "transaction_id": transaction_id})
        raise Conflict("The paid amount does not match the order", code="AMOUNT_MISMATCH")
    paid_at = paid_at or clock.iso(clock.now())
    payment = {"method": method, "transaction_id": transaction_id, "amount_fen": amount_fen, "paid_at": paid_at}
    if item.status != domain.PENDING_PAYMENT:
        if item.payment and item.payment.get("transaction_id") == transaction_id:
            return "duplicate"
        return _late_payment(item, payment)
    customer = _customer(item.member_id)
    try:
        with transaction() as tx:
            repository.change(tx, item, domain.PENDING_PAYMENT, [
                OrderItem.status.set(domain.PAID), OrderItem.payment.set(payment), OrderItem.paid_at.set(paid_at),
                OrderItem.customer.set(customer)] + repository.leave_due_index())
            repository.add_payment_record(tx, transaction_id, order_id, method, amount_fen, "applied")
            item.status, item.payment, item.paid_at, item.customer = domain.PAID, payment, paid_at, customer
            events.add(tx, [Event("OrderPaid", snapshot(item))])
    except TxCancelled:
        return apply_payment(order_id, transaction_id, amount_fen, method, paid_at)  # lost a race: re-read
    return "applied"


def _customer(member_id: str | None) -> dict | None:
    if not member_id:
        return None
    from chalicelib.identity import repository as members
    from chalicelib.identity.domain import mask_phone

    m = members.get_member(member_id)
    return {"nickname": m.nickname, "phone": m.phone, "phone_masked": mask_phone(m.phone)} if m else None


def _late_payment(item: OrderItem, payment: dict) -> str:
    """Money arrived for an order that was cancelled (or paid twice): record it once and give it back."""
    refund_id = new_id()
    try:
        with transaction() as tx:
            repository.add_payment_record(tx, payment["transaction_id"], item.order_id, payment["method"],
                                          payment["amount_fen"], "late")
            events.add(tx, [Event("LatePaymentRefunded", {"order_id": item.order_id, "store_id": item.store_id,
                                                          "member_id": item.member_id,
                                                          "amount_fen": payment["amount_fen"], "refund_id": refund_id})])
    except TxCancelled:
        return "duplicate"
    from chalicelib.payments.client import get_client

    result = get_client().refund(order_id=item.order_id, refund_id=refund_id, amount_fen=payment["amount_fen"],
                                 total_fen=payment["amount_fen"], reason="订单已取消，自动退款")
    logger.warning("late payment refunded", extra={"order_id": item.order_id, "refund_status": result.status})
    return "late"


# --------------------------------------------------------------------------------------- cancel + sweep
def _cancel(item: OrderItem, reason: str, actor: str) -> OrderItem:
    """One transaction: the order CANCELLED (if still unpaid), its stock back (gift lines included), its
    coupons released (only while this order holds them)."""
    cart = stock_domain.merge_lines((ln["sku"], int(ln["qty"])) for ln in item.lines)
    now = clock.iso(clock.now())
    release = coupons.coupon_ids_of(item.applied) if item.member_id else []
    while True:
        try:
            with transaction() as tx:
                repository.change(tx, item, domain.PENDING_PAYMENT, [
                    OrderItem.status.set(domain.CANCELLED), OrderItem.cancelled_at.set(now),
                    OrderItem.cancel_reason.set(reason)] + repository.leave_due_index())
                stock_repo.add_movement(tx, item.store_id, stock_domain.movement_deltas("release", cart), "release",
                                        ref_type="order", ref_id=item.order_id, actor=actor)
                coupons.add_releases(tx, item.member_id, release, item.order_id)
                events.add(tx, [Event("OrderCancelled", {**snapshot(item), "status": domain.CANCELLED,
                                                         "cancelled_at": now, "cancel_reason": reason})])
            break
        except TxCancelled as e:
            stray = [t[1] for t in e.failed if t and t[0] == "coupon"]
            if not stray or any(t and t[0] != "coupon" for t in e.failed):
                raise
            # A coupon this order no longer holds must not block the cancel (nor be released).
            logger.warning("coupon not held by the cancelled order", extra={"order_id": item.order_id,
                                                                              "coupon_ids": stray})
            release = [c for c in release if c not in stray]
    item.status, item.cancelled_at, item.cancel_reason = domain.CANCELLED, now, reason
    return item


def cancel_by_member(principal: Principal, order_id: str) -> OrderOut:
    item = _member_order(principal, order_id)
    domain.transition(item.status, "cancel")
    try:
        return order_out(_cancel(item, "customer", principal.sub), principal)
    except TxCancelled:
        raise Conflict("The order changed meanwhile (was it just paid?)", code="ILLEGAL_STATE",
                       details={"status": _get(order_id).status})


def sweep_unpaid(now: datetime | None = None, max_hours_back: int = 48) -> dict[str, int]:
    """Cancel every unpaid order whose deadline has passed and return its stock.

    Reads only the due hour buckets of the sparse gsi3 (from the last fully swept hour to now), never the
    whole table. Safe to run concurrently or twice: each cancel is conditional on PENDING_PAYMENT.
    """
    now = now or clock.now()
    until = clock.iso(now)
    last = get_mark("unpaid")
    start = now - timedelta(hours=max_hours_back)
    if last:
        start = max(start, datetime.fromisoformat(last + ":00:00+00:00") + timedelta(hours=1))
    hour = start.replace(minute=0, second=0, microsecond=0)
    cancelled = read = 0
    while hour <= now:
        bucket = f"DUE#{hour.strftime('%Y-%m-%dT%H')}"
        for item in repository.due(bucket, until):
            read += 1
            try:
                _cancel(item, "payment_timeout", "system")
                cancelled += 1
            except TxCancelled:
                pass  # paid or cancelled meanwhile
        hour += timedelta(hours=1)
    previous_hour = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H")
    if last is None or previous_hour > last:
        set_mark("unpaid", previous_hour)
    return {"read": read, "cancelled": cancelled}


# --------------------------------------------------------------------------------------- fulfilment
def fulfil(principal: Principal, order_id: str, action: str, pickup_code: str | None = None) -> OrderOut:
    item = _store_order(principal, order_id)
    to = domain.transition(item.status, action, item.fulfillment)
    if action == "complete" and item.fulfillment == "pickup" and item.status == domain.READY:
        if pickup_code is None:
            raise ValidationFailed("The customer's pickup code is required", code="PICKUP_CODE_REQUIRED",
                                   details={"fields": [{"field": "pickup_code", "message": "required"}]})
        import hmac

        if not hmac.compare_digest(pickup_code, item.pickup_code or ""):
            raise Conflict("The pickup code does not match this order", code="PICKUP_CODE_MISMATCH")
    stamp = {"accept": "accepted_at", "ready": "ready_at", "deliver": "delivering_at", "complete": "completed_at"}[action]
    now = clock.iso(clock.now())
    reported = {"accept": "OrderAccepted", "ready": "OrderReady", "deliver": "OrderDelivering",
                "complete": "OrderCompleted"}[action]
    try:
        with transaction() as tx:
            repository.change(tx, item, item.status, [OrderItem.status.set(to), getattr(OrderItem, stamp).set(now)])
            item.status = to
            setattr(item, stamp, now)
            events.add(tx, [Event(reported, snapshot(item))])
    except TxCancelled:
        raise Conflict("The order changed meanwhile; reload it", code="ILLEGAL_STATE")
    return order_out(item, principal)


# --------------------------------------------------------------------------------------- POS
def _member_for_code(code: str | None) -> str | None:
    """The member behind a POS member code. Until member codes exist (members issue), the code is the
    member id shown in the mini-program; that the member exists is checked with the cart's BatchGetItem."""
    if code is None:
        return None
    if not is_ulid(code):
        raise _unknown_member()
    return code


def _unknown_member() -> ValidationFailed:
    return ValidationFailed("Unknown member code", code="UNKNOWN_MEMBER",
                            details={"fields": [{"field": "member_code", "message": "no such member"}]})


def _pos_plan(principal: Principal, cmd: PosQuoteIn, checkout: bool = False) -> tuple[_Plan, str | None]:
    member_id = _member_for_code(cmd.member_code)
    cart = _cart(cmd.lines)
    store_id = principal.store_id
    pricing = pricing_services.prepare("pos", cart, member_id, cmd.coupon_ids, identify_member=member_id is not None)
    products, stock, got = _load(cart, [store_id], extra=pricing.keys([store_id]), checkout=checkout)
    if member_id is not None and pricing.member(got) is None:
        raise _unknown_member()
    problems = _product_problems(cart, products, "pos")
    problems += [{"code": "OUT_OF_STOCK", "store_id": store_id, **x}
                 for x in domain.shortages(cart, stock.get(store_id, {})) if x["sku"] in products]
    priced, pricing_problems = pricing.price(_lines(cart, products), store_id, got, stock.get(store_id, {}), cart)
    return _Plan(store_id, cart, products, priced, problems + pricing_problems, None), member_id


def pos_quote(principal: Principal, cmd: PosQuoteIn) -> QuoteOut:
    return _pos_plan(principal, cmd)[0].quote()


def pos_sale(principal: Principal, cmd: PosSaleIn) -> OrderOut:
    """A completed sale at the till, from the same stock and the same pricing as online orders.
    wechat_scan charges the customer's payment code first; if the stock is then gone, it is refunded."""
    plan, member_id = _pos_plan(principal, cmd, checkout=True)
    if plan.problems:
        _refuse(plan.problems)
    payable = plan.priced.payable_fen
    pay = cmd.payment
    order_id = new_id()
    now = clock.iso(clock.now())
    payment: dict[str, Any] = {"method": pay.method, "amount_fen": payable, "paid_at": now}
    if pay.method == "wallet":
        raise Conflict("Wallet payment is not available yet", code="PAYMENT_METHOD_UNAVAILABLE")
    if pay.method == "cash":
        if pay.tendered_fen is not None:
            if pay.tendered_fen < payable:
                raise ValidationFailed("Less cash than the total", code="CASH_SHORT", details={"fields": [
                    {"field": "payment.tendered_fen", "message": f"at least {payable}"}]})
            payment |= {"tendered_fen": pay.tendered_fen, "change_fen": pay.tendered_fen - payable}
    charge = None
    if pay.method == "wechat_scan":
        from chalicelib.payments.client import get_client

        # The trade number WeChat sees. With an Idempotency-Key it is derived from the key, so a till that
        # retries after a timeout asks WeChat about the same trade instead of charging the customer twice.
        claim = idempotency.current()
        if claim is not None and idempotency.used(claim):
            raise idempotency.Replay()   # answered before: do not charge again
        trade_no = ("P" + claim.pk.removeprefix("IDEM#")[:31]) if claim is not None else order_id
        charge = get_client().micropay(order_id=trade_no, amount_fen=payable, auth_code=pay.auth_code,
                                       description="门店消费")
        payment |= {"transaction_id": charge.transaction_id, "trade_no": trade_no}
    item = repository.new_order(order_id, dict(
        channel="pos", status=domain.COMPLETED, store_id=principal.store_id, member_id=member_id,
        fulfillment="instore", lines=_order_lines(plan.priced), subtotal_fen=plan.priced.subtotal_fen,
        discount_fen=plan.priced.discount_fen, payable_fen=payable, refunded_fen=0, applied=plan.priced.applied,
        payment=payment, paid_at=now, completed_at=now, created_by=principal.sub))
    try:
        out = _commit_new_order(item, principal.store_id, plan.stock_out, "sale", principal.sub, principal,
                                plan.coupon_ids, ["OrderPaid", "OrderCompleted"])
    except Exception:
        if charge is not None:
            from chalicelib.payments.client import get_client

            get_client().refund(order_id=payment["trade_no"], refund_id=new_id(), amount_fen=payable,
                                total_fen=payable, reason="库存不足，交易撤销")
        raise
    return out


# --------------------------------------------------------------------------------------- refunds
def refund_out(r: RefundItem) -> RefundOut:
    return RefundOut(refund_id=r.refund_id, order_id=r.order_id, status=r.status, lines=r.lines,
                     amount_fen=int(r.amount_fen), reason=r.reason, method=r.method, created_at=r.created_at)


def _requested(cmd: RefundIn) -> dict[str, int] | None:
    return _cart(cmd.lines) if cmd.lines else None


def request_refund(principal: Principal, order_id: str, cmd: RefundIn) -> RefundOut:
    """A customer's refund. Before the store has accepted the order it is refunded at once; afterwards it
    is a request the store settles at the till (POS refunds)."""
    item = _member_order(principal, order_id)
    if item.status == domain.PAID:
        return _execute_refund(item, _requested(cmd), cmd.reason, principal.sub)
    if item.status not in domain.REFUNDABLE:
        raise Conflict(f"An order that is {item.status} cannot be refunded", code="ILLEGAL_STATE")
    amounts = domain.refund_amounts(item.lines, _requested(cmd))
    r = repository.new_refund(item.order_id, new_id(), status="REQUESTED", reason=cmd.reason,
                              lines=[{"sku": s, "qty": q, "amount_fen": a} for s, (q, a) in amounts.items()],
                              amount_fen=sum(a for _, a in amounts.values()), requested_by=principal.sub)
    with transaction() as tx:
        repository.add_refund(tx, r)
        events.add(tx, [Event("RefundRequested", {"order_id": item.order_id, "store_id": item.store_id,
                                                  "refund_id": r.refund_id, "amount_fen": int(r.amount_fen)})])
    return refund_out(r)


def store_refund(principal: Principal, order_id: str, cmd: RefundIn) -> RefundOut:
    """A refund at the till: given lines (or everything left), or settling a customer's request."""
    item = _store_order(principal, order_id)
    if cmd.request_id is None:
        return _execute_refund(item, _requested(cmd), cmd.reason, principal.sub)
    req = repository.get_refund(order_id, cmd.request_id)
    if req is None or req.status != "REQUESTED":
        raise Conflict("No open refund request with this id", code="ILLEGAL_STATE")
    return _execute_refund(item, {ln["sku"]: int(ln["qty"]) for ln in req.lines}, req.reason, principal.sub, req)


def _execute_refund(item: OrderItem, requested: Mapping[str, int] | None, reason: str, actor: str,
                    settles: RefundItem | None = None) -> RefundOut:
    """One transaction: the order's refunded quantities and amounts (version-checked, so two refunds can
    never both take the same units), stock back to the order's store, the refund record."""
    if item.status not in domain.REFUNDABLE:
        raise Conflict(f"An order that is {item.status} cannot be refunded", code="ILLEGAL_STATE")
    amounts = domain.refund_amounts(item.lines, requested)
    total = sum(a for _, a in amounts.values())
    lines = []
    for ln in item.lines:
        if ln["sku"] in amounts and not ln.get("gift"):   # gift lines are not paid for, so never refunded
            q, a = amounts[ln["sku"]]
            ln = {**ln, "refunded_qty": int(ln.get("refunded_qty", 0)) + q, "refunded_fen": int(ln.get("refunded_fen", 0)) + a}
        lines.append(ln)
    refunded = int(item.refunded_fen or 0) + total
    everything = all(int(ln.get("refunded_qty", 0)) >= int(ln["qty"]) for ln in lines if not ln.get("gift"))
    new_status = domain.REFUNDED if everything else (
        domain.PARTIALLY_REFUNDED if item.status in (domain.COMPLETED, domain.PARTIALLY_REFUNDED) else item.status)
    method = (item.payment or {}).get("method", "cash")
    refund_id = new_id()
    r = repository.new_refund(item.order_id, refund_id, status="PROCESSING" if method.startswith("wechat") else "COMPLETED",
                              reason=reason, method=method, requested_by=actor,
                              lines=[{"sku": s, "qty": q, "amount_fen": a} for s, (q, a) in amounts.items()],
                              amount_fen=total)
    back = {s: q for s, (q, _) in amounts.items()}
    try:
        with transaction() as tx:
            repository.change(tx, item, item.status, [OrderItem.lines.set(lines), OrderItem.refunded_fen.set(refunded),
                                                      OrderItem.status.set(new_status)])
            stock_repo.add_movement(tx, item.store_id, stock_domain.movement_deltas("refund_return", back),
                                    "refund_return", ref_type="refund", ref_id=refund_id, actor=actor)
            repository.add_refund(tx, r)
            if settles is not None:
                repository.settle_request(tx, settles, refund_id)
            item.lines, item.refunded_fen, item.status = lines, refunded, new_status
            if r.status == "COMPLETED":
                events.add(tx, [_refund_completed(item, r)])
    except TxCancelled:
        raise Conflict("The order changed meanwhile (another refund?); reload it", code="ILLEGAL_STATE")
    if r.status == "PROCESSING":
        from chalicelib.payments.client import get_client

        result = get_client().refund(order_id=(item.payment or {}).get("trade_no", item.order_id),
                                     refund_id=refund_id, amount_fen=total,
                                     total_fen=int(item.payable_fen), reason=reason)
        if result.status == "SUCCESS":
            r.status = "COMPLETED"
            repository.complete_refund(r, result.provider_refund_id, [_refund_completed(item, r)])
    return refund_out(r)


def _refund_completed(item: OrderItem, r: RefundItem) -> Event:
    return Event("RefundCompleted", {**snapshot(item), "refund": {
        "refund_id": r.refund_id, "amount_fen": int(r.amount_fen), "lines": r.lines, "reason": r.reason}})


def list_refunds(principal: Principal, order_id: str) -> list[RefundOut]:
    item = _member_order(principal, order_id) if principal.is_member else _store_order(principal, order_id)
    return [refund_out(r) for r in repository.refunds(item.order_id)]
