from tests.helpers import STORE_BODY, token_for


def test_create_and_get_store(api, hq):
    r = api.post("/admin/stores", STORE_BODY, token=hq)
    assert r.status == 201, r
    sid = r.json["store_id"]
    assert r.json["name"] == "解放碑店"
    assert r.json["pickup_radius_m"] == 3000
    g = api.get(f"/admin/stores/{sid}", token=hq)
    assert g.status == 200 and g.json["address"] == STORE_BODY["address"]
