"""Chalice app: middleware and blueprints, nothing else. Behaviour lives in chalicelib/<domain>/."""

import gc

gc.disable()  # cold start: imports below create many classes; full GC passes during them are wasted work

from chalice import Chalice

from chalicelib.audit.jobs import audit_jobs
from chalicelib.campaigns.api import campaigns_api
from chalicelib.campaigns.jobs import campaigns_jobs
from chalicelib.catalog.api import catalog_api
from chalicelib.core.events import events_jobs
from chalicelib.core.localjobs import local_jobs_api
from chalicelib.core.middleware import log_requests
from chalicelib.core.openapi import openapi_api
from chalicelib.coupons.api import coupons_api
from chalicelib.coupons.jobs import coupons_jobs
from chalicelib.distribution.api import distribution_api
from chalicelib.distribution.jobs import distribution_jobs
from chalicelib.identity.api import identity_api
from chalicelib.inventory.api import inventory_api
from chalicelib.members.api import members_api
from chalicelib.memberviews.api import memberviews_api
from chalicelib.orders.api import orders_api
from chalicelib.orders.jobs import orders_jobs
from chalicelib.points.api import points_api
from chalicelib.points.jobs import points_jobs
from chalicelib.printing.api import printing_api
from chalicelib.printing.jobs import printing_jobs
from chalicelib.promotions.api import promotions_api
from chalicelib.reports.api import reports_api
from chalicelib.sms.api import sms_api
from chalicelib.sms.jobs import sms_jobs
from chalicelib.stores.api import stores_api
from chalicelib.subscriptions import events_consumer
from chalicelib.wallet.api import wallet_api

app = Chalice(app_name="omnistore")
app.register_middleware(log_requests, "http")

app.register_blueprint(identity_api)
app.register_blueprint(stores_api)
app.register_blueprint(catalog_api)
app.register_blueprint(inventory_api)
app.register_blueprint(members_api)
app.register_blueprint(orders_api)
app.register_blueprint(printing_api)
app.register_blueprint(sms_api)
app.register_blueprint(promotions_api)
app.register_blueprint(coupons_api)
app.register_blueprint(wallet_api)
app.register_blueprint(points_api)
app.register_blueprint(reports_api)
app.register_blueprint(campaigns_api)
app.register_blueprint(distribution_api)
app.register_blueprint(memberviews_api)
app.register_blueprint(openapi_api)
app.register_blueprint(local_jobs_api)
app.register_blueprint(orders_jobs)
app.register_blueprint(events_jobs)
app.register_blueprint(events_consumer)
app.register_blueprint(printing_jobs)
app.register_blueprint(sms_jobs)
app.register_blueprint(coupons_jobs)
app.register_blueprint(points_jobs)
app.register_blueprint(audit_jobs)
app.register_blueprint(campaigns_jobs)
app.register_blueprint(distribution_jobs)

gc.freeze()  # what import created lives as long as the process: keep it out of future collections
gc.enable()
