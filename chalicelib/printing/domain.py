"""Pure printing rules: ticket layout, its two renderings, printer status codes, MACs, job tokens and the job state
machine. No I/O, no clock, no settings: everything is an argument.

Ticket = a list of blocks laid out for a paper width (58 mm: 32 columns, 80 mm: 48 columns; a CJK character takes
two columns). The same layout is rendered as

- ``text/plain`` (UTF-8): what the printer prints with its own font; no QR code;
- ``application/vnd.star.starprnt``: StarPRNT commands (mC-Print3, TSP100IV): UTF-8 text mode with Simplified
  Chinese glyphs first, the pickup code in double size, a QR code of the order id, feed and partial cut. Every
  command byte is 7-bit and the text is UTF-8, so the job is valid UTF-8 and travels as text through Chalice and
  API Gateway (no binary media types needed).

Star's own references: CloudPRNT protocol guide (poll/GET/DELETE, printer status codes, media types per model) and
the StarPRNT command specification (ESC GS ) U, ESC GS y S/D/P, ESC i, ESC d).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import unquote

from chalicelib.core import clock, money, phones

COLUMNS = {58: 32, 80: 48}
PAPER_WIDTHS = tuple(COLUMNS)

TEXT = "text/plain"
STARPRNT = "application/vnd.star.starprnt"
MEDIA_TYPES = (STARPRNT, TEXT)  # offered in this order; the printer picks what it prefers
CONTENT_TYPES = {TEXT: "text/plain; charset=utf-8", STARPRNT: STARPRNT}

# Job states. READY: waiting for its printer (in the printer's queue index). OFFERED: a poll handed it out with
# a token; not confirmed yet. DONE: confirmed printed. FAILED: gave up after the maximum number of attempts.
READY, OFFERED, DONE, FAILED = "READY", "OFFERED", "DONE", "FAILED"
OPEN_STATES = (READY, OFFERED)

# Job kinds and document keys: one job per (order, document, printer).
ORDER, REFUND, REPRINT = "order", "refund", "reprint"


# =========================================================================================== text width
def char_width(ch: str) -> int:
    """Columns a character takes on the printer: CJK wide/full-width 2, combining and control 0, else 1."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Cc", "Cf", "Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(s: str) -> int:
    return sum(char_width(c) for c in s)


def clean(s: Any) -> str:
    """One printable line: control characters (ESC!) and line breaks become spaces, runs of spaces collapse."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(s or ""))
    return re.sub(r"\s+", " ", text).strip()


def wrap(s: str, width: int) -> list[str]:
    """Greedy wrap by display width. Latin words are kept whole when they fit on a line; CJK breaks anywhere."""
    s = clean(s)
    if not s:
        return [""]
    lines: list[str] = []
    line, used = "", 0
    tokens = re.findall(r"[A-Za-z0-9\-_.,:/@#%+]+|\s|.", s)
    for tok in tokens:
        w = text_width(tok)
        if tok == " " and not line:
            continue
        if used + w <= width:
            line, used = line + tok, used + w
            continue
        if w <= width and len(tok) > 1:  # a whole word that fits on the next line
            lines.append(line.rstrip())
            line, used = tok, w
            continue
        for ch in tok:  # a CJK char, or a word longer than a line
            cw = char_width(ch)
            if used + cw > width:
                lines.append(line.rstrip())
                line, used = "", 0
                if ch == " ":
                    continue
            line, used = line + ch, used + cw
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def fit(s: str, width: int) -> str:
    """Cut to at most ``width`` columns (never splitting a wide character)."""
    out, used = "", 0
    for ch in s:
        cw = char_width(ch)
        if used + cw > width:
            break
        out, used = out + ch, used + cw
    return out


def align(s: str, width: int, how: str = "left") -> str:
    s = fit(s, width)
    gap = width - text_width(s)
    if how == "right":
        return " " * gap + s
    if how == "center":
        return " " * (gap // 2) + s
    return s


def columns(left: str, right: str, width: int, indent: int = 0) -> list[str]:
    """``left ... right`` on one line when both fit, else ``left`` wrapped and ``right`` right-aligned below."""
    right = clean(right)
    left_lines = [" " * indent + ln for ln in wrap(left, width - indent)]
    last = left_lines[-1]
    if text_width(last) + 1 + text_width(right) <= width:
        gap = width - text_width(last) - text_width(right)
        return left_lines[:-1] + [last + " " * gap + right]
    return left_lines + [align(right, width, "right")]


# =========================================================================================== ticket layout
@dataclass(frozen=True)
class Line:
    text: str
    align: str = "left"  # left | center | right (text already padded to the width for left/right)
    big: bool = False  # double width and height where the media type allows (StarPRNT)
    bold: bool = False


@dataclass(frozen=True)
class Qr:
    data: str


@dataclass(frozen=True)
class Ticket:
    width: int
    blocks: tuple = field(default_factory=tuple)


CHANNELS = {"shop": "小程序订单", "pos": "门店收银"}
FULFILMENT = {"pickup": "到店自提", "delivery": "外送"}
PAY_METHODS = {"wechat": "微信支付", "wechat_scan": "微信付款码", "cash": "现金", "wallet": "储值余额"}


def local_time(iso: str | None, tz: tzinfo) -> str:
    if not iso:
        return ""
    try:
        dt = clock.parse(str(iso))
    except ValueError:
        return clean(iso)
    if dt.tzinfo is None:
        return dt.strftime("%Y-%m-%d %H:%M:%S")
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


class _Sheet:
    """The blocks of a ticket being laid out at ``width`` columns."""

    def __init__(self, width: int):
        self.width = width
        self.blocks: list[Any] = []

    def add(self, block: Any) -> None:
        self.blocks.append(block)

    def text(self, s: str, how: str = "left", big: bool = False, bold: bool = False) -> None:
        # Big lines (double width) wrap at half the columns and are aligned by the renderer.
        for ln in wrap(s, self.width // 2 if big else self.width):
            self.add(Line(ln if big else align(ln, self.width, how), how, big, bold))

    def rule(self, ch: str = "-") -> None:
        self.add(Line(ch * self.width))

    def pair(self, left: str, right: str, indent: int = 0) -> None:
        for ln in columns(left, right, self.width, indent):
            self.add(Line(ln))

    def ticket(self) -> Ticket:
        return Ticket(width=self.width, blocks=tuple(self.blocks))


def layout(doc: dict[str, Any], width_mm: int, tz: tzinfo, *, kind: str = ORDER) -> Ticket:
    """The ticket of a print document for a paper width.

    ``doc``: ``{"kind": "order"|"refund", "store": {name, address, phone}, "order": <OrderPaid/RefundCompleted
    snapshot>}``; ``kind`` of the job (a reprint renders its source document with a REPRINT banner)."""
    sheet = _Sheet(COLUMNS[width_mm])
    order: dict[str, Any] = doc.get("order") or {}
    refund = doc.get("kind") == REFUND
    _heading(sheet, doc.get("store") or {}, order, refund=refund, reprint=kind == REPRINT)
    _order_facts(sheet, order, tz)
    if refund:
        _refund_lines(sheet, order)
    else:
        _sale_lines(sheet, order)
    _closing(sheet, order)
    return sheet.ticket()


def _heading(sheet: _Sheet, store: dict[str, Any], order: dict[str, Any], *, refund: bool, reprint: bool) -> None:
    """The REPRINT banner, the store, what the ticket is and the pickup code."""
    text, width = sheet.text, sheet.width
    if reprint:
        text("*** 重印 REPRINT ***", "center", bold=True)
    text(
        store.get("name") or f"门店 {order.get('store_id', '')}",
        "center",
        big=text_width(clean(store.get("name"))) <= width // 2,
        bold=True,
    )
    if store.get("address"):
        text(store["address"], "center")
    if store.get("phone"):
        text(f"电话 {store['phone']}", "center")
    sheet.rule("=")
    channel = CHANNELS.get(order.get("channel", ""), clean(order.get("channel")))
    fulfilment = FULFILMENT.get(order.get("fulfillment", ""), "")
    title = "退款单" if refund else channel
    text(f"【{title}】 {fulfilment}".strip(), "center", bold=True)
    if not refund and order.get("fulfillment") == "pickup" and order.get("pickup_code"):
        text(f"取货码 {order['pickup_code']}", "center", big=True, bold=True)
    sheet.rule()


def _order_facts(sheet: _Sheet, order: dict[str, Any], tz: tzinfo) -> None:
    """Order number, times, customer and delivery address."""
    text = sheet.text
    text(f"单号: {order.get('order_id', '')}")  # 6 + 26 columns: one line on 58 mm paper too
    created = local_time(order.get("created_at"), tz)
    if created:
        text(f"下单时间: {created}")
    payment = order.get("payment") or {}
    if payment.get("paid_at"):
        text(f"支付时间: {local_time(payment['paid_at'], tz)}")
    customer = order.get("customer") or {}
    who = " ".join(
        x
        for x in (clean(customer.get("nickname")), customer.get("phone_masked") or phones.mask(customer.get("phone")))
        if x
    )
    if who:
        text(f"顾客: {who}")
    address = order.get("address") or {}
    if order.get("fulfillment") == "delivery" and address:
        text(f"收货人: {clean(address.get('name'))} {phones.mask(address.get('phone')) or ''}".rstrip())
        text(f"地址: {clean(address.get('detail'))}")
    sheet.rule()


def _refund_lines(sheet: _Sheet, order: dict[str, Any]) -> None:
    """A refund ticket's body: the refunded lines, the amount and the reason."""
    text, pair = sheet.text, sheet.pair
    r = order.get("refund") or {}
    names = {ln.get("sku"): ln.get("name") for ln in order.get("lines") or []}
    pair("退款商品", "数量  金额")
    for ln in r.get("lines") or []:
        text(names.get(ln.get("sku")) or ln.get("sku", ""))
        pair(ln.get("sku", ""), f"x{ln.get('qty', 0)}  {money.yuan(-int(ln.get('amount_fen', 0)))}", indent=2)
    sheet.rule()
    pair("退款金额", money.yuan(int(r.get("amount_fen", 0))), 0)
    if r.get("reason"):
        text(f"原因: {r['reason']}")
    pair("原订单实付", money.yuan(int(order.get("payable_fen", 0))))


def _sale_lines(sheet: _Sheet, order: dict[str, Any]) -> None:
    """An order ticket's body: lines with their discounts, totals, refunds so far and the payment method."""
    text, pair = sheet.text, sheet.pair
    pair("商品", "金额")
    for ln in order.get("lines") or []:
        text(ln.get("name") or ln.get("sku", ""))
        qty, unit = int(ln.get("qty", 0)), int(ln.get("unit_price_fen", 0))
        payable = int(ln.get("payable_fen", qty * unit - int(ln.get("discount_fen", 0))))
        label = "赠品" if ln.get("gift") else f"{money.yuan(unit)} x {qty}"
        pair(label, money.yuan(payable), indent=2)
        if int(ln.get("discount_fen", 0)) and not ln.get("gift"):
            pair("优惠", money.yuan(-int(ln["discount_fen"])), indent=2)
    sheet.rule()
    pair("商品合计", money.yuan(int(order.get("subtotal_fen", 0))))
    if int(order.get("discount_fen", 0)):
        pair("优惠合计", money.yuan(-int(order["discount_fen"])))
        for a in order.get("applied") or []:
            pair(clean(a.get("title") or a.get("kind") or "优惠"), money.yuan(-int(a.get("discount_fen", 0))), indent=2)
    if int(order.get("delivery_fee_fen", 0) or 0):
        pair("配送费", money.yuan(int(order["delivery_fee_fen"])))
    pair("实付", money.yuan(int(order.get("payable_fen", 0))))
    if int(order.get("refunded_fen", 0) or 0):
        pair("已退款", money.yuan(-int(order["refunded_fen"])))
    method = (order.get("payment") or {}).get("method")
    if method:
        text(f"支付方式: {PAY_METHODS.get(method, clean(method))}")


def _closing(sheet: _Sheet, order: dict[str, Any]) -> None:
    """The note, a QR code of the order id and the thanks."""
    if order.get("note"):
        sheet.text(f"备注: {order['note']}")
    sheet.rule()
    if order.get("order_id"):
        sheet.add(Qr(str(order["order_id"])))
        sheet.text(str(order["order_id"]), "center")
    sheet.text("谢谢惠顾，欢迎再次光临", "center")


# =========================================================================================== renderings
def render_text(ticket: Ticket) -> str:
    """text/plain: every line at most ``width`` columns; QR codes are left out (plain text has none)."""
    out = []
    for b in ticket.blocks:
        if isinstance(b, Line):
            out.append((align(b.text, ticket.width, b.align) if b.big else b.text).rstrip())
    return "\n".join(out) + "\n\n\n"


ESC, GS = b"\x1b", b"\x1d"
SP_UTF8 = ESC + GS + b")U\x02\x00\x30\x01"  # text encoding: UTF-8
SP_AMBIGUOUS_SINGLE = ESC + GS + b")U\x02\x00\x40\x00"  # East Asian ambiguous characters single width
SP_CJK_PRIORITY = ESC + GS + b")U\x05\x00\x41\x02\x03\x01\x04"  # glyphs: Simplified Chinese first
SP_ALIGN = {"left": ESC + GS + b"a\x00", "center": ESC + GS + b"a\x01", "right": ESC + GS + b"a\x02"}
SP_BOLD_ON, SP_BOLD_OFF = ESC + b"E", ESC + b"F"
SP_BIG_ON, SP_BIG_OFF = ESC + b"i\x01\x01", ESC + b"i\x00\x00"  # double height and width
SP_CUT = ESC + b"d\x03"  # feed to the cutter and partial cut
QR_MAX = 127  # keeps the length byte 7-bit (and the job valid UTF-8)


def qr_commands(data: str, cell: int = 6) -> bytes:
    raw = data.encode("ascii")
    if not 0 < len(raw) <= QR_MAX:
        raise ValueError("QR data must be 1-127 ASCII characters")
    return (
        ESC
        + GS
        + b"yS0\x02"  # model 2
        + ESC
        + GS
        + b"yS1\x01"  # error correction M
        + ESC
        + GS
        + b"yS2"
        + bytes([cell])  # cell size in dots
        + ESC
        + GS
        + b"yD1\x00"
        + bytes([len(raw), 0])
        + raw
        + SP_ALIGN["center"]
        + ESC
        + GS
        + b"yP"
        + b"\n"
        + SP_ALIGN["left"]
    )


def render_starprnt(ticket: Ticket) -> str:
    """StarPRNT job. Returned as ``str``: 7-bit commands + UTF-8 text are valid UTF-8 throughout."""
    out = bytearray(SP_UTF8 + SP_AMBIGUOUS_SINGLE + SP_CJK_PRIORITY + SP_ALIGN["left"])
    for b in ticket.blocks:
        if isinstance(b, Qr):
            out += qr_commands(b.data, cell=5 if ticket.width <= 32 else 6)
            continue
        if b.big:
            out += SP_ALIGN[b.align] + SP_BIG_ON + (SP_BOLD_ON if b.bold else b"")
            out += b.text.strip().encode() + b"\n"
            out += (SP_BOLD_OFF if b.bold else b"") + SP_BIG_OFF + SP_ALIGN["left"]
            continue
        out += (SP_BOLD_ON if b.bold else b"") + b.text.rstrip().encode() + b"\n" + (SP_BOLD_OFF if b.bold else b"")
    out += SP_CUT
    return bytes(out).decode("utf-8")


def render(ticket: Ticket, media_type: str) -> str:
    if media_type == STARPRNT:
        return render_starprnt(ticket)
    if media_type == TEXT:
        return render_text(ticket)
    raise ValueError(media_type)


def choose_media(requested: str | None) -> str | None:
    """The media type to serve for a GET's ``type`` (None: our preferred one); None when we cannot."""
    if not requested:
        return MEDIA_TYPES[0]
    base = requested.split(";")[0].strip().lower()
    return base if base in MEDIA_TYPES else None


# =========================================================================================== printers
MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


def normalize_mac(mac: str | None) -> str | None:
    """``00:11:62:0A:0B:0C`` / ``00-11-62-0a-0b-0c`` / ``0011620a0b0c`` -> ``00:11:62:0a:0b:0c``; None if invalid."""
    m = unquote(str(mac or "")).strip().lower()
    if not MAC_RE.match(m):
        return None
    digits = re.sub(r"[:-]", "", m)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def printer_status(status_code: str | None) -> str:
    """A CloudPRNT printer status code (``"200 OK"``, ``"211 Paper low"``, ``"410 Out of paper"`` ...;
    sometimes URL-encoded) as one word for the back office."""
    code = unquote(str(status_code or "")).strip()[:3]
    if not (len(code) == 3 and code.isdigit()):
        return "unknown"
    if code[0] == "2":
        return "paper_low" if code in ("210", "211") else "ok"
    if code == "410":
        return "paper_empty"
    if code == "411":
        return "paper_jam"
    if code.startswith("41"):
        return "paper_error"
    if code.startswith("42"):
        return "cover_open"
    if code[0] == "4":
        return "error"
    if code[0] == "5":
        return "client_error"
    return "unknown"


def can_print(status: str) -> bool:
    return status in ("ok", "paper_low")


# A poll with one of these statuses starts a problem episode (one alert); a poll that can print ends it.
ALERTED_PROBLEMS = ("paper_empty", "paper_jam", "paper_error", "cover_open")


def problem_change(previous: str | None, status: str) -> tuple[str | None, bool]:
    """(the printer's problem after this poll, whether it starts a new episode to alert about). Statuses that
    are neither a problem nor printable (error, unknown) leave the episode as it is."""
    if status in ALERTED_PROBLEMS:
        return status, status != previous
    if can_print(status):
        return None, False
    return previous, False


def retry_delay_s(attempts: int, backoff_s: tuple[int, ...]) -> int:
    """How long a job waits after its ``attempts``-th failed attempt before it is offered again."""
    if not backoff_s:
        return 0
    return backoff_s[min(max(attempts, 1), len(backoff_s)) - 1]


def parse_backoff(value: str) -> tuple[int, ...]:
    return tuple(int(x) for x in value.split(",") if x.strip())


def confirmed_ok(code: str | None) -> bool:
    """DELETE ``code``: ``200 OK`` (or ``OK``, or any 2xx) is a printed job; anything else a failure."""
    c = unquote(str(code or "")).strip().upper()
    return c == "OK" or (len(c) >= 3 and c[:3].isdigit() and c[0] == "2")


def offline_after_s(poll_interval_s: int, grace_s: int) -> int:
    return 2 * int(poll_interval_s) + int(grace_s)


def is_offline(last_poll_at: datetime | None, poll_interval_s: int, grace_s: int, now: datetime) -> bool:
    return last_poll_at is not None and (now - last_poll_at).total_seconds() > offline_after_s(poll_interval_s, grace_s)


# =========================================================================================== jobs
ULID = r"[0-9A-HJKMNP-TV-Z]{26}"
DOC_RE = re.compile(rf"^(order|refund-{ULID}|reprint-{ULID})$")
TOKEN_RE = re.compile(rf"^({ULID})\.(order|refund-{ULID}|reprint-{ULID})\.([0-9]{{1,3}})\.([A-Za-z0-9_-]{{6,16}})$")


def token(order_id: str, doc: str, attempt: int, nonce: str) -> str:
    """The jobToken of one offer. It names the job (order, document) so GET/DELETE need no index; the printer
    comes from the caller's credentials, never from the token."""
    return f"{order_id}.{doc}.{attempt}.{nonce}"


def parse_token(value: str | None) -> tuple[str, str] | None:
    m = TOKEN_RE.match(value or "")
    return (m.group(1), m.group(2)) if m else None


def job_kind(doc: str) -> str:
    return doc.split("-", 1)[0]


@dataclass(frozen=True)
class JobView:
    status: str
    attempts: int
    offered_at: datetime | None
    available_at: datetime | None = None  # a READY job waiting out its backoff is not offered before


def offer_expired(job: JobView, now: datetime, timeout_s: int) -> bool:
    return job.status == OFFERED and job.offered_at is not None and now >= job.offered_at + timedelta(seconds=timeout_s)


def on_poll(job: JobView, now: datetime, timeout_s: int, max_attempts: int) -> str:
    """What a poll does with a job of its printer: ``offer`` (hand it out, a new attempt), ``same`` (the current
    offer again: not confirmed yet, not timed out), ``fail`` (its last allowed attempt timed out), ``skip``."""
    if job.status == READY:
        if job.available_at is not None and job.available_at > now:
            return "skip"
        return "fail" if job.attempts >= max_attempts else "offer"
    if job.status == OFFERED:
        if not offer_expired(job, now, timeout_s):
            return "same"
        return "fail" if job.attempts >= max_attempts else "offer"
    return "skip"


def on_confirm(ok: bool, job: JobView, max_attempts: int) -> str:
    """A DELETE for the current offer: ``done``, ``retry`` (offer again) or ``fail``."""
    if ok:
        return "done"
    return "fail" if job.attempts >= max_attempts else "retry"


def queue_sort_key(available_at_iso: str, order_id: str, doc: str) -> str:
    return f"{available_at_iso}#{order_id}#{doc}"


def due_bound(now_iso: str) -> str:
    """Upper bound of the queue index sort key for jobs available at ``now`` ('~' sorts after '#')."""
    return f"{now_iso}~"
