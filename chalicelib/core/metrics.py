"""Business metrics as CloudWatch Embedded Metric Format lines (Powertools ``single_metric``): one JSON line
on stdout per count, which CloudWatch Logs turns into a metric in the ``omnistore`` namespace (or
``POWERTOOLS_METRICS_NAMESPACE``); no API call, nothing to flush. ``POWERTOOLS_METRICS_DISABLED=true`` turns
them off (the local stack does, to keep its console readable).

What is counted (docs/operations.md, "Metrics"):

- ``OrdersCreated`` (channel, store_id): an online order or a till sale committed;
- ``PaymentsApplied`` (method) and ``LatePayments``: money matched to an order, or refunded as late;
- ``PrintJobsFailed`` (store_id): a ticket that failed its last attempt;
- ``SmsMessages`` (outcome: sent, failed, limited, opted_out, held, deferred, unknown, duplicate);
- ``EventsRelayed``: outbox events sent to the events queue;
- ``LedgerDrift`` (book): balances found by the daily ledger audit not to be the sum of their ledger.
"""

from __future__ import annotations

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

DEFAULT_NAMESPACE = "omnistore"


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Add ``value`` to the metric ``name`` with these dimensions (keep them few: store, channel, outcome)."""
    if value <= 0 or is_metrics_disabled():  # single_metric prints even when metrics are disabled
        return
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=namespace) as metric:
        for key, val in dimensions.items():
            metric.add_dimension(name=key, value=str(val))
