"""Demo data for the local stack: a six-store Chongqing tobacco / liquor / drinks chain.

Written through the service and repository layer (the same code the API uses), never raw items. Idempotent:
the head-office account ``hq`` is created last and marks a finished seed, so a second run does nothing; a run
that stopped half way is completed (stores are matched by name, staff by username, products by sku).

The passwords below are fixed, documented DEMO passwords for the ``local`` (and ``test``) stage only; the seed
refuses to run on any other stage. No stock is seeded (stock movements come with the checkout).

    python -m tools.seed        # seeds whatever DYNAMODB_ENDPOINT / TABLE_NAME point at (stage local|test)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

DAILY = [{"weekday": d, "open": "09:00", "close": "23:00"} for d in range(1, 8)]
LATE_NIGHT = [{"weekday": d, "open": "10:00", "close": "02:00"} for d in range(1, 8)]
ALL_DAY = [{"weekday": d, "open": "00:00", "close": "24:00"} for d in range(1, 8)]

HQ_USERNAME = "hq.admin"
DEMO_PASSWORDS = {"hq_admin": "demo-hq-2026", "store_manager": "demo-manager-2026", "clerk": "demo-clerk-2026"}
CONSULT_HINT = "到店咨询或致电门店"


@dataclass(frozen=True)
class StoreSeed:
    code: str  # username prefix of the store's staff
    area: str
    name: str
    address: str
    lat: float
    lng: float
    phone: str
    opening_hours: list = field(default_factory=lambda: DAILY)
    delivery_radius_m: int = 5000
    notes: str | None = None


STORES: list[StoreSeed] = [
    StoreSeed(
        "jfb",
        "解放碑",
        "烟酒行·解放碑店",
        "重庆市渝中区民族路166号",
        29.5575,
        106.5772,
        "023-63812166",
        opening_hours=ALL_DAY,
        delivery_radius_m=3000,
        notes="24小时营业（步行街内，周末客流大）",
    ),
    StoreSeed(
        "gyq",
        "观音桥",
        "烟酒行·观音桥店",
        "重庆市江北区建新北路38号",
        29.5760,
        106.5330,
        "023-67851038",
        opening_hours=LATE_NIGHT,
        delivery_radius_m=4000,
        notes="夜间店：每天10:00营业至次日02:00",
    ),
    StoreSeed("np", "南坪", "烟酒行·南坪店", "重庆市南岸区南坪西路27号", 29.5300, 106.5690, "023-62985027"),
    StoreSeed(
        "spb", "沙坪坝", "烟酒行·沙坪坝店", "重庆市沙坪坝区三峡广场小龙坎正街105号", 29.5570, 106.4560, "023-65315105"
    ),
    StoreSeed(
        "yjp",
        "杨家坪",
        "烟酒行·杨家坪店",
        "重庆市九龙坡区杨家坪正街58号",
        29.5040,
        106.5130,
        "023-68781058",
        delivery_radius_m=4000,
    ),
    StoreSeed(
        "dp",
        "大坪",
        "烟酒行·大坪店",
        "重庆市渝中区大坪正街128号",
        29.5410,
        106.5150,
        "023-68807128",
        delivery_radius_m=3500,
    ),
]


def ean13(first12: str) -> str:
    """A 13-digit EAN with a valid check digit."""
    assert len(first12) == 12 and first12.isdigit()
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


# (sku, name, category, price_fen, cost_fen, unit, spec, consult_only) - barcodes are derived below.
_PRODUCTS: list[tuple] = [
    # baijiu
    ("BJ-MT-FT53-500", "贵州茅台 飞天53%vol", "baijiu", 299900, 265000, "瓶", "53%vol 500ml", False),
    ("BJ-WLY-8-500", "五粮液 第八代 52%vol", "baijiu", 109900, 96000, "瓶", "52%vol 500ml", False),
    ("BJ-GJ1573-500", "泸州老窖 国窖1573 52%vol", "baijiu", 99900, 86000, "瓶", "52%vol 500ml", False),
    ("BJ-LZLJ-TQ-500", "泸州老窖 特曲 52%vol", "baijiu", 26800, 21500, "瓶", "52%vol 500ml", False),
    ("BJ-JNC-SJ-500", "剑南春 水晶剑 52%vol", "baijiu", 45800, 39000, "瓶", "52%vol 500ml", False),
    ("BJ-LJ-HHL10-500", "郎酒 红花郎10 53%vol", "baijiu", 39800, 33500, "瓶", "53%vol 500ml", False),
    ("BJ-FJ-QH20-500", "汾酒 青花20 53%vol", "baijiu", 42800, 36000, "瓶", "53%vol 500ml", False),
    ("BJ-JXB-BD-100", "江小白 表达瓶 40%vol", "baijiu", 2200, 1350, "瓶", "40%vol 100ml", False),
    ("BJ-JXB-BD-500", "江小白 表达瓶 40%vol", "baijiu", 6800, 4600, "瓶", "40%vol 500ml", False),
    ("BJ-NLS-CN-500", "牛栏山 陈酿 42%vol", "baijiu", 1500, 950, "瓶", "42%vol 500ml", False),
    # beer
    ("BR-CQ-GB-500", "重庆啤酒 国宾 醇麦", "beer", 600, 380, "罐", "500ml", False),
    ("BR-CQ-CS-500", "重庆啤酒 纯生", "beer", 800, 520, "罐", "500ml", False),
    ("BR-SC-500", "山城啤酒 经典", "beer", 500, 320, "罐", "500ml", False),
    ("BR-SC-500X24", "山城啤酒 经典 整箱", "beer", 9900, 7200, "箱", "500ml×24罐", False),
    ("BR-BW-500", "百威 经典醇正", "beer", 900, 600, "罐", "500ml", False),
    ("BR-LB-500", "乐堡 啤酒", "beer", 700, 450, "罐", "500ml", False),
    ("BR-QD-CS-500", "青岛啤酒 纯生", "beer", 900, 610, "罐", "500ml", False),
    ("BR-CRN-330", "科罗娜 特级", "beer", 1200, 800, "瓶", "330ml", False),
    # wine
    ("WN-ZY-JBN-750", "张裕 解百纳 干红葡萄酒", "wine", 16800, 12000, "瓶", "750ml", False),
    ("WN-CC-GH-750", "长城 干红葡萄酒 五星", "wine", 8800, 6200, "瓶", "750ml", False),
    ("WN-PF-389-750", "奔富 Bin 389 赤霞珠设拉子", "wine", 69900, 58000, "瓶", "750ml", False),
    ("WN-LF-CQ-750", "拉菲传奇 波尔多红葡萄酒", "wine", 19800, 15500, "瓶", "750ml", False),
    # drinks
    ("DR-NFSQ-550", "农夫山泉 饮用天然水", "drinks", 200, 110, "瓶", "550ml", False),
    ("DR-KKKL-330", "可口可乐", "drinks", 350, 220, "罐", "330ml", False),
    ("DR-HN-250", "红牛 维生素功能饮料", "drinks", 650, 450, "罐", "250ml", False),
    ("DR-WLJ-310", "王老吉 凉茶", "drinks", 450, 300, "罐", "310ml", False),
    ("DR-DFSY-MLH-500", "东方树叶 茉莉花茶", "drinks", 500, 330, "瓶", "500ml", False),
    ("DR-TDYH-PGC-330", "天地壹号 苹果醋", "drinks", 500, 320, "罐", "330ml", False),
    ("DR-WT-NMC-250", "维他 柠檬茶", "drinks", 400, 260, "盒", "250ml", False),
    # snacks
    ("SN-YY-PJFZ-180", "有友 泡椒凤爪", "snacks", 1500, 1000, "袋", "180g", False),
    ("SN-ZF-NR-100", "张飞牛肉 麻辣味", "snacks", 2800, 1900, "袋", "100g", False),
    ("SN-ZJJ-HGHS-150", "周君记 火锅花生", "snacks", 900, 580, "袋", "150g", False),
    ("SN-WL-DMJ-102", "卫龙 大面筋", "snacks", 600, 380, "袋", "102g", False),
    ("SN-LS-YW-70", "乐事 薯片 原味", "snacks", 750, 500, "袋", "70g", False),
    # cigarettes: never sold online, consult the shop
    ("CG-ZH-Y-20", "中华（硬）", "cigarettes", 4500, 4000, "包", "20支", True),
    ("CG-YX-R-20", "玉溪（软）", "cigarettes", 2300, 2050, "包", "20支", True),
    ("CG-JZ-KZHY-20", "娇子（宽窄好运）", "cigarettes", 1800, 1600, "包", "20支", True),
    ("CG-YY-RZP-20", "云烟（软珍品）", "cigarettes", 2200, 1950, "包", "20支", True),
    ("CG-HHL-RL-20", "黄鹤楼（软蓝）", "cigarettes", 1900, 1700, "包", "20支", True),
    ("CG-FRW-Y-20", "芙蓉王（硬）", "cigarettes", 2500, 2250, "包", "20支", True),
    ("CG-LQ-XB-20", "利群（新版）", "cigarettes", 1700, 1500, "包", "20支", True),
]


def products() -> list[dict]:
    """The demo catalog as ProductCreate fields; 13-digit barcodes (prefix 69x, valid check digit), unique."""
    out = []
    for i, (sku, name, category, price, cost, unit, spec, consult) in enumerate(_PRODUCTS):
        p = {
            "sku": sku,
            "name": name,
            "category": category,
            "price_fen": price,
            "cost_fen": cost,
            "barcode": ean13(f"69{23456 + 17 * (i // 10):05d}{101 + i * 7:05d}"),
            "unit": unit,
            "spec": spec,
            "consult_only": consult,
            "status": "on_sale",
        }
        if consult:
            p["contact_hint"] = CONSULT_HINT
            p["description"] = "烟草制品不在线上销售，请到店咨询或致电门店。"
        out.append(p)
    return out


def staff_accounts() -> list[dict]:
    """Every demo login: hq admin (last: it marks a finished seed) and a manager and a clerk per store."""
    accounts = []
    for s in STORES:
        accounts.append(
            {
                "username": f"{s.code}.manager",
                "name": f"{s.area}店店长",
                "role": "store_manager",
                "store": s.name,
                "password": DEMO_PASSWORDS["store_manager"],
            }
        )
        accounts.append(
            {
                "username": f"{s.code}.clerk",
                "name": f"{s.area}店店员",
                "role": "clerk",
                "store": s.name,
                "password": DEMO_PASSWORDS["clerk"],
            }
        )
    accounts.append(
        {
            "username": HQ_USERNAME,
            "name": "总部管理员",
            "role": "hq_admin",
            "store": None,
            "password": DEMO_PASSWORDS["hq_admin"],
        }
    )
    return accounts


@dataclass
class SeedResult:
    already_seeded: bool = False
    stores_created: int = 0
    staff_created: int = 0
    products_created: int = 0
    stock_lines: int = 0
    levels_created: int = 0
    packages_created: int = 0
    campaigns_created: int = 0
    store_ids: dict[str, str] = field(default_factory=dict)  # store name -> store_id


def run(log: Callable[[str], None] = lambda _msg: None) -> SeedResult:
    """Seed the demo chain once. Safe to call on every start."""
    from chalicelib.catalog.schemas import ProductCreate
    from chalicelib.catalog.services import create_product
    from chalicelib.core.errors import Conflict
    from chalicelib.core.ids import new_id
    from chalicelib.core.passwords import hash_password
    from chalicelib.core.settings import get_settings
    from chalicelib.identity import domain as identity_domain
    from chalicelib.identity import repository as identity
    from chalicelib.stores import repository as stores_repo
    from chalicelib.stores import services as stores
    from chalicelib.stores.schemas import StoreCreate

    stage = get_settings().stage
    if stage not in ("local", "test"):
        raise SystemExit(f"refusing to seed demo data (with demo passwords) on stage {stage!r}: local/test only")

    result = SeedResult()
    existing = {s.name: s.store_id for s in stores_repo.all_stores()}
    if identity.get_staff(HQ_USERNAME) is not None:
        result.already_seeded = True
        result.store_ids = {s.name: existing[s.name] for s in STORES if s.name in existing}
        log("demo data already present: nothing to do")
        return result

    for s in STORES:
        if s.name not in existing:
            out = stores.create_store(
                StoreCreate(
                    name=s.name,
                    address=s.address,
                    lat=s.lat,
                    lng=s.lng,
                    phone=s.phone,
                    opening_hours=s.opening_hours,
                    delivery_radius_m=s.delivery_radius_m,
                    notes=s.notes,
                )
            )
            existing[s.name] = out.store_id
            result.stores_created += 1
    result.store_ids = {s.name: existing[s.name] for s in STORES}

    for p in products():
        try:
            create_product(ProductCreate.model_validate(p))
            result.products_created += 1
        except Conflict as e:
            if e.code != "SKU_EXISTS":
                log(f"product {p['sku']} skipped: {e.code} {e.message}")

    result.stock_lines = _opening_stock(result.store_ids, log)
    result.levels_created, result.packages_created = _member_programme()

    result.campaigns_created = _campaign_demo(log)

    for a in staff_accounts():  # hq last: its presence means "seeded"
        store_id = result.store_ids[a["store"]] if a["store"] else None
        identity_domain.check_staff_binding(a["role"], store_id)
        if identity.get_staff(a["username"]) is not None:
            continue
        try:
            identity.create_staff(new_id(), a["username"], a["name"], a["role"], store_id, hash_password(a["password"]))
            result.staff_created += 1
        except Conflict:
            pass
    log(
        f"seeded {result.stores_created} stores, {result.products_created} products, "
        f"{result.staff_created} staff accounts, {result.levels_created} member levels, "
        f"{result.packages_created} recharge packages"
    )
    return result


# The member programme of the demo chain: three levels (growth in fen of paid goods and recharged principal) and
# the recharge packages ("充就送") the stores advertise.
LEVELS = [
    {"name": "普通会员", "rank": 0, "growth_min": 0, "perks": ["生日礼券"]},
    {
        "name": "银卡会员",
        "rank": 1,
        "growth_min": 50000,
        "orders_min": 3,
        "discount_bp": 300,
        "points_multiplier_bp": 12000,
        "perks": ["会员价", "积分1.2倍"],
    },
    {
        "name": "金卡会员",
        "rank": 2,
        "growth_min": 300000,
        "discount_bp": 500,
        "points_multiplier_bp": 15000,
        "perks": ["会员价", "积分1.5倍", "免费送货"],
    },
]
PACKAGES = [
    {"title": "充200送20", "pay_fen": 20000, "bonus_fen": 2000},
    {"title": "充500送80", "pay_fen": 50000, "bonus_fen": 8000},
    {"title": "充1000送200", "pay_fen": 100000, "bonus_fen": 20000},
]


def _member_programme() -> tuple[int, int]:
    """Levels and recharge packages, through the same use cases head office uses."""
    from chalicelib.core.auth import HQ_ADMIN, Principal
    from chalicelib.members import services as members
    from chalicelib.members.schemas import LevelIn
    from chalicelib.wallet import services as wallet
    from chalicelib.wallet.schemas import PackageCreate

    hq = Principal(sub="seed", role=HQ_ADMIN)
    existing = {lv.name for lv in members.levels()}
    levels = [members.create_level(LevelIn(**lv)) for lv in LEVELS if lv["name"] not in existing]
    titles = {p.title for p in wallet.list_packages(200, None).items}
    packages = [wallet.create_package(hq, PackageCreate(**p)) for p in PACKAGES if p["title"] not in titles]
    return len(levels), len(packages)


CONSOLATION = "退款安慰券"


# Campaign demo: a push coupon template, the two recipes as campaigns (09:30 Asia/Shanghai) and a consolation
# coupon triggered by refunds. Whom they reach
# comes from the demo history (tools/seed_history.py): members who stopped coming more than 90 days ago, and
# members whose birthday is today.
def _campaign_demo(log: Callable[[str], None]) -> int:
    """The push coupon template, the dormant wake-up and birthday campaigns and the refund consolation coupon;
    returns how many campaigns."""
    from chalicelib.campaigns import services as campaigns
    from chalicelib.campaigns.schemas import CampaignIn
    from chalicelib.core.auth import HQ_ADMIN, Principal
    from chalicelib.coupons import services as coupons
    from chalicelib.coupons.schemas import TemplateCreate

    if any(c.name == "沉睡客唤醒" for c in campaigns.list_campaigns(200, None).items):
        return 0  # done by an earlier (interrupted) run
    hq = Principal(sub="seed", role=HQ_ADMIN)
    tpl = coupons.create_template(
        hq,
        TemplateCreate.model_validate(
            {"title": "老客回馈10元券", "kind": "no_threshold", "off_fen": 1000, "validity": {"valid_days": 14},
             "total_stock": 10000, "per_member_limit": 20, "purpose": "push"}
        ),
    )  # fmt: skip
    sms = {
        "type": "sms",
        "template": "marketing_notice",
        "params": {"store": "烟酒行", "content": "送您10元券，欢迎回来"},
    }
    for name, recipe in (("沉睡客唤醒", "dormant_wakeup"), ("生日礼", "birthday")):
        body = {"name": name, "recipe": recipe, "schedule": "cron(30 1 * * ? *)", "member_cap_days": 7,
                "actions": [{"type": "coupon", "template_id": tpl.template_id}, sms]}  # fmt: skip
        campaigns.create_campaign(CampaignIn.model_validate(body))
    # the consolation coupon: a member whose refund of at least 50 yuan completes gets the coupon (no SMS)
    body = {"name": CONSOLATION, "trigger": "refund_completed", "min_refund_fen": 5000, "member_cap_days": 7,
            "actions": [{"type": "coupon", "template_id": tpl.template_id}]}  # fmt: skip
    campaigns.create_campaign(CampaignIn.model_validate(body))
    log("campaign demo: a push coupon template, the dormant wake-up and birthday campaigns, a consolation coupon")
    return 3


def opening_qty(store_code: str, sku: str, category: str) -> int:
    """Deterministic demo quantities: a few bottles of fine baijiu, cases of beer; 0 for some (routing)."""
    import hashlib

    h = int(hashlib.sha256(f"{store_code}|{sku}".encode()).hexdigest()[:8], 16)
    if h % 11 == 0:
        return 0
    ranges = {
        "baijiu": (2, 12),
        "beer": (24, 120),
        "wine": (3, 18),
        "drinks": (24, 96),
        "snacks": (10, 60),
        "cigarettes": (10, 50),
    }
    lo, hi = ranges.get(category, (5, 30))
    return lo + h % (hi - lo + 1)


DEMO_THRESHOLDS = {"BR-CQ-GB-500": 36, "BJ-MT-FT53-500": 3}


def _opening_stock(store_ids: dict[str, str], log: Callable[[str], None]) -> int:
    """Goods-in of every store's opening stock (one receipt per store, through the inventory service so the
    ledger explains it), then demo low-stock thresholds. Stores that already hold stock are left alone."""
    from chalicelib.core.auth import Principal
    from chalicelib.inventory import repository as stock_repo
    from chalicelib.inventory import services as inventory
    from chalicelib.inventory.schemas import ReceiptCreate

    hq = Principal(sub="01JSEED0000000000000000000", role="hq_admin")
    catalog = products()
    lines = 0
    for s in STORES:
        store_id = store_ids[s.name]
        if stock_repo.stock_levels(store_id):
            continue
        receipt = [
            {"sku": p["sku"], "qty": q} for p in catalog if (q := opening_qty(s.code, p["sku"], p["category"])) > 0
        ]
        inventory.receive_goods(hq, store_id, ReceiptCreate(lines=receipt, supplier="开业铺货"))
        lines += len(receipt)
        for sku, threshold in DEMO_THRESHOLDS.items():
            inventory.set_threshold(hq, store_id, sku, threshold)
    if lines:
        log(f"opening stock: {lines} lines received across {len(STORES)} stores")
    return lines


# --------------------------------------------------------------------------------------- printers and SMS
DEMO_HQ_PHONE = "13900000000"
_58MM_STORES = {"gyq", "dp"}  # two stores run 58 mm printers, the rest 80 mm


def demo_mac(index: int) -> str:
    return f"00:11:62:de:00:{index + 1:02x}"


def demo_manager_phone(index: int) -> str:
    return f"1380000000{index + 1}"


def demo_printers(store_ids: dict[str, str], path, url: str, log: Callable[[str], None] = lambda _msg: None) -> dict:
    """One CloudPRNT printer per demo store (MAC 00:11:62:de:00:0N); their secrets are written to ``path``
    (mode 600, e.g. .local/printers.json, never committed) for the printer simulators. A printer that exists but
    whose secret is not in the file (the file was deleted) gets a new secret. Returns the file's content."""
    import json
    import os
    from pathlib import Path

    from chalicelib.core.auth import Principal
    from chalicelib.printing import repository as printers_repo
    from chalicelib.printing import services as printing
    from chalicelib.printing.schemas import PrinterCreate

    path = Path(path)
    known = json.loads(path.read_text()).get("printers", {}) if path.exists() else {}
    hq = Principal(sub="01JSEED0000000000000000000", role="hq_admin")
    out: dict = {"url": url, "printers": {}}
    changed = False
    for i, s in enumerate(STORES):
        store_id = store_ids.get(s.name)
        if store_id is None:
            continue
        mac = demo_mac(i)
        existing = printers_repo.printer_by_mac(mac)
        entry = known.get(s.code)
        if existing is not None and entry and entry.get("printer_id") == existing.printer_id:
            out["printers"][s.code] = {**entry, "label": s.area}
            continue
        if existing is None:
            created = printing.create_printer(
                hq,
                PrinterCreate(
                    store_id=store_id,
                    mac=mac,
                    name="前台小票机",
                    paper_width_mm=58 if s.code in _58MM_STORES else 80,
                    poll_interval_s=5,
                ),
            )
            log(f"printer for {s.name}: {created.printer_id} ({created.paper_width_mm} mm)")
        else:
            created = printing.rotate_secret(hq, existing.printer_id)
            log(f"printer for {s.name}: new secret (it was not in {path})")
        out["printers"][s.code] = {
            "printer_id": created.printer_id,
            "secret": created.secret,
            "mac": mac,
            "store_id": store_id,
            "store_name": s.name,
            "label": s.area,
            "paper_width_mm": created.paper_width_mm,
        }
        changed = True
    if changed or not path.exists() or known.keys() != out["printers"].keys():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(out, f, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
    return out


def demo_contacts(store_ids: dict[str, str], log: Callable[[str], None] = lambda _msg: None) -> int:
    """SMS alert contacts (made-up mobile numbers) for head office and each demo store, unless already set."""
    from chalicelib.sms import repository as sms_repo

    made = 0
    wanted = [("HQ", [DEMO_HQ_PHONE], "总部值班")] + [
        (store_ids[s.name], [demo_manager_phone(i)], f"{s.area}店店长")
        for i, s in enumerate(STORES)
        if s.name in store_ids
    ]
    for scope, phones, name in wanted:
        if sms_repo.get_contacts(scope) is None:
            sms_repo.put_contacts(scope, phones, name)
            made += 1
    if made:
        log(f"SMS alert contacts set for {made} scopes (store managers 1380000000N, head office {DEMO_HQ_PHONE})")
    return made


def main() -> None:
    res = run(print)
    for name, store_id in res.store_ids.items():
        print(f"  {store_id}  {name}")


if __name__ == "__main__":
    main()
