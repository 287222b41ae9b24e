"""Wallet items. Keys and access patterns: docs/data-model.md (Wallet). Only wallet/repository.py uses them."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
PACKAGES_GSI1PK = "RPKGS"
ACTIVE_PACKAGES_GSI2PK = "RPKGACTIVE"
ACCOUNT_SK = "WALLET#META"
ENTRY_PREFIX = "WALLET#E#"
WALLET_PREFIX = "WALLET#"  # the account and its entries: one Query, the account first when newest first
AUDIT_DAY_PREFIX = "WALLETDAY"  # gsi3: entries by business day (the ledger audit reads one day)


def package_pk(package_id: str) -> str:
    return f"RPKG#{package_id}"


def member_pk(member_id: str) -> str:  # the member's partition (identity owns its META item)
    return f"MEMBER#{member_id}"


def entry_sk(entry_id: str) -> str:
    return f"{ENTRY_PREFIX}{entry_id}"


def recharge_pk(recharge_id: str) -> str:
    return f"RECHARGE#{recharge_id}"


def member_recharges(member_id: str) -> str:
    return f"MEMBERRECHARGES#{member_id}"


def payment_record_pk(transaction_id: str) -> str:
    return f"WPAY#{transaction_id}"


class RechargePackageItem(Item, discriminator="RechargePackage"):
    """pk=RPKG#<package_id>, sk=META.

    gsi1: RPKGS / <package_id>                    - every package, newest first (admin)
    gsi2: RPKGACTIVE / <pay_fen:012d>#<package_id> - sparse: only while active (shop and till, cheapest first)
    """

    package_id = UnicodeAttribute()
    title = UnicodeAttribute()
    pay_fen = NumberAttribute()
    bonus_fen = NumberAttribute()
    status = UnicodeAttribute()  # active | inactive
    created_by = UnicodeAttribute(null=True)


class WalletAccountItem(Item, discriminator="WalletAccount"):
    """pk=MEMBER#<member_id>, sk=WALLET#META: the member's balances, principal and bonus apart.

    Changed only by conditional ADDs (a decrease: ``principal_fen >= p AND bonus_fen >= b``) in the same
    TransactWriteItems as the WalletEntry that explains it; created by the first credit."""

    member_id = UnicodeAttribute()
    principal_fen = NumberAttribute(default=0)
    bonus_fen = NumberAttribute(default=0)


class WalletEntryItem(Item, discriminator="WalletEntry"):
    """pk=MEMBER#<member_id>, sk=WALLET#E#<entry_id> (ULID, newest last): one ledger entry per balance change.
    Per member, the principal deltas sum to ``principal_fen`` and the bonus deltas to ``bonus_fen``.

    gsi3: WALLETDAY#<business day> / <member_id>#<entry_id>  - the wallets changed on a day (ledger audit)"""

    entry_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    entry_kind = UnicodeAttribute()  # recharge | payment | refund | recharge_refund
    principal_delta = NumberAttribute()
    bonus_delta = NumberAttribute()
    ref_type = UnicodeAttribute()  # recharge | order | refund ...
    ref_id = UnicodeAttribute()


class RechargeItem(Item, discriminator="Recharge"):
    """pk=RECHARGE#<recharge_id>, sk=META; gsi1: MEMBERRECHARGES#<member_id> / <recharge_id> (a member's
    recharges, newest first). Status PENDING_PAYMENT -> PAID -> REFUNDED, each change conditional."""

    recharge_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    channel = UnicodeAttribute()  # shop | pos
    status = UnicodeAttribute()
    pay_fen = NumberAttribute()  # principal credited
    bonus_fen = NumberAttribute()
    package_id = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)  # the till's store (pos)
    created_by = UnicodeAttribute(null=True)
    payment = JSONAttribute(null=True)  # {method, transaction_id?, trade_no?, amount_fen, paid_at}
    paid_at = UnicodeAttribute(null=True)
    refund = JSONAttribute(null=True)  # {refund_id, principal_fen, bonus_fen, method, payout_status, ...}


class WalletPaymentRecordItem(Item, discriminator="WalletPaymentRecord"):
    """pk=WPAY#<provider transaction id>, sk=META: a provider payment credited to one recharge, once (put with
    attribute_not_exists in the crediting transaction)."""

    recharge_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
