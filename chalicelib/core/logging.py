"""Structured JSON logging (Powertools Logger), created once per process."""

from aws_lambda_powertools.logging import Logger

logger = Logger(service="omnistore")
