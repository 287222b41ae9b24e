"""Printing's error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class PrintingCode(ErrorCode):
    # 404: no such printer
    PRINTER_NOT_FOUND = "PRINTER_NOT_FOUND"
    # 409: a printer with this MAC address is already registered
    PRINTER_MAC_TAKEN = "PRINTER_MAC_TAKEN"
    # 401: a printer called without HTTP Basic credentials
    PRINTER_AUTH_REQUIRED = "PRINTER_AUTH_REQUIRED"
    # 401: the printer's credentials are not valid
    PRINTER_AUTH_INVALID = "PRINTER_AUTH_INVALID"
    # 403: the MAC address does not belong to the authenticated printer
    PRINTER_MAC_MISMATCH = "PRINTER_MAC_MISMATCH"
    # 404: no print job is waiting for this printer (or its ticket content is missing)
    NO_JOB = "NO_JOB"
    # 404: reprinting an order that has no ticket (not paid yet, or unknown)
    NO_TICKET = "NO_TICKET"
    # 409: the printer is retired (it can only be deleted)
    PRINTER_RETIRED = "PRINTER_RETIRED"
    # 415: the printer asked for a media type we do not offer; details list the offered ones
    MEDIA_TYPE_UNSUPPORTED = "MEDIA_TYPE_UNSUPPORTED"
