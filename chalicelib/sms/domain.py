"""Pure SMS rules: templates, phone numbers, quiet hours and rate-limit buckets. No I/O, no clock, no settings.

Templates are what a provider has approved (Aliyun: a template code per template, variables ``${name}``); the
text here is the local rendering (outbox, logs) and must match the approved wording. Categories:

- ``notice``: transactional messages to customers (order paid / ready / refunded);
- ``alert``: staff alerts (low stock, printer offline, print failed, dead letters);
- ``marketing``: never sent in quiet hours (held until they end) and never to a number that opted out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from chalicelib.core import clock

NOTICE, ALERT, MARKETING = "notice", "alert", "marketing"
MAX_PARAM_LEN = 35  # Aliyun: a template variable's value is at most 35 characters


@dataclass(frozen=True)
class Template:
    name: str
    category: str
    text: str  # with ${param} placeholders

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\$\{(\w+)\}", self.text))


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("order_paid", NOTICE, "您在${store}的订单${order}已支付${amount}元，取货码${code}，我们正在备货。"),
        Template(
            "order_paid_delivery", NOTICE, "您在${store}的订单${order}已支付${amount}元，我们正在备货，稍后送达。"
        ),
        Template("order_ready", NOTICE, "您在${store}的订单${order}已备好，请凭取货码${code}到店自提。"),
        Template("refund_completed", NOTICE, "您的订单${order}已退款${amount}元，款项将原路退回。"),
        Template("level_up", NOTICE, "恭喜您升级为${level}，下单即享会员权益。"),
        Template("low_stock", ALERT, "${store}库存预警：${sku}仅剩${qty}，低于预警值${threshold}，请及时补货。"),
        Template("printer_offline", ALERT, "${store}的打印机${printer}已离线（最后在线${time}），请检查电源和网络。"),
        Template(
            "print_failed", ALERT, "${store}订单${order}的小票在打印机${printer}上${attempts}次未打印成功，请处理。"
        ),
        Template(
            "refund_abnormal", ALERT, "【退款异常】订单${order}的退款${amount}元未能退回（${status}），请人工处理。"
        ),
        Template(
            "payment_anomaly", ALERT, "【支付对账】收到无法匹配的微信支付通知（${reason}）：${trade}，金额${amount}元。"
        ),
        Template("accept_reminder", ALERT, "${store}有已支付订单${order}已${minutes}分钟未接单，请尽快处理。"),
        Template("accept_escalation", ALERT, "【升级】${store}订单${order}已${minutes}分钟未接单，请店长立即处理。"),
        Template(
            "order_auto_refunded", NOTICE, "很抱歉，${store}未能及时接单，您的订单${order}已全额退款${amount}元。"
        ),
        Template("printer_problem", ALERT, "${store}的打印机${printer}${problem}，小票暂停打印，请及时处理。"),
        Template("dead_letters", ALERT, "【运维】队列${queue}的死信队列有${count}条消息，请尽快处理。"),
        Template("ledger_drift", ALERT, "【对账】${day}有${count}个余额与流水不符（${first}），请立即核查。"),
        Template("marketing_notice", MARKETING, "${store}：${content} 拒收请回复R"),
        Template(
            "coupon_expiring", MARKETING, "您有${count}张优惠券（${title}）将于${date}到期，别忘了使用哦。拒收请回复R"
        ),
    )
}


class TemplateError(ValueError):
    pass


def template(name: str) -> Template:
    t = TEMPLATES.get(name)
    if t is None:
        raise TemplateError(f"unknown SMS template {name!r}")
    return t


def check_params(t: Template, params: Mapping[str, Any]) -> dict[str, str]:
    """Exactly the template's parameters, each a short single line of text."""
    missing = [p for p in t.params if p not in params]
    extra = [p for p in params if p not in t.params]
    if missing or extra:
        raise TemplateError(f"template {t.name}: missing {missing}, unexpected {extra}")
    out = {}
    for p in t.params:
        v = re.sub(r"\s+", " ", str(params[p])).strip()
        out[p] = v if len(v) <= MAX_PARAM_LEN else v[: MAX_PARAM_LEN - 1] + "…"
    return out


def render(t: Template, params: Mapping[str, str], sign_name: str) -> str:
    body = t.text
    for k, v in params.items():
        body = body.replace("${" + k + "}", v)
    return f"【{sign_name}】{body}"


# =========================================================================================== phones


def short_order(order_id: str) -> str:
    """What a customer reads in a message: the last 6 characters of the order id."""
    return order_id[-6:]


def local_time(iso: str | None, tz, fmt: str = "%m-%d %H:%M") -> str:
    """An RFC 3339 time as a short local time for a message ("11-23 21:05")."""
    if not iso:
        return "-"
    try:
        return clock.parse(str(iso)).astimezone(tz).strftime(fmt)
    except ValueError:
        return "-"


# =========================================================================================== quiet hours
def _hhmm(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def in_quiet_hours(local: datetime, start: str = "21:00", end: str = "09:00") -> bool:
    """Whether ``local`` (business time zone) is inside [start, end), which may span midnight."""
    s, e, t = _hhmm(start), _hhmm(end), local.time()
    if s <= e:
        return s <= t < e
    return t >= s or t < e


def quiet_ends(local: datetime, start: str = "21:00", end: str = "09:00") -> datetime:
    """When the quiet period containing ``local`` ends (aware, same zone)."""
    e = _hhmm(end)
    candidate = local.replace(hour=e.hour, minute=e.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


# =========================================================================================== limits
def day_bucket(local: datetime) -> str:
    return local.strftime("%Y-%m-%d")


def minute_bucket(local: datetime) -> str:
    return local.strftime("%Y-%m-%dT%H:%M")


def seconds_to_next_minute(local: datetime) -> int:
    return 60 - local.second if local.second or local.microsecond else 60
