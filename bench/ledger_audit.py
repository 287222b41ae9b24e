"""Books that balance, under fire: on DynamoDB Local, a small chain (2 stores, 5 products, 8 members with wallet
recharges and points, a coupon template) takes N random operations through the real services - shop orders and
till sales (some paid from the wallet, some redeeming points, some with coupons), online wallet and WeChat payments,
till recharges, part and whole refunds, cancels of unpaid orders, the unpaid sweep, fulfilment to completion,
points adjustments, check-ins, coupon claims, a day forward now and then, and the members' referral commissions
(each member bound to the one before: two levels; settled by the settlement job, withdrawn to the wallet or WeChat
change, approved or rejected) - while failures are injected:

- ``lost answer``: a TransactWriteItems is applied, then its answer is lost (connection closed) - the app retries
  with the same ClientRequestToken;
- ``transient``: a TransactWriteItems fails before reaching the database (connection closed) - retried;
- ``conditional``: a TransactWriteItems is refused with a ConditionalCheckFailed on one random item - the use case
  fails, nothing is written;
- ``crash``: the process "dies" between a commit and the delivery of its events (they stay in the outbox; the
  republish sweep relays them later);
- ``duplicate``: an events-queue message is delivered twice (consumers are idempotent).

Events go through the real outbox: ``core.events.relay`` (the stream relay's function) sends them to an in-process
queue whose messages ``core.events.handle_record`` gives to every subscription (chalicelib/subscriptions.py), as
the events Lambda does. At the end it prints, for every wallet (principal, bonus), points account, stock (store,
sku), coupon template and commission account (frozen, available, pending, withdrawn) touched: balance, sum of the
ledger, drift; then ``drift: 0 of K balances``; and runs the
daily audit job's ``audit_day`` for every day of the run.

    .venv/bin/python bench/ledger_audit.py [-n 2000] [--seed 7] [--fail 0.06] [--crash 0.03]

The default is 2,000 operations, not the 10,000 of the issue: every operation costs ~20 DynamoDB Local round trips
(use case, outbox relay, idempotent consumers), about 70 ms on a shared 2-core machine, so 2,000 take 2-3 minutes
and 10,000 (``-n 10000``) about 12.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings
from collections import Counter, deque
from datetime import UTC, datetime, timedelta

from _stack import dynamodb_local

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 Beijing, a Monday
SKUS = {"BEER": 600, "WINE": 12800, "BAIJIU": 49900, "TEA": 3500, "SNACK": 990}
MEMBERS = 8
DEFAULT_N = 2_000  # lowered from the 10,000 to stay within a few minutes (module docstring)
WEIGHTS = {
    "shop_order": 20,
    "pos_sale": 18,
    "pay_wallet": 8,
    "pay_wechat": 6,
    "fulfil": 10,
    "recharge": 8,
    "refund": 8,
    "cancel": 4,
    "adjust_points": 4,
    "checkin": 6,
    "claim_coupon": 4,
    "receive_stock": 2,
    "next_day": 1,
    "settle_commissions": 2,
    "withdraw": 3,
    "review_withdrawal": 3,
}


class Skip(Exception):
    """No order in the state the operation needs (e.g. nothing unpaid to cancel): counted apart, not as done."""


class Faults:
    """botocore hooks on the app's DynamoDB client: inject failures into TransactWriteItems."""

    def __init__(self, rng: random.Random, rate: float):
        self.rng, self.rate, self.on = rng, rate, False
        self.injected: Counter = Counter()
        self._lose = False

    def before(self, params, **_):
        if not self.on:
            return None
        r = self.rng.random()
        if r < self.rate / 3:
            self._lose = True  # let it through, lose the answer (after)
            return None
        if r < 2 * self.rate / 3:
            self.injected["transient (before sending)"] += 1
            return self._closed()
        if r < self.rate:
            self.injected["conditional (one item refused)"] += 1
            return self._refused(params)
        return None

    def after(self, http_response, **_):
        if self._lose:
            self._lose = False
            if http_response.status_code == 200:
                self.injected["lost answer (applied, then connection lost)"] += 1
                self._closed()

    @staticmethod
    def _closed():
        from botocore.exceptions import ConnectionClosedError

        raise ConnectionClosedError(endpoint_url="http://dynamodb-local/")

    def _refused(self, params):
        from botocore.awsrequest import AWSResponse

        n = len(json.loads(params.get("body") or b"{}").get("TransactItems", [])) or 1
        reasons = [{"Code": "None"}] * n
        reasons[self.rng.randrange(n)] = {"Code": "ConditionalCheckFailed", "Message": "injected"}
        body = {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled (injected)"},
            "CancellationReasons": reasons,
        }
        return AWSResponse("http://dynamodb-local/", 400, {}, None), body


class Bus:
    """The events queue in-process: relay() sends here; deliver() gives each message to the subscriptions."""

    def __init__(self, rng: random.Random, crash: float, duplicate: float = 0.02):
        self.rng, self.crash, self.duplicate = rng, crash, duplicate
        self.queue: deque = deque()
        self.pending: list = []  # committed events (core.events.capture), not relayed yet
        self.counts: Counter = Counter()

    def send(self, queue_name, bodies, attributes=None):
        self.queue.extend((b, 0) for b in bodies)
        return len(bodies)

    def after_op(self, events_mod) -> None:
        """The stream relay of what the operation committed - unless the process 'crashed' first."""
        new, self.pending[:] = list(self.pending), []
        if not new:
            return
        if self.rng.random() < self.crash:
            self.counts["crash before delivery (events left in the outbox)"] += 1
            return
        events_mod.relay([e.id for e in new])

    def deliver(self, events_mod, subscriptions) -> None:
        while self.queue:
            body, tries = self.queue.popleft()
            try:
                events_mod.handle_record(body, subscriptions)
                self.counts["events delivered"] += 1
                if self.rng.random() < self.duplicate:
                    events_mod.handle_record(body, subscriptions)  # at least once: the consumer is idempotent
                    self.counts["events delivered twice"] += 1
            except Exception as e:  # RetryLater and the like: the queue redelivers later
                self.counts[f"event redelivered ({type(e).__name__})"] += 1
                if tries < 20:
                    self.queue.append((body, tries + 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "-n", type=int, default=DEFAULT_N, help=f"random operations (default {DEFAULT_N:,}; the issue: 10,000)"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fail", type=float, default=0.06, help="share of TransactWriteItems calls that fail")
    p.add_argument("--crash", type=float, default=0.03, help="share of operations that crash before delivery")
    args = p.parse_args()
    warnings.filterwarnings("ignore", "Couldn't determine the remaining time left")  # no Lambda context here
    with dynamodb_local():
        t0 = time.perf_counter()
        run = Run(args)
        run.seed_chain()
        run.operate(args.n)
        run.settle()
        run.report(time.perf_counter() - t0)


class Run:
    def __init__(self, args):
        from chalicelib.core import clock, events, metrics, queues
        from chalicelib.core.dynamo import connection
        from chalicelib.payments import client as payclient
        from chalicelib.payments import sandbox

        self.rng, self.seed = random.Random(args.seed), args.seed
        self.now = START
        clock.set_clock(self._tick)
        payclient.set_client(sandbox.SandboxPaymentClient())
        self.faults = Faults(random.Random(args.seed + 1), args.fail)
        self.bus = Bus(random.Random(args.seed + 2), args.crash)
        events.capture(self.bus.pending)
        events.send_many = self.bus.send  # the events queue (relay and republish send through it)
        queues.send_many = lambda name, bodies, attributes=None: len(bodies)  # sms / print queues: not benched
        queues.send = lambda name, body, delay_s=0: "not-sent"
        self.metrics: Counter = Counter()
        metrics.count = lambda name, value=1, **dims: self.metrics.update({name: value})  # EMF lines: counted here
        client = connection().client
        client.meta.events.register("before-call.dynamodb.TransactWriteItems", self.faults.before)
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", self.faults.after)
        self.ops: Counter = Counter()
        self.outcomes: Counter = Counter()
        self.orders: dict[str, dict] = {}  # order_id -> {member, store, status, token...}
        self.days = {self._day()}

    def _tick(self):
        self.now += timedelta(milliseconds=3)
        return self.now

    def _day(self) -> str:
        from chalicelib.core.ledger import business_day

        return business_day(self.now)

    # ----------------------------------------------------------------------------------- the chain
    def seed_chain(self) -> None:
        from chalicelib.catalog import services as catalog
        from chalicelib.catalog.schemas import ProductCreate
        from chalicelib.core.auth import Principal
        from chalicelib.coupons import services as coupons
        from chalicelib.coupons.schemas import TemplateCreate
        from chalicelib.identity import repository as identity
        from chalicelib.inventory import services as inventory
        from chalicelib.inventory.schemas import ReceiptCreate
        from chalicelib.stores import services as stores
        from chalicelib.stores.schemas import StoreCreate
        from chalicelib.wallet import services as wallet
        from chalicelib.wallet.schemas import PackageCreate

        self.hq = Principal(sub="01JHQ00000000000000000000A", role="hq_admin")
        always = [{"weekday": d, "open": "00:00", "close": "00:00"} for d in range(1, 8)]
        self.stores = [
            stores.create_store(
                StoreCreate(
                    name=n,
                    address="民族路188号",
                    lat=29.5575 + i / 100,
                    lng=106.5772,
                    phone="023-63701234",
                    opening_hours=always,
                )
            ).store_id
            for i, n in enumerate(("解放碑店", "观音桥店"))
        ]
        self.clerks = {
            s: Principal(sub=f"01JC1ERK{i:018d}", role="clerk", store_id=s) for i, s in enumerate(self.stores)
        }
        for sku, price in SKUS.items():
            catalog.create_product(ProductCreate(sku=sku, name=f"商品{sku}", category="drinks", price_fen=price))
        for s in self.stores:
            inventory.receive_goods(self.hq, s, ReceiptCreate(lines=[{"sku": k, "qty": 60} for k in SKUS]))
        self.package = wallet.create_package(
            self.hq, PackageCreate(title="充500送80", pay_fen=50000, bonus_fen=8000)
        ).package_id
        self.template = coupons.create_template(
            self.hq,
            TemplateCreate(
                title="无门槛5元",
                kind="no_threshold",
                off_fen=500,
                validity={"valid_days": 30},
                total_stock=400,
                per_member_limit=100,
            ),
        ).template_id
        self.members = []
        for i in range(MEMBERS):
            m = identity.create_member(f"01JMEMBER{i:017d}", f"bench-openid-{i}", None, f"1380000{i:04d}", f"m{i}")
            self.members.append(Principal(sub=m.member_id, role="member"))
        self._deliver()
        self._referrals()
        for m in self.members:
            self.act("recharge", m)
        self.faults.on = True

    def _referrals(self) -> None:
        """Distribution on (10 % / 5 %, a day's freeze), every member a distributor, each bound to the one before."""
        from chalicelib.distribution import domain as dist_domain
        from chalicelib.distribution import repository as dist_repo
        from chalicelib.distribution import services as dist

        rules = {**dist_domain.DEFAULTS, "enabled": True, "level1_bp": 1000, "level2_bp": 500, "freeze_days": 1}
        dist_repo.put_rules(rules, self.hq.sub)
        for before, m in zip(self.members, self.members[1:]):
            dist.bind(m.sub, before.sub, None, rules)

    # ----------------------------------------------------------------------------------- operations
    def operate(self, n: int) -> None:
        names, weights = list(WEIGHTS), list(WEIGHTS.values())
        for i in range(n):
            op = self.rng.choices(names, weights)[0]
            self.act(op, self.rng.choice(self.members))
            if i % 25 == 0:
                self._deliver()

    def act(self, op: str, member) -> None:
        from chalicelib.core import events
        from chalicelib.core.errors import AppError

        self.ops[op] += 1
        try:
            getattr(self, f"_{op}")(member)
            self.outcomes["ok"] += 1
        except Skip:
            self.outcomes["skipped (no order in that state)"] += 1
        except AppError as e:
            self.outcomes[f"refused {e.code.value if hasattr(e.code, 'value') else e.code}"] += 1
        except Exception as e:  # an injected failure the use case did not map: reported, the run goes on
            self.outcomes[f"failed {type(e).__name__} ({op})"] += 1
        self.bus.after_op(events)

    def _cart(self, member):
        lines = [{"sku": s, "qty": self.rng.randint(1, 3)} for s in self.rng.sample(list(SKUS), self.rng.randint(1, 3))]
        extra = {}
        if self.rng.random() < 0.3:
            extra["points"] = self.rng.choice((10, 50, 200))
        if self.rng.random() < 0.25:
            mine = self._coupon(member)
            if mine:
                extra["coupon_ids"] = [mine]
        return lines, extra

    def _coupon(self, member) -> str | None:
        from chalicelib.coupons import services as coupons

        got = coupons.my_coupons(member, "AVAILABLE", 5, None).items
        return got[0].coupon_id if got else None

    def _code(self, member) -> str:
        from chalicelib.identity import services as identity

        return identity.my_code(member).member_code

    def _shop_order(self, member):
        from chalicelib.orders import checkout
        from chalicelib.orders.schemas import ShopQuoteIn

        lines, extra = self._cart(member)
        store = self.rng.choice(self.stores)
        out = checkout.create_order(member, ShopQuoteIn(lines=lines, store_id=store, **extra))
        self.orders[out.order_id] = {"member": member, "store": store, "channel": "shop"}

    def _pos_sale(self, member):
        from chalicelib.orders import checkout
        from chalicelib.orders.schemas import PosSaleIn

        lines, extra = self._cart(member)
        store = self.rng.choice(self.stores)
        method = self.rng.choice(("cash", "wallet", "wallet"))
        anonymous = method == "cash" and self.rng.random() < 0.3
        if anonymous:
            extra = {}
        code = None if anonymous else self._code(member)
        cmd = PosSaleIn(lines=lines, member_code=code, payment={"method": method}, **extra)
        out = checkout.pos_sale(self.clerks[store], cmd)
        self.orders[out.order_id] = {"member": member, "store": store, "channel": "pos"}

    def _pick(self, *statuses: str, channel: str | None = None) -> tuple[str, dict]:
        from chalicelib.orders import repository as orders

        ids = list(self.orders)
        for _ in range(8):
            oid = ids[self.rng.randrange(len(ids))] if ids else None
            if oid is None:
                raise Skip
            o = self.orders[oid]
            if channel and o["channel"] != channel:
                continue
            item = orders.get(oid, consistent=True)
            if item is not None and item.status in statuses:
                return oid, {**o, "item": item}
        raise Skip

    def _pay_wallet(self, member):
        from chalicelib.orders import payment

        got = self._pick("PENDING_PAYMENT", channel="shop")
        if got:
            payment.pay(got[1]["member"], got[0], "wallet")

    def _pay_wechat(self, member):
        from chalicelib.orders import payment

        got = self._pick("PENDING_PAYMENT", channel="shop")
        if got:
            oid, o = got
            payment.apply_payment(oid, f"42{self.rng.getrandbits(60):020d}", int(o["item"].payable_fen), "wechat", None)

    def _fulfil(self, member):
        from chalicelib.orders import fulfilment

        got = self._pick("PAID", "ACCEPTED", "READY", channel="shop")
        if got:
            oid, o = got
            clerk = self.clerks[o["store"]]
            action = {"PAID": "accept", "ACCEPTED": "ready", "READY": "complete"}[o["item"].status]
            fulfilment.fulfil(clerk, oid, action, o["item"].pickup_code if action == "complete" else None)

    def _refund(self, member):
        from chalicelib.orders import refunds
        from chalicelib.orders.schemas import RefundIn

        got = self._pick("PAID", "ACCEPTED", "READY", "COMPLETED", "PARTIALLY_REFUNDED")
        if not got:
            return
        oid, o = got
        left = [ln for ln in o["item"].lines if int(ln["qty"]) - int(ln.get("refunded_qty") or 0) > 0]
        part = None
        if left and self.rng.random() < 0.5:
            ln = self.rng.choice(left)
            part = [{"sku": ln["sku"], "qty": 1}]
        refunds.store_refund(self.clerks[o["store"]], oid, RefundIn(lines=part, reason="bench"))

    def _cancel(self, member):
        from chalicelib.orders import fulfilment

        got = self._pick("PENDING_PAYMENT", channel="shop")
        if got:
            fulfilment.cancel_by_member(got[1]["member"], got[0])

    def _recharge(self, member):
        from chalicelib.wallet import services as wallet
        from chalicelib.wallet.schemas import PosRechargeIn

        terms = (
            {"package_id": self.package} if self.rng.random() < 0.4 else {"amount_fen": self.rng.choice((5000, 20000))}
        )
        cmd = PosRechargeIn(member_code=self._code(member), payment={"method": "cash"}, **terms)
        wallet.till_recharge(self.clerks[self.rng.choice(self.stores)], cmd)

    def _adjust_points(self, member):
        from chalicelib.points import services as points
        from chalicelib.points.schemas import AdjustmentIn

        points.adjust(
            self.hq, member.sub, AdjustmentIn(points=self.rng.choice((-80, -20, 30, 100, 500)), reason="bench")
        )

    def _checkin(self, member):
        from chalicelib.points import services as points

        points.checkin(member)

    def _claim_coupon(self, member):
        from chalicelib.coupons import services as coupons

        coupons.claim(member, self.template)

    def _receive_stock(self, member):
        from chalicelib.inventory import services as inventory
        from chalicelib.inventory.schemas import ReceiptCreate

        store = self.rng.choice(self.stores)
        lines = [{"sku": s, "qty": self.rng.randint(5, 30)} for s in self.rng.sample(list(SKUS), 2)]
        inventory.receive_goods(self.hq, store, ReceiptCreate(lines=lines))

    def _next_day(self, member):
        from chalicelib.orders import sweeps

        self._deliver()
        self.now += timedelta(days=1)
        self.days.add(self._day())
        sweeps.sweep_unpaid(self.now)  # unpaid orders of yesterday: cancelled, stock and points given back

    def _settle_commissions(self, member):
        from chalicelib.distribution import services as dist

        self._deliver()
        dist.settle_due(self.now)

    def _withdraw(self, member):
        from chalicelib.distribution import repository as dist_repo
        from chalicelib.distribution import services as dist
        from chalicelib.distribution.schemas import WithdrawalIn

        available = dist_repo.balances(dist_repo.get_profile(member.sub))["available"]
        if available < 100:
            raise Skip()
        amount = self.rng.randint(100, available)
        dist.request_withdrawal(member, WithdrawalIn(amount_fen=amount, to=self.rng.choice(("wallet", "wechat"))))

    def _review_withdrawal(self, member):
        from chalicelib.distribution import services as dist

        pending = dist.withdrawals("PENDING_REVIEW", 10, None).items
        if not pending:
            raise Skip()
        w = self.rng.choice(pending)
        if self.rng.random() < 0.7:
            dist.approve_withdrawal(self.hq, w.withdrawal_id)
        else:
            dist.reject_withdrawal(self.hq, w.withdrawal_id, "bench")

    # ----------------------------------------------------------------------------------- events
    def _deliver(self) -> None:
        from chalicelib.core import events
        from chalicelib.subscriptions import SUBSCRIPTIONS

        self.bus.after_op(events)
        self.bus.deliver(events, SUBSCRIPTIONS)

    def settle(self) -> None:
        """Stop injecting; the republish sweep relays what crashed processes left in the outbox; deliver it all."""
        from chalicelib.core import events
        from chalicelib.subscriptions import SUBSCRIPTIONS

        self.faults.on = False
        self._deliver()
        self.now += timedelta(minutes=5)
        self.bus.counts["events relayed by the republish sweep"] += events.republish(self.now, first_hours_back=24 * 40)
        self.bus.deliver(events, SUBSCRIPTIONS)
        self._commissions_out()

    def _commissions_out(self) -> None:
        """Two days on: the settlement job makes every completed order's commission available; each member then
        withdraws half of it to the wallet (head office approves) - every commission book moves."""
        from chalicelib.distribution import repository as dist_repo
        from chalicelib.distribution import services as dist
        from chalicelib.distribution.schemas import WithdrawalIn

        self.now += timedelta(days=2)
        self.days.add(self._day())
        self.bus.counts["commission records settled at the end"] += dist.settle_due(self.now)["processed"]
        for m in self.members:
            half = dist_repo.balances(dist_repo.get_profile(m.sub))["available"] // 2
            if half >= 100:
                w = dist.request_withdrawal(m, WithdrawalIn(amount_fen=half, to="wallet"))
                dist.approve_withdrawal(self.hq, w.withdrawal_id)

    # ----------------------------------------------------------------------------------- the books
    def books(self) -> list:
        from chalicelib.core.ledger import Book
        from chalicelib.coupons import repository as coupons
        from chalicelib.distribution import repository as dist_repo
        from chalicelib.inventory import repository as inventory
        from chalicelib.points import repository as points
        from chalicelib.wallet import repository as wallet

        out = []
        for m in self.members:
            bal, entries = dist_repo.balances(dist_repo.get_profile(m.sub)), dist_repo.entries(m.sub)
            for part in dist_repo.BALANCES:
                got = sum(int(getattr(e, f"{part}_delta") or 0) for e in entries)
                out.append(Book(f"commission_{part}", m.sub, bal[part], got))
        for m in self.members:
            b, entries = wallet.get_balance(m.sub), wallet.all_entries(m.sub)
            out.append(Book("wallet_principal", m.sub, b.principal_fen, sum(int(e.principal_delta) for e in entries)))
            out.append(Book("wallet_bonus", m.sub, b.bonus_fen, sum(int(e.bonus_delta) for e in entries)))
            acc = points.get_account(m.sub)
            out.append(Book("points", m.sub, int(acc.balance or 0) if acc else 0, points.ledger_sum(m.sub)))
        for s in self.stores:
            sums: Counter = Counter()
            for mv in inventory.all_movements(s):
                sums.update({k: int(v) for k, v in mv.deltas.items()})
            levels = inventory.levels([(s, k) for k in SKUS], consistent=True)
            out += [Book("stock", f"{s}/{k}", int(levels[(s, k)].qty or 0), sums[k]) for k in SKUS]
        tpl = coupons.get_template(self.template, consistent=True)
        issued = len(coupons.all_template_coupons(self.template))
        added = sum(int(a.delta) for a in coupons.adjustments(self.template))
        out.append(Book("coupon_stock", self.template, int(tpl.remaining), added - issued))
        return out

    def report(self, seconds: float) -> None:
        from chalicelib.audit import services as audit

        n = sum(self.ops.values()) - MEMBERS  # the seeding recharges are not random operations
        lowered = " (default lowered from the issue's 10,000 to keep the run to minutes; -n 10000 for all)"
        print(
            f"{n} random operations in {seconds:.0f} s over {len(self.days)} business days, seed {self.seed}"
            + (lowered if n == DEFAULT_N else "")
        )
        print("operations:", dict(sorted(self.ops.items())))
        print("outcomes:  ", dict(self.outcomes.most_common()))
        print(f"failures injected: {sum(self.faults.injected.values())}", dict(self.faults.injected))
        print("events:     ", dict(self.bus.counts), "| metrics:", dict(self.metrics))
        print(f"\n{'book':<22}{'account':<40}{'balance':>12}{'ledger':>12}{'drift':>8}")
        books = self.books()
        for b in books:
            print(f"{b.book:<22}{b.account:<40}{b.balance:>12}{b.ledger:>12}{b.drift:>8}")
        bad = [b for b in books if b.drift]
        print(f"\ndrift: {len(bad)} of {len(books)} balances" + (f"  NON-ZERO: {bad}" if bad else ""))
        audited = [audit.audit_day(d) for d in sorted(self.days)]
        print(
            f"audit job (audit_day for each of {len(audited)} days): "
            f"{sum(a['accounts'] for a in audited)} account-days read, {sum(a['drifts'] for a in audited)} drifts"
        )


if __name__ == "__main__":
    main()
