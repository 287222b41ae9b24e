"""Months of demo history for the local stack: members of the demo chain and their till visits.

``make run`` calls it after ``tools.seed`` (once: a mark records that it ran). Deterministic: the same members,
birthdays, visits, baskets, recharges and refunds every time, dated back from the day it runs, so member pages,
levels, points, wallets, reports and campaigns (dormant members, birthdays today) have something real to show.

Everything goes through the use cases the tills use (member created as at a WeChat login, member code shown at
the till, POS sale, till recharge, till refund), each with the clock pinned at its moment in the past
(``core.clock.pinned``), inside ``core.events.importing()``: the events are marked imported, so the books (stock,
growth and levels, points, reports) take them in and nothing acts on the world now (no ticket prints, no SMS,
no welcome gift). The stock the history sells is received at its first day, so today's stock is the opening
stock ``tools.seed`` receives. Not resumable: if a run stops half way, delete ``.local/dynamodb`` and start again.

    LOCAL_HISTORY_MEMBERS=200 (default; 0 = no history)
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from tools.seed import STORES, products

MARK = "demo-history"
DAYS = 150  # how far back the history goes
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华"
# (share of members, visits, how recent the last visit may be in days): regulars come every week or two,
# occasionals a few times, dormant ones stopped coming more than 90 days ago, the newest have just joined.
KINDS = [("regular", 45), ("occasional", 25), ("dormant", 20), ("new", 10)]
BASKET_WEIGHTS = {"beer": 6, "drinks": 5, "snacks": 4, "cigarettes": 4, "wine": 1, "baijiu": 1}
STORE_WEIGHTS = {"jfb": 5, "gyq": 4, "np": 3, "spb": 3}  # the rest 2


@dataclass(frozen=True)
class Member:
    index: int
    kind: str
    openid: str
    phone: str
    nickname: str
    birthday: date
    joined: datetime
    home: str  # store code


@dataclass(frozen=True)
class Visit:
    at: datetime
    member: int
    store: str
    lines: tuple[tuple[str, int], ...]
    recharge_package: int | None = None  # index into tools.seed.PACKAGES: a recharge at the till before paying
    wallet: bool = False  # pays from the wallet (falls back to cash when it does not cover the basket)
    refund_sku: str | None = None  # one line taken back an hour later


@dataclass
class Plan:
    members: list[Member] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)

    def received(self) -> dict[str, Counter]:
        """What the history sells, per store code and sku (received on its first day)."""
        out: dict[str, Counter] = {}
        for v in self.visits:
            for sku, qty in v.lines:
                out.setdefault(v.store, Counter())[sku] += qty
        return out


def _moment(rng: random.Random, day: date, tz) -> datetime:
    """A time of day when the demo stores are busy (10:00-21:59 in Chongqing)."""
    return datetime.combine(day, time(rng.randint(10, 21), rng.randint(0, 59), rng.randint(0, 59)), tz)


def _birthday(rng: random.Random, index: int, today: date) -> date:
    year = rng.randint(1965, 2003)
    if index % 40 == 7:  # one member in forty has their birthday today (the birthday recipe has someone to reach)
        return date(year, today.month, min(today.day, 28) if today.month == 2 else today.day)
    return date(year, rng.randint(1, 12), rng.randint(1, 28))


def _basket(rng: random.Random, catalog: dict[str, list[str]]) -> tuple[tuple[str, int], ...]:
    cats = rng.choices(list(BASKET_WEIGHTS), weights=list(BASKET_WEIGHTS.values()), k=rng.randint(1, 3))
    lines: dict[str, int] = {}
    for c in cats:
        sku = rng.choice(catalog[c])
        lines[sku] = lines.get(sku, 0) + (rng.choice([1, 2, 6, 12]) if c == "beer" else rng.randint(1, 2))
    return tuple(sorted(lines.items()))


def _visit_days(rng: random.Random, kind: str, joined: date, today: date) -> list[date]:
    span = (today - joined).days
    if kind == "regular":
        days, d = [], joined
        while (d := d + timedelta(days=rng.randint(5, 18))) < today:
            days.append(d)
        return days
    if kind == "occasional":
        return sorted({joined + timedelta(days=rng.randint(0, span - 1)) for _ in range(rng.randint(2, 4))})
    if kind == "dormant":  # came a few times, the last more than 90 days ago
        last = today - timedelta(days=rng.randint(95, 140))
        return sorted({joined + timedelta(days=rng.randint(0, (last - joined).days)) for _ in range(3)} | {last})
    return [joined] if rng.random() < 0.6 else []


def plan(n_members: int, today: date, tz, seed: int = 2026) -> Plan:
    """The whole history as data: pure, deterministic for (n_members, today, seed)."""
    rng = random.Random(seed)
    catalog: dict[str, list[str]] = {}
    for p in products():
        catalog.setdefault(p["category"], []).append(p["sku"])
    codes = [s.code for s in STORES]
    weights = [STORE_WEIGHTS.get(c, 2) for c in codes]
    out = Plan()
    for i in range(n_members):
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        back = rng.randint(1, 12) if kind == "new" else rng.randint(145 if kind == "dormant" else 30, DAYS)
        joined_day = today - timedelta(days=back)
        member = Member(
            index=i,
            kind=kind,
            openid=f"demo-history-{i:04d}",
            phone=f"1370000{i:04d}",
            nickname=rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else ""),
            birthday=_birthday(rng, i, today),
            joined=datetime.combine(joined_day, time(9, rng.randint(0, 59)), tz),  # before any visit that day
            home=rng.choices(codes, weights=weights)[0],
        )
        out.members.append(member)
        recharger = kind == "regular" and rng.random() < 0.25
        for n, day in enumerate(_visit_days(rng, kind, joined_day, today)):
            store = member.home if rng.random() < 0.85 else rng.choice(codes)
            lines = _basket(rng, catalog)
            out.visits.append(
                Visit(
                    at=_moment(rng, day, tz),
                    member=i,
                    store=store,
                    lines=lines,
                    recharge_package=rng.choice([0, 1, 1, 2]) if recharger and n == 0 else None,
                    wallet=recharger and n > 0,
                    refund_sku=lines[0][0] if rng.random() < 0.04 else None,
                )
            )
    out.visits.sort(key=lambda v: (v.at, v.member))
    return out


@dataclass
class HistoryResult:
    members: int = 0
    sales: int = 0
    recharges: int = 0
    refunds: int = 0
    wallet_sales: int = 0
    already_done: bool = False
    member_ids: dict[int, str] = field(default_factory=dict)  # plan index -> member id


def run(n_members: int = 200, log: Callable[[str], None] = lambda _msg: None) -> HistoryResult:
    """Import the plan's history once (a mark remembers it); the stores, catalog and staff of tools.seed exist."""
    from chalicelib.core import clock, events
    from chalicelib.core.dynamo import get_mark, set_mark

    result = HistoryResult()
    if n_members <= 0:
        return result
    if get_mark(MARK) is not None:
        result.already_done = True
        return result
    today = clock.business_now().date()
    history = plan(n_members, today, clock.business_tz())
    ctx = _Context.load()
    with events.importing():
        _receive(history, today, ctx.store_ids, log)
        for m in history.members:
            with clock.pinned(m.joined):
                ctx.join(m)
            result.members += 1
        for v in history.visits:
            _visit(ctx, history.members[v.member], v, result)
    result.member_ids = ctx.member_ids
    set_mark(MARK, clock.iso(clock.now()))
    log(
        f"history: {result.members} members, {result.sales} till sales ({result.wallet_sales} from the wallet), "
        f"{result.recharges} recharges, {result.refunds} refunds over {DAYS} days"
    )
    return result


def _receive(history: Plan, today: date, ids: dict[str, str], log: Callable[[str], None]) -> None:
    """Goods-in of everything the history sells, on its first day, one receipt per store."""
    from chalicelib.core import clock
    from chalicelib.core.auth import Principal
    from chalicelib.inventory import services as inventory
    from chalicelib.inventory.schemas import ReceiptCreate

    hq = Principal(sub="01JSEED0000000000000000000", role="hq_admin")
    first = datetime.combine(today - timedelta(days=DAYS + 1), time(9, 0), clock.business_tz())
    with clock.pinned(first):
        for code, skus in sorted(history.received().items()):
            lines = [{"sku": sku, "qty": qty} for sku, qty in sorted(skus.items())]
            inventory.receive_goods(hq, ids[code], ReceiptCreate(lines=lines, supplier="历史进货"))
    log(f"history: goods-in of {sum(sum(c.values()) for c in history.received().values())} units")


def _store_ids(stores) -> dict[str, str]:
    by_name = {s.name: s.code for s in STORES}
    return {by_name[s.name]: s.store_id for s in stores if s.name in by_name}


@dataclass
class _Context:
    """Who acts in the history: the stores' ids, each store's clerk and manager, the recharge packages, the
    members' ids."""

    store_ids: dict[str, str]  # store code -> store id
    clerks: dict[str, object]
    managers: dict[str, object]
    packages: list[str]
    member_ids: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> _Context:
        from chalicelib.core.auth import Principal
        from chalicelib.identity import repository as identity
        from chalicelib.stores import repository as stores_repo
        from chalicelib.wallet import services as wallet
        from tools.seed import PACKAGES

        ids = _store_ids(stores_repo.all_stores())
        staff = {}
        for code in ids:
            for role, suffix in (("clerk", "clerk"), ("store_manager", "manager")):
                s = identity.get_staff(f"{code}.{suffix}")
                staff[(code, role)] = Principal(sub=s.staff_id, role=role, store_id=ids[code])
        titles = {p.title: p.package_id for p in wallet.list_active_packages(50, None).items}
        return cls(
            store_ids=ids,
            clerks={c: staff[(c, "clerk")] for c in ids},
            managers={c: staff[(c, "store_manager")] for c in ids},
            packages=[titles[p["title"]] for p in PACKAGES],
        )

    def join(self, m: Member) -> None:
        """The member's first WeChat login, and the birthday they enter on their page."""
        from chalicelib.core.ids import new_id
        from chalicelib.identity import repository as identity
        from chalicelib.members import services as members

        item = identity.create_member(new_id(), m.openid, None, m.phone, m.nickname)
        self.member_ids[m.index] = item.member_id
        members.set_birthday(item.member_id, m.birthday.isoformat(), "member")

    def code(self, m: Member) -> str:
        """The member code the customer shows at the till (GET /shop/me/code)."""
        from chalicelib.core.auth import Principal
        from chalicelib.identity import services as identity

        return identity.my_code(Principal(sub=self.member_ids[m.index], role="member")).member_code


def _visit(ctx: _Context, m: Member, v: Visit, result: HistoryResult) -> None:
    """One visit at the till: maybe a recharge first, the sale, maybe a line brought back an hour later."""
    from chalicelib.core import clock
    from chalicelib.core.errors import AppError
    from chalicelib.orders import checkout, refunds
    from chalicelib.orders.schemas import LineIn, PosPayment, PosSaleIn, RefundIn
    from chalicelib.wallet import services as wallet
    from chalicelib.wallet.schemas import PosRechargeIn, PosRechargePayment

    clerk = ctx.clerks[v.store]
    with clock.pinned(v.at):
        if v.recharge_package is not None:
            pay = PosRechargePayment(method="cash")
            wallet.till_recharge(
                clerk, PosRechargeIn(package_id=ctx.packages[v.recharge_package], member_code=ctx.code(m), payment=pay)
            )
            result.recharges += 1
    lines = [LineIn(sku=sku, qty=qty) for sku, qty in v.lines]
    with clock.pinned(v.at + timedelta(minutes=2)):
        order = None
        if v.wallet:
            try:
                sale = PosSaleIn(lines=lines, member_code=ctx.code(m), payment=PosPayment(method="wallet"))
                order = checkout.pos_sale(clerk, sale)
                result.wallet_sales += 1
            except AppError:  # the wallet does not cover this basket: cash
                order = None
        if order is None:
            order = checkout.pos_sale(
                clerk, PosSaleIn(lines=lines, member_code=ctx.code(m), payment=PosPayment(method="cash"))
            )
        result.sales += 1
    if v.refund_sku is not None:
        qty = dict(v.lines)[v.refund_sku]
        with clock.pinned(v.at + timedelta(hours=1)):
            body = RefundIn(lines=[LineIn(sku=v.refund_sku, qty=qty)], reason="顾客退货")
            refunds.store_refund(ctx.managers[v.store], order.order_id, body)
        result.refunds += 1
