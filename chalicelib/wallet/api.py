"""Wallet routes: recharge packages (head office; shop and till list the active ones), the member's balance and
ledger, recharges online and at the till, recharge refunds by head office. The WeChat Pay notification of an
online recharge arrives at orders' ``/webhooks/wechatpay``, which hands it to ``services.apply_recharge_payment``."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MEMBERS, STORE_BOUND
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut, PageQuery
from chalicelib.wallet import services
from chalicelib.wallet.schemas import (
    BalanceOut,
    LedgerEntryOut,
    PackageCreate,
    PackageOut,
    PackagePatch,
    PosRechargeIn,
    RechargeIn,
    RechargeOut,
)

wallet_api = Blueprint(__name__)


# --------------------------------------------------------------------------------------- packages
@route(
    wallet_api,
    "/admin/recharge-packages",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=PageOut[PackageOut],
    tag="wallet",
    summary="Every recharge package, newest first",
)
def list_packages(req: Req):
    return services.list_packages(req.query.limit, req.query.next)


@route(
    wallet_api,
    "/admin/recharge-packages",
    "POST",
    roles=HQ,
    body=PackageCreate,
    response=PackageOut,
    status=201,
    tag="wallet",
    summary="A recharge package: pay pay_fen, get bonus_fen on top",
)
def create_package(req: Req):
    return services.create_package(req.principal, req.body)


@route(
    wallet_api,
    "/admin/recharge-packages/{package_id}",
    "PATCH",
    roles=HQ,
    body=PackagePatch,
    response=PackageOut,
    tag="wallet",
    summary="Change a recharge package (title, amounts, active or not); recharges already made keep their terms",
)
def update_package(req: Req, package_id: str):
    return services.update_package(req.principal, package_id, req.body)


@route(
    wallet_api,
    "/shop/recharge-packages",
    "GET",
    roles=MEMBERS,
    query=PageQuery,
    response=PageOut[PackageOut],
    tag="shop",
    summary="Recharge packages on offer, cheapest first",
)
def shop_packages(req: Req):
    return services.list_active_packages(req.query.limit, req.query.next)


@route(
    wallet_api,
    "/pos/recharge-packages",
    "GET",
    roles=STORE_BOUND,
    query=PageQuery,
    response=PageOut[PackageOut],
    tag="pos",
    summary="Recharge packages on offer, cheapest first (the till's recharge screen)",
)
def pos_packages(req: Req):
    return services.list_active_packages(req.query.limit, req.query.next)


# --------------------------------------------------------------------------------------- member
@route(
    wallet_api,
    "/shop/wallet",
    "GET",
    roles=MEMBERS,
    response=BalanceOut,
    tag="shop",
    summary="My wallet balance: principal (paid in) and bonus",
)
def my_wallet(req: Req):
    return services.my_balance(req.principal)


@route(
    wallet_api,
    "/shop/wallet/ledger",
    "GET",
    roles=MEMBERS,
    query=PageQuery,
    response=PageOut[LedgerEntryOut],
    tag="shop",
    summary="My wallet's ledger, newest first, with the balance after each entry",
)
def my_ledger(req: Req):
    return services.my_ledger(req.principal, req.query.limit, req.query.next)


@route(
    wallet_api,
    "/shop/wallet/recharges",
    "POST",
    roles=MEMBERS,
    body=RechargeIn,
    response=RechargeOut,
    status=201,
    idempotent=True,
    key_required=True,
    tag="shop",
    summary="Recharge online (a package or a free amount): prepay parameters; WeChat's notification credits it",
    errors=(404, 409, 502),
)
def start_recharge(req: Req):
    return services.start_recharge(req.principal, req.body)


@route(
    wallet_api,
    "/shop/wallet/recharges",
    "GET",
    roles=MEMBERS,
    query=PageQuery,
    response=PageOut[RechargeOut],
    tag="shop",
    summary="My recharges, newest first",
)
def my_recharges(req: Req):
    return services.my_recharges(req.principal, req.query.limit, req.query.next)


@route(
    wallet_api,
    "/shop/wallet/recharges/{recharge_id}",
    "GET",
    roles=MEMBERS,
    response=RechargeOut,
    tag="shop",
    summary="One of my recharges (the mini-program polls it until PAID)",
)
def my_recharge(req: Req, recharge_id: str):
    return services.my_recharge(req.principal, recharge_id)


# --------------------------------------------------------------------------------------- till and head office
@route(
    wallet_api,
    "/pos/recharges",
    "POST",
    roles=STORE_BOUND,
    body=PosRechargeIn,
    response=RechargeOut,
    status=201,
    idempotent="tx",
    key_required=True,
    tag="pos",
    summary="Recharge at the till for the member whose code is shown: cash or WeChat payment code, PAID at once",
    errors=(404, 409, 502),
)
def till_recharge(req: Req):
    return services.till_recharge(req.principal, req.body)


@route(
    wallet_api,
    "/admin/wallet/recharges/{recharge_id}/refund",
    "POST",
    roles=HQ,
    response=RechargeOut,
    idempotent=True,
    key_required=True,
    tag="wallet",
    summary="Refund a recharge: its unspent principal is paid back, its unspent bonus forfeited (once)",
    errors=(404, 409, 502),
)
def refund_recharge(req: Req, recharge_id: str):
    return services.refund_recharge(req.principal, recharge_id)
