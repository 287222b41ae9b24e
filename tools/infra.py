"""Read infra/resources.yml (the one definition of tables and queues) and create those resources on
DynamoDB Local / moto for the local stack and the tests. Only what CloudFormation would create matters
here: key schemas, indexes, TTL, queue settings and dead-letter queues."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.yml"


@lru_cache(maxsize=8)
def load(stage: str) -> dict[str, Any]:
    doc = yaml.safe_load(TEMPLATE.read_text())

    def resolve(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
                return re.sub(r"\$\{Stage\}", stage, node["Fn::Sub"])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(doc)


def resources(stage: str, type_: str) -> dict[str, dict]:
    return {name: r["Properties"] for name, r in load(stage)["Resources"].items() if r["Type"] == type_}


def table_names(stage: str) -> dict[str, str]:
    return {name: p["TableName"] for name, p in resources(stage, "AWS::DynamoDB::Table").items()}


def queue_names(stage: str) -> dict[str, str]:
    return {name: p["QueueName"] for name, p in resources(stage, "AWS::SQS::Queue").items()}


def create_tables(stage: str, client) -> list[str]:
    existing = set(client.list_tables().get("TableNames", []))
    created = []
    for props in resources(stage, "AWS::DynamoDB::Table").values():
        name = props["TableName"]
        if name in existing:
            _enable_stream(client, name, props.get("StreamSpecification"))  # a table kept from before the outbox
            continue
        kwargs = {k: props[k] for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode")}
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        client.create_table(**kwargs)
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(name)
    return created


def _enable_stream(client, name: str, spec: dict | None) -> None:
    if spec and not client.describe_table(TableName=name)["Table"].get("StreamSpecification", {}).get("StreamEnabled"):
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, **spec})


def create_queues(stage: str, client) -> dict[str, str]:
    """Create every queue (dead-letter queues first); returns logical name -> queue URL."""
    queues = resources(stage, "AWS::SQS::Queue")
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    order = sorted(queues, key=lambda n: "RedrivePolicy" in queues[n])
    for logical in order:
        props = queues[logical]
        attrs: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in props:
                attrs[key] = str(props[key])
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[target], "maxReceiveCount": str(redrive["maxReceiveCount"])}
            )
        url = client.create_queue(QueueName=props["QueueName"], Attributes=attrs)["QueueUrl"]
        urls[logical] = url
        arns[logical] = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return urls
