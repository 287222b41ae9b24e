"""Settings from the environment, read lazily (never at import) and cached.

Tests and the local stack set environment variables and call ``get_settings.cache_clear()``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    stage: Literal["local", "test", "dev", "prod"] = "dev"
    aws_region: str = Field(default="ap-southeast-1", validation_alias="AWS_DEFAULT_REGION")
    table_name: str = "omnistore-dev-app"
    idempotency_table_name: str = "omnistore-dev-idempotency"
    events_queue_name: str = "omnistore-dev-events"
    # Only set for the local stack and tests (DynamoDB Local / moto server); unset on AWS.
    dynamodb_endpoint: str | None = None
    # Seconds to wait for one DynamoDB answer before botocore retries (then core.dynamo / core.http: 503
    # TRY_AGAIN). The DynamoDB Local race tests raise it: a 500-thread burst on 2 cores can take longer.
    dynamodb_read_timeout_s: float = 5.0
    sqs_endpoint: str | None = None

    business_tz: str = "Asia/Shanghai"
    # Local stage only: the local stack's clock starts at this moment and runs on (try the night, a member day
    # or an expiry without waiting for it). Refused on every other stage.
    clock_at: AwareDatetime | None = None

    jwt_secret: SecretStr = SecretStr("")
    jwt_issuer: str = "omnistore"
    staff_token_ttl_s: int = 12 * 3600
    member_token_ttl_s: int = 7 * 24 * 3600
    # A staff token is refused once its account's session version moved on (core.sessions); each process
    # caches the version this many seconds (the process that made the change drops its entry at once).
    staff_session_cache_s: int = 10

    # Login throttling (identity.domain.LoginPolicy), kept in DynamoDB so it holds across Lambda instances.
    # Staff: per username and per source address, failures counted until LOGIN_WINDOW_S passes without one.
    login_delay_after: int = 5  # from the 5th failure on: wait 1, 2, 4 .. s before the next attempt
    login_lock_after: int = 10  # the 10th failure locks for LOGIN_LOCK_S
    login_lock_s: int = 15 * 60
    login_window_s: int = 15 * 60
    # A source address is shared by a whole shop (NAT): its thresholds are these multiples of the above.
    login_address_factor: int = 3
    # Member logins (WeChat, dev): attempts per openid and per source address within LOGIN_WINDOW_S.
    member_logins_per_openid: int = 20
    member_logins_per_address: int = 120

    wechat_appid: str = ""
    wechat_secret: SecretStr = SecretStr("")
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout_s: float = 3.0

    # Routing defaults (metres).
    default_pickup_radius_m: int = 3000
    # Unpaid online orders are cancelled (and their stock returned) after this many seconds.
    pay_deadline_s: int = 15 * 60
    # A clerk's refund above this (goods and delivery fee) needs a store manager's approval at the till.
    clerk_refund_limit_fen: int = 50000

    # Payments (WeChat Pay APIv3). PAYMENT_PROVIDER: "wechatpay" | "sandbox"; unset -> sandbox on the local and
    # test stages, wechatpay elsewhere (sandbox is refused on prod). Keys come from the environment only.
    payment_provider: str = ""
    wechatpay_mchid: str = ""
    wechatpay_appid: str = ""  # empty -> WECHAT_APPID (the mini-program)
    wechatpay_merchant_private_key: SecretStr = SecretStr("")  # PEM (apiclient_key.pem)
    wechatpay_merchant_serial: str = ""
    wechatpay_apiv3_key: SecretStr = SecretStr("")  # 32 bytes
    wechatpay_apiv2_key: SecretStr = SecretStr("")  # 32 chars; only for POS 付款码 (APIv2 /pay/micropay)
    wechatpay_platform_public_keys: str = ""  # JSON object {serial: PEM}
    wechatpay_platform_public_key: str = ""  # or one PEM + its serial
    wechatpay_platform_serial: str = ""
    wechatpay_notify_url: str = ""
    wechatpay_api_base: str = "https://api.mch.weixin.qq.com"
    wechatpay_timeout_s: float = 5.0
    wechatpay_spbill_ip: str = "127.0.0.1"  # APIv2 micropay spbill_create_ip
    wechatpay_micropay_wait_s: float = 15.0  # how long to poll while the payer confirms (USERPAYING)
    # Sandbox provider (local stage and tests): keys generated per process unless given here.
    sandbox_platform_private_key: SecretStr = SecretStr("")  # PEM
    sandbox_platform_serial: str = ""
    sandbox_pay_delay_s: float = 2.0
    sandbox_refund_delay_s: float = 5.0  # a sandbox refund is PROCESSING this long, then notified
    sandbox_webhook_url: str = "http://127.0.0.1:8000/webhooks/wechatpay"

    # Work queues (names per stage in .chalice/config.json; each has a "<name>-dlq" dead-letter queue).
    print_queue_name: str = "omnistore-dev-print"
    sms_queue_name: str = "omnistore-dev-sms"
    campaign_queue_name: str = "omnistore-dev-campaigns"

    # Printing (Star CloudPRNT). A job offered to a printer and not confirmed within PRINT_OFFER_TIMEOUT_S is
    # offered again; after PRINT_MAX_ATTEMPTS offers that failed or timed out it is FAILED and the store is told.
    # A printer is offline after 2 x its poll interval + PRINTER_OFFLINE_GRACE_S without a poll.
    print_offer_timeout_s: int = 60
    print_max_attempts: int = 4
    print_retry_backoff_s: str = "10,60,300"  # waits after the 1st, 2nd, 3rd failed attempt (then FAILED)
    printer_secret_grace_s: int = 24 * 3600  # a rotated secret keeps working this long
    printer_offline_grace_s: int = 5

    # SMS. SMS_PROVIDER: "outbox" | "aliyun"; unset -> outbox on the local and test stages, aliyun elsewhere
    # (outbox is refused on prod). Limits per phone: SMS_DAILY_LIMIT per business day (all templates),
    # SMS_TEMPLATE_PER_MINUTE per minute for one template (more are deferred to the next minute). Marketing is
    # never sent between SMS_QUIET_START and SMS_QUIET_END (BUSINESS_TZ): it is held until the end of quiet hours.
    sms_provider: str = ""
    sms_daily_limit: int = 10
    sms_template_per_minute: int = 1
    sms_quiet_start: str = "21:00"
    sms_quiet_end: str = "09:00"
    sms_sign_name: str = "烟酒行"
    sms_template_codes: str = ""  # JSON {template name: provider template code}
    aliyun_sms_access_key_id: str = ""
    aliyun_sms_access_key_secret: SecretStr = SecretStr("")
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    aliyun_sms_region: str = "cn-hangzhou"
    aliyun_sms_timeout_s: float = 5.0

    @model_validator(mode="after")
    def _clock_at_is_local_only(self) -> Settings:
        if self.clock_at is not None and self.stage != "local":
            raise ValueError(f"CLOCK_AT is for the local stage only (stage is {self.stage!r})")
        return self

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
