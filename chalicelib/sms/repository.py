"""The only code that reads or writes SMS items."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.core import clock
from chalicelib.core.dynamo import Page, batch_get, condition_failed, page, put_new, update_if
from chalicelib.sms.models import (
    CONTACTS_GSI1PK,
    META,
    OUTBOX_PK,
    DeadLetterWatchItem,
    SmsContactItem,
    SmsCounterItem,
    SmsHoldItem,
    SmsMessageItem,
    SmsOptOutItem,
    SmsOutboxItem,
    contact_pk,
    dlq_pk,
    hold_pk,
    key_hash,
    limit_pk,
    message_pk,
    optout_pk,
)

MESSAGE_RETENTION = timedelta(days=30)


# --------------------------------------------------------------------------------------- at most once
def claim(msg: dict[str, Any], status: str = "sending") -> SmsMessageItem | None:
    """Claim a message key: None if this call claimed it, else the existing record (a duplicate)."""
    now = clock.now()
    item = SmsMessageItem(
        message_pk(msg["key"]),
        META,
        key=msg["key"],
        phone=msg["phone"],
        template=msg["template"],
        category=msg["category"],
        params=msg["params"],
        status=status,
        created_at=now,
        updated_at=now,
        expires_at=now + MESSAGE_RETENTION,
    )
    if put_new(item):
        return None
    return SmsMessageItem.get(message_pk(msg["key"]), META, consistent_read=True)


def release(key: str) -> None:
    """Give a claimed key back (nothing was sent), so a later delivery may send it."""
    try:
        SmsMessageItem(message_pk(key), META).delete(condition=SmsMessageItem.status == "sending")
    except DeleteError as e:
        if not condition_failed(e):
            raise


def finish(
    key: str, status: str, *, provider: str | None = None, provider_id: str | None = None, error: str | None = None
) -> None:
    actions = [SmsMessageItem.status.set(status), SmsMessageItem.updated_at.set(clock.now())]
    if status == "sent":
        actions.append(SmsMessageItem.sent_at.set(clock.iso(clock.now())))
    if provider:
        actions.append(SmsMessageItem.provider.set(provider))
    if provider_id:
        actions.append(SmsMessageItem.provider_id.set(provider_id[:200]))
    if error:
        actions.append(SmsMessageItem.error.set(error[:500]))
    SmsMessageItem(message_pk(key), META).update(actions=actions)


def get_message(key: str) -> SmsMessageItem | None:
    return SmsMessageItem.get_or_none(message_pk(key), META, consistent_read=True)


# --------------------------------------------------------------------------------------- limits
def take(phone: str, bucket: str, limit: int, expires: datetime) -> bool:
    """Take one from a per-phone counter if it is below ``limit`` (conditional update)."""
    return update_if(
        SmsCounterItem(limit_pk(phone), bucket),
        actions=[
            SmsCounterItem.count.add(1),
            SmsCounterItem.expires_at.set(expires),
            SmsCounterItem.kind.set(SmsCounterItem),
        ],
        condition=SmsCounterItem.count.does_not_exist() | (SmsCounterItem.count < limit),
    )


def counter(phone: str, bucket: str) -> int:
    item = SmsCounterItem.get_or_none(limit_pk(phone), bucket, consistent_read=True)
    return int(item.count or 0) if item else 0


# --------------------------------------------------------------------------------------- quiet hours
def hold(msg: dict[str, Any], release_date: str, release_at: str) -> bool:
    item = SmsHoldItem(
        hold_pk(release_date), key_hash(msg["key"]), message=msg, release_at=release_at, created_at=clock.now()
    )
    return put_new(item)


def held(release_date: str, limit: int = 200) -> list[SmsHoldItem]:
    return list(SmsHoldItem.query(hold_pk(release_date), limit=limit, consistent_read=True))


def unhold(item: SmsHoldItem) -> None:
    item.delete()


# --------------------------------------------------------------------------------------- opt-out
def opted_out(phone: str) -> bool:
    return SmsOptOutItem.get_or_none(optout_pk(phone), META, consistent_read=True) is not None


def opted_out_many(phones: list[str]) -> set[str]:
    """Which of ``phones`` (normalized) opted out: one BatchGetItem per 100."""
    got = batch_get([(optout_pk(p), META) for p in dict.fromkeys(phones)], consistent=True)
    return {p for p in phones if (optout_pk(p), META) in got}


def opt_out(phone: str, source: str) -> None:
    SmsOptOutItem(optout_pk(phone), META, source=source, created_at=clock.now()).save()


def opt_in(phone: str) -> None:
    SmsOptOutItem(optout_pk(phone), META).delete()


# --------------------------------------------------------------------------------------- outbox (local)
def put_outbox(msg: dict[str, Any], text: str) -> str:
    sent_at = clock.iso(clock.now())
    sk = f"{sent_at}#{key_hash(msg['key'])[:16]}"
    SmsOutboxItem(
        OUTBOX_PK,
        sk,
        key=msg["key"],
        phone=msg["phone"],
        template=msg["template"],
        category=msg["category"],
        params=msg["params"],
        text=text,
        sent_at=sent_at,
        created_at=clock.now(),
    ).save()
    return sk


def outbox_page(phone: str | None, limit: int, cursor: str | None) -> Page:
    return page(
        SmsOutboxItem.query,
        hash_key=OUTBOX_PK,
        scan_index_forward=False,
        filter_condition=(SmsOutboxItem.phone == phone) if phone else None,
        limit=limit,
        cursor=cursor,
    )


def outbox_all() -> list[SmsOutboxItem]:
    return list(SmsOutboxItem.query(OUTBOX_PK, consistent_read=True))


# --------------------------------------------------------------------------------------- contacts
def put_contacts(scope: str, phones: list[str], name: str | None) -> SmsContactItem:
    now = clock.now()
    item = SmsContactItem(
        contact_pk(scope),
        META,
        scope=scope,
        phones=phones,
        name=name,
        gsi1pk=CONTACTS_GSI1PK,
        gsi1sk=scope,
        created_at=now,
        updated_at=now,
    )
    item.save()
    return item


def get_contacts(scope: str) -> SmsContactItem | None:
    return SmsContactItem.get_or_none(contact_pk(scope), META)


def all_contacts() -> list[SmsContactItem]:
    return list(SmsContactItem.gsi1.query(CONTACTS_GSI1PK))


# --------------------------------------------------------------------------------------- dead letters
def dlq_state(queue: str) -> DeadLetterWatchItem | None:
    return DeadLetterWatchItem.get_or_none(dlq_pk(queue), META, consistent_read=True)


def dlq_start_episode(queue: str, count: int, now_iso: str) -> bool:
    """Start an alert episode once: False if one is already on."""
    try:
        DeadLetterWatchItem(dlq_pk(queue), META).update(
            actions=[
                DeadLetterWatchItem.count.set(count),
                DeadLetterWatchItem.alerting.set(True),
                DeadLetterWatchItem.since.set(now_iso),
                DeadLetterWatchItem.episode.set(now_iso),
                DeadLetterWatchItem.kind.set(DeadLetterWatchItem),
            ],
            condition=DeadLetterWatchItem.alerting.does_not_exist() | (DeadLetterWatchItem.alerting == False),
        )
        return True
    except UpdateError as e:
        if condition_failed(e):
            return False
        raise


def dlq_set(queue: str, count: int, alerting: bool) -> None:
    actions = [
        DeadLetterWatchItem.count.set(count),
        DeadLetterWatchItem.alerting.set(alerting),
        DeadLetterWatchItem.kind.set(DeadLetterWatchItem),
    ]
    if not alerting:
        actions.append(DeadLetterWatchItem.since.remove())
    DeadLetterWatchItem(dlq_pk(queue), META).update(actions=actions)
