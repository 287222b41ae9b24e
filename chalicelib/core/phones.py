"""Phone numbers: the one normalisation and the one mask, used by every domain (SMS, tickets, member lists,
new-member gift guards)."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_SEPARATORS = re.compile(r"[\s\-()]")


def normalize(phone: str | None) -> str | None:
    """A mainland China mobile number as 11 digits (``+86 138-0013-8000`` -> ``13800138000``); None otherwise
    (landlines and foreign numbers cannot receive our messages and are not member phones)."""
    digits = _SEPARATORS.sub("", str(phone or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if _MOBILE.match(digits) else None


def mask(phone: str | None) -> str | None:
    """138****5678: what tickets, lists, logs and other people may see of a phone number. None for no phone;
    any other number keeps its first 3 and last 4 digits (fewer than 7 digits: all masked)."""
    if not phone:
        return None
    digits = "".join(c for c in str(phone) if c.isdigit())
    if len(digits) == 13 and digits.startswith("86"):  # +86 mobile: mask the national number
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
