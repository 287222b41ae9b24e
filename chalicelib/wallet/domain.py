"""Pure wallet rules: balances kept as principal (money paid in) and bonus (given by a recharge package), the
proportional split of a payment or refund, what a recharge refund gives back, trade numbers of recharges, and the
ledger's running balances. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.wallet.errors import WalletCode

# Recharge statuses: PENDING_PAYMENT -> PAID (online, when WeChat's notification arrives; at the till at once)
# -> REFUNDED (head office paid back the unspent principal and forfeited the unspent bonus).
PENDING_PAYMENT = "PENDING_PAYMENT"
PAID = "PAID"
REFUNDED = "REFUNDED"

# Ledger entry kinds.
RECHARGE = "recharge"  # +principal +bonus
PAYMENT = "payment"  # -principal -bonus (an order paid by wallet)
REFUND = "refund"  # +principal +bonus (an order refund back to the wallet, in the payment's split)
RECHARGE_REFUND = "recharge_refund"  # -principal (paid back) -bonus (forfeited)
COMMISSION = "commission"  # +principal (a distributor's commission withdrawn to the wallet)

# One recharge: at least 1 yuan, at most 5,000 yuan (the ceiling of a named single-purpose prepaid card).
MIN_RECHARGE_FEN = 100
MAX_RECHARGE_FEN = 500_000

TRADE_PREFIX = "R"  # WeChat out_trade_no of a recharge: "R" + recharge ULID (orders use the bare order ULID)


@dataclass(frozen=True)
class Balance:
    principal_fen: int = 0
    bonus_fen: int = 0

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.bonus_fen

    def plus(self, principal_fen: int, bonus_fen: int) -> Balance:
        return Balance(self.principal_fen + principal_fen, self.bonus_fen + bonus_fen)

    def covers(self, principal_fen: int, bonus_fen: int) -> bool:
        return self.principal_fen >= principal_fen and self.bonus_fen >= bonus_fen


ZERO = Balance()


def insufficient(needed_fen: int, balance: Balance) -> Conflict:
    return Conflict(
        "The wallet balance is not enough",
        code=WalletCode.INSUFFICIENT_BALANCE,
        details={
            "needed_fen": needed_fen,
            "balance_fen": balance.total_fen,
            "principal_fen": balance.principal_fen,
            "bonus_fen": balance.bonus_fen,
        },
    )


def split(amount_fen: int, balance: Balance) -> tuple[int, int]:
    """``(principal_part, bonus_part)`` of a payment of ``amount_fen`` from ``balance``: in proportion to the
    principal and bonus balances, whole fen that add up exactly to ``amount_fen``.

    Rounding: the principal part is ``amount * principal / total`` rounded to the nearest fen (a half fen goes to
    the principal); the bonus part is the rest. Each part stays within its balance (the principal part is at
    most ``round(principal * amount / total) <= principal``; the bonus part is at most the exact share + 1/2 fen,
    so at most the bonus). The same function splits a refund: call it with the payment's not yet refunded parts
    as the ``balance`` and the last refund gives back exactly what remains of each.
    Raises 409 INSUFFICIENT_BALANCE when ``amount_fen`` exceeds the total; ValueError for a negative amount."""
    if amount_fen < 0:
        raise ValueError("a payment is never negative")
    total = balance.total_fen
    if amount_fen > total:
        raise insufficient(amount_fen, balance)
    if amount_fen == 0:
        return 0, 0
    principal, rest = divmod(amount_fen * balance.principal_fen, total)
    if 2 * rest >= total:
        principal += 1
    return principal, amount_fen - principal


def unspent(recharged: Balance, balance: Balance) -> Balance:
    """What a recharge refund takes out of the wallet: per part, the smaller of what the recharge put in and what
    is in the wallet now. The wallet pools its money (a payment does not say which recharge it spent), so a
    recharge's "unspent" principal is all of it while the wallet still holds that much principal, and whatever
    principal is left otherwise; the same for its bonus. The principal part is paid back, the bonus part is
    forfeited."""
    return Balance(
        min(recharged.principal_fen, max(balance.principal_fen, 0)),
        min(recharged.bonus_fen, max(balance.bonus_fen, 0)),
    )


def check_amount(amount_fen: int) -> None:
    if not MIN_RECHARGE_FEN <= amount_fen <= MAX_RECHARGE_FEN:
        raise ValidationFailed(
            f"A recharge is {MIN_RECHARGE_FEN} to {MAX_RECHARGE_FEN} fen",
            code=WalletCode.RECHARGE_AMOUNT_INVALID,
            details={"fields": [{"field": "amount_fen", "message": f"{MIN_RECHARGE_FEN}..{MAX_RECHARGE_FEN}"}]},
        )


def trade_no(recharge_id: str) -> str:
    return TRADE_PREFIX + recharge_id


def recharge_of(out_trade_no: str) -> str | None:
    """The recharge id behind a WeChat trade number, or None when it is not a recharge's (an order's)."""
    if out_trade_no.startswith(TRADE_PREFIX) and len(out_trade_no) == 27:
        return out_trade_no[1:]
    return None


def running_balances(latest: Balance, deltas: Iterable[tuple[int, int]]) -> list[Balance]:
    """Balance after each ledger entry, given the balance after the newest of them (``latest``) and the entries'
    (principal, bonus) deltas newest first: walking back, the balance before an entry is the balance after it
    minus its delta."""
    out, after = [], latest
    for dp, db in deltas:
        out.append(after)
        after = after.plus(-dp, -db)
    return out
