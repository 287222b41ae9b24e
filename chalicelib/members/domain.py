"""Pure member rules. No I/O."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

CODE_TTL = timedelta(seconds=60)
CODE_DIGITS = 18  # like a WeChat payment code: fits a Code 128 barcode and a QR code; 10^17 possibilities
CODE_PREFIX = "8"  # never a WeChat/Alipay payment code (10-15 / 25-30): a till can tell the two apart


def new_member_code() -> str:
    """A member code: ``8`` and 17 random digits from the OS's CSPRNG (not guessable in its 60 seconds)."""
    return CODE_PREFIX + "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS - 1))


def is_member_code(value: str) -> bool:
    return len(value) == CODE_DIGITS and value.isdigit() and value.startswith(CODE_PREFIX)


def code_expires(now: datetime) -> datetime:
    return now + CODE_TTL
