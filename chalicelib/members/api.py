from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import MEMBERS
from chalicelib.core.http import Req, route
from chalicelib.members import services
from chalicelib.members.schemas import MemberCodeOut

members_api = Blueprint(__name__)


@route(
    members_api,
    "/shop/me/code",
    "GET",
    roles=MEMBERS,
    response=MemberCodeOut,
    tag="shop",
    summary="A member code for the till (valid 60 seconds)",
)
def my_code(req: Req):
    return services.my_code(req.principal)
