"""Stores: the production service + repository code against DynamoDB Local."""

from __future__ import annotations

import pytest

from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import encode_cursor
from chalicelib.core.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.stores import services
from chalicelib.stores.schemas import StoreCreate, StoreUpdate
from tests.helpers import STORE_BODY

HQ = Principal(sub="01JHQADMIN0000000000000000", role="hq_admin")


def make_store(**over) -> str:
    return services.create_store(StoreCreate.model_validate({**STORE_BODY, **over})).store_id


def test_create_get_update():
    store_id = make_store()
    got = services.get_store(HQ, store_id)
    assert got.name == "解放碑店" and got.lat == pytest.approx(29.557) and got.pickup_radius_m == 3000
    assert got.opening_hours[0] == {"weekday": 1, "open": "09:00", "close": "23:00"}

    changed = services.update_store(HQ, store_id, StoreUpdate(phone="023-63709999", notes="新装修"))
    assert changed.phone == "023-63709999" and changed.notes == "新装修"
    again = services.get_store(HQ, store_id)
    assert again.phone == "023-63709999" and again.name == "解放碑店"
    assert again.updated_at >= again.created_at

    cleared = services.update_store(HQ, store_id, StoreUpdate(notes=None))
    assert cleared.notes is None


def test_manager_scope_and_fields():
    mine, other = make_store(), make_store(name="观音桥店")
    manager = Principal(sub="01JMANAGER0000000000000000", role="store_manager", store_id=mine)
    assert services.update_store(manager, mine, StoreUpdate(name="解放碑旗舰店")).name == "解放碑旗舰店"
    with pytest.raises(Forbidden):
        services.update_store(manager, mine, StoreUpdate(delivery_radius_m=9000))
    with pytest.raises(Forbidden):
        services.get_store(manager, other)
    assert [s.store_id for s in services.list_stores(manager, 50, None).items] == [mine]


def test_unknown_store():
    with pytest.raises(NotFound):
        services.get_store(HQ, "01JNOSUCHSTORE000000000000")
    with pytest.raises(NotFound):
        services.update_store(HQ, "01JNOSUCHSTORE000000000000", StoreUpdate(phone="023-1234567"))


@pytest.mark.parametrize("count,limit", [(5, 2), (4, 2), (3, 50)])
def test_list_pagination_walks_every_store_once(count, limit):
    created = [make_store(name=f"门店{i}") for i in range(count)]
    seen, cursor, pages = [], None, 0
    while True:
        page = services.list_stores(HQ, limit, cursor)
        pages += 1
        assert len(page.items) <= limit
        seen += [s.store_id for s in page.items]
        cursor = page.next
        if cursor is None:
            break
        assert pages < 10
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    assert seen == sorted(seen)  # gsi1 sorts by store_id: ULIDs, i.e. creation order


def test_a_foreign_cursor_is_a_422_not_a_500():
    make_store()
    foreign = encode_cursor({"pk": {"S": "STAFF#x"}, "sk": {"S": "META"}})
    with pytest.raises(ValidationFailed) as e:
        services.list_stores(HQ, 2, foreign)
    assert e.value.code == "INVALID_CURSOR"


def test_shop_stores_nearest_first():
    far = make_store(name="沙坪坝店", lat=29.5570, lng=106.4560)
    near = make_store(name="观音桥店", lat=29.5760, lng=106.5330)
    make_store(name="停业店", lat=29.5600, lng=106.5500, status="suspended")
    rows = services.shop_stores(29.56, 106.55, 50, None).items
    assert [r.store_id for r in rows] == [near, far]
    assert rows[0].distance_m < rows[1].distance_m
