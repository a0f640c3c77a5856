"""A person's data, by phone number: everything held (``export``, the right of
access) and its erasure (``erase``, the right to erasure), under Kenya's Data
Protection Act 2019 (sections 26 and 40) and the GDPR's articles 15 and 17.

The number is the key: a villager, a farmer, a buyer, a job seeker and a
household head are all known by their MSISDN (E.164). ``app/cli_privacy.py``
runs both (``flask privacy export|erase``) and adds the USSD session in Redis.

What ``erase`` does, table by table, and why (docs/privacy.md says the same):

* ``subscriber``, ``subscription``, ``price_alert``, ``job_application``,
  ``contact_request`` (asked as a buyer), ``waiting_report``, ``inbound_sms``
  (the raw texts): **deleted**. They are only about the person and feed no
  figure anyone reports. The opt-out goes with the subscriber row: nothing of
  the number is left for a campaign to reach, and if it dials or texts again it
  starts afresh as a new number (language asked, opted in, no PIN).
* ``household`` headed with the number: **de-identified, kept**. The head's
  name becomes ``ERASED_NAME`` and the number is removed; each of its
  ``household_survey`` rows loses its ``answers`` (every word the cadre typed:
  names, ages, the number) but keeps the classification columns and member
  counts, which the area statistics of the programme are made of (a public
  task, and statistics are a purpose the Act allows data to be kept for, once
  not identifiable: section 39). The area statistics of those villages are then
  refreshed. Deleting the household instead would change past rounds' reported
  figures; a programme that must can delete the rows by id afterwards.
* ``survey_draft`` of those households, or whose answers hold the number:
  **deleted** (a draft is unfinished work; finishing it would bring the data back).
* ``outbound_sms`` to the number: still waiting to be sent, **deleted** (nothing
  is sent after an erasure); sent, **de-identified, kept**: the number becomes
  ``"~<row id>"``, the text, the gateway's id and a key naming the number are
  removed; status, parts, cost, campaign and village stay, which the
  campaigns' delivery counts and costs and ``/metrics`` read.
* ``outbound_sms`` to others whose text holds the number (a buyer told a
  seller's number, an employer sent an application): waiting, **deleted**; sent,
  text (and a key naming the number) **removed**, the row kept.
* ``produce_offer`` by the number: **de-identified, kept**: the seller's number
  becomes ``"~<row id>"``, the place as typed and the raw SMS link are removed;
  an open offer is closed (``expired``: off the market, still an asking price
  in the weekly median prices). Buyers' contact requests on it stay (they are
  the buyers' records).
* ``audit_event``: **kept** (the record of who viewed whose data is the
  controller's accountability); a number in an event's details (a search's
  words) is masked. One ``privacy.erase`` event records the erasure itself,
  with the number masked and the counts.
* Kept and reported, not erased: a ``cadre`` account with the number (staff,
  whose surveys must stay attributable: deactivate it with ``flask cadre
  deactivate``) and ``job`` rows naming it as their contact (an employer's
  business contact: edit or close the job).

Both functions accept any form ``normalise_msisdn`` reads and raise
``InvalidMsisdn`` for anything else. ``erase`` is idempotent: run again, it
finds nothing more to change (and records another ``privacy.erase`` event).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import phonenumbers
from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from domain import analytics
from domain.phone import mask_msisdn, normalise_msisdn
from models import (
    AuditEvent,
    Cadre,
    ContactRequest,
    Household,
    HouseholdSurvey,
    InboundSms,
    Job,
    JobApplication,
    OfferStatus,
    OutboundSms,
    PriceAlert,
    ProduceOffer,
    SmsStatus,
    Subscriber,
    Subscription,
    SurveyDraft,
    SurveyRound,
    WaitingReport,
)
from models.base import Base, utcnow

log = logging.getLogger("ngazi.audit")

#: The export's format: bump when a key changes meaning or goes away.
SCHEMA = "ngazi.privacy.export/1"
#: A de-identified household's head.
ERASED_NAME = "(erased)"
#: Outbound statuses still to be sent: such rows are deleted, not kept.
PENDING = (SmsStatus.QUEUED, SmsStatus.SENDING)
#: Columns never exported: secrets (hashes) and internal effect keys.
SECRET_COLUMNS = frozenset({"pin_hash", "pin_failure_key", "password_hash"})


def parse(msisdn: str, region: str) -> str:
    """``msisdn`` as E.164; raises ``InvalidMsisdn``."""
    return normalise_msisdn(msisdn, region)


def placeholder(row_id: int) -> str:
    """What replaces a number in a de-identified row: ``"~<row id>"``, unique per
    row (``outbound_sms`` is unique per campaign and number) and never a number."""
    return f"~{row_id}"


def _national(msisdn: str) -> str:
    """The national significant number (``712345601``): in every written form of it."""
    return phonenumbers.national_significant_number(phonenumbers.parse(msisdn))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _row(obj: Base, *, without: Sequence[str] = ()) -> dict[str, Any]:
    """Every column of ``obj`` as JSON-safe values, secrets and ``without`` left out."""
    skip = SECRET_COLUMNS | set(without)
    return {
        c.key: _jsonable(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in skip
    }


def _pin_state(account: Subscriber | Cadre) -> dict[str, Any]:
    return {
        "set": account.pin_hash is not None,
        "failures": account.pin_failures,
        "locked_until": _jsonable(account.pin_locked_until),
    }


def _mentions(column: Any, national: str) -> Any:
    return column.like(f"%{national}%")


# -- export ------------------------------------------------------------------------------


def export(db: Session, msisdn: str, *, ussd: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything held about the E.164 ``msisdn``, as one JSON-safe document:
    ``{"schema", "generated_at", "msisdn", "subscriber", "cadre", "households",
    "inbound_sms", "outbound_sms", "sms_about_you", "produce_offers",
    "contact_requests": {"asked", "received"}, "job_applications",
    "jobs_as_contact", "waiting_reports", "survey_drafts", "audit_events", "ussd"}``.
    Lists are oldest first. PIN and password hashes are never included; other
    people's numbers are not either (a buyer who asked for this seller's number
    appears as a date). ``ussd`` is what Redis holds (``app.cli_privacy``)."""
    national = _national(msisdn)
    subscriber = db.scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))
    cadre = db.scalar(select(Cadre).where(Cadre.msisdn == msisdn))
    households = list(
        db.scalars(select(Household).where(Household.head_msisdn == msisdn).order_by(Household.id))
    )
    offers = list(
        db.scalars(select(ProduceOffer).where(ProduceOffer.msisdn == msisdn).order_by("id"))
    )
    return {
        "schema": SCHEMA,
        "generated_at": utcnow().isoformat(),
        "msisdn": msisdn,
        "subscriber": _subscriber(db, subscriber) if subscriber else None,
        "cadre": _cadre(cadre) if cadre else None,
        "households": [_household(db, h) for h in households],
        "inbound_sms": _rows(db, select(InboundSms).where(InboundSms.msisdn == msisdn)),
        "outbound_sms": _rows(db, select(OutboundSms).where(OutboundSms.msisdn == msisdn)),
        "sms_about_you": [
            {"id": r.id, "created_at": _jsonable(r.created_at), "body": r.body}
            for r in db.scalars(
                select(OutboundSms)
                .where(OutboundSms.msisdn != msisdn, _mentions(OutboundSms.body, national))
                .order_by(OutboundSms.id)
            )
        ],
        "produce_offers": [_row(o) for o in offers],
        "contact_requests": {
            "asked": [
                {"offer_id": c.offer_id, "created_at": _jsonable(c.created_at)}
                for c in db.scalars(
                    select(ContactRequest)
                    .where(ContactRequest.buyer_msisdn == msisdn)
                    .order_by(ContactRequest.created_at, ContactRequest.offer_id)
                )
            ],
            "received": [
                {"offer_id": c.offer_id, "created_at": _jsonable(c.created_at)}
                for c in db.scalars(
                    select(ContactRequest)
                    .where(ContactRequest.offer_id.in_([o.id for o in offers]))
                    .order_by(ContactRequest.created_at, ContactRequest.offer_id)
                )
            ],
        },
        "job_applications": _rows(
            db, select(JobApplication).where(JobApplication.msisdn == msisdn)
        ),
        "jobs_as_contact": [
            {"id": j.id, "employer": j.employer, "titles": j.titles, "status": j.status.value}
            for j in db.scalars(select(Job).where(Job.contact_msisdn == msisdn).order_by(Job.id))
        ],
        "waiting_reports": _rows(db, select(WaitingReport).where(WaitingReport.msisdn == msisdn)),
        "survey_drafts": _rows(db, select(SurveyDraft).where(_drafts_filter(households, national))),
        "audit_events": [
            _row(e, without=("user_id",))
            for e in db.scalars(_audit_query([h.id for h in households]))
        ],
        "ussd": dict(ussd or {}),
    }


def _rows(db: Session, query: Any) -> list[dict[str, Any]]:
    model = query.column_descriptions[0]["entity"]
    return [_row(obj) for obj in db.scalars(query.order_by(model.id))]


def _subscriber(db: Session, subscriber: Subscriber) -> dict[str, Any]:
    out = _row(subscriber)
    out["pin"] = _pin_state(subscriber)
    out["subscriptions"] = sorted(
        db.scalars(select(Subscription.topic).where(Subscription.subscriber_id == subscriber.id))
    )
    out["price_alerts"] = [
        _row(a, without=("subscriber_id",))
        for a in db.scalars(
            select(PriceAlert)
            .where(PriceAlert.subscriber_id == subscriber.id)
            .order_by(PriceAlert.produce)
        )
    ]
    return out


def _cadre(cadre: Cadre) -> dict[str, Any]:
    out = _row(cadre)
    out["pin"] = _pin_state(cadre)
    out["villages"] = [{"id": a.id, "name": a.name} for a in cadre.villages]
    return out


def _household(db: Session, household: Household) -> dict[str, Any]:
    out = _row(household)
    out["village"] = household.area.name
    rounds = {row.id: row.name for row in db.execute(select(SurveyRound.id, SurveyRound.name))}
    out["surveys"] = [
        {**_row(s, without=("household_id", "draft_key")), "round": rounds.get(s.round_id)}
        for s in household.surveys
    ]
    return out


def _drafts_filter(households: Sequence[Household], national: str) -> Any:
    """Drafts re-surveying ``households``, or whose answers hold the number."""
    return or_(
        SurveyDraft.household_id.in_([h.id for h in households]),
        _mentions(cast(SurveyDraft.answers, String), national),
    )


def _audit_query(household_ids: Sequence[int]) -> Any:
    return (
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "household",
            AuditEvent.subject_id.in_([str(i) for i in household_ids]),
        )
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )


# -- erase -------------------------------------------------------------------------------


def _n(result: Any) -> int:
    return int(result.rowcount or 0)


def erase(db: Session, msisdn: str, *, actor: str, sessions: int = 0) -> dict[str, int]:
    """Erase the E.164 ``msisdn`` as the module's docstring says; returns
    ``{change: rows}`` for every kind of change, zeros included, in a fixed order
    (``"subscriber deleted"``, …, ``"cadre kept"``, ``"job kept (contact)"``).
    ``actor`` is who ran it (``"cli:<OS user>"``); ``sessions`` the USSD sessions
    already removed from Redis, for the record. Commits once, with one
    ``privacy.erase`` audit event; then refreshes the area statistics of the
    villages whose surveys changed (``domain.analytics.refresh_villages``)."""
    national = _national(msisdn)
    now = utcnow()
    done: dict[str, int] = {}
    subscriber_id = db.scalar(select(Subscriber.id).where(Subscriber.msisdn == msisdn))
    done["subscription deleted"] = _n(
        db.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    )
    done["price_alert deleted"] = _n(
        db.execute(delete(PriceAlert).where(PriceAlert.subscriber_id == subscriber_id))
    )
    done["subscriber deleted"] = _n(
        db.execute(delete(Subscriber).where(Subscriber.msisdn == msisdn))
    )
    households = list(db.scalars(select(Household).where(Household.head_msisdn == msisdn)))
    done["survey_draft deleted"] = _n(
        db.execute(delete(SurveyDraft).where(_drafts_filter(households, national)))
    )
    touched = _deidentify_households(db, [h.id for h in households], done)
    for model, column in (
        (JobApplication, JobApplication.msisdn),
        (ContactRequest, ContactRequest.buyer_msisdn),
        (WaitingReport, WaitingReport.msisdn),
    ):
        done[f"{model.__tablename__} deleted"] = _n(
            db.execute(delete(model).where(column == msisdn))
        )
    done["produce_offer de-identified"] = _deidentify_offers(db, msisdn, now)
    inbound = select(InboundSms.id).where(InboundSms.msisdn == msisdn)
    db.execute(
        update(ProduceOffer).where(ProduceOffer.inbound_id.in_(inbound)).values(inbound_id=None)
    )
    done["inbound_sms deleted"] = _n(
        db.execute(delete(InboundSms).where(InboundSms.msisdn == msisdn))
    )
    done.update(_erase_outbound(db, msisdn, national))
    done["audit_event details masked"] = _mask_audit(db, msisdn, national)
    done["ussd_session deleted"] = sessions
    done["cadre kept"] = int(db.scalar(select(Cadre.id).where(Cadre.msisdn == msisdn)) is not None)
    done["job kept (contact)"] = len(
        db.scalars(select(Job.id).where(Job.contact_msisdn == msisdn)).all()
    )
    record(db, actor=actor, action="privacy.erase", msisdn=msisdn, detail=done, at=now)
    for round_id, villages in sorted(touched.items()):
        analytics.refresh_villages(db, round_id, sorted(villages))
    return done


def record(
    db: Session,
    *,
    actor: str,
    action: str,
    msisdn: str,
    detail: Mapping[str, Any],
    at: datetime | None = None,
) -> AuditEvent:
    """Store one audit event of an export or erasure run from the command line
    (``action`` ``privacy.export`` or ``privacy.erase``), the number masked, and
    log it to ``ngazi.audit``. Commits."""
    masked = mask_msisdn(msisdn)
    event = AuditEvent(
        created_at=at or utcnow(),
        user_id=None,
        username=actor[:40],
        action=action,
        subject_type="msisdn",
        subject_id=masked,
        detail=dict(detail),
        address="",
    )
    db.add(event)
    db.commit()
    verb = "erased" if action == "privacy.erase" else "exported the data of"
    log.info("%s %s %s: %s", actor[:40], verb, masked, summary(detail))
    return event


def summary(done: Mapping[str, Any]) -> str:
    """``"subscriber deleted 1, inbound_sms deleted 3"``: the changes that happened."""
    return ", ".join(f"{what} {n}" for what, n in done.items() if n) or "nothing held"


def _deidentify_households(
    db: Session, ids: Sequence[int], done: dict[str, int]
) -> dict[int, set[int]]:
    """Blank the heads and their surveys' answers; returns ``{round: {village}}``
    of the surveys changed."""
    touched: dict[int, set[int]] = {}
    for round_id, area_id in db.execute(
        select(HouseholdSurvey.round_id, Household.area_id)
        .join(Household, Household.id == HouseholdSurvey.household_id)
        .where(HouseholdSurvey.household_id.in_(ids))
        .distinct()
    ):
        touched.setdefault(round_id, set()).add(area_id)
    done["household de-identified"] = _n(
        db.execute(
            update(Household)
            .where(Household.id.in_(ids))
            .values(head_name=ERASED_NAME, head_msisdn=None)
        )
    )
    done["household_survey answers removed"] = _n(
        db.execute(
            update(HouseholdSurvey).where(HouseholdSurvey.household_id.in_(ids)).values(answers={})
        )
    )
    return touched


def _deidentify_offers(db: Session, msisdn: str, now: datetime) -> int:
    """Close the seller's open offers and replace their number; returns how many offers."""
    mine = ProduceOffer.msisdn == msisdn
    db.execute(
        update(ProduceOffer)
        .where(mine, ProduceOffer.status == OfferStatus.OPEN)
        .values(status=OfferStatus.EXPIRED, closed_at=now)
    )
    ids = db.scalars(select(ProduceOffer.id).where(mine)).all()
    for offer_id in ids:
        db.execute(
            update(ProduceOffer)
            .where(ProduceOffer.id == offer_id)
            .values(msisdn=placeholder(offer_id), location=None, inbound_id=None)
        )
    return len(ids)


def _erase_outbound(db: Session, msisdn: str, national: str) -> dict[str, int]:
    done = {}
    to_them = OutboundSms.msisdn == msisdn
    about = _mentions(OutboundSms.body, national)
    done["outbound_sms deleted (unsent)"] = _n(
        db.execute(delete(OutboundSms).where(or_(to_them, about), OutboundSms.status.in_(PENDING)))
    )
    ids = db.scalars(select(OutboundSms.id).where(to_them)).all()
    for row_id in ids:
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id == row_id)
            .values(
                msisdn=placeholder(row_id), body=None, subscriber_id=None, gateway_message_id=None
            )
        )
    done["outbound_sms de-identified"] = len(ids)
    done["outbound_sms text removed"] = _n(
        db.execute(update(OutboundSms).where(about).values(body=None))
    )
    # A contact request's keys name the buyer ("contact:<offer>:<buyer>:seller").
    db.execute(
        update(OutboundSms).where(_mentions(OutboundSms.dedup_key, national)).values(dedup_key=None)
    )
    return done


def _mask_audit(db: Session, msisdn: str, national: str) -> int:
    """Mask the number in the details of audit events that hold it (a search's
    words); returns how many events."""
    masked = mask_msisdn(msisdn)
    hidden = "*" * len(national)
    events = db.scalars(
        select(AuditEvent).where(_mentions(cast(AuditEvent.detail, String), national))
    ).all()
    for event in events:
        event.detail = {
            key: value.replace(msisdn, masked).replace(national, hidden)
            if isinstance(value, str)
            else value
            for key, value in event.detail.items()
        }
    return len(events)
