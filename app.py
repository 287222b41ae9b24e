"""Chalice app: middleware and blueprints, nothing else. Behaviour lives in chalicelib/<domain>/."""
from chalice import Chalice

from chalicelib.catalog.api import catalog_api
from chalicelib.core.events import events_jobs
from chalicelib.core.middleware import log_requests
from chalicelib.core.openapi import openapi_api
from chalicelib.identity.api import identity_api
from chalicelib.inventory.api import inventory_api
from chalicelib.orders.api import orders_api
from chalicelib.orders.jobs import orders_jobs
from chalicelib.stores.api import stores_api

app = Chalice(app_name="omnistore")
app.register_middleware(log_requests, "http")

app.register_blueprint(identity_api)
app.register_blueprint(stores_api)
app.register_blueprint(catalog_api)
app.register_blueprint(inventory_api)
app.register_blueprint(orders_api)
app.register_blueprint(openapi_api)
app.register_blueprint(orders_jobs)
app.register_blueprint(events_jobs)
