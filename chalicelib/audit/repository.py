"""The only code that reads or writes ledger audit reports."""

from __future__ import annotations

from chalicelib.audit.models import META, LedgerAuditReportItem, report_pk
from chalicelib.core import clock
from chalicelib.core.dynamo import Tx


def add_report(tx: Tx, day: str, accounts: int, drift_count: int, drifts: list[dict]) -> None:
    """The day's report, once: a second report of the same day cancels ``tx`` (tag ("report", day))."""
    tx.save(
        LedgerAuditReportItem(
            report_pk(day),
            META,
            day=day,
            accounts=accounts,
            drift_count=drift_count,
            drifts=drifts,
            created_at=clock.now(),
        ),
        condition=LedgerAuditReportItem.pk.does_not_exist(),
        tag=("report", day),
    )


def get_report(day: str) -> LedgerAuditReportItem | None:
    return LedgerAuditReportItem.get_or_none(report_pk(day), META, consistent_read=True)
