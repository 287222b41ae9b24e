"""SMS use cases: requests (from events, alerts and campaigns) go through the SMS queue to :func:`deliver`.

deliver(message), in this order:

1. marketing to a number that opted out -> recorded ``opted_out``, not sent;
2. marketing in quiet hours (SMS_QUIET_START..SMS_QUIET_END, BUSINESS_TZ) -> held: a ``SMSHOLD#<date>`` item,
   released to the queue by :func:`release_held` once the quiet hours of that date are over;
3. claim the message key (conditional put): a key already claimed is a duplicate and is dropped - each message
   is sent at most once however often it is delivered;
4. per-phone limits, each a conditional counter: one message per template per minute (a second one is deferred
   to the next minute, not dropped), SMS_DAILY_LIMIT per business day (beyond it: ``limited``, dropped);
5. the provider: sent -> ``sent``; rejected -> ``failed``; unavailable -> the claim is given back and the
   delivery fails (SQS retries it; after 5 receives the DLQ and its alert); ambiguous -> ``unknown``, never
   retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import clock, metrics, phones, queues
from chalicelib.core.auth import Principal
from chalicelib.core.errors import CoreCode, Forbidden, UpstreamUnavailable, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.identity import repository as members
from chalicelib.sms import domain, providers, repository
from chalicelib.sms.errors import SmsCode
from chalicelib.sms.models import HQ_SCOPE, SmsContactItem
from chalicelib.sms.schemas import CampaignIn, CampaignOut, ContactsIn, ContactsOut, OptOutOut, OutboxOut
from chalicelib.stores import services as stores


# --------------------------------------------------------------------------------------- requesting
def message(template: str, phone: str, params: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A queue message, or None when the number cannot receive SMS (logged)."""
    t = domain.template(template)
    normalized = phones.normalize(phone)
    if normalized is None:
        logger.info("sms skipped: not a mobile number", extra={"template": template, "key": key})
        return None
    return {
        "v": 1,
        "key": key[:300],
        "template": t.name,
        "category": t.category,
        "phone": normalized,
        "params": domain.check_params(t, params),
        "requested_at": clock.iso(clock.now()),
    }


def request(template: str, to: Iterable[str], params: dict[str, Any], key_prefix: str) -> int:
    """Queue one message per phone, keyed ``<key_prefix>:<template>:<phone>`` (raises if SQS refuses)."""
    bodies = []
    for phone in dict.fromkeys(to):
        msg = message(template, phone, params, f"{key_prefix}:{template}:{phones.normalize(phone) or phone}")
        if msg is not None:
            bodies.append(msg)
    return queues.send_many(get_settings().sms_queue_name, bodies)


def contacts_for(store_id: str | None) -> list[str]:
    """Who is told about a store: its contacts; head office when the store has none (someone is always told)."""
    item = repository.get_contacts(store_id) if store_id else None
    if item is None or not item.phones:
        item = repository.get_contacts(HQ_SCOPE)
    contacts = list(item.phones) if item is not None and item.phones else []
    if not contacts:
        logger.error("no SMS contact for an alert (set PUT /admin/sms/contacts/HQ)", extra={"store_id": store_id})
    return contacts


def store_name(store_id: str | None) -> str:
    s = stores.find(store_id)
    return s.name if s else "门店"


# --------------------------------------------------------------------------------------- delivering
def _now_local() -> tuple[datetime, datetime]:
    now = clock.now()
    return now, now.astimezone(clock.business_tz())


def deliver(msg: dict[str, Any]) -> str:
    """Send one queue message under the rules of the module docstring; returns what happened."""
    s = get_settings()
    t = domain.template(msg["template"])
    phone = phones.normalize(msg["phone"])
    if phone is None:
        raise ValueError(f"not a mobile number in SMS message {msg.get('key')!r}")
    params = domain.check_params(t, msg["params"])
    msg = {**msg, "phone": phone, "params": params, "category": t.category}
    now, local = _now_local()

    if t.category == domain.MARKETING:
        if repository.opted_out(phone):
            existing = repository.claim(msg, status="opted_out")
            return "duplicate" if existing is not None else "opted_out"
        if domain.in_quiet_hours(local, s.sms_quiet_start, s.sms_quiet_end):
            ends = domain.quiet_ends(local, s.sms_quiet_start, s.sms_quiet_end)
            repository.hold(msg, domain.day_bucket(ends), clock.iso(ends))
            return "held"

    existing = repository.claim(msg)
    if existing is not None:
        return "duplicate"
    expires = now + timedelta(days=2)
    if not repository.take(phone, f"MIN#{t.name}#{domain.minute_bucket(local)}", s.sms_template_per_minute, expires):
        repository.release(msg["key"])
        queues.send(s.sms_queue_name, msg, delay_s=domain.seconds_to_next_minute(local))
        return "deferred"
    if not repository.take(phone, f"DAY#{domain.day_bucket(local)}", s.sms_daily_limit, expires):
        repository.finish(msg["key"], "limited")
        logger.warning("sms dropped: daily limit", extra={"phone": phones.mask(phone), "template": t.name})
        return "limited"

    provider = providers.get_provider()
    text = domain.render(t, params, s.sms_sign_name)
    try:
        provider_id = provider.send(msg, t, params, text)
    except providers.ProviderRejected as e:
        repository.finish(msg["key"], "failed", provider=provider.name, error=str(e))
        logger.warning("sms rejected by the provider", extra={"key": msg["key"], "error": str(e)})
        return "failed"
    except providers.ProviderAmbiguous as e:
        repository.finish(msg["key"], "unknown", provider=provider.name, error=str(e))
        logger.error("sms outcome unknown: not retried (at most once)", extra={"key": msg["key"], "error": str(e)})
        return "unknown"
    except Exception:
        repository.release(msg["key"])  # not sent: a later delivery may send it
        raise
    repository.finish(msg["key"], "sent", provider=provider.name, provider_id=provider_id)
    return "sent"


def handle_sms_record(body: str) -> None:
    outcome = deliver(json.loads(body))
    metrics.count("SmsMessages", outcome=outcome)
    if outcome not in ("sent", "duplicate"):
        logger.info("sms not sent now", extra={"outcome": outcome})


def release_held(now: datetime | None = None, days_back: int = 3) -> dict[str, int]:
    """Queue the marketing held for dates whose quiet hours are over (today and a few days back, after an
    outage). Deleting the hold after queueing it is safe to repeat: the message key is sent at most once."""
    s = get_settings()
    now = now or clock.now()
    local = now.astimezone(clock.business_tz())
    released = 0
    for back in range(days_back, -1, -1):
        date = local.date() - timedelta(days=back)
        while True:
            items = [i for i in repository.held(date.isoformat()) if i.release_at <= clock.iso(now)]
            if not items:
                break
            queues.send_many(s.sms_queue_name, [i.message for i in items])
            for i in items:
                repository.unhold(i)
            released += len(items)
    return {"released": released}


# --------------------------------------------------------------------------------------- dead letters
def dead_letter_queues() -> list[str]:
    s = get_settings()
    return [f"{q}-dlq" for q in (s.events_queue_name, s.print_queue_name, s.sms_queue_name, s.campaign_queue_name)]


def watch_dead_letters(now: datetime | None = None) -> dict[str, int]:
    """One GetQueueAttributes per dead-letter queue; the first message of an episode (empty -> not empty) texts
    head office once; an empty queue ends the episode."""
    now_iso = clock.iso(now or clock.now())
    alerted = 0
    for q in dead_letter_queues():
        try:
            attrs = queues.sqs_client().get_queue_attributes(
                QueueUrl=queues.queue_url(q), AttributeNames=["ApproximateNumberOfMessages"]
            )
            count = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        except Exception:  # one queue must not stop the others being watched
            logger.exception("dead-letter queue not readable", extra={"queue": q})
            continue
        state = repository.dlq_state(q)
        if count > 0:
            if (state is None or not state.alerting) and repository.dlq_start_episode(q, count, now_iso):
                logger.error("messages in a dead-letter queue", extra={"queue": q, "count": count})
                try:
                    request("dead_letters", contacts_for(None), {"queue": q, "count": count}, f"dlq:{q}:{now_iso}")
                except Exception:  # not alerted: the next run tries again
                    logger.exception("dead-letter alert not queued", extra={"queue": q})
                    repository.dlq_set(q, 0, False)
                    continue
                alerted += 1
            elif state is not None and int(state.count or 0) != count:
                repository.dlq_set(q, count, True)
        elif state is not None and (state.alerting or int(state.count or 0)):
            repository.dlq_set(q, 0, False)
    return {"alerted": alerted}


# --------------------------------------------------------------------------------------- admin
def contacts_out(item: SmsContactItem) -> ContactsOut:
    return ContactsOut(scope=item.scope, phones=list(item.phones), name=item.name, updated_at=item.updated_at)


def _require_scope(principal: Principal, scope: str) -> None:
    if scope == HQ_SCOPE:
        if not principal.is_hq:
            raise Forbidden("Only head office sets head-office contacts", code=CoreCode.STORE_SCOPE)
        return
    principal.require_store(scope)
    stores.require_store(scope)


def set_contacts(principal: Principal, scope: str, cmd: ContactsIn) -> ContactsOut:
    _require_scope(principal, scope)
    return contacts_out(repository.put_contacts(scope, cmd.phones, cmd.name))


def list_contacts(principal: Principal) -> list[ContactsOut]:
    if principal.is_hq:
        return [contacts_out(i) for i in repository.all_contacts()]
    item = repository.get_contacts(principal.store_id)
    return [contacts_out(item)] if item else []


def outbox(phone: str | None, limit: int, cursor: str | None) -> PageOut[OutboxOut]:
    pg = repository.outbox_page(phones.normalize(phone) if phone else None, limit, cursor)
    return PageOut[OutboxOut](
        items=[
            OutboxOut(
                key=i.key,
                phone=i.phone,
                template=i.template,
                category=i.category,
                params=i.params,
                text=i.text,
                sent_at=i.sent_at,
            )
            for i in pg.items
        ],
        next=pg.next,
    )


def admin_opt_out(phone: str) -> OptOutOut:
    normalized = phones.normalize(phone)
    repository.opt_out(normalized, "admin")
    return OptOutOut(phone_masked=phones.mask(normalized), marketing=False)


def member_marketing(principal: Principal, subscribed: bool) -> OptOutOut:
    m = members.get_member(principal.sub)
    phone = phones.normalize(m.phone if m else None)
    if phone is None:
        raise ValidationFailed(
            "Your account has no mobile number",
            code=SmsCode.NO_PHONE,
            details={"fields": [{"field": "phone", "message": "no mobile number on the account"}]},
        )
    if subscribed:
        repository.opt_in(phone)
    else:
        repository.opt_out(phone, "member")
    return OptOutOut(phone_masked=phones.mask(phone), marketing=subscribed)


def campaign(principal: Principal, cmd: CampaignIn) -> CampaignOut:
    """Marketing to a list of numbers (head office). Each number gets it at most once per campaign; numbers
    that opted out never; in quiet hours it waits until morning."""
    name = store_name(cmd.store_id) if cmd.store_id else get_settings().sms_sign_name
    if cmd.store_id:
        stores.require_store(cmd.store_id)
    campaign_id = new_id()
    try:
        queued = request(
            "marketing_notice", cmd.phones, {"store": name, "content": cmd.content}, f"campaign:{campaign_id}"
        )
    except queues.NotQueued:
        logger.exception("campaign not queued", extra={"campaign_id": campaign_id})
        raise UpstreamUnavailable("The campaign could not be queued; try again", code=CoreCode.NOT_QUEUED)
    return CampaignOut(campaign_id=campaign_id, queued=queued)
