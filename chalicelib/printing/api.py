"""Printers: admin routes, reprints, and the Star CloudPRNT endpoint (``/cloudprnt``, HTTP Basic per printer)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import MANAGERS, STORE_BOUND
from chalicelib.core.http import Req, Result, route
from chalicelib.core.schemas import PageOut
from chalicelib.printing import services
from chalicelib.printing.schemas import (
    ConfirmOut,
    ConfirmQuery,
    JobQuery,
    PollIn,
    PollOut,
    PrinterCreate,
    PrinterCreated,
    PrinterListQuery,
    PrinterOut,
    PrinterUpdate,
    PrintJobOut,
    ReprintOut,
)

printing_api = Blueprint(__name__)


# --------------------------------------------------------------------------------------- admin
# No Idempotency-Key here: a replay would have to store the answer, and the answer holds the secret. A retry is
# a 409 PRINTER_MAC_TAKEN instead (and POST /admin/printers/{id}/secret issues a new secret).
@route(
    printing_api,
    "/admin/printers",
    "POST",
    roles=MANAGERS,
    body=PrinterCreate,
    response=PrinterCreated,
    status=201,
    tag="printers",
    errors=(404, 409),
    summary="Register a store's CloudPRNT printer; answers its Basic-auth secret once",
)
def create_printer(req: Req):
    return services.create_printer(req.principal, req.body)


@route(
    printing_api,
    "/admin/printers",
    "GET",
    roles=MANAGERS,
    query=PrinterListQuery,
    response=PageOut[PrinterOut],
    tag="printers",
    summary="Printers with online, last_poll_at and status (managers: their own store)",
)
def list_printers(req: Req):
    return services.list_printers(req.principal, req.query.store_id, req.query.limit, req.query.next)


@route(
    printing_api,
    "/admin/printers/{printer_id}",
    "PATCH",
    roles=MANAGERS,
    body=PrinterUpdate,
    response=PrinterOut,
    tag="printers",
    errors=(404, 409),
    summary="Rename, disable / enable (no tickets, no alerts while disabled) or retire a printer (for good)",
)
def update_printer(req: Req, printer_id: str):
    return services.update_printer(req.principal, printer_id, req.body)


@route(
    printing_api,
    "/admin/printers/{printer_id}",
    "DELETE",
    roles=MANAGERS,
    status=204,
    tag="printers",
    errors=(404,),
    summary="Delete a printer: locked out, no more tickets, its MAC free again",
)
def delete_printer(req: Req, printer_id: str):
    services.delete_printer(req.principal, printer_id)
    return Result(None, status=204)


@route(
    printing_api,
    "/admin/printers/{printer_id}/secret",
    "POST",
    roles=MANAGERS,
    response=PrinterCreated,
    tag="printers",
    errors=(404, 409),
    summary="Give a printer a new secret (the old one works for PRINTER_SECRET_GRACE_S more); answers it once",
)
def rotate_printer_secret(req: Req, printer_id: str):
    return services.rotate_secret(req.principal, printer_id)


@route(
    printing_api,
    "/admin/orders/{order_id}/reprint",
    "POST",
    roles=MANAGERS,
    response=ReprintOut,
    status=202,
    idempotent=True,
    tag="printers",
    errors=(502,),
    summary="Print an order's ticket again on every printer of its store",
)
def admin_reprint(req: Req, order_id: str):
    return services.reprint(req.principal, order_id)


@route(
    printing_api,
    "/pos/orders/{order_id}/reprint",
    "POST",
    roles=STORE_BOUND,
    response=ReprintOut,
    status=202,
    idempotent=True,
    tag="pos",
    errors=(502,),
    summary="Print one of this store's tickets again on its printers",
)
def pos_reprint(req: Req, order_id: str):
    return services.reprint(req.principal, order_id)


@route(
    printing_api,
    "/admin/orders/{order_id}/print-jobs",
    "GET",
    roles=MANAGERS,
    response=list[PrintJobOut],
    tag="printers",
    summary="The print jobs of an order's tickets, per printer (status, attempts)",
)
def print_jobs(req: Req, order_id: str):
    return services.order_jobs(req.principal, order_id)


# --------------------------------------------------------------------------------------- Star CloudPRNT
@route(
    printing_api,
    "/cloudprnt",
    "POST",
    roles=None,
    auth="basic",
    authenticator=services.authenticate,
    body=PollIn,
    response=PollOut,
    tag="cloudprnt",
    errors=(403,),
    summary="CloudPRNT poll: the printer's status in, whether a job is ready (and its token) out",
)
def cloudprnt_poll(req: Req):
    return services.poll(req.principal, req.body).model_dump(mode="json", exclude_none=True)  # no null jobToken


@route(
    printing_api,
    "/cloudprnt",
    "GET",
    roles=None,
    auth="basic",
    authenticator=services.authenticate,
    query=JobQuery,
    tag="cloudprnt",
    errors=(403, 404, 415),
    summary="CloudPRNT job: the offered ticket as text/plain or application/vnd.star.starprnt (no side effects)",
)
def cloudprnt_job(req: Req):
    return services.fetch(req.principal, req.query)


@route(
    printing_api,
    "/cloudprnt",
    "DELETE",
    roles=None,
    auth="basic",
    authenticator=services.authenticate,
    query=ConfirmQuery,
    response=ConfirmOut,
    tag="cloudprnt",
    errors=(403, 404),
    summary="CloudPRNT confirmation: code 200 OK = printed; another code = failed (printed again)",
)
def cloudprnt_confirm(req: Req):
    return services.confirm(req.principal, req.query)
