"""Ledger audit items. Keys and access patterns: docs/data-model.md. Only audit/repository.py uses them."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"


def report_pk(day: str) -> str:
    return f"LEDGERAUDIT#{day}"


class LedgerAuditReportItem(Item, discriminator="LedgerAuditReport"):
    """pk=LEDGERAUDIT#<business day>, sk=META: the drifts found for a day, written once (attribute_not_exists) in
    the transaction of its ``LedgerDrift`` event, so a day's drift is reported once however often it is audited."""

    day = UnicodeAttribute()
    accounts = NumberAttribute()
    drift_count = NumberAttribute()
    drifts = JSONAttribute()  # [{book, account, balance, ledger}], biggest first, at most domain.REPORTED
