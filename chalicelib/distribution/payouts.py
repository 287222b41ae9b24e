"""Paying a withdrawal to WeChat change (商家转账到零钱): the interface distribution calls, and the sandbox that
answers locally and in tests (like ``chalicelib.payments``' client and sandbox). A real client implements
``PayoutClient`` with WeChat Pay's transfer API; ``set_client`` installs one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PayoutResult:
    status: str  # SUCCESS | FAIL
    provider_id: str | None = None
    message: str | None = None


class PayoutClient(Protocol):
    def transfer(self, *, withdrawal_id: str, openid: str | None, amount_fen: int) -> PayoutResult: ...


class SandboxPayoutClient:
    """Pays every transfer to a member with an openid; refuses one without (no WeChat account to pay)."""

    def __init__(self) -> None:
        self.transfers: list[dict] = []

    def transfer(self, *, withdrawal_id: str, openid: str | None, amount_fen: int) -> PayoutResult:
        self.transfers.append({"withdrawal_id": withdrawal_id, "openid": openid, "amount_fen": amount_fen})
        if not openid:
            return PayoutResult("FAIL", message="no WeChat account to pay")
        return PayoutResult("SUCCESS", provider_id=f"SANDBOX-{withdrawal_id}")


_client: PayoutClient | None = None


def get_client() -> PayoutClient:
    global _client
    if _client is None:
        _client = SandboxPayoutClient()
    return _client


def set_client(client: PayoutClient | None) -> None:
    global _client
    _client = client
