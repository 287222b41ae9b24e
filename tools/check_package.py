"""Finalize and check the template that ``make package STAGE=<stage>`` builds.

``chalice package --merge-template infra/resources.yml`` writes build/<stage>/sam.yaml (chalice switches to YAML
output whenever the merged template is YAML). Then::

    python -m tools.check_package --finalize build/<stage>/sam.yaml <stage>   # pin, link, then check
    python -m tools.check_package build/<stage>/sam.yaml <stage>              # check only

``--finalize`` rewrites the template in place, in two ways only:

* pins the ``Stage`` parameter (``Default: <stage>``, ``AllowedValues: [<stage>]``): chalice bakes one stage's
  names into the functions' environment and IAM policy, so the packaged template must not be deployable as
  another stage;
* points each SQS event source whose queue ARN chalice spelled out by name at the template's own queue
  (``Fn::GetAtt [Queue, Arn]``), so CloudFormation creates the queue before the event source mapping.

The check then fails (exit 1, one line per problem) unless: the app table has pk/sk, gsi1..gsi3, PITR and is
retained; the idempotency table has its key and TTL; every SQS queue except the dead-letter queues redrives to a
DLQ named ``<queue>-dlq``; every function has the stage's table/queue names in its environment, its secrets only
as Secrets Manager dynamic references, and exactly the stage's hand-written IAM policy (``autogen_policy`` false);
and that policy names this stage's tables and queues and nothing of another stage.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"

FUNCTION = "AWS::Serverless::Function"
TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
ROLE = "AWS::IAM::Role"

# Function environment variable -> logical id of the template resource whose name it must hold.
NAME_VARS = {
    "TABLE_NAME": "AppTable",
    "IDEMPOTENCY_TABLE_NAME": "IdempotencyTable",
    "EVENTS_QUEUE_NAME": "EventsQueue",
    "PRINT_QUEUE_NAME": "PrintQueue",
    "SMS_QUEUE_NAME": "SmsQueue",
    "CAMPAIGN_QUEUE_NAME": "CampaignsQueue",
}
REQUIRED_SECRETS = (
    "JWT_SECRET",
    "WECHAT_SECRET",
    "WECHATPAY_MERCHANT_PRIVATE_KEY",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_APIV2_KEY",
    "ALIYUN_SMS_ACCESS_KEY_ID",
    "ALIYUN_SMS_ACCESS_KEY_SECRET",
)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|API_?KEY|CREDENTIAL", re.I)
DYNAMIC_REF = re.compile(r"^\{\{resolve:secretsmanager:(?P<secret>[^:}]+):SecretString:(?P<key>[A-Za-z0-9_]+)\}\}$")
ARN_QUEUE = re.compile(r"^arn:\$\{AWS::Partition\}:sqs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(?P<name>[^:$]+)$")
SAMPLE_ACCOUNT = ("ap-southeast-1", "123456789012")  # to test the policy's ARN patterns against


# ------------------------------------------------------------------------------------------------ loading
class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads short-form intrinsics (``!GetAtt a.b``) as their long form."""


def _intrinsic(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


def load_template(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text()
    return json.loads(text) if str(path).endswith(".json") else yaml.load(text, Loader=_Loader)


def save_template(path: str | Path, tpl: dict[str, Any]) -> None:
    if str(path).endswith(".json"):
        Path(path).write_text(json.dumps(tpl, indent=2, ensure_ascii=False) + "\n")
    else:
        Path(path).write_text(yaml.safe_dump(tpl, allow_unicode=True, sort_keys=False))


def chalice_config() -> dict[str, Any]:
    return json.loads((CHALICE_DIR / "config.json").read_text())


def stage_env(stage: str) -> dict[str, str]:
    """The environment chalice gives the stage's functions (global variables, then the stage's)."""
    cfg = chalice_config()
    if stage not in cfg.get("stages", {}):
        raise SystemExit(f"check_package: stage {stage!r} is not in .chalice/config.json")
    return {**cfg.get("environment_variables", {}), **cfg["stages"][stage].get("environment_variables", {})}


def policy_file(stage: str) -> Path:
    cfg = chalice_config()
    name = cfg["stages"][stage].get("iam_policy_file") or cfg.get("iam_policy_file") or f"policy-{stage}.json"
    return CHALICE_DIR / name


def load_policy(stage: str) -> dict[str, Any]:
    return json.loads(policy_file(stage).read_text())


# ---------------------------------------------------------------------------------------------- resolving
def resolve(node: Any, stage: str) -> Any:
    """Evaluate the intrinsics that name things: ``Fn::Sub`` with ``${Stage}`` and ``Ref: Stage``.
    Anything else (``${AWS::Region}``, ``Fn::GetAtt``) is left as it is."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return node["Fn::Sub"].replace("${Stage}", stage)
        if node == {"Ref": "Stage"}:
            return stage
        return {k: resolve(v, stage) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, stage) for v in node]
    return node


def of_type(tpl: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in tpl.get("Resources", {}).items() if r.get("Type") == type_}


def queue_arn_name(value: Any) -> str | None:
    """The queue name in a queue ARN chalice built by hand (``Fn::Sub arn:${AWS::Partition}:sqs:...:name``)."""
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        value = value["Fn::Sub"]
    m = ARN_QUEUE.match(value) if isinstance(value, str) else None
    return m.group("name") if m else None


def stream_event_sources(fn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: e.get("Properties", {})
        for k, e in (fn.get("Properties", {}).get("Events") or {}).items()
        if e.get("Type") == "DynamoDB"
    }


# The outbox relay sees only new Outbox items (the table's every other write is filtered out by Lambda).
OUTBOX_FILTER = {
    "Filters": [
        {"Pattern": json.dumps({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["Outbox"]}}}})}
    ]
}
STREAM_RETRIES = 10  # then Lambda skips the batch; the republish sweep relays what it left


def sqs_event_sources(fn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: e.get("Properties", {})
        for k, e in (fn.get("Properties", {}).get("Events") or {}).items()
        if e.get("Type") == "SQS"
    }


# ---------------------------------------------------------------------------------------------- finalizing
def finalize(tpl: dict[str, Any], stage: str) -> list[str]:
    """Pin the Stage parameter and link SQS event sources to the template's queues; returns what changed."""
    changes = []
    param = tpl.setdefault("Parameters", {}).get("Stage")
    if param is None:
        raise SystemExit("check_package: the template has no Stage parameter (infra/resources.yml defines it)")
    if param.get("Default") != stage or param.get("AllowedValues") != [stage]:
        param["Default"], param["AllowedValues"] = stage, [stage]
        changes.append(f"Parameters.Stage pinned to {stage!r}")
    by_name = {resolve(r["Properties"].get("QueueName"), stage): logical for logical, r in of_type(tpl, QUEUE).items()}
    tables_by_name = {
        resolve(r["Properties"].get("TableName"), stage): logical for logical, r in of_type(tpl, TABLE).items()
    }
    for fname, fn in of_type(tpl, FUNCTION).items():
        for ename, props in sqs_event_sources(fn).items():
            name = queue_arn_name(props.get("Queue"))
            if name in by_name:
                props["Queue"] = {"Fn::GetAtt": [by_name[name], "Arn"]}
                changes.append(f"{fname}.Events.{ename}.Queue -> {by_name[name]}.Arn")
            # Our SQS handlers return {"batchItemFailures": [...]}; Lambda honours that only with this flag
            # (chalice does not set it), otherwise one bad record would retry the whole batch.
            if props.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
                props["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
                changes.append(f"{fname}.Events.{ename}.FunctionResponseTypes -> ReportBatchItemFailures")
        for ename, props in stream_event_sources(fn).items():
            table = stream_table_name(props.get("Stream"))
            if table in tables_by_name:
                props["Stream"] = {"Fn::GetAtt": [tables_by_name[table], "StreamArn"]}
                props.update(
                    FilterCriteria=OUTBOX_FILTER, MaximumRetryAttempts=STREAM_RETRIES, BisectBatchOnFunctionError=True
                )
                changes.append(f"{fname}.Events.{ename}.Stream -> {tables_by_name[table]}.StreamArn (Outbox inserts)")
    return changes


def stream_table_name(value: Any) -> str | None:
    """The table named in a stream ARN (as chalice spells out the handler's ``stream_arn``)."""
    if isinstance(value, str) and ":table/" in value and "/stream/" in value:
        return value.split(":table/", 1)[1].split("/", 1)[0]
    return None


# ------------------------------------------------------------------------------------------------ checking
def check(tpl: dict[str, Any], stage: str) -> list[str]:
    problems: list[str] = []
    add = problems.append

    param = tpl.get("Parameters", {}).get("Stage") or {}
    if param.get("Default") != stage or param.get("AllowedValues") != [stage]:
        add(
            f"Parameters.Stage must be pinned to {stage!r} (Default and AllowedValues); got "
            f"Default={param.get('Default')!r} AllowedValues={param.get('AllowedValues')!r} (run with --finalize)"
        )
    if tpl.get("Transform") != "AWS::Serverless-2016-10-31":
        add("the template is not a SAM template (Transform AWS::Serverless-2016-10-31); Globals would be ignored")

    rtpl = resolve(tpl, stage)
    tables = {k: r.get("Properties", {}) for k, r in of_type(rtpl, TABLE).items()}
    queues = {k: r.get("Properties", {}) for k, r in of_type(rtpl, QUEUE).items()}
    functions = of_type(rtpl, FUNCTION)
    problems += check_tables(tables, of_type(rtpl, TABLE))
    problems += check_queues(queues, functions)
    problems += check_dlq_alarms(queues, of_type(rtpl, "AWS::CloudWatch::Alarm"))
    problems += check_names(tables, queues, stage)
    if not functions:
        add("no AWS::Serverless::Function in the template")
    globals_env = ((rtpl.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {})
    problems += check_env_secrets("Globals.Function", globals_env, stage)
    policy = load_policy(stage)
    problems += check_policy_names(policy, tables, queues, stage)
    problems += check_config()
    for fname, fn in functions.items():
        problems += check_function(fname, fn, globals_env, rtpl, tables, queues, policy, stage)
        problems += check_streams(fname, fn, tables, policy, stage)
    return problems


def check_streams(
    fname: str, fn: dict[str, Any], tables: dict[str, dict], policy: dict[str, Any], stage: str
) -> list[str]:
    """A stream-triggered function (the outbox relay) reads a table of this template that has a stream, sees only
    new Outbox items, and its role may read the stream."""
    problems = []
    for ename, props in stream_event_sources(fn).items():
        stream = props.get("Stream")
        logical = stream.get("Fn::GetAtt", [None])[0] if isinstance(stream, dict) else None
        if logical not in tables:
            problems.append(
                f"{fname}.Events.{ename}: Stream must be Fn::GetAtt of a table's StreamArn, got {stream!r} "
                "(run with --finalize)"
            )
            continue
        if not (tables[logical].get("StreamSpecification") or {}).get("StreamViewType"):
            problems.append(f"{logical}: {fname} reads its stream but the table has no StreamSpecification")
        if props.get("FilterCriteria") != OUTBOX_FILTER:
            problems.append(f"{fname}.Events.{ename}: FilterCriteria must select new Outbox items only")
        arn = table_arn(tables[logical]["TableName"]) + "/stream/2026-01-01T00:00:00.000"
        if not any(arn_matches(r, arn) for r in policy_resources(policy, "dynamodb")):
            problems.append(
                f"{policy_file(stage).relative_to(ROOT)}: no statement allows reading the stream of "
                f"{tables[logical]['TableName']}"
            )
    return problems


def _keys(props: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in props.get("KeySchema", [])]


def check_tables(tables: dict[str, dict], resources: dict[str, dict]) -> list[str]:
    problems = []
    app = tables.get("AppTable")
    if app is None:
        problems.append("AppTable (AWS::DynamoDB::Table) is missing")
    else:
        if _keys(app) != [("pk", "HASH"), ("sk", "RANGE")]:
            problems.append(f"AppTable key schema must be pk HASH + sk RANGE, got {_keys(app)}")
        gsis = {g["IndexName"]: g for g in app.get("GlobalSecondaryIndexes", [])}
        for n in (1, 2, 3):
            g = gsis.get(f"gsi{n}")
            if g is None:
                problems.append(f"AppTable has no GSI gsi{n}")
            elif _keys(g) != [(f"gsi{n}pk", "HASH"), (f"gsi{n}sk", "RANGE")]:
                problems.append(f"AppTable gsi{n} key schema must be gsi{n}pk HASH + gsi{n}sk RANGE, got {_keys(g)}")
        defined = {a["AttributeName"] for a in app.get("AttributeDefinitions", [])}
        used = {k for k, _ in _keys(app)} | {k for g in gsis.values() for k, _ in _keys(g)}
        if defined != used:
            problems.append(f"AppTable AttributeDefinitions {sorted(defined)} != key attributes {sorted(used)}")
        if not (app.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"):
            problems.append("AppTable must have point-in-time recovery enabled")
        if resources["AppTable"].get("DeletionPolicy") != "Retain":
            problems.append("AppTable must have DeletionPolicy Retain")
    idem = tables.get("IdempotencyTable")
    if idem is None:
        problems.append("IdempotencyTable (AWS::DynamoDB::Table) is missing")
    else:
        if _keys(idem) != [("id", "HASH")]:
            problems.append(f"IdempotencyTable key schema must be id HASH (Powertools default), got {_keys(idem)}")
        ttl = idem.get("TimeToLiveSpecification") or {}
        if not ttl.get("Enabled") or ttl.get("AttributeName") != "expiration":
            problems.append("IdempotencyTable must have TTL enabled on 'expiration' (Powertools default)")
    for name, props in tables.items():
        if props.get("BillingMode") != "PAY_PER_REQUEST" and "ProvisionedThroughput" not in props:
            problems.append(f"{name}: no BillingMode PAY_PER_REQUEST and no ProvisionedThroughput")
    return problems


def check_dlq_alarms(queues: dict[str, dict], alarms: dict[str, dict]) -> list[str]:
    """Every dead-letter queue has a CloudWatch alarm on its visible messages (docs/operations.md)."""
    watched = set()
    for alarm in alarms.values():
        for dim in alarm.get("Properties", {}).get("Dimensions") or []:
            value = dim.get("Value")
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                watched.add(value["Fn::GetAtt"][0])
    return [
        f"{name}: a dead-letter queue without a CloudWatch alarm"
        for name, props in queues.items()
        if str(props.get("QueueName", "")).endswith("-dlq") and name not in watched
    ]


def check_queues(queues: dict[str, dict], functions: dict[str, dict]) -> list[str]:
    problems = []

    def target(props):
        arn = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        return arn["Fn::GetAtt"][0] if isinstance(arn, dict) and "Fn::GetAtt" in arn else arn

    dlqs = {target(p) for p in queues.values() if p.get("RedrivePolicy")}
    for name, props in queues.items():
        is_dlq = name in dlqs or str(props.get("QueueName", "")).endswith("-dlq")
        if is_dlq:
            if props.get("RedrivePolicy"):
                problems.append(f"{name}: a dead-letter queue must not itself redrive")
            if name not in dlqs:
                problems.append(f"{name}: looks like a dead-letter queue but no queue redrives to it")
            continue
        redrive = props.get("RedrivePolicy")
        if not redrive:
            problems.append(f"{name}: SQS queue without RedrivePolicy (every queue except DLQs needs a DLQ)")
            continue
        dlq = target(props)
        if dlq not in queues:
            problems.append(
                f"{name}: RedrivePolicy.deadLetterTargetArn must be Fn::GetAtt of a queue in this "
                f"template, got {redrive.get('deadLetterTargetArn')!r}"
            )
        elif int(queues[dlq].get("MessageRetentionPeriod", 345600)) < int(props.get("MessageRetentionPeriod", 345600)):
            problems.append(f"{name}: its DLQ {dlq} keeps messages for less time than the queue itself")
        if dlq in queues and queues[dlq].get("QueueName") != f"{props.get('QueueName')}-dlq":
            # The watch_dead_letters schedule finds each queue's DLQ by this name (GetQueueAttributes, no listing).
            problems.append(
                f"{name}: its dead-letter queue must be named {props.get('QueueName')}-dlq, "
                f"got {queues[dlq].get('QueueName')!r}"
            )
        if not 1 <= int(redrive.get("maxReceiveCount", 0)) <= 1000:
            problems.append(f"{name}: RedrivePolicy.maxReceiveCount must be 1..1000")
    for fname, fn in functions.items():
        timeout = int(fn.get("Properties", {}).get("Timeout", 3))
        for ename, props in sqs_event_sources(fn).items():
            q = props.get("Queue")
            if not (isinstance(q, dict) and "Fn::GetAtt" in q and q["Fn::GetAtt"][0] in queues):
                name = queue_arn_name(q) or q
                problems.append(
                    f"{fname}.Events.{ename}: consumes {name!r}, which is not a queue of this template "
                    f"(is EVENTS_QUEUE_NAME set for the stage at package time?)"
                )
                continue
            qname = q["Fn::GetAtt"][0]
            if props.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
                problems.append(
                    f"{fname}.Events.{ename}: FunctionResponseTypes must be [ReportBatchItemFailures] "
                    f"(partial batch failures)"
                )
            if qname in dlqs:
                continue
            vt = int(queues[qname].get("VisibilityTimeout", 30))
            if vt < 6 * timeout:
                problems.append(
                    f"{qname}: VisibilityTimeout {vt}s < 6 x the timeout of its consumer {fname} ({timeout}s)"
                )
    return problems


def check_names(tables: dict[str, dict], queues: dict[str, dict], stage: str) -> list[str]:
    problems = []
    for kind, res, key in (("table", tables, "TableName"), ("queue", queues, "QueueName")):
        for logical, props in res.items():
            name = props.get(key)
            if not isinstance(name, str) or not name.startswith(f"omnistore-{stage}-"):
                problems.append(f"{logical}: {kind} name {name!r} is not omnistore-{stage}-...")
    return problems


def arn_matches(pattern: str, arn: str) -> bool:
    return fnmatch.fnmatchcase(arn, pattern)


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{SAMPLE_ACCOUNT[0]}:{SAMPLE_ACCOUNT[1]}:table/{name}"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{SAMPLE_ACCOUNT[0]}:{SAMPLE_ACCOUNT[1]}:{name}"


def policy_resources(policy: dict[str, Any], service: str) -> list[str]:
    out = []
    for st in policy.get("Statement", []):
        if st.get("Effect") != "Allow":
            continue
        res = st.get("Resource", [])
        for r in [res] if isinstance(res, str) else res:
            if r.startswith(f"arn:aws:{service}:"):
                out.append(r)
    return out


def check_policy_names(
    policy: dict[str, Any], tables: dict[str, dict], queues: dict[str, dict], stage: str
) -> list[str]:
    """The stage's policy names each of the stage's tables (and the app table's indexes) and queues, and every
    DynamoDB/SQS resource it names is one of them."""
    problems = []
    where = policy_file(stage).relative_to(ROOT)
    ddb, sqs = policy_resources(policy, "dynamodb"), policy_resources(policy, "sqs")
    table_names = {p["TableName"] for p in tables.values()}
    queue_names = {p["QueueName"] for p in queues.values()}
    for t in sorted(table_names):
        if not any(arn_matches(r, table_arn(t)) for r in ddb):
            problems.append(f"{where}: no statement allows the table {t}")
    app = tables.get("AppTable", {}).get("TableName")
    if app and not any(arn_matches(r, table_arn(app) + "/index/gsi1") for r in ddb):
        problems.append(f"{where}: no statement allows the indexes of {app}")
    for q in sorted(queue_names):
        if not any(arn_matches(r, queue_arn(q)) for r in sqs):
            problems.append(f"{where}: no statement allows the queue {q}")
    for r in ddb:
        if not any(
            arn_matches(r, table_arn(t))
            or arn_matches(r, table_arn(t) + "/index/x")
            or arn_matches(r, table_arn(t) + "/stream/x")
            for t in table_names
        ):
            problems.append(f"{where}: {r} names no table of stage {stage}")
    for r in sqs:
        if not any(arn_matches(r, queue_arn(q)) for q in queue_names):
            problems.append(f"{where}: {r} names no queue of stage {stage}")
    return problems


def check_config() -> list[str]:
    problems = []
    cfg = chalice_config()
    if cfg.get("autogen_policy") is not False:
        problems.append(".chalice/config.json: autogen_policy must be false (the hand-written policy is the policy)")
    for stage_name, st in cfg.get("stages", {}).items():
        if st.get("autogen_policy"):
            problems.append(f".chalice/config.json: stage {stage_name} turns autogen_policy on")
    for scope, env in [("environment_variables", cfg.get("environment_variables", {}))] + [
        (f"stages.{s}.environment_variables", st.get("environment_variables", {}))
        for s, st in cfg.get("stages", {}).items()
    ]:
        for k in env:
            if SECRET_NAME.search(k):
                problems.append(
                    f".chalice/config.json {scope}.{k}: secrets are never committed; use a Secrets "
                    f"Manager dynamic reference in infra/resources.yml Globals"
                )
    return problems


def check_env_secrets(where: str, env: dict[str, Any], stage: str) -> list[str]:
    problems = []
    for k, v in env.items():
        is_ref = isinstance(v, str) and DYNAMIC_REF.match(v)
        if SECRET_NAME.search(k) and not is_ref:
            problems.append(
                f"{where}: {k} looks like a secret but is not a Secrets Manager dynamic reference "
                f"({{{{resolve:secretsmanager:...}}}})"
            )
        if is_ref and not is_ref.group("secret").startswith(f"omnistore/{stage}/"):
            problems.append(f"{where}: {k} reads the secret {is_ref.group('secret')!r}, not one of stage {stage}")
    return problems


def check_function(
    fname: str,
    fn: dict[str, Any],
    globals_env: dict[str, Any],
    tpl: dict[str, Any],
    tables: dict[str, dict],
    queues: dict[str, dict],
    policy: dict[str, Any],
    stage: str,
) -> list[str]:
    problems = []
    props = fn.get("Properties", {})
    own_env = (props.get("Environment") or {}).get("Variables", {})
    env = {**globals_env, **own_env}  # SAM merges Globals into each function; the function's own wins
    problems += check_env_secrets(fname, own_env, stage)
    if env.get("STAGE") != stage:
        problems.append(f"{fname}: STAGE={env.get('STAGE')!r}, expected {stage!r}")
    names = {**{k: p.get("TableName") for k, p in tables.items()}, **{k: p.get("QueueName") for k, p in queues.items()}}
    for var, logical in NAME_VARS.items():
        if env.get(var) != names.get(logical):
            problems.append(f"{fname}: {var}={env.get(var)!r} but {logical} is named {names.get(logical)!r}")
    for var in REQUIRED_SECRETS:
        if not (isinstance(env.get(var), str) and DYNAMIC_REF.match(env[var])):
            problems.append(
                f"{fname}: {var} must come from a Secrets Manager dynamic reference "
                f"(infra/resources.yml Globals.Function.Environment), got {env.get(var)!r}"
            )
    tag = (props.get("Tags") or {}).get("aws-chalice", "")
    if tag and f"stage={stage}:" not in tag:
        problems.append(f"{fname}: packaged for another stage ({tag})")
    if props.get("Policies"):
        problems.append(f"{fname}: has SAM Policies; the role is the stage's hand-written policy only")
    role = props.get("Role")
    if not (isinstance(role, dict) and "Fn::GetAtt" in role):
        problems.append(f"{fname}: Role must be Fn::GetAtt of a role in this template, got {role!r}")
        return problems
    role_name = role["Fn::GetAtt"][0]
    role_res = tpl.get("Resources", {}).get(role_name, {})
    if role_res.get("Type") != ROLE:
        problems.append(f"{fname}: role {role_name} is not an AWS::IAM::Role of this template")
        return problems
    rprops = role_res.get("Properties", {})
    docs = [p.get("PolicyDocument") for p in rprops.get("Policies", [])]
    if docs != [policy]:
        problems.append(
            f"{fname}: role {role_name} must carry exactly {policy_file(stage).relative_to(ROOT)} "
            f"(autogen_policy false); it has {len(docs)} inline policies that differ"
        )
    if rprops.get("ManagedPolicyArns"):
        problems.append(f"{fname}: role {role_name} has managed policies {rprops['ManagedPolicyArns']}")
    return problems


# ---------------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.check_package", description=__doc__.split("\n\n")[0])
    ap.add_argument("--finalize", action="store_true", help="pin the Stage parameter and link event sources first")
    ap.add_argument("template", help="build/<stage>/sam.yaml (or .json)")
    ap.add_argument("stage")
    args = ap.parse_args(argv)
    stage_env(args.stage)  # unknown stage -> clear exit
    path = Path(args.template)
    if not path.exists():
        print(f"check_package: {path} does not exist (did `chalice package` run?)", file=sys.stderr)
        return 1
    tpl = load_template(path)
    if args.finalize:
        for change in finalize(tpl, args.stage):
            print(f"check_package: {change}")
        save_template(path, tpl)
    problems = check(tpl, args.stage)
    if problems:
        print(f"check_package: {path} is not a valid {args.stage} package ({len(problems)} problems):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    fns = sorted(of_type(tpl, FUNCTION))
    print(f"check_package: {path} OK for stage {args.stage} ({len(fns)} functions: {', '.join(fns)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
