"""Pure catalog rules: no AWS, no app."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from chalicelib.catalog import domain
from chalicelib.catalog.schemas import ProductCreate, ProductUpdate
from chalicelib.core.errors import Conflict, ValidationFailed


@dataclass
class P:
    sku: str = "MT-53-500"
    status: str = "on_sale"
    consult_only: bool = False
    contact_hint: str | None = None


# ------------------------------------------------------------------------------------------ orderable
def test_on_sale_regular_product_is_orderable():
    domain.check_orderable_online(P())
    domain.check_orderable_online({"sku": "A", "status": "on_sale", "consult_only": False})


def test_consult_only_is_never_orderable_online():
    with pytest.raises(Conflict) as e:
        domain.check_orderable_online(P(consult_only=True, contact_hint="致电 023-63701234"))
    assert e.value.status == 409 and e.value.code == "CONSULT_ONLY"
    assert e.value.details["sku"] == "MT-53-500"


def test_off_sale_is_not_orderable():
    with pytest.raises(Conflict) as e:
        domain.check_orderable_online(P(status="off_sale"))
    assert e.value.code == "OFF_SALE"
    with pytest.raises(Conflict) as e:
        domain.check_orderable_online({"sku": "A", "status": "off_sale"})
    assert e.value.code == "OFF_SALE"


def test_consult_only_wins_over_off_sale():
    with pytest.raises(Conflict) as e:
        domain.check_orderable_online(P(status="off_sale", consult_only=True, contact_hint="x"))
    assert e.value.code == "CONSULT_ONLY"


def test_unknown_status_is_not_orderable():
    with pytest.raises(Conflict) as e:
        domain.check_orderable_online({"sku": "A"})
    assert e.value.code == "OFF_SALE"


# ------------------------------------------------------------------------------------------ consult rule
@pytest.mark.parametrize(
    "consult_only, hint, ok",
    [
        (False, None, True),
        (False, "x", True),
        (True, "请致电门店", True),
        (True, None, False),
        (True, "", False),
        (True, "   ", False),
    ],
)
def test_consult_rule(consult_only, hint, ok):
    if ok:
        domain.check_consult_rule(consult_only, hint)
    else:
        with pytest.raises(ValidationFailed) as e:
            domain.check_consult_rule(consult_only, hint)
        assert e.value.status == 422 and e.value.code == "VALIDATION_ERROR"
        assert [f["field"] for f in e.value.details["fields"]] == ["contact_hint"]


def test_merge_applies_changes_and_checks_the_result():
    current = {"sku": "A", "name": "旧", "consult_only": False, "contact_hint": None, "barcode": "12345678"}
    assert domain.merge(current, {"name": "新"})["name"] == "新"
    assert domain.merge(current, {"name": "新"})["barcode"] == "12345678"
    with pytest.raises(ValidationFailed):
        domain.merge(current, {"consult_only": True})
    hinted = domain.merge(current, {"consult_only": True, "contact_hint": "到店咨询"})
    with pytest.raises(ValidationFailed):
        domain.merge(hinted, {"contact_hint": None})
    assert domain.merge(hinted, {"consult_only": False, "contact_hint": None})["contact_hint"] is None
    assert current["name"] == "旧"  # not mutated


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (None, None, (None, None)),
        ("11111111", "11111111", (None, None)),
        (None, "22222222", (None, "22222222")),
        ("11111111", None, ("11111111", None)),
        ("11111111", "22222222", ("11111111", "22222222")),
    ],
)
def test_barcode_change(old, new, expected):
    assert domain.barcode_change(old, new) == expected


def test_shop_visibility_and_hint():
    assert domain.visible_in_shop("on_sale") and not domain.visible_in_shop("off_sale")
    assert domain.shop_contact_hint(True, "致电") == "致电"
    assert domain.shop_contact_hint(False, "致电") is None


@pytest.mark.parametrize(
    "sku, ok",
    [
        ("MT-53-500", True),
        ("a", True),
        ("A.b_c-9", True),
        ("x" * 64, True),
        ("", False),
        ("-A", False),
        ("a b", False),
        ("x" * 65, False),
        ("茅台", False),
        ("a/b", False),
    ],
)
def test_sku_pattern(sku, ok):
    assert domain.is_valid_sku(sku) is ok


# ------------------------------------------------------------------------------------------ schemas
BASE = {"sku": "A1", "name": "青岛啤酒", "category": "beer", "price_fen": 650}


def test_create_schema_defaults():
    p = ProductCreate.model_validate_json('{"sku": "A1", "name": "青岛啤酒", "category": "beer", "price_fen": 650}')
    assert (p.unit, p.status, p.consult_only, p.cost_fen, p.barcode) == ("件", "on_sale", False, None, None)


@pytest.mark.parametrize(
    "change",
    [
        {"price_fen": 6.5},
        {"price_fen": 650.0},
        {"price_fen": "650"},
        {"price_fen": -1},
        {"price_fen": True},
        {"cost_fen": 1.0},
        {"extra": 1},
        {"image_url": "ftp://x/y"},
        {"barcode": "1234567"},
        {"category": "啤酒"},
    ],
)
def test_create_schema_refuses(change):
    import json

    with pytest.raises(ValidationError):
        ProductCreate.model_validate_json(json.dumps({**BASE, **change}))


def test_update_schema_nulls_and_empties():
    assert ProductUpdate.model_validate_json('{"barcode": null}').changes() == {"barcode": None}
    assert ProductUpdate.model_validate_json('{"price_fen": 1}').changes() == {"price_fen": 1}
    for bad in ("{}", '{"name": null}', '{"status": null}', '{"sku": "B"}'):
        with pytest.raises(ValidationError):
            ProductUpdate.model_validate_json(bad)
