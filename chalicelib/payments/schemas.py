"""pydantic models of WeChat Pay APIv3 payloads we read, and of what we hand to the mini-program.

Unknown fields are ignored (WeChat adds fields without notice); the ones we rely on are required.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EncryptedResource(_Lenient):
    algorithm: str
    ciphertext: str
    nonce: str
    associated_data: str = ""
    original_type: str | None = None


class NotificationEnvelope(_Lenient):
    """The body WeChat POSTs to ``notify_url``."""

    id: str = Field(min_length=1)
    create_time: str | None = None
    event_type: str = Field(min_length=1)
    resource_type: str
    resource: EncryptedResource
    summary: str | None = None


class TransactionAmount(_Lenient):
    total: int = Field(ge=0)
    payer_total: int | None = None
    currency: str = "CNY"
    payer_currency: str | None = None


class TransactionPayer(_Lenient):
    openid: str | None = None


class TransactionResource(_Lenient):
    """The decrypted ``resource`` of a TRANSACTION.* notification (same shape as a transaction query)."""

    out_trade_no: str = Field(min_length=1)
    transaction_id: str = ""
    trade_state: str = Field(min_length=1)
    trade_type: str | None = None
    amount: TransactionAmount
    payer: TransactionPayer | None = None
    success_time: str | None = None
    mchid: str | None = None
    appid: str | None = None


class RefundAmount(_Lenient):
    total: int = Field(ge=0)
    refund: int = Field(ge=0)
    payer_total: int | None = None
    payer_refund: int | None = None


class RefundResource(_Lenient):
    """The decrypted ``resource`` of a REFUND.* notification (REFUND.SUCCESS / ABNORMAL / CLOSED)."""

    out_trade_no: str = Field(min_length=1)
    out_refund_no: str = Field(min_length=1)
    refund_id: str = ""
    transaction_id: str = ""
    refund_status: str = Field(min_length=1)
    success_time: str | None = None
    user_received_account: str | None = None
    amount: RefundAmount
    mchid: str | None = None


class WechatPayParams(BaseModel):
    """Exactly the arguments of ``wx.requestPayment`` (mini-program)."""

    appId: str
    timeStamp: str
    nonceStr: str
    package: str = Field(description='"prepay_id=..."')
    signType: str = Field(description='"RSA"')
    paySign: str
