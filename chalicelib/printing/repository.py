"""The only code that reads or writes printing items (printers, print documents, print jobs)."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.exceptions import UpdateError

from chalicelib.core import clock, events
from chalicelib.core.dynamo import Page, TxCancelled, condition_failed, page, put_new, transaction, update_if
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.printing import domain
from chalicelib.printing.errors import PrintingCode
from chalicelib.printing.models import (
    META,
    PRINTERS_GSI1PK,
    PrintDocItem,
    PrinterItem,
    PrinterMacItem,
    PrintJobItem,
    doc_sk,
    job_sk,
    print_pk,
    printer_mac_pk,
    printer_pk,
    queue_pk,
)


# --------------------------------------------------------------------------------------- printers
def create_printer(
    printer_id: str, store_id: str, mac: str, name: str, paper_width_mm: int, poll_interval_s: int, secret_hash: str
) -> PrinterItem:
    now = clock.now()
    item = PrinterItem(
        printer_pk(printer_id),
        META,
        printer_id=printer_id,
        store_id=store_id,
        mac=mac,
        name=name,
        paper_width_mm=paper_width_mm,
        poll_interval_s=poll_interval_s,
        secret_hash=secret_hash,
        status="unknown",
        gsi1pk=PRINTERS_GSI1PK,
        gsi1sk=f"{store_id}#{printer_id}",
        created_at=now,
        updated_at=now,
    )
    mac_item = PrinterMacItem(printer_mac_pk(mac), META, printer_id=printer_id, created_at=now)
    try:
        with transaction() as tx:
            tx.save(item, condition=PrinterItem.pk.does_not_exist(), tag="printer")
            tx.save(mac_item, condition=PrinterMacItem.pk.does_not_exist(), tag="mac")
    except TxCancelled as e:
        if "mac" in e.failed:
            raise Conflict(
                "A printer with this MAC address is already registered",
                code=PrintingCode.PRINTER_MAC_TAKEN,
                details={"mac": mac},
            )
        raise
    return item


def get_printer(printer_id: str) -> PrinterItem | None:
    return PrinterItem.get_or_none(printer_pk(printer_id), META, consistent_read=True)


def printer_by_mac(mac: str) -> PrinterItem | None:
    link = PrinterMacItem.get_or_none(printer_mac_pk(mac), META, consistent_read=True)
    return get_printer(link.printer_id) if link else None


def set_secret(printer: PrinterItem, secret_hash: str, old_until_iso: str) -> PrinterItem:
    """A new secret; the current one stays valid until ``old_until_iso`` (the printer is re-configured by hand)."""
    item = PrinterItem(printer_pk(printer.printer_id), META)
    try:
        item.update(
            actions=[
                PrinterItem.secret_hash.set(secret_hash),
                PrinterItem.old_secret_hash.set(printer.secret_hash),
                PrinterItem.old_secret_until.set(old_until_iso),
                PrinterItem.updated_at.set(clock.now()),
            ],
            condition=PrinterItem.pk.exists() & (PrinterItem.secret_hash == printer.secret_hash),
        )
    except UpdateError as e:
        if condition_failed(e):
            raise NotFound("No such printer (or it changed meanwhile)", code=PrintingCode.PRINTER_NOT_FOUND)
        raise
    return get_printer(printer.printer_id)


def set_state(printer: PrinterItem, state: str, name: str | None) -> PrinterItem:
    """active <-> disabled, or -> retired (for good: its MAC is free again). Never from retired."""
    actions = [PrinterItem.state.set(state), PrinterItem.updated_at.set(clock.now())]
    if name:
        actions.append(PrinterItem.name.set(name))
    if state != "active":
        actions += [PrinterItem.online.remove(), PrinterItem.offline_since.remove(), PrinterItem.problem.remove()]
    try:
        with transaction() as tx:
            tx.update(
                PrinterItem(printer_pk(printer.printer_id), META),
                actions,
                condition=PrinterItem.pk.exists() & (PrinterItem.state != "retired"),
                tag="printer",
            )
            if state == "retired":
                _release_mac(tx, printer)
    except TxCancelled:
        raise Conflict("A retired printer cannot be changed", code=PrintingCode.PRINTER_RETIRED)
    return get_printer(printer.printer_id)


def _release_mac(tx, printer: PrinterItem) -> None:
    tx.delete(
        PrinterMacItem(printer_mac_pk(printer.mac), META),
        condition=PrinterMacItem.printer_id == printer.printer_id,
        tag="mac",
    )


def delete_printer(printer: PrinterItem) -> None:
    """The printer and (unless retired, which freed it) its MAC claim; its open jobs are never offered again."""
    with transaction() as tx:
        tx.delete(PrinterItem(printer_pk(printer.printer_id), META), tag="printer")
        if printer.state != "retired":
            _release_mac(tx, printer)


def printers_page(store_id: str | None, limit: int, cursor: str | None) -> Page:
    cond = PrinterItem.gsi1sk.startswith(f"{store_id}#") if store_id else None
    return page(PrinterItem.gsi1.query, hash_key=PRINTERS_GSI1PK, range_key_condition=cond, limit=limit, cursor=cursor)


def store_printers(store_id: str) -> list[PrinterItem]:
    """The active printers of a store (GSI: a printer registered a moment ago may be missed by the next
    ticket); disabled and retired ones get no tickets."""
    items = PrinterItem.gsi1.query(PRINTERS_GSI1PK, PrinterItem.gsi1sk.startswith(f"{store_id}#"))
    return [p for p in items if (p.state or "active") == "active"]


def all_printers() -> Iterator[PrinterItem]:
    """Every printer of the chain (one GSI partition; tens to a few hundred items)."""
    return iter(PrinterItem.gsi1.query(PRINTERS_GSI1PK))


def record_poll(
    printer: PrinterItem, now_iso: str, status: str, status_code: str | None, reported: list[events.Event]
) -> None:
    """A poll: last seen, status, online again, its problem episode. ``reported`` (back online, a new problem)
    is written once: only if the printer is still as this poll read it; else another poll got there first."""
    problem, _ = domain.problem_change(printer.problem, status)
    actions = [
        PrinterItem.last_poll_at.set(now_iso),
        PrinterItem.status.set(status),
        PrinterItem.online.set(True),
        PrinterItem.offline_since.remove(),
        PrinterItem.status_code.set(status_code) if status_code else PrinterItem.status_code.remove(),
    ]
    if problem != printer.problem:
        actions += (
            [PrinterItem.problem.set(problem), PrinterItem.problem_since.set(now_iso)]
            if problem
            else [PrinterItem.problem.remove(), PrinterItem.problem_since.remove()]
        )
    item = PrinterItem(printer_pk(printer.printer_id), META)
    as_read = (PrinterItem.problem == printer.problem) if printer.problem else PrinterItem.problem.does_not_exist()
    if printer.online is False:
        as_read &= PrinterItem.online == False
    if not reported or not events.update_if(item, actions, as_read, reported):
        item.update(actions=actions)


def swap_current(printer_id: str, old: str | None, new: str | None) -> bool:
    """Point the printer at the job it was offered (``new``; None: no job), only if it still points at ``old``:
    a poll that lost a race never clears the winner's offer."""
    condition = (PrinterItem.current_token == old) if old else PrinterItem.current_token.does_not_exist()
    action = PrinterItem.current_token.set(new) if new else PrinterItem.current_token.remove()
    return update_if(PrinterItem(printer_pk(printer_id), META), actions=[action], condition=condition)


def clear_current(printer_id: str, token: str) -> None:
    """Forget the printer's current offer if it is still ``token``."""
    swap_current(printer_id, token, None)


def mark_offline(printer: PrinterItem, now_iso: str, offline: events.Event) -> bool:
    """Online -> offline (reporting ``offline``) once per outage: only if it is still online and has not polled
    since we looked."""
    return events.update_if(
        PrinterItem(printer_pk(printer.printer_id), META),
        [PrinterItem.online.set(False), PrinterItem.offline_since.set(now_iso)],
        (PrinterItem.online == True) & (PrinterItem.last_poll_at == printer.last_poll_at),
        [offline],
    )


# --------------------------------------------------------------------------------------- documents
def put_doc(order_id: str, doc: str, store_id: str, content: dict) -> bool:
    """Store a ticket's content once; False if it was there already (a redelivered request)."""
    item = PrintDocItem(
        print_pk(order_id),
        doc_sk(doc),
        order_id=order_id,
        doc=doc,
        store_id=store_id,
        content=content,
        created_at=clock.now(),
    )
    return put_new(item)


def get_doc(order_id: str, doc: str) -> PrintDocItem | None:
    return PrintDocItem.get_or_none(print_pk(order_id), doc_sk(doc), consistent_read=True)


# --------------------------------------------------------------------------------------- jobs
def create_job(order_id: str, doc: str, source_doc: str, printer: PrinterItem, now_iso: str) -> bool:
    """One job for (order, document, printer), whatever happens to the request that asks for it: a conditional
    put, so a redelivered or concurrent request never makes a second one. True if this call created it."""
    item = PrintJobItem(
        print_pk(order_id),
        job_sk(doc, printer.printer_id),
        order_id=order_id,
        doc=doc,
        source_doc=source_doc,
        job_kind=domain.job_kind(doc),
        printer_id=printer.printer_id,
        store_id=printer.store_id,
        status=domain.READY,
        attempts=0,
        gsi2pk=queue_pk(printer.printer_id),
        gsi2sk=domain.queue_sort_key(now_iso, order_id, doc),
        created_at=clock.now(),
    )
    return put_new(item)


def get_job(order_id: str, doc: str, printer_id: str) -> PrintJobItem | None:
    return PrintJobItem.get_or_none(print_pk(order_id), job_sk(doc, printer_id), consistent_read=True)


def due_jobs(printer_id: str, now_iso: str, limit: int = 5) -> list[PrintJobItem]:
    """Jobs of a printer available now (READY, or OFFERED past their deadline), oldest first. GSI reads may lag:
    callers re-read the job from the base table before acting."""
    return list(
        PrintJobItem.gsi2.query(queue_pk(printer_id), PrintJobItem.gsi2sk <= domain.due_bound(now_iso), limit=limit)
    )


def jobs_of_order(order_id: str) -> list[PrintJobItem]:
    return list(PrintJobItem.query(print_pk(order_id), PrintJobItem.sk.startswith("JOB#"), consistent_read=True))


def _conditional_update(job: PrintJobItem, actions: list, condition, reported: list[events.Event] = ()) -> bool:
    actions = actions + [PrintJobItem.updated_at.set(clock.now())]
    if reported:
        return events.update_if(job, actions, condition, reported)
    return update_if(job, actions=actions, condition=condition)


def _unchanged(job: PrintJobItem):
    """Nobody acted on the job since it was read (status and attempts only change together with an action)."""
    return (PrintJobItem.status == job.status) & (PrintJobItem.attempts == int(job.attempts or 0))


def offer(job: PrintJobItem, token: str, now_iso: str, deadline_iso: str) -> bool:
    """Hand the job to its printer: a new attempt with a new token, visible in the queue again at the deadline."""
    return _conditional_update(
        job,
        [
            PrintJobItem.status.set(domain.OFFERED),
            PrintJobItem.token.set(token),
            PrintJobItem.attempts.set(int(job.attempts or 0) + 1),
            PrintJobItem.offered_at.set(now_iso),
            PrintJobItem.gsi2sk.set(domain.queue_sort_key(deadline_iso, job.order_id, job.doc)),
        ],
        _unchanged(job),
    )


def retry(job: PrintJobItem, available_iso: str, code: str | None) -> bool:
    """A failed attempt: back in the queue from ``available_iso`` (the backoff), same attempt count."""
    actions = [
        PrintJobItem.status.set(domain.READY),
        PrintJobItem.token.remove(),
        PrintJobItem.available_at.set(available_iso),
        PrintJobItem.gsi2sk.set(domain.queue_sort_key(available_iso, job.order_id, job.doc)),
    ]
    if code:
        actions.append(PrintJobItem.last_code.set(code[:100]))
    return _conditional_update(job, actions, _unchanged(job) & (PrintJobItem.token == job.token))


def fail(job: PrintJobItem, now_iso: str, code: str | None, failed: events.Event) -> bool:
    """FAILED (reporting ``failed``) if nobody acted on the job since it was read."""
    actions = [
        PrintJobItem.status.set(domain.FAILED),
        PrintJobItem.failed_at.set(now_iso),
        PrintJobItem.gsi2pk.remove(),
        PrintJobItem.gsi2sk.remove(),
    ]
    if code:
        actions.append(PrintJobItem.last_code.set(code[:100]))
    return _conditional_update(job, actions, _unchanged(job), [failed])


def complete(job: PrintJobItem, now_iso: str, code: str | None) -> bool:
    """Printed. From any state but DONE: a success reported late (after a timeout, even after FAILED) still
    means the paper came out, so it is not offered again."""
    actions = [
        PrintJobItem.status.set(domain.DONE),
        PrintJobItem.done_at.set(now_iso),
        PrintJobItem.gsi2pk.remove(),
        PrintJobItem.gsi2sk.remove(),
    ]
    if code:
        actions.append(PrintJobItem.last_code.set(code[:100]))
    return _conditional_update(job, actions, PrintJobItem.status != domain.DONE)
