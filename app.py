"""Chalice app: middleware and blueprints, nothing else. Behaviour lives in chalicelib/<domain>/."""

import gc

gc.disable()  # cold start: imports below create many classes; full GC passes during them are wasted work

from chalice import Chalice

from chalicelib.audit.jobs import audit_jobs
from chalicelib.campaigns.jobs import campaigns_jobs
from chalicelib.consumer import events_consumer
from chalicelib.core import routing
from chalicelib.core.events import events_jobs
from chalicelib.core.middleware import log_requests
from chalicelib.coupons.jobs import coupons_jobs
from chalicelib.distribution.jobs import distribution_jobs
from chalicelib.orders.jobs import orders_jobs
from chalicelib.points.jobs import points_jobs
from chalicelib.printing.jobs import printing_jobs
from chalicelib.routes import ROUTES
from chalicelib.sms.jobs import sms_jobs

app = Chalice(app_name="omnistore")
app.register_middleware(log_requests, "http")

# Every HTTP route, each domain's module imported on its first request (chalicelib/routes.py, core.routing).
routing.register(app, ROUTES)

# Schedules and queue consumers: Lambda loads each from its own module (Chalice's handler string names the
# blueprint's module), and those modules import their services when they first run.
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
