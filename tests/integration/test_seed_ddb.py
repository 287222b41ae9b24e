"""tools.seed against DynamoDB Local: six stores, the demo catalog and staff, once however often it runs."""

from __future__ import annotations

import pytest

from chalicelib.campaigns import services as campaigns
from chalicelib.core.auth import Principal
from chalicelib.identity import repository as identity
from chalicelib.identity import services as identity_services
from chalicelib.identity.schemas import StaffLogin
from chalicelib.stores import services as stores
from tests.integration.conftest import items_of_kind
from tools import seed

HQ = Principal(sub="01JHQADMIN0000000000000000", role="hq_admin")


def test_seed_twice_gives_six_stores_and_no_duplicates(ddb):
    first = seed.run()
    assert not first.already_seeded
    assert (first.stores_created, first.staff_created, first.products_created) == (6, 13, len(seed.products()))
    assert (first.levels_created, first.packages_created) == (len(seed.LEVELS), len(seed.PACKAGES))
    assert first.campaigns_created == 3  # the two recipes and the refund consolation coupon
    camps = {c.name: c for c in campaigns.list_campaigns(50, None).items}
    assert camps[seed.CONSOLATION].trigger == "refund_completed" and camps[seed.CONSOLATION].status == "ACTIVE"
    assert {camps["沉睡客唤醒"].recipe, camps["生日礼"].recipe} == {"dormant_wakeup", "birthday"}

    second = seed.run()
    assert second.already_seeded and second.store_ids == first.store_ids
    assert (second.stores_created, second.staff_created, second.products_created) == (0, 0, 0)
    assert second.campaigns_created == 0 and len(campaigns.list_campaigns(50, None).items) == 3

    assert len(items_of_kind(ddb, "Store")) == 6
    assert len(items_of_kind(ddb, "Staff")) == 13
    assert len(items_of_kind(ddb, "Product")) == len(seed.products()) >= 40
    assert len(items_of_kind(ddb, "MemberLevel")) == 3 and len(items_of_kind(ddb, "RechargePackage")) == 3
    listed = stores.list_stores(HQ, 50, None).items
    assert sorted(s.name for s in listed) == sorted(s.name for s in seed.STORES)


def test_seeded_shop_view_and_logins(ddb):
    res = seed.run()
    rows = stores.shop_stores(29.56, 106.55, 50, None).items
    assert len(rows) == 6
    assert [r.distance_m for r in rows] == sorted(r.distance_m for r in rows)
    assert rows[0].name == "烟酒行·观音桥店"
    late = next(s for s in stores.list_stores(HQ, 50, None).items if s.name == "烟酒行·观音桥店")
    assert late.opening_hours[0] == {"weekday": 1, "open": "10:00", "close": "02:00"}

    for account in seed.staff_accounts():
        staff = identity.get_staff(account["username"])
        assert staff.role == account["role"]
        assert staff.store_id == (res.store_ids[account["store"]] if account["store"] else None)
    login = identity_services.staff_login(
        StaffLogin(username="hq.admin", password=seed.DEMO_PASSWORDS["hq_admin"]), "127.0.0.1"
    )
    assert login.staff.role == "hq_admin"
    login = identity_services.staff_login(
        StaffLogin(username="jfb.clerk", password=seed.DEMO_PASSWORDS["clerk"]), "127.0.0.1"
    )
    assert login.staff.store_id == res.store_ids["烟酒行·解放碑店"]


def test_demo_catalog_is_well_formed():
    products = seed.products()
    assert len({p["sku"] for p in products}) == len(products)
    barcodes = [p["barcode"] for p in products]
    assert len(set(barcodes)) == len(barcodes) and all(len(b) == 13 and b.isdigit() for b in barcodes)
    assert all(seed.ean13(b[:12]) == b for b in barcodes)
    assert all(0 < p["cost_fen"] < p["price_fen"] for p in products)
    cigarettes = [p for p in products if p["category"] == "cigarettes"]
    assert cigarettes and all(p["consult_only"] and p["contact_hint"] == seed.CONSULT_HINT for p in cigarettes)
    assert not any(p["consult_only"] for p in products if p["category"] != "cigarettes")
    assert {p["category"] for p in products} == {"baijiu", "beer", "wine", "drinks", "snacks", "cigarettes"}
    moutai = next(p for p in products if p["sku"] == "BJ-MT-FT53-500")
    assert moutai["price_fen"] == 299900 and "53%vol" in moutai["spec"]


def test_an_interrupted_seed_is_completed_without_duplicates(ddb, monkeypatch):
    real = identity.create_staff

    def fail_on(staff_id, username, *args, **kwargs):
        if username == "np.clerk":
            raise RuntimeError("power cut")
        return real(staff_id, username, *args, **kwargs)

    monkeypatch.setattr(identity, "create_staff", fail_on)
    with pytest.raises(RuntimeError):
        seed.run()
    assert identity.get_staff("hq.admin") is None  # not marked as seeded
    monkeypatch.setattr(identity, "create_staff", real)

    res = seed.run()
    assert not res.already_seeded and res.stores_created == 0 and res.products_created == 0
    assert len(items_of_kind(ddb, "Store")) == 6 and len(items_of_kind(ddb, "Staff")) == 13
    assert seed.run().already_seeded


def test_seed_refuses_other_stages(monkeypatch):
    from chalicelib.core.settings import get_settings

    monkeypatch.setenv("STAGE", "prod")
    get_settings.cache_clear()
    with pytest.raises(SystemExit):
        seed.run()
