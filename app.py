"""Chalice app: middleware and blueprints, nothing else. Behaviour lives in chalicelib/<domain>/."""
from chalice import Chalice

from chalicelib.catalog.api import catalog_api
from chalicelib.core.middleware import log_requests
from chalicelib.core.openapi import openapi_api
from chalicelib.identity.api import identity_api
from chalicelib.stores.api import stores_api

app = Chalice(app_name="omnistore")
app.register_middleware(log_requests, "http")

app.register_blueprint(identity_api)
app.register_blueprint(stores_api)
app.register_blueprint(catalog_api)
app.register_blueprint(openapi_api)
