"""Money is integer fen everywhere; this is the one place it becomes text."""

from __future__ import annotations


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: 1234 -> ``12.34``, -5 -> ``-0.05`` (the sign before the number)."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
