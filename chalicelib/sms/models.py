"""SMS items. Keys and access patterns: docs/data-model.md."""

from __future__ import annotations

import hashlib

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
OUTBOX_PK = "SMSOUTBOX"
CONTACTS_GSI1PK = "SMSCONTACTS"
HQ_SCOPE = "HQ"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def message_pk(key: str) -> str:
    return f"SMSMSG#{key_hash(key)}"


def limit_pk(phone: str) -> str:
    return f"SMSLIMIT#{phone}"


def hold_pk(release_date: str) -> str:
    return f"SMSHOLD#{release_date}"


def optout_pk(phone: str) -> str:
    return f"SMSOPTOUT#{phone}"


def contact_pk(scope: str) -> str:
    return f"SMSCONTACT#{scope}"


def dlq_pk(queue: str) -> str:
    return f"DLQWATCH#{queue}"


class SmsMessageItem(Item, discriminator="SmsMessage"):
    """pk=SMSMSG#<sha256(message key)>, sk=META: a message is sent at most once (conditional put claims it).

    status: sending (claimed) -> sent | limited | opted_out | failed | unknown (the provider may or may not have
    sent it: never retried)."""

    key = UnicodeAttribute()
    phone = UnicodeAttribute()
    template = UnicodeAttribute()
    category = UnicodeAttribute()
    params = JSONAttribute()
    status = UnicodeAttribute()
    provider = UnicodeAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # housekeeping only (kept 30 days)


class SmsCounterItem(Item, discriminator="SmsCounter"):
    """pk=SMSLIMIT#<phone>, sk=DAY#<business date> | MIN#<template>#<business minute>: messages taken from a
    per-phone limit, increased only by a conditional update (count < limit)."""

    count = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)  # housekeeping only


class SmsHoldItem(Item, discriminator="SmsHold"):
    """pk=SMSHOLD#<business date the quiet hours end>, sk=<sha256(key)>: a marketing message held until morning;
    the release job reads the partition of each date whose quiet hours are over."""

    message = JSONAttribute()
    release_at = UnicodeAttribute()


class SmsOptOutItem(Item, discriminator="SmsOptOut"):
    """pk=SMSOPTOUT#<phone>, sk=META: no marketing to this number."""

    source = UnicodeAttribute()  # member | admin


class SmsOutboxItem(Item, discriminator="SmsOutbox"):
    """pk=SMSOUTBOX, sk=<sent_at>#<sha256(key)[:16]>: what the local outbox provider "sent" (local and test
    stages only), newest first."""

    key = UnicodeAttribute()
    phone = UnicodeAttribute()
    template = UnicodeAttribute()
    category = UnicodeAttribute()
    params = JSONAttribute()
    text = UnicodeAttribute()
    sent_at = UnicodeAttribute()


class SmsContactItem(Item, discriminator="SmsContact"):
    """pk=SMSCONTACT#<store_id | HQ>, sk=META; gsi1: SMSCONTACTS / <scope>. Who receives a store's alerts (the
    manager's mobile); HQ receives head-office alerts and those of a store without contacts."""

    scope = UnicodeAttribute()
    phones = JSONAttribute()
    name = UnicodeAttribute(null=True)


class DeadLetterWatchItem(Item, discriminator="DeadLetterWatch"):
    """pk=DLQWATCH#<dead-letter queue name>, sk=META: the last count seen and whether this episode (from the
    first message to an empty queue again) has been alerted."""

    count = NumberAttribute(default=0)
    alerting = BooleanAttribute(default=False)
    since = UnicodeAttribute(null=True)
    episode = UnicodeAttribute(null=True)
