from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chalicelib.core.schemas import Body, Name, Out, PageQuery, Ulid
from chalicelib.printing import domain

Mac = Annotated[str, StringConstraints(strip_whitespace=True, min_length=12, max_length=17)]


class PrinterCreate(Body):
    store_id: Ulid
    mac: Mac = Field(description="The printer's MAC address as it reports it (printerMAC), e.g. 00:11:62:0a:0b:0c")
    name: Name
    paper_width_mm: Literal[58, 80] = Field(default=80, description="58 mm paper: 32 columns; 80 mm: 48 columns")
    poll_interval_s: int = Field(
        default=5,
        ge=1,
        le=60,
        description="The polling time set in the printer (Star default 5 s); it is "
        "offline after 2 x this + 5 s without a poll",
    )

    @field_validator("mac")
    @classmethod
    def _mac(cls, v: str) -> str:
        mac = domain.normalize_mac(v)
        if mac is None:
            raise ValueError("not a MAC address (six hex pairs)")
        return mac


class PrinterOut(Out):
    printer_id: str
    store_id: str
    name: str
    mac: str
    paper_width_mm: int
    poll_interval_s: int
    online: bool = Field(description="Polled within 2 x poll_interval_s + 5 s")
    status: str = Field(
        description="From the last poll: ok, paper_low, paper_empty, paper_jam, cover_open, error, "
        "client_error, unknown"
    )
    status_code: str | None = None
    last_poll_at: str | None = None
    offline_since: str | None = Field(
        default=None, description="Set exactly when online is false: since the poll deadline was missed"
    )
    state: Literal["active", "disabled", "retired"] = "active"
    problem: str | None = Field(default=None, description="paper_empty, cover_open ...: alerted once per episode")
    problem_since: str | None = None
    old_secret_until: str | None = Field(default=None, description="The previous secret works until then")
    created_at: datetime


class PrinterUpdate(Body):
    name: Name = None
    state: Literal["active", "disabled", "retired"] = Field(
        default=None, description="disabled: no tickets, no alerts; retired: for good (locked out, MAC freed)"
    )


class PrinterCreated(PrinterOut):
    secret: str = Field(description="HTTP Basic password of the printer (user name: printer_id). Shown once.")
    cloudprnt_path: str = "/cloudprnt"


class PrinterListQuery(PageQuery):
    store_id: Ulid | None = None


class ReprintOut(Out):
    reprint_id: str
    order_id: str
    store_id: str
    status: Literal["queued"] = "queued"


class PrintJobOut(Out):
    order_id: str
    doc: str
    kind: str
    printer_id: str
    store_id: str
    status: str
    attempts: int
    offered_at: str | None = None
    done_at: str | None = None
    failed_at: str | None = None
    last_code: str | None = None


# --------------------------------------------------------------------------------------- CloudPRNT
class _Printer(BaseModel):
    """What a printer sends. Star adds fields between firmware versions, so unknown fields are ignored (not
    refused, unlike our own API's bodies); the fields we use are typed and bounded."""

    model_config = ConfigDict(extra="ignore", strict=True, str_max_length=500, defer_build=True)


class ClientAction(_Printer):
    request: str | None = None
    result: Any = None


class PollIn(_Printer):
    """Star CloudPRNT poll (HTTP POST). All fields but statusCode are optional and may be null."""

    printerMAC: str | None = Field(default=None, max_length=40)
    statusCode: str = Field(
        max_length=200, description='e.g. "200 OK", "211 Paper low", "410 Out of paper" (may arrive URL-encoded)'
    )
    status: str | None = Field(default=None, max_length=200, description="Automatic status back (hex)")
    uniqueID: str | None = Field(default=None, max_length=64)
    jobToken: str | None = Field(default=None, max_length=200)
    printingInProgress: bool | None = None
    clientAction: list[ClientAction] | None = Field(default=None, max_length=20)


class PollOut(Out):
    jobReady: bool
    mediaTypes: list[str]
    jobToken: str | None = None
    deleteMethod: Literal["DELETE"] = "DELETE"


class JobQuery(_Printer):
    """GET (fetch the job) and DELETE (confirm it). Printers add parameters of their own (uid, retry, skip,
    error, firmware ...): ignored."""

    mac: str | None = Field(default=None, max_length=40)
    type: str | None = Field(default=None, max_length=100)
    token: str | None = Field(default=None, max_length=200)
    uid: str | None = Field(default=None, max_length=64)


class ConfirmQuery(JobQuery):
    code: str = Field(
        min_length=1,
        max_length=200,
        description='Printer status code: "200 OK" when printed, anything else is a failure',
    )


class ConfirmOut(Out):
    result: Literal["done", "retry", "failed", "ignored"]
