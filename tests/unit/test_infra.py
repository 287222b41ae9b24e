"""infra/resources.yml, .chalice/config.json and the per-stage IAM policies name the same things.

The packaged template is checked by ``tools.check_package`` in ``make package``; these tests catch the same
drift in milliseconds, without running ``chalice package``.
"""

from __future__ import annotations

import pytest

from tools import check_package, infra

DEPLOYED = ("dev", "prod")


def test_load_reads_the_template_for_a_stage():
    tpl = infra.load("dev")
    assert tpl["Parameters"]["Stage"]["AllowedValues"] == ["dev", "prod"]
    assert infra.table_names("dev") == {
        "AppTable": "omnistore-dev-app",
        "IdempotencyTable": "omnistore-dev-idempotency",
    }
    assert infra.queue_names("dev") == {
        "EventsQueue": "omnistore-dev-events",
        "EventsDLQ": "omnistore-dev-events-dlq",
        "PrintQueue": "omnistore-dev-print",
        "PrintDLQ": "omnistore-dev-print-dlq",
        "SmsQueue": "omnistore-dev-sms",
        "SmsDLQ": "omnistore-dev-sms-dlq",
        "CampaignsQueue": "omnistore-dev-campaigns",
        "CampaignsDLQ": "omnistore-dev-campaigns-dlq",
    }


def test_app_table_keys_and_indexes():
    app = infra.resources("dev", "AWS::DynamoDB::Table")["AppTable"]
    assert app["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    gsis = {g["IndexName"]: g["KeySchema"] for g in app["GlobalSecondaryIndexes"]}
    assert gsis == {
        f"gsi{n}": [
            {"AttributeName": f"gsi{n}pk", "KeyType": "HASH"},
            {"AttributeName": f"gsi{n}sk", "KeyType": "RANGE"},
        ]
        for n in (1, 2, 3)
    }
    assert app["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_idempotency_table_has_ttl():
    idem = infra.resources("dev", "AWS::DynamoDB::Table")["IdempotencyTable"]
    assert idem["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_every_queue_but_dead_letter_queues_redrives_to_one():
    queues = infra.resources("dev", "AWS::SQS::Queue")
    dlqs = {q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for q in queues.values() if "RedrivePolicy" in q}
    assert dlqs and dlqs <= set(queues)
    for name, q in queues.items():
        if name in dlqs:
            assert "RedrivePolicy" not in q
        else:
            assert q["RedrivePolicy"]["maxReceiveCount"] >= 1, name


def test_the_shared_checks_pass_on_the_source_template():
    """The table/queue rules of check_package hold for infra/resources.yml itself."""
    tpl = infra.load("dev")
    tables = {k: r["Properties"] for k, r in tpl["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"}
    queues = {k: r["Properties"] for k, r in tpl["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    assert check_package.check_tables(tables, {k: tpl["Resources"][k] for k in tables}) == []
    assert check_package.check_queues(queues, {}) == []


@pytest.mark.parametrize("stage", DEPLOYED)
def test_config_env_names_equal_the_template_names(stage):
    env = check_package.stage_env(stage)
    assert env["STAGE"] == stage
    assert env["TABLE_NAME"] == infra.table_names(stage)["AppTable"]
    assert env["IDEMPOTENCY_TABLE_NAME"] == infra.table_names(stage)["IdempotencyTable"]
    assert env["EVENTS_QUEUE_NAME"] == infra.queue_names(stage)["EventsQueue"]
    assert env["PRINT_QUEUE_NAME"] == infra.queue_names(stage)["PrintQueue"]
    assert env["SMS_QUEUE_NAME"] == infra.queue_names(stage)["SmsQueue"]
    assert env["CAMPAIGN_QUEUE_NAME"] == infra.queue_names(stage)["CampaignsQueue"]


@pytest.mark.parametrize("stage", DEPLOYED)
def test_stage_policy_names_the_stage_tables_and_queues(stage):
    policy = check_package.load_policy(stage)
    assert check_package.policy_file(stage).name == f"policy-{stage}.json"
    ddb = check_package.policy_resources(policy, "dynamodb")
    sqs = check_package.policy_resources(policy, "sqs")
    for table in infra.table_names(stage).values():
        assert any(check_package.arn_matches(r, check_package.table_arn(table)) for r in ddb), table
    app = infra.table_names(stage)["AppTable"]
    assert any(check_package.arn_matches(r, check_package.table_arn(app) + "/index/gsi1") for r in ddb)
    for queue in infra.queue_names(stage).values():
        assert any(check_package.arn_matches(r, check_package.queue_arn(queue)) for r in sqs), queue
    # ... and nothing of another stage
    tables = {k: {"TableName": v} for k, v in infra.table_names(stage).items()}
    queues = {k: {"QueueName": v} for k, v in infra.queue_names(stage).items()}
    assert check_package.check_policy_names(policy, tables, queues, stage) == []


def test_policy_check_catches_another_stage_s_table():
    policy = check_package.load_policy("prod")
    tables = {k: {"TableName": v} for k, v in infra.table_names("dev").items()}
    queues = {k: {"QueueName": v} for k, v in infra.queue_names("dev").items()}
    problems = check_package.check_policy_names(policy, tables, queues, "dev")
    assert any("omnistore-dev-app" in p for p in problems)


def test_config_is_hand_written_policy_and_commits_no_secret():
    assert check_package.chalice_config()["autogen_policy"] is False
    assert check_package.check_config() == []


@pytest.mark.parametrize("stage", DEPLOYED)
def test_secrets_are_secrets_manager_dynamic_references(stage):
    env = infra.load(stage)["Globals"]["Function"]["Environment"]["Variables"]
    for var, key in (("JWT_SECRET", "jwt_secret"), ("WECHAT_SECRET", "wechat_secret")):
        assert env[var] == f"{{{{resolve:secretsmanager:omnistore/{stage}/app:SecretString:{key}}}}}"
    assert check_package.check_env_secrets("Globals", env, stage) == []
    assert check_package.check_env_secrets("Globals", {"JWT_SECRET": "committed"}, stage) != []


def test_each_dead_letter_queue_is_named_after_its_queue():
    """watch_dead_letters finds a queue's DLQ as "<queue>-dlq" (one GetQueueAttributes each, no listing)."""
    queues = infra.resources("dev", "AWS::SQS::Queue")
    for name, q in queues.items():
        if "RedrivePolicy" in q:
            dlq = queues[q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]]
            assert dlq["QueueName"] == q["QueueName"] + "-dlq", name
    renamed = {k: dict(v) for k, v in queues.items()}
    renamed["SmsDLQ"]["QueueName"] = "omnistore-dev-sms-dead"
    assert any(
        "SmsQueue: its dead-letter queue must be named omnistore-dev-sms-dlq" in p
        for p in check_package.check_queues(renamed, {})
    )


@pytest.mark.parametrize("stage", DEPLOYED)
def test_the_outbox_relay_reads_only_new_outbox_items_of_the_app_table(stage):
    """finalize points the relay's stream source at the template's app table with the Outbox filter; the check
    refuses a source without that filter, on a table without a stream, or without the policy to read it."""
    app = infra.table_names(stage)["AppTable"]
    props = {"TableName": app, "StreamSpecification": {"StreamViewType": "NEW_IMAGE"}}
    tpl = {
        "Parameters": {"Stage": {}},
        "Resources": {
            "AppTable": {"Type": check_package.TABLE, "Properties": props},
            "RelayEvents": {
                "Type": check_package.FUNCTION,
                "Properties": {
                    "Events": {
                        "Src": {
                            "Type": "DynamoDB",
                            "Properties": {"Stream": f"arn:aws:dynamodb:r:1:table/{app}/stream/latest"},
                        }
                    }
                },
            },
        },
    }
    changes = check_package.finalize(tpl, stage)
    assert any("AppTable.StreamArn" in c for c in changes)
    fn = tpl["Resources"]["RelayEvents"]
    src = fn["Properties"]["Events"]["Src"]["Properties"]
    assert src["Stream"] == {"Fn::GetAtt": ["AppTable", "StreamArn"]}
    policy = check_package.load_policy(stage)
    tables = {"AppTable": props}
    assert check_package.check_streams("RelayEvents", fn, tables, policy, stage) == []
    src["FilterCriteria"] = {"Filters": []}
    assert check_package.check_streams("RelayEvents", fn, tables, policy, stage) == [
        "RelayEvents.Events.Src: FilterCriteria must select new Outbox items only"
    ]
    src["FilterCriteria"] = check_package.OUTBOX_FILTER
    assert check_package.check_streams("RelayEvents", fn, {"AppTable": {"TableName": app}}, policy, stage) == [
        "AppTable: RelayEvents reads its stream but the table has no StreamSpecification"
    ]
    assert check_package.check_streams("RelayEvents", fn, tables, {"Statement": []}, stage) == [
        f".chalice/policy-{stage}.json: no statement allows reading the stream of {app}"
    ]
