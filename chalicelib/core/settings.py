"""Settings from the environment, read lazily (never at import) and cached.

Tests and the local stack set environment variables and call ``get_settings.cache_clear()``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
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
    sqs_endpoint: str | None = None

    business_tz: str = "Asia/Shanghai"

    jwt_secret: SecretStr = SecretStr("")
    jwt_issuer: str = "omnistore"
    staff_token_ttl_s: int = 12 * 3600
    member_token_ttl_s: int = 7 * 24 * 3600

    wechat_appid: str = ""
    wechat_secret: SecretStr = SecretStr("")
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout_s: float = 3.0

    # Routing defaults (metres).
    default_pickup_radius_m: int = 3000

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
