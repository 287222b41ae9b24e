"""What every payment provider shares: the results the orders domain gets back, the provider interface, the
provider errors, and which provider and merchant the settings choose. Both providers (``client``,
``sandbox``) build on this module; neither imports the other."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from chalicelib.core.errors import Conflict, UpstreamUnavailable
from chalicelib.core.settings import Settings, get_settings
from chalicelib.payments import domain
from chalicelib.payments.errors import PaymentCode

SANDBOX_MCHID = "1900000109"
SANDBOX_APPID = "wxd678efh567hg6787"


# --- what the orders domain gets back ------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepay:
    """What the mini-program passes to ``wx.requestPayment``."""

    appId: str
    timeStamp: str
    nonceStr: str
    package: str  # "prepay_id=..."
    signType: str  # "RSA"
    paySign: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RefundResult:
    refund_id: str  # ours (out_refund_no)
    provider_refund_id: str  # WeChat's refund_id
    status: str  # "SUCCESS" | "PROCESSING" (WeChat may also answer "CLOSED" / "ABNORMAL")


@dataclass(frozen=True)
class Charge:
    """A completed POS 付款码 payment."""

    transaction_id: str
    amount_fen: int


@dataclass(frozen=True)
class Transfer:
    """A transfer to a member's WeChat change (商家转账到零钱), by our id (WeChat's out_batch_no and out_detail_no):
    ``SUCCESS`` (in the member's change), ``FAIL`` (nothing was paid; ``message`` says why) or ``PROCESSING``."""

    transfer_id: str
    status: str
    provider_id: str | None = None
    message: str | None = None


class PaymentClient(Protocol):
    def prepay(
        self, *, order_id: str, amount_fen: int, description: str, openid: str, expires_at: datetime
    ) -> Prepay: ...

    def refund(
        self, *, order_id: str, refund_id: str, amount_fen: int, total_fen: int, reason: str
    ) -> RefundResult: ...

    def refund_status(self, *, refund_id: str) -> RefundResult: ...

    def micropay(self, *, order_id: str, amount_fen: int, auth_code: str, description: str) -> Charge: ...

    def transfer(self, *, transfer_id: str, openid: str, amount_fen: int, remark: str) -> Transfer: ...

    def transfer_status(self, *, transfer_id: str) -> Transfer | None: ...


def unavailable(message: str = "The payment provider did not answer; try again", **details: Any) -> UpstreamUnavailable:
    return UpstreamUnavailable(message, code=PaymentCode.PAYMENT_UNAVAILABLE, details=details)


def not_configured(what: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        "Payments are not configured", code=PaymentCode.PAYMENT_NOT_CONFIGURED, details={"missing": what}
    )


def declined(message: str = "The payment was declined", **details: Any) -> Conflict:
    return Conflict(message, code=PaymentCode.PAYMENT_DECLINED, details=details)


# --- settings ------------------------------------------------------------------------------------------------


def provider_name(s: Settings | None = None) -> str:
    s = s or get_settings()
    name = (s.payment_provider or "").strip().lower() or ("sandbox" if s.stage in ("local", "test") else "wechatpay")
    if name not in ("wechatpay", "sandbox"):
        raise not_configured("PAYMENT_PROVIDER")
    if name == "sandbox" and s.stage == "prod":
        raise UpstreamUnavailable(
            "The sandbox payment provider is refused on prod", code=PaymentCode.PAYMENT_NOT_CONFIGURED
        )
    return name


def merchant_ids(s: Settings | None = None) -> tuple[str, str]:
    """``(mchid, appid)`` of our merchant; sandbox defaults when the sandbox runs unconfigured."""
    s = s or get_settings()
    mchid, appid = s.wechatpay_mchid, s.wechatpay_appid or s.wechat_appid
    if provider_name(s) == "sandbox":
        return mchid or SANDBOX_MCHID, appid or SANDBOX_APPID
    return mchid, appid


@lru_cache(maxsize=16)
def _private_key(pem: str):
    return domain.load_private_key(pem)
