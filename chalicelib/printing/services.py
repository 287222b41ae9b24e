"""Printing use cases: printers (admin), the print pipeline (requests -> one job per printer), the Star CloudPRNT
protocol (poll / fetch / confirm) and printer health.

Pipeline: ``OrderPaid`` / ``RefundCompleted`` (events queue) -> :func:`request_print` puts a print request on
the print queue -> :func:`handle_print_request` stores the ticket content once and creates one job per printer
of the store with a conditional put (a redelivered request creates nothing). A reprint is a request too.

Protocol (one job at a time per printer):

- poll (POST): the printer's current offer again if it is still open; else the oldest job in its queue index
  that is available now (READY, or OFFERED past its deadline) becomes a new offer with a new token (one
  attempt). A job whose last allowed attempt timed out is FAILED instead, and ``PrintJobFailed`` published.
- fetch (GET): renders the offered job; reads only, so it can be repeated.
- confirm (DELETE): ``200 OK`` -> DONE; another code -> offered again, or FAILED after the last attempt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from chalicelib.core import clock, metrics, queues
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import register_cache
from chalicelib.core.errors import (
    Conflict,
    CoreCode,
    Forbidden,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from chalicelib.core.events import Event
from chalicelib.core.http import Result
from chalicelib.core.ids import is_ulid, new_id
from chalicelib.core.logging import logger
from chalicelib.core.passwords import hash_password, verify_password
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.printing import domain, repository
from chalicelib.printing.errors import PrintingCode
from chalicelib.printing.models import PrinterItem, PrintJobItem
from chalicelib.printing.schemas import (
    ConfirmOut,
    ConfirmQuery,
    JobQuery,
    PollIn,
    PollOut,
    PrinterCreate,
    PrinterCreated,
    PrinterOut,
    PrinterUpdate,
    PrintJobOut,
    ReprintOut,
)
from chalicelib.stores import services as stores


def _parse_time(value: str | None) -> datetime | None:
    return clock.parse(value) if value else None


# --------------------------------------------------------------------------------------- admin
def _offline_since(p: PrinterItem, now: datetime) -> str | None:
    """When the printer went offline (None: online). Derived from the last poll, so ``online`` and
    ``offline_since`` agree at every moment, whether or not check_printers has run since; a printer that never
    polled is offline since it was registered."""
    last = _parse_time(p.last_poll_at)
    if last is None:
        return clock.iso(p.created_at) if p.created_at else None
    after = domain.offline_after_s(int(p.poll_interval_s), get_settings().printer_offline_grace_s)
    if not domain.is_offline(last, int(p.poll_interval_s), get_settings().printer_offline_grace_s, now):
        return None
    return clock.iso(last + timedelta(seconds=after))


def to_out(p: PrinterItem, now: datetime | None = None) -> PrinterOut:
    now = now or clock.now()
    offline_since = _offline_since(p, now)
    return PrinterOut(
        printer_id=p.printer_id,
        store_id=p.store_id,
        name=p.name,
        mac=p.mac,
        paper_width_mm=int(p.paper_width_mm),
        poll_interval_s=int(p.poll_interval_s),
        online=offline_since is None,
        status=p.status or "unknown",
        status_code=p.status_code,
        last_poll_at=p.last_poll_at,
        offline_since=offline_since,
        state=p.state or "active",
        problem=p.problem,
        problem_since=p.problem_since,
        old_secret_until=p.old_secret_until,
        created_at=p.created_at,
    )


def _new_secret() -> tuple[str, str]:
    secret = secrets.token_urlsafe(24)
    return secret, hash_password(secret)


def create_printer(principal: Principal, cmd: PrinterCreate) -> PrinterCreated:
    principal.require_store(cmd.store_id)
    stores.require_store(cmd.store_id)
    secret, secret_hash = _new_secret()
    item = repository.create_printer(
        new_id(), cmd.store_id, cmd.mac, cmd.name, cmd.paper_width_mm, cmd.poll_interval_s, secret_hash
    )
    return PrinterCreated(**to_out(item).model_dump(), secret=secret)


def _printer_in_scope(principal: Principal, printer_id: str) -> PrinterItem:
    item = repository.get_printer(printer_id) if is_ulid(printer_id) else None
    if item is None:
        raise NotFound("No such printer", code=PrintingCode.PRINTER_NOT_FOUND)
    principal.require_store(item.store_id)
    return item


def rotate_secret(principal: Principal, printer_id: str) -> PrinterCreated:
    """A new secret. The old one keeps working for PRINTER_SECRET_GRACE_S, so the printer keeps printing until
    someone enters the new one in its web UI (a lost secret: retire the printer and register it again)."""
    printer = _printer_in_scope(principal, printer_id)
    if printer.state == "retired":
        raise Conflict("A retired printer cannot be changed", code=PrintingCode.PRINTER_RETIRED)
    secret, secret_hash = _new_secret()
    until = clock.iso(clock.now() + timedelta(seconds=get_settings().printer_secret_grace_s))
    item = repository.set_secret(printer, secret_hash, until)
    return PrinterCreated(**to_out(item).model_dump(), secret=secret)


def update_printer(principal: Principal, printer_id: str, cmd: PrinterUpdate) -> PrinterOut:
    """Rename, disable (no tickets, no alerts; it may still poll), enable, or retire (for good: locked out,
    its MAC free again)."""
    printer = _printer_in_scope(principal, printer_id)
    return to_out(repository.set_state(printer, cmd.state or printer.state or "active", cmd.name))


def delete_printer(principal: Principal, printer_id: str) -> None:
    """Gone: locked out, no more tickets, its MAC free again. Its print jobs stay for the order's history."""
    repository.delete_printer(_printer_in_scope(principal, printer_id))


def list_printers(principal: Principal, store_id: str | None, limit: int, cursor: str | None) -> PageOut[PrinterOut]:
    if not principal.is_hq:
        store_id = store_id or principal.store_id
        principal.require_store(store_id)
    pg = repository.printers_page(store_id, limit, cursor)
    now = clock.now()
    return PageOut[PrinterOut](items=[to_out(p, now) for p in pg.items], next=pg.next)


# --------------------------------------------------------------------------------------- printer auth
class PrinterUnauthorized(Unauthorized):
    headers = {"WWW-Authenticate": 'Basic realm="cloudprnt", charset="UTF-8"'}


# Verifying scrypt on every 5 s poll of every printer costs ~50 ms CPU each; a verified (printer, secret digest)
# is remembered per process for as long as the stored hash is the same (a new secret invalidates it).
_verified: dict = register_cache({})
_MAX_VERIFIED = 2000


def authenticate(authorization: str | None) -> PrinterItem:
    """HTTP Basic ``printer_id:secret`` -> the printer, or 401."""
    if not authorization:
        raise PrinterUnauthorized(
            "Printer credentials are required (HTTP Basic printer_id:secret)", code=PrintingCode.PRINTER_AUTH_REQUIRED
        )
    scheme, _, encoded = authorization.partition(" ")
    try:
        if scheme.lower() != "basic" or len(encoded) > 400:
            raise ValueError
        printer_id, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        if not sep:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise PrinterUnauthorized("Printer credentials are not valid", code=PrintingCode.PRINTER_AUTH_INVALID)
    printer = repository.get_printer(printer_id) if is_ulid(printer_id) else None
    if printer is not None and printer.state == "retired":
        printer = None
    valid = _valid_hashes(printer)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    if printer is not None and _verified.get((printer_id, digest)) in valid:
        return printer
    ok = next((h for h in valid if verify_password(secret, h)), None)
    if ok is None:
        verify_password(secret, None)  # the same work for an unknown printer: no timing oracle
        raise PrinterUnauthorized("Printer credentials are not valid", code=PrintingCode.PRINTER_AUTH_INVALID)
    if len(_verified) >= _MAX_VERIFIED:
        _verified.clear()
    _verified[(printer_id, digest)] = ok
    return printer


def _valid_hashes(printer: PrinterItem | None) -> list[str]:
    """The printer's secret hash, and the one before it while its grace period lasts."""
    if printer is None:
        return []
    hashes = [printer.secret_hash]
    if printer.old_secret_hash and printer.old_secret_until and printer.old_secret_until > clock.iso(clock.now()):
        hashes.append(printer.old_secret_hash)
    return hashes


def _check_mac(printer: PrinterItem, mac: str | None) -> None:
    if domain.normalize_mac(mac) != printer.mac:
        raise Forbidden("The MAC address does not belong to this printer", code=PrintingCode.PRINTER_MAC_MISMATCH)


# --------------------------------------------------------------------------------------- protocol
def _view(job: PrintJobItem) -> domain.JobView:
    return domain.JobView(
        job.status, int(job.attempts or 0), _parse_time(job.offered_at), _parse_time(job.available_at)
    )


def _failed_event(job: PrintJobItem, printer: PrinterItem, code: str | None) -> Event:
    return Event(
        "PrintJobFailed",
        {
            "order_id": job.order_id,
            "doc": job.doc,
            "kind": job.job_kind,
            "printer_id": printer.printer_id,
            "printer_name": printer.name,
            "store_id": job.store_id,
            "attempts": int(job.attempts or 0),
            "last_code": code or job.last_code,
        },
    )


def _candidates(printer: PrinterItem, now_iso: str) -> Iterator[PrintJobItem]:
    """The printer's current offer first, then its due jobs from the queue index, each re-read consistently."""
    seen = set()
    parsed = domain.parse_token(printer.current_token)
    if parsed:
        seen.add(parsed)
        job = repository.get_job(*parsed, printer.printer_id)
        if job is not None:
            yield job
    for hint in repository.due_jobs(printer.printer_id, now_iso):
        key = (hint.order_id, hint.doc)
        if key in seen:
            continue
        seen.add(key)
        job = repository.get_job(*key, printer.printer_id)
        if job is not None:
            yield job


def _next_offer(printer: PrinterItem, now: datetime) -> str | None:
    """The token of the job this poll offers (a job that timed out for the last time fails on the way)."""
    s = get_settings()
    now_iso = clock.iso(now)
    deadline_iso = clock.iso(now + timedelta(seconds=s.print_offer_timeout_s))
    for job in _candidates(printer, now_iso):
        action = domain.on_poll(_view(job), now, s.print_offer_timeout_s, s.print_max_attempts)
        if action == "same":
            if job.token == printer.current_token:
                return job.token
        elif action == "fail":
            if repository.fail(
                job, now_iso, job.last_code or "timeout", _failed_event(job, printer, job.last_code or "timeout")
            ):
                metrics.count("PrintJobsFailed", store_id=printer.store_id)
                logger.warning(
                    "print job failed",
                    extra={
                        "order_id": job.order_id,
                        "doc": job.doc,
                        "printer_id": printer.printer_id,
                        "attempts": job.attempts,
                    },
                )
        elif action == "offer":
            tok = domain.token(job.order_id, job.doc, int(job.attempts or 0) + 1, secrets.token_urlsafe(6))
            if repository.offer(job, tok, now_iso, deadline_iso):
                return tok
    return None


def poll(printer: PrinterItem, body: PollIn) -> PollOut:
    _check_mac(printer, body.printerMAC)
    now = clock.now()
    status_code = unquote(body.statusCode).strip()[:100]
    status = domain.printer_status(status_code)
    token = None
    active = (printer.state or "active") == "active"
    if active and domain.can_print(status) and not body.printingInProgress:
        token = _next_offer(printer, now)
        if token != printer.current_token:
            repository.swap_current(printer.printer_id, printer.current_token, token)
    repository.record_poll(printer, clock.iso(now), status, status_code, _poll_events(printer, status, active))
    return PollOut(jobReady=token is not None, mediaTypes=list(domain.MEDIA_TYPES), jobToken=token)


def _poll_events(printer: PrinterItem, status: str, active: bool) -> list[Event]:
    """What a poll reports: the end of an outage (PrinterOnline), the start of a paper-out / cover-open episode
    (PrinterProblem; a disabled printer alerts nobody)."""
    base = {"printer_id": printer.printer_id, "store_id": printer.store_id, "name": printer.name}
    out = []
    if printer.online is False:
        out.append(Event("PrinterOnline", {**base, "offline_since": printer.offline_since}))
    _, starts = domain.problem_change(printer.problem, status)
    if starts and active:
        out.append(Event("PrinterProblem", {**base, "status": status}))
    return out


def _job_for(printer: PrinterItem, token: str | None) -> tuple[str, PrintJobItem]:
    """The printer's job named by ``token`` (or, for firmware without jobToken, its current offer).
    Another store's job is 403; anything else that is not this printer's job is 404."""
    tok = token or printer.current_token
    parsed = domain.parse_token(tok)
    if parsed is None:
        raise NotFound("No print job for this printer", code=PrintingCode.NO_JOB)
    order_id, doc = parsed
    job = repository.get_job(order_id, doc, printer.printer_id)
    if job is None:
        ticket = repository.get_doc(order_id, "order" if domain.job_kind(doc) == domain.REPRINT else doc)
        if ticket is not None and ticket.store_id != printer.store_id:
            raise Forbidden("This job belongs to another store", code=CoreCode.STORE_SCOPE)
        raise NotFound("No print job for this printer", code=PrintingCode.NO_JOB)
    return tok, job


def fetch(printer: PrinterItem, q: JobQuery) -> Result:
    """GET: the offered job in the requested media type. Reads only: repeating it returns the same bytes."""
    _check_mac(printer, q.mac)
    tok, job = _job_for(printer, q.token)
    if job.status != domain.OFFERED or job.token != tok:
        raise NotFound("This job is not waiting to be printed", code=PrintingCode.NO_JOB)
    media = domain.choose_media(q.type)
    if media is None:
        raise UnsupportedMediaType(
            "Media type not offered",
            code=PrintingCode.MEDIA_TYPE_UNSUPPORTED,
            details={"offered": list(domain.MEDIA_TYPES)},
        )
    doc = repository.get_doc(job.order_id, job.source_doc)
    if doc is None:
        raise NotFound("The ticket content is missing", code=PrintingCode.NO_JOB)
    ticket = domain.layout(doc.content, int(printer.paper_width_mm), clock.business_tz(), kind=job.job_kind)
    return Result(domain.render(ticket, media), content_type=domain.CONTENT_TYPES[media])


def confirm(printer: PrinterItem, q: ConfirmQuery) -> ConfirmOut:
    """DELETE: the outcome of a job. Success from any offer of this job ends it (the paper came out); a failure
    counts only for the current offer (a stale one is ignored)."""
    _check_mac(printer, q.mac)
    tok, job = _job_for(printer, q.token)
    s = get_settings()
    now_iso = clock.iso(clock.now())
    code = unquote(q.code).strip()[:100]
    if domain.confirmed_ok(code):
        if job.status != domain.DONE:
            repository.complete(job, now_iso, code)
        if printer.current_token == tok:
            repository.clear_current(printer.printer_id, tok)
        return ConfirmOut(result="done")
    if job.status != domain.OFFERED or job.token != tok:
        return ConfirmOut(result="ignored")
    if printer.current_token == tok:
        repository.clear_current(printer.printer_id, tok)
    if domain.on_confirm(False, _view(job), s.print_max_attempts) == "fail":
        repository.fail(job, now_iso, code, _failed_event(job, printer, code))
        metrics.count("PrintJobsFailed", store_id=printer.store_id)
        return ConfirmOut(result="failed")
    backoff = domain.parse_backoff(s.print_retry_backoff_s)
    wait = domain.retry_delay_s(int(job.attempts or 0), backoff)
    repository.retry(job, clock.iso(clock.now() + timedelta(seconds=wait)), code)
    return ConfirmOut(result="retry")


# --------------------------------------------------------------------------------------- pipeline
def request_print(
    kind: str, doc: str, order: dict[str, Any], source_doc: str | None = None, requested_by: str | None = None
) -> None:
    """Queue a print request (raises if SQS does not take it, so the event is retried)."""
    queues.send(
        get_settings().print_queue_name,
        {
            "v": 1,
            "kind": kind,
            "doc": doc,
            "source_doc": source_doc or doc,
            "order_id": order["order_id"],
            "store_id": order["store_id"],
            "order": order if kind != domain.REPRINT else None,
            "requested_by": requested_by,
        },
    )


def _store_info(store_id: str) -> dict[str, Any]:
    s = stores.find(store_id)
    return {"name": s.name, "address": s.address, "phone": s.phone} if s else {"name": None}


def handle_print_request(body: str) -> dict[str, int]:
    """Print queue consumer: the ticket content once, then one job per printer of the store, each at most once.
    A malformed request raises (retried, then the dead-letter queue and its alert)."""
    msg = json.loads(body)
    kind, doc, order_id, store_id = msg["kind"], msg["doc"], msg["order_id"], msg["store_id"]
    source = msg.get("source_doc") or doc
    if not (
        is_ulid(order_id)
        and is_ulid(store_id)
        and domain.DOC_RE.match(doc)
        and domain.DOC_RE.match(source)
        and domain.job_kind(doc) == kind
    ):
        raise ValueError(f"malformed print request: {body[:300]}")
    if kind in (domain.ORDER, domain.REFUND):
        content = {"kind": kind, "store": _store_info(store_id), "order": msg["order"]}
        repository.put_doc(order_id, doc, store_id, content)
    elif repository.get_doc(order_id, source) is None:
        raise ValueError(f"reprint of a ticket that does not exist: {order_id}/{source}")
    now_iso = clock.iso(clock.now())
    printers = repository.store_printers(store_id)
    created = sum(repository.create_job(order_id, doc, source, p, now_iso) for p in printers)
    if not printers:
        logger.warning("no printer in the store for a ticket", extra={"store_id": store_id, "order_id": order_id})
    return {"printers": len(printers), "created": created}


def _ticket_in_scope(principal: Principal, order_id: str):
    doc = repository.get_doc(order_id, "order") if is_ulid(order_id) else None
    if doc is None or not principal.owns_store(doc.store_id):  # another store's order looks unknown
        raise NotFound("This order has no ticket (not paid yet, or unknown)", code=PrintingCode.NO_TICKET)
    return doc


def reprint(principal: Principal, order_id: str) -> ReprintOut:
    """A new job of the order's ticket on every printer of its store (through the print queue)."""
    doc = _ticket_in_scope(principal, order_id)
    reprint_id = new_id()
    try:
        request_print(
            domain.REPRINT,
            f"reprint-{reprint_id}",
            {"order_id": order_id, "store_id": doc.store_id},
            source_doc="order",
            requested_by=principal.sub,
        )
    except queues.NotQueued:
        logger.exception("reprint not queued", extra={"order_id": order_id})
        raise UpstreamUnavailable("The reprint could not be queued; try again", code=CoreCode.NOT_QUEUED)
    return ReprintOut(reprint_id=reprint_id, order_id=order_id, store_id=doc.store_id)


def order_jobs(principal: Principal, order_id: str) -> list[PrintJobOut]:
    _ticket_in_scope(principal, order_id)
    return [
        PrintJobOut(
            order_id=j.order_id,
            doc=j.doc,
            kind=j.job_kind,
            printer_id=j.printer_id,
            store_id=j.store_id,
            status=j.status,
            attempts=int(j.attempts or 0),
            offered_at=j.offered_at,
            done_at=j.done_at,
            failed_at=j.failed_at,
            last_code=j.last_code,
        )
        for j in repository.jobs_of_order(order_id)
    ]


# --------------------------------------------------------------------------------------- health
def check_printers(now: datetime | None = None) -> dict[str, int]:
    """Mark printers that stopped polling offline and publish ``PrinterOffline`` once per outage (a poll
    ends the outage)."""
    s = get_settings()
    now = now or clock.now()
    now_iso = clock.iso(now)
    offline, checked = 0, 0
    for p in repository.all_printers():
        checked += 1
        last = _parse_time(p.last_poll_at)
        if p.online is not True or not domain.is_offline(last, int(p.poll_interval_s), s.printer_offline_grace_s, now):
            continue
        if (p.state or "active") != "active":
            continue  # disabled or retired: nobody is told
        offline += repository.mark_offline(
            p,
            _offline_since(p, now) or now_iso,
            Event(
                "PrinterOffline",
                {
                    "printer_id": p.printer_id,
                    "store_id": p.store_id,
                    "name": p.name,
                    "mac": p.mac,
                    "last_poll_at": p.last_poll_at,
                    "offline_since": _offline_since(p, now) or now_iso,
                    "offline_after_s": domain.offline_after_s(int(p.poll_interval_s), s.printer_offline_grace_s),
                },
            ),
        )
    return {"checked": checked, "offline": offline}
