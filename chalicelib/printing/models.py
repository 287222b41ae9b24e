"""Printing items. Keys and access patterns: docs/data-model.md."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
PRINTERS_GSI1PK = "PRINTERS"


def printer_pk(printer_id: str) -> str:
    return f"PRINTER#{printer_id}"


def printer_mac_pk(mac: str) -> str:
    return f"PRINTERMAC#{mac}"


def print_pk(order_id: str) -> str:
    return f"PRINT#{order_id}"


def doc_sk(doc: str) -> str:
    return f"DOC#{doc}"


def job_sk(doc: str, printer_id: str) -> str:
    return f"JOB#{doc}#{printer_id}"


def queue_pk(printer_id: str) -> str:
    return f"PRINTQ#{printer_id}"


class PrinterItem(Item, discriminator="Printer"):
    """pk=PRINTER#<printer_id>, sk=META; gsi1: PRINTERS / <store_id>#<printer_id> (all printers, by store)."""

    printer_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    mac = UnicodeAttribute()
    name = UnicodeAttribute()
    paper_width_mm = NumberAttribute()
    poll_interval_s = NumberAttribute()
    secret_hash = UnicodeAttribute()  # scrypt (core.passwords); the secret is shown once
    status = UnicodeAttribute(default="unknown")  # from the last poll's statusCode: ok, paper_low, paper_empty ...
    status_code = UnicodeAttribute(null=True)
    last_poll_at = UnicodeAttribute(null=True)  # RFC 3339 UTC
    online = BooleanAttribute(null=True)  # None: never polled; False: offline alert raised for this outage
    offline_since = UnicodeAttribute(null=True)
    current_token = UnicodeAttribute(null=True)  # the job offered by the last poll (token-less GET/DELETE)
    state = UnicodeAttribute(default="active")  # active | disabled (no tickets, no alerts) | retired (locked out)
    problem = UnicodeAttribute(null=True)  # paper_empty, cover_open ...: alerted once until a poll says ok
    problem_since = UnicodeAttribute(null=True)
    old_secret_hash = UnicodeAttribute(null=True)  # the secret before the last rotation ...
    old_secret_until = UnicodeAttribute(null=True)  # ... valid until then (RFC 3339 UTC)


class PrinterMacItem(Item, discriminator="PrinterMac"):
    """pk=PRINTERMAC#<mac>, sk=META -> printer_id: one printer per MAC address."""

    printer_id = UnicodeAttribute()


class PrintDocItem(Item, discriminator="PrintDoc"):
    """pk=PRINT#<order_id>, sk=DOC#<doc>: what a ticket shows, from the event that asked for it (order paid:
    doc ``order``; refund: ``refund-<refund_id>``). Reprints render the ``order`` document again."""

    order_id = UnicodeAttribute()
    doc = UnicodeAttribute()
    store_id = UnicodeAttribute()
    content = JSONAttribute()  # {"kind", "store": {name, address, phone}, "order": snapshot}


class PrintJobItem(Item, discriminator="PrintJob"):
    """pk=PRINT#<order_id>, sk=JOB#<doc>#<printer_id>: one ticket on one printer, created once (conditional put).

    gsi2: PRINTQ#<printer_id> / <available_at>#<order_id>#<doc> - sparse, only while READY or OFFERED: a poll
    reads the printer's jobs available now with one Query. An OFFERED job's available_at is its offer deadline,
    so a job whose offer timed out shows up again without a sweeper.
    """

    order_id = UnicodeAttribute()
    doc = UnicodeAttribute()
    source_doc = UnicodeAttribute()  # the PrintDoc rendered (reprints: "order")
    job_kind = UnicodeAttribute()  # order | refund | reprint
    printer_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    status = UnicodeAttribute()  # READY | OFFERED | DONE | FAILED
    attempts = NumberAttribute(default=0)  # offers handed out
    token = UnicodeAttribute(null=True)  # the current offer's jobToken
    offered_at = UnicodeAttribute(null=True)
    last_code = UnicodeAttribute(null=True)  # last DELETE code
    done_at = UnicodeAttribute(null=True)
    failed_at = UnicodeAttribute(null=True)
    available_at = UnicodeAttribute(null=True)  # after a failed attempt: not offered again before (backoff)
