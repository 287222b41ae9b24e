"""The daily ledger audit: balance == sum(ledger) for every account changed on a business day (docs/operations.md).

Sits above the domains (next to ``chalicelib.subscriptions``): it asks each balance-owning domain's repository for
the day's touched accounts (``audit_changed``) and reports drifts through the outbox (``LedgerDrift``)."""
