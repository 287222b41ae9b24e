"""Ticket layout and rendering (CJK double width at 32/48 columns, wrapping, totals, StarPRNT commands), printer
status codes, MAC addresses, job tokens and the job state machine."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.printing import domain as d

TZ = ZoneInfo("Asia/Shanghai")
ORDER_ID = "01JQ7ZK5W3M8N9P2R4T6V8X0YZ"


def doc(**order):
    base = {
        "order_id": ORDER_ID,
        "channel": "shop",
        "store_id": "01JSTORE00000000000000000A",
        "fulfillment": "pickup",
        "pickup_code": "482913",
        "lines": [
            {
                "sku": "BR-CQ-GB-500",
                "name": "重庆啤酒 国宾 醇麦",
                "qty": 6,
                "unit_price_fen": 600,
                "discount_fen": 200,
                "payable_fen": 3400,
                "gift": False,
            },
            {
                "sku": "BJ-MT-FT53-500",
                "name": "贵州茅台 飞天53%vol 500ml 礼盒装（含手提袋与两只品鉴杯）",
                "qty": 1,
                "unit_price_fen": 299900,
                "discount_fen": 1800,
                "payable_fen": 298100,
            },
            {
                "sku": "SN-YY-PJFZ-180",
                "name": "有友 泡椒凤爪",
                "qty": 1,
                "unit_price_fen": 1500,
                "discount_fen": 1500,
                "payable_fen": 0,
                "gift": True,
            },
        ],
        "subtotal_fen": 306500,
        "discount_fen": 3500,
        "payable_fen": 301500,
        "applied": [
            {"kind": "threshold", "title": "满3000减20", "discount_fen": 2000},
            {"kind": "combo_gift", "title": "买茅台送凤爪", "discount_fen": 1500},
        ],
        "customer": {"nickname": "Alice 王", "phone": "13812345678", "phone_masked": "138****5678"},
        "payment": {"method": "wechat", "paid_at": "2026-11-23T13:05:09.000Z"},
        "note": "麻烦\n装袋\x1b[31m",
        "created_at": "2026-11-23T13:04:00.000Z",
    }
    base.update(order)
    return {
        "kind": "order",
        "store": {"name": "烟酒行·解放碑店", "address": "重庆市渝中区民族路166号", "phone": "023-63812166"},
        "order": base,
    }


@pytest.mark.parametrize("width_mm, cols", [(58, 32), (80, 48)])
def test_every_line_fits_the_paper(width_mm, cols):
    t = d.layout(doc(), width_mm, TZ)
    text = d.render_text(t)
    lines = text.splitlines()
    assert max(d.text_width(ln) for ln in lines) <= cols
    assert any(d.text_width(ln) == cols for ln in lines)  # rules span the width
    for b in t.blocks:
        if isinstance(b, d.Line) and b.big:
            assert d.text_width(b.text) * 2 <= cols  # double width still fits


def test_cjk_counts_double():
    assert d.text_width("abc") == 3 and d.text_width("解放碑") == 6 and d.text_width("，（）") == 6
    assert d.text_width("·") == 1 and d.text_width("e\u0301") == 1
    assert d.wrap("解放碑解放碑", 5) == ["解放", "碑解", "放碑"]
    assert d.wrap("国窖1573 52%vol", 8) == ["国窖1573", "52%vol"]
    assert d.fit("解放碑", 5) == "解放"


def test_ticket_content():
    text = d.render_text(d.layout(doc(), 80, TZ))
    assert "烟酒行·解放碑店" in text and "电话 023-63812166" in text
    assert "【小程序订单】 到店自提" in text and "取货码 482913" in text
    assert f"单号: {ORDER_ID}" in text
    assert "支付时间: 2026-11-23 21:05:09" in text and "下单时间: 2026-11-23 21:04:00" in text  # BUSINESS_TZ
    assert "顾客: Alice 王 138****5678" in text and "13812345678" not in text
    assert "6.00 x 6" in text and "34.00" in text and "-2.00" in text
    assert "赠品" in text
    assert "满3000减20" in text and "买茅台送凤爪" in text
    lines = {ln.split()[0]: ln.split()[-1] for ln in text.splitlines() if ln.strip() and len(ln.split()) > 1}
    assert lines["商品合计"] == "3065.00" and lines["优惠合计"] == "-35.00" and lines["实付"] == "3015.00"
    assert "支付方式: 微信支付" in text
    assert "备注: 麻烦 装袋 [31m" in text and "\x1b" not in text  # no control codes get through
    # the long product name wraps; nothing is lost
    flat = "".join(text.split())
    assert "贵州茅台飞天53%vol500ml礼盒装（含手提袋与两只品鉴杯）" in flat


def test_delivery_pos_and_refund_tickets():
    delivery = d.render_text(
        d.layout(
            doc(
                fulfillment="delivery",
                pickup_code=None,
                address={
                    "name": "张先生",
                    "phone": "13987654321",
                    "detail": "渝中区民族路100号3楼",
                    "lat": 29.5,
                    "lng": 106.5,
                },
            ),
            58,
            TZ,
        )
    )
    assert "外送" in delivery and "收货人: 张先生 139****4321" in delivery and "渝中区民族路100号3楼" in delivery
    assert "取货码" not in delivery
    pos = d.render_text(
        d.layout(
            doc(
                channel="pos",
                customer=None,
                fulfillment="pickup",
                pickup_code=None,
                payment={"method": "cash", "paid_at": "2026-11-23T04:00:00Z"},
            ),
            58,
            TZ,
        )
    )
    assert "【门店收银】" in pos and "支付方式: 现金" in pos and "顾客" not in pos
    refund = doc(
        refund={
            "refund_id": "01JRFND0000000000000000000",
            "amount_fen": 1200,
            "reason": "破损",
            "lines": [{"sku": "BR-CQ-GB-500", "qty": 2, "amount_fen": 1200}],
        }
    )
    text = d.render_text(d.layout({**refund, "kind": "refund"}, 80, TZ))
    assert "【退款单】" in text and "重庆啤酒 国宾 醇麦" in text and "x2 -12.00" in text
    assert "退款金额" in text and "12.00" in text and "原因: 破损" in text
    reprint = d.render_text(d.layout(doc(), 58, TZ, kind=d.REPRINT))
    assert reprint.startswith(d.align("*** 重印 REPRINT ***", 32, "center"))


def test_starprnt_job():
    t = d.layout(doc(), 80, TZ)
    job = d.render_starprnt(t)
    raw = job.encode("utf-8")
    assert raw.startswith(b"\x1b\x1d)U\x02\x00\x30\x01")  # UTF-8 text mode first
    assert b"\x1b\x1d)U\x05\x00\x41\x02" in raw  # Simplified Chinese glyphs
    qr = b"\x1b\x1dyD1\x00" + bytes([len(ORDER_ID), 0]) + ORDER_ID.encode()
    assert qr in raw and raw.index(qr) < raw.index(b"\x1b\x1dyP")  # QR data, then print it
    assert b"\x1bi\x01\x01\x1bE" + "取货码 482913".encode() in raw  # double size pickup code
    assert raw.endswith(b"\x1bd\x03")  # feed and partial cut
    # commands are 7-bit; everything else is the ticket's own (printable) text: the job is valid UTF-8
    assert all(ord(c) < 0x80 or unicodedata.category(c)[0] in "LNPSZ" for c in job)
    assert job == d.render_starprnt(d.layout(doc(), 80, TZ))  # deterministic
    with pytest.raises(ValueError):
        d.qr_commands("x" * 128)


def test_media_types():
    assert d.choose_media(None) == d.STARPRNT
    assert d.choose_media("text/plain") == "text/plain"
    assert d.choose_media("TEXT/PLAIN; charset=utf-8") == "text/plain"
    assert d.choose_media("image/png") is None
    assert d.CONTENT_TYPES["text/plain"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "code, status",
    [
        ("200 OK", "ok"),
        ("200%20OK", "ok"),
        ("211 Paper low", "paper_low"),
        ("210", "paper_low"),
        ("410 Out of paper", "paper_empty"),
        ("411 Paper jam", "paper_jam"),
        ("412", "paper_error"),
        ("420 Cover open", "cover_open"),
        ("400 Error", "error"),
        ("510 Incompatible media", "client_error"),
        ("", "unknown"),
        (None, "unknown"),
        ("OK", "unknown"),
        ("9x9", "unknown"),
    ],
)
def test_printer_status(code, status):
    assert d.printer_status(code) == status


def test_confirmation_codes():
    assert d.confirmed_ok("200 OK") and d.confirmed_ok("200%20OK") and d.confirmed_ok("OK") and d.confirmed_ok("201")
    assert (
        not d.confirmed_ok("520 Timeout")
        and not d.confirmed_ok("410")
        and not d.confirmed_ok("")
        and not d.confirmed_ok("x")
    )


def test_mac_addresses():
    assert d.normalize_mac("00:11:62:0A:0B:0C") == "00:11:62:0a:0b:0c"
    assert d.normalize_mac("00-11-62-0a-0b-0c") == d.normalize_mac("0011620a0b0c") == "00:11:62:0a:0b:0c"
    assert d.normalize_mac("00%3A11%3A62%3A0a%3A0b%3A0c") == "00:11:62:0a:0b:0c"
    for bad in ("00:11:62:0a:0b", "00:11-62:0a:0b:0c", "zz:11:62:0a:0b:0c", "", None, "0" * 40):
        assert d.normalize_mac(bad) is None


def test_tokens():
    tok = d.token(ORDER_ID, "refund-01JRFND0000000000000000000", 2, "abc123")
    assert d.parse_token(tok) == (ORDER_ID, "refund-01JRFND0000000000000000000")
    assert d.parse_token(d.token(ORDER_ID, "order", 1, "Zz-_09")) == (ORDER_ID, "order")
    for bad in (
        "",
        None,
        "x",
        f"{ORDER_ID}.order.1",
        f"{ORDER_ID}.other.1.abcdef",
        f"{ORDER_ID}.order.1.a/b/cd",
        f"{ORDER_ID.lower()}.order.1.abcdef",
    ):
        assert d.parse_token(bad) is None


def test_job_state_machine():
    t0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    ready = d.JobView(d.READY, 0, None)
    assert d.on_poll(ready, t0, 60, 3) == "offer"
    offered = d.JobView(d.OFFERED, 1, t0)
    assert d.on_poll(offered, t0 + timedelta(seconds=59), 60, 3) == "same"
    assert d.on_poll(offered, t0 + timedelta(seconds=60), 60, 3) == "offer"
    assert d.on_poll(d.JobView(d.OFFERED, 3, t0), t0 + timedelta(seconds=60), 60, 3) == "fail"
    assert d.on_poll(d.JobView(d.DONE, 1, t0), t0, 60, 3) == "skip"
    assert d.on_poll(d.JobView(d.FAILED, 3, t0), t0, 60, 3) == "skip"
    assert d.on_confirm(True, d.JobView(d.OFFERED, 3, t0), 3) == "done"
    assert d.on_confirm(False, d.JobView(d.OFFERED, 2, t0), 3) == "retry"
    assert d.on_confirm(False, d.JobView(d.OFFERED, 3, t0), 3) == "fail"


def test_offline_rule():
    t0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    assert not d.is_offline(t0, 5, 5, t0 + timedelta(seconds=15))
    assert d.is_offline(t0, 5, 5, t0 + timedelta(seconds=15, milliseconds=1))
    assert d.is_offline(t0, 30, 5, t0 + timedelta(seconds=66)) and not d.is_offline(None, 5, 5, t0)


@given(st.text(min_size=0, max_size=300), st.sampled_from([32, 48]))
def test_wrap_never_overflows_and_keeps_the_text(s, width):
    lines = d.wrap(s, width)
    assert all(d.text_width(ln) <= width for ln in lines)
    assert "".join("".join(lines).split()) == "".join(d.clean(s).split())


def test_a_problem_is_alerted_once_per_episode():
    from chalicelib.printing.domain import problem_change

    assert problem_change(None, "paper_empty") == ("paper_empty", True)
    assert problem_change("paper_empty", "paper_empty") == ("paper_empty", False)
    assert problem_change("paper_empty", "error") == ("paper_empty", False)  # not printable, not over
    assert problem_change("paper_empty", "cover_open") == ("cover_open", True)
    assert problem_change("cover_open", "ok") == (None, False)
    assert problem_change(None, "paper_low") == (None, False)


def test_failed_attempts_back_off_and_a_waiting_job_is_not_offered():
    from datetime import UTC, datetime, timedelta

    from chalicelib.printing.domain import READY, JobView, on_poll, parse_backoff, retry_delay_s

    backoff = parse_backoff("10,60,300")
    assert [retry_delay_s(n, backoff) for n in (1, 2, 3, 4)] == [10, 60, 300, 300]
    now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    waiting = JobView(READY, 1, now - timedelta(seconds=5), now + timedelta(seconds=5))
    assert on_poll(waiting, now, 60, 4) == "skip"
    assert on_poll(waiting, now + timedelta(seconds=5), 60, 4) == "offer"
