"""tools.printer_sim: its StarPRNT reader gets back the text of a job this backend renders (so what the demo
printer shows with --media application/vnd.star.starprnt is what a real printer prints)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from chalicelib.printing import domain as d
from tests.unit.test_printing_domain import ORDER_ID, doc
from tools.printer_sim import decode_starprnt


def test_starprnt_job_reads_back_as_the_ticket_text():
    ticket = d.layout(doc(), 58, ZoneInfo("Asia/Shanghai"))
    decoded = decode_starprnt(d.render_starprnt(ticket))
    text = d.render_text(ticket)
    decoded_lines = [ln.strip() for ln in decoded.splitlines() if ln.strip()]
    text_lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    assert f"[QR {ORDER_ID}]" in decoded_lines
    assert [ln for ln in decoded_lines if not ln.startswith("[QR ")] == text_lines
    assert "\x1b" not in decoded and "\x1d" not in decoded
