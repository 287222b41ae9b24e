from __future__ import annotations

from pydantic import Field

from chalicelib.core.schemas import Out


class MemberCodeOut(Out):
    member_code: str = Field(description="18 digits starting with 8; show as QR code or barcode at the till")
    expires_at: str = Field(description="RFC 3339 UTC: the code is refused after this moment (60 seconds)")
