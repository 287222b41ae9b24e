"""Base pydantic models shared by every domain's schemas."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.core.dynamo import DEFAULT_LIMIT, MAX_LIMIT


class Body(BaseModel):
    """Request bodies: strict types (no float for an int, no "1" for a number), unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", str_max_length=2000, defer_build=True)


class Query(BaseModel):
    """Query strings arrive as text, so values are converted (lax); unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", str_max_length=500, defer_build=True)


class PageQuery(Query):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    next: str | None = Field(default=None, max_length=2000)


class Out(BaseModel):
    model_config = ConfigDict(defer_build=True)


T = TypeVar("T")


class PageOut(Out, Generic[T]):
    items: list[T]
    next: str | None = None


# Money: integer fen, never a float.
Fen = Annotated[int, Field(ge=0, le=10**11, strict=True)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=500)]
Ulid = Annotated[str, StringConstraints(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9-]{4,19}$")]


def _coordinate(v: float) -> float:
    # 6 decimals (~0.1 m): also keeps numbers DynamoDB cannot store (magnitude below 1e-130) out of the table.
    return round(v, 6) + 0.0


Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False), AfterValidator(_coordinate)]
Lng = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False), AfterValidator(_coordinate)]
