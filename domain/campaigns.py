"""SMS campaigns: who gets them, what they cost, and their life from draft to done.

A campaign has a text per language (``domain.sms_templates``: placeholders such
as ``{village}`` or a campaign variable ``{closing_date}``), an audience and a
schedule. The audience is the conjunction of its filters over subscribers who
have not opted out:

- ``areas``: the subscriber's home village is one of these areas or under one;
- ``languages``: the subscriber's language (the default one when unset);
- ``topics``: the subscriber asked for SMS about one of these topics;
- ``rule``: an eligibility rule (``domain.eligibility``) that the latest survey
  of the household the subscriber heads meets ("households without basic
  drinking water", "MPI-poor with a member able to work").

Sending is the workers' (``workers.campaigns``): a planner writes one
``OutboundSms`` row per recipient, batch jobs send them. Every function here is
plain (no Flask), shared by ``flask campaign``, the cadre's USSD menu and the
operator console.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, and_, exists, func, literal, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain import eligibility, offer_parser
from domain.sms_encoding import analyse
from domain.sms_templates import RECIPIENT_FIELDS, TemplateError, placeholders, render, validate
from domain.subscribers import TOPICS
from domain.translation import LANGUAGES
from models import (
    Area,
    Campaign,
    CampaignStatus,
    Household,
    HouseholdSurvey,
    MessageTemplate,
    OutboundSms,
    PriceAlert,
    SmsStatus,
    Subscriber,
    Subscription,
)
from models.base import utcnow

#: A campaign spread over more hours than this is a mistake, not a plan.
MAX_SPREAD_HOURS = 72

#: C0 controls but newline, and DEL: not text a phone shows (PostgreSQL refuses NUL).
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class CampaignError(ValueError):
    """A campaign that cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class Audience:
    """Who a campaign is for (every filter optional; all of them must hold).

    ``price_alert`` is ``{"produce": "maize", "area": 12}``: subscribers with
    a price alert for that produce over that area (``"area": None``: the
    whole country), as ``domain.price_alerts`` sends them weekly.
    """

    areas: tuple[int, ...] = ()
    languages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    rule: Mapping[str, Any] | None = None
    price_alert: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["areas"], data["languages"], data["topics"] = (
            list(self.areas),
            list(self.languages),
            list(self.topics),
        )
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        return cls(
            areas=tuple(data.get("areas") or ()),
            languages=tuple(data.get("languages") or ()),
            topics=tuple(data.get("topics") or ()),
            rule=data.get("rule"),
            price_alert=data.get("price_alert"),
        )


def check_audience(db: Session, audience: Audience) -> None:
    """Raise ``CampaignError`` for an unknown area, language or topic, or a bad rule."""
    if audience.areas:
        found = set(db.scalars(select(Area.id).where(Area.id.in_(audience.areas))))
        missing = sorted(set(audience.areas) - found)
        if missing:
            raise CampaignError(f"no area with id {missing[0]}")
    for language in audience.languages:
        if language not in LANGUAGES:
            raise CampaignError(f"unsupported language {language!r}")
    for topic in audience.topics:
        if topic not in TOPICS:
            raise CampaignError(f"unknown topic {topic!r} (one of {', '.join(TOPICS)})")
    if audience.rule is not None:
        try:
            eligibility.validate(audience.rule)
        except eligibility.RuleError as exc:
            raise CampaignError(f"audience rule: {exc}") from exc
    if audience.price_alert is not None:
        produce = audience.price_alert.get("produce")
        if not offer_parser.is_produce(produce):
            raise CampaignError(f"price alert: unknown produce {produce!r}")


def areas_under(db: Session, area_ids: Sequence[int]) -> list[int]:
    """``area_ids`` and every area below them (province → county → village)."""
    found: set[int] = set(area_ids)
    frontier = list(area_ids)
    while frontier:
        frontier = [
            i
            for i in db.scalars(select(Area.id).where(Area.parent_id.in_(frontier)))
            if i not in found
        ]
        found.update(frontier)
    return sorted(found)


def audience_filter(db: Session, audience: Audience, default_language: str) -> ColumnElement[bool]:
    """The audience as a SQL condition on ``Subscriber`` (opted-out numbers excluded)."""
    conditions: list[ColumnElement[bool]] = [Subscriber.opted_out.is_(False)]
    if audience.areas:
        conditions.append(Subscriber.area_id.in_(areas_under(db, audience.areas)))
    if audience.languages:
        language = func.coalesce(Subscriber.language, literal(default_language))
        conditions.append(language.in_(audience.languages))
    if audience.topics:
        conditions.append(
            exists().where(
                Subscription.subscriber_id == Subscriber.id,
                Subscription.topic.in_(audience.topics),
            )
        )
    if audience.price_alert is not None:
        area = audience.price_alert.get("area")
        conditions.append(
            exists().where(
                PriceAlert.subscriber_id == Subscriber.id,
                PriceAlert.produce == audience.price_alert.get("produce"),
                PriceAlert.area_id.is_(None) if area is None else PriceAlert.area_id == area,
            )
        )
    if audience.rule is not None:
        conditions.append(
            exists().where(
                Household.head_msisdn == Subscriber.msisdn,
                HouseholdSurvey.household_id == Household.id,
                HouseholdSurvey.is_latest.is_(True),
                eligibility.where(audience.rule),
            )
        )
    return and_(true(), *conditions)


def names_a_place(campaign: Campaign) -> bool:
    """Whether any of the campaign's texts says ``{village}`` or ``{county}``."""
    return any(
        name in RECIPIENT_FIELDS
        for text in campaign.messages.values()
        for name in placeholders(text)
    )


def recipients(db: Session, campaign: Campaign) -> Select[int, str, str, int | None]:
    """``SELECT id, msisdn, language, area_id FROM subscriber`` for the campaign's
    audience, by subscriber id (the planner's keyset order). When a text names
    the recipient's village or county, subscribers whose village is not known
    are left out: they would get "… in  on …"."""
    audience = Audience.from_json(campaign.audience)
    language = func.coalesce(Subscriber.language, literal(campaign.default_language))
    condition = audience_filter(db, audience, campaign.default_language)
    if names_a_place(campaign):
        condition = and_(condition, Subscriber.area_id.is_not(None))
    query: Select[int, str, str, int | None] = (
        select(Subscriber.id, Subscriber.msisdn, language.label("language"), Subscriber.area_id)
        .where(condition)
        .order_by(Subscriber.id)
    )
    return query


# -- preview: recipients, parts and cost -------------------------------------------------


@dataclass(frozen=True)
class LanguagePreview:
    """What one language's recipients get: ``parts`` is the most any of them gets
    (village names differ in length), ``sample`` the text as the first gets it."""

    language: str  # the recipients' language
    template_language: str  # the text they get (the default one when theirs has none)
    recipients: int
    parts: int
    encoding: str  # "GSM-7" or "UCS-2"
    sms: int  # parts summed over these recipients
    sample: str
    warning: str | None  # a character that multiplies the parts, and its fix
    lookalike: str | None  # the text with GSM-7 lookalikes, when that saves parts


@dataclass(frozen=True)
class Preview:
    recipients: int
    sms: int  # SMS parts over all recipients
    cost: Decimal
    currency: str
    languages: list[LanguagePreview] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "sms": self.sms,
            "cost": str(self.cost),
            "currency": self.currency,
            "languages": [asdict(lp) for lp in self.languages],
        }


def parse_price(text: str) -> tuple[str, Decimal]:
    """``"KES 0.80"`` → ``("KES", Decimal("0.80"))``; raises ``ValueError``."""
    match = re.fullmatch(r"\s*([A-Z]{3})\s+(\d+(?:\.\d+)?)\s*", text)
    if not match:
        raise ValueError(f"price {text!r} is not like 'KES 0.80'")
    try:
        return match[1], Decimal(match[2])
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"price {text!r}") from exc


def text_for(campaign: Campaign, language: str) -> tuple[str, str]:
    """``(language of the text, template)`` a recipient of ``language`` gets: their
    own when the campaign has one, else the campaign's default language's."""
    if language in campaign.messages:
        return language, campaign.messages[language]
    return campaign.default_language, campaign.messages[campaign.default_language]


def place_names(db: Session, area_ids: Sequence[int | None]) -> dict[int, tuple[str, str | None]]:
    """``{village id: (village name, county name)}`` for the given areas."""
    ids = sorted({i for i in area_ids if i is not None})
    if not ids:
        return {}
    parent = Area.__table__.alias("parent")
    rows = db.execute(
        select(Area.id, Area.name, parent.c.name)
        .outerjoin(parent, parent.c.id == Area.parent_id)
        .where(Area.id.in_(ids))
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def render_for(
    campaign: Campaign,
    language: str,
    place: tuple[str, str | None] | None,
) -> str:
    """The SMS a recipient of ``language`` living at ``place`` (village, county) gets."""
    text_language, template = text_for(campaign, language)
    village, county = place if place else (None, None)
    return render(
        template, text_language, variables=campaign.variables, village=village, county=county
    )


def text_of(db: Session, campaign: Campaign, language: str, area_id: int | None) -> str:
    """The SMS the campaign's recipients of ``language`` in village ``area_id``
    get (a campaign's outbound rows keep no text of their own)."""
    place = place_names(db, [area_id]).get(area_id) if area_id is not None else None
    return render_for(campaign, language, place)


def preview(db: Session, campaign: Campaign, price_per_part: str) -> Preview:
    """Count the audience now and work out each language's SMS parts and the cost
    (``price_per_part`` like ``"KES 0.80"``, the ``SMS_PRICE_PER_PART`` setting).

    One aggregate query (recipients per language and village); every village's
    text is rendered to count its parts exactly.
    """
    currency, price = parse_price(price_per_part)
    audience = recipients(db, campaign).subquery()
    groups = db.execute(
        select(audience.c.language, audience.c.area_id, func.count())
        .group_by(audience.c.language, audience.c.area_id)
        .order_by(audience.c.language, audience.c.area_id)
    ).all()
    places = place_names(db, [g[1] for g in groups])
    by_language: dict[str, list[tuple[int | None, int]]] = {}
    for language, area_id, count in groups:
        by_language.setdefault(language, []).append((area_id, count))
    previews = []
    for language in sorted(by_language, key=_language_order):
        rows = by_language[language]
        text_language, _ = text_for(campaign, language)
        sms = parts = 0
        sample_text = ""
        worst = None
        for area_id, count in rows:
            body = render_for(campaign, language, places.get(area_id) if area_id else None)
            segments = analyse(body)
            sms += segments.parts * count
            if worst is None or segments.parts > worst.parts:
                worst, sample_text = segments, body
            parts = max(parts, segments.parts)
        assert worst is not None
        previews.append(
            LanguagePreview(
                language=language,
                template_language=text_language,
                recipients=sum(c for _, c in rows),
                parts=parts,
                encoding=worst.encoding,
                sms=sms,
                sample=sample_text,
                warning=worst.warning,
                lookalike=worst.lookalike if worst.warning else None,
            )
        )
    total_sms = sum(p.sms for p in previews)
    return Preview(
        recipients=sum(p.recipients for p in previews),
        sms=total_sms,
        cost=(price * total_sms).quantize(Decimal("0.01")),
        currency=currency,
        languages=previews,
    )


def _language_order(code: str) -> int:
    return LANGUAGES.index(code) if code in LANGUAGES else len(LANGUAGES)


# -- creating and steering -----------------------------------------------------------------


def parse_quiet_hours(text: str | None) -> tuple[str, str] | None:
    """``"20:00-07:00"`` → ``("20:00", "07:00")``; ``""``/``"none"``/None → None.
    Raises ``CampaignError`` for anything else or an empty window."""
    if text is None or text.strip().lower() in ("", "none", "off"):
        return None
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise CampaignError(f"quiet hours {text!r} are not like 20:00-07:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise CampaignError(f"quiet hours {text!r}: no such time")
    start, end = f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"
    if start == end:
        raise CampaignError("quiet hours start and end at the same time")
    return start, end


def quiet_until(campaign: Campaign, now: datetime) -> datetime | None:
    """When the quiet hours that hold at ``now`` end (UTC), or None when sending
    is allowed now. Read in the campaign's time zone; a window may span midnight."""
    if not campaign.quiet_start or not campaign.quiet_end:
        return None
    zone = ZoneInfo(campaign.timezone)
    local = now.astimezone(zone)
    start = time.fromisoformat(campaign.quiet_start)
    end = time.fromisoformat(campaign.quiet_end)
    clock = local.time()
    if start < end:
        quiet = start <= clock < end
        end_day = local.date()
    else:  # spans midnight: 20:00-07:00
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def campaign_timezone(db: Session, audience: Audience) -> str:
    """The one time zone of the audience's areas (of every area when it names
    none). Raises ``CampaignError`` when they span several: quiet hours and a
    local send time would mean different moments, so split the campaign."""
    query = select(Area.timezone).distinct()
    if audience.areas:
        query = query.where(Area.id.in_(areas_under(db, audience.areas)))
    zones = sorted(set(db.scalars(query)))
    if not zones:
        return "UTC"
    if len(zones) > 1:
        raise CampaignError(
            f"the audience spans several time zones ({', '.join(zones)}): "
            "make one campaign per time zone"
        )
    return zones[0]


def create_campaign(
    db: Session,
    *,
    name: str,
    messages: Mapping[str, str],
    audience: Audience,
    default_language: str = "en",
    variables: Mapping[str, str] | None = None,
    send_at_local: datetime | None = None,
    spread_hours: float = 0.0,
    quiet_hours: str | None = "20:00-07:00",
    template_id: int | None = None,
    cadre_id: int | None = None,
    created_via: str = "cli",
    dedup_key: str | None = None,
    save: bool = True,
) -> Campaign:
    """Create a draft campaign after checking everything that can be checked now.

    ``messages`` maps language codes to templates and must include
    ``default_language`` (recipients of a language with no text of its own get
    that one). ``send_at_local`` is a naive local time in the audience's time zone
    (None: when sent). ``quiet_hours`` like ``"20:00-07:00"`` or None. A repeated
    ``dedup_key`` returns the campaign it created first. Raises ``CampaignError``.
    With ``save=False`` the campaign is only built (to preview it), not added to
    the session. Does not commit.
    """
    if dedup_key is not None:
        found = db.scalars(select(Campaign).where(Campaign.dedup_key == dedup_key)).first()
        if found is not None:
            return found
    name = name.strip()
    if not name or len(name) > 120:
        raise CampaignError("a campaign needs a name of 1-120 characters")
    for what, value in [("name", name), *messages.items(), *dict(variables or {}).items()]:
        if _CONTROL.search(value):
            raise CampaignError(f"{what}: control characters (NUL, …) are not text")
    if default_language not in LANGUAGES:
        raise CampaignError(f"unsupported language {default_language!r}")
    if default_language not in messages:
        raise CampaignError(f"no text in the default language {default_language!r}")
    variables = dict(variables or {})
    for language, template in messages.items():
        if language not in LANGUAGES:
            raise CampaignError(f"unsupported language {language!r}")
        if not template.strip():
            raise CampaignError(f"the {language} text is empty")
        try:
            validate(template, variables)
        except TemplateError as exc:
            raise CampaignError(f"{language} text: {exc}") from exc
    if not 0 <= spread_hours <= MAX_SPREAD_HOURS:
        raise CampaignError(f"spread over 0-{MAX_SPREAD_HOURS} hours")
    check_audience(db, audience)
    zone = campaign_timezone(db, audience)
    quiet = parse_quiet_hours(quiet_hours)
    send_at = None
    if send_at_local is not None:
        try:
            send_at = send_at_local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise CampaignError(f"no such send time: {send_at_local}") from exc
        except ZoneInfoNotFoundError as exc:  # pragma: no cover - areas hold valid zones
            raise CampaignError(f"unknown time zone {zone!r}") from exc
        if send_at < utcnow():
            raise CampaignError(
                f"the send time {send_at_local:%Y-%m-%d %H:%M} ({zone}) has passed; "
                "leave it out to send now"
            )
    campaign = Campaign(
        name=name,
        messages=dict(messages),
        variables=variables,
        default_language=default_language,
        audience=audience.to_json(),
        status=CampaignStatus.DRAFT,
        timezone=zone,
        send_at=send_at,
        spread_hours=float(spread_hours),
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        template_id=template_id,
        cadre_id=cadre_id,
        created_via=created_via,
        dedup_key=dedup_key,
        planned_through=0,
        planned=0,
        planning_done=False,
        created_at=utcnow(),
    )
    if save:
        try:
            with db.begin_nested():
                db.add(campaign)
        except IntegrityError:  # a racing copy of the same request made it first
            found = db.scalars(select(Campaign).where(Campaign.dedup_key == dedup_key)).first()
            if found is None:
                raise
            return found
    return campaign


def schedule(db: Session, campaign: Campaign, estimate: Preview) -> None:
    """Move a draft to ``scheduled`` with the estimate the sender saw. The caller
    enqueues the planner (``workers.campaigns.start``). Raises ``CampaignError``
    unless it is a draft. Does not commit."""
    if campaign.status is not CampaignStatus.DRAFT:
        raise CampaignError(f"campaign {campaign.id} is {campaign.status.value}, not a draft")
    if estimate.recipients == 0:
        raise CampaignError("the audience has no recipients")
    campaign.status = CampaignStatus.SCHEDULED
    campaign.estimate = estimate.to_json()


def pause(db: Session, campaign: Campaign, reason: str) -> bool:
    """Stop sending (messages already queued wait). Returns False when it was not
    scheduled or sending. Does not commit."""
    changed = db.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign.id,
            Campaign.status.in_([CampaignStatus.SCHEDULED, CampaignStatus.SENDING]),
        )
        .values(status=CampaignStatus.PAUSED, status_reason=reason)
    ).rowcount  # type: ignore[attr-defined]
    db.refresh(campaign)
    return bool(changed)


def resume(db: Session, campaign: Campaign) -> bool:
    """Take a paused campaign up again (the caller re-enqueues its work). Returns
    False when it was not paused. Does not commit."""
    if campaign.status is not CampaignStatus.PAUSED:
        return False
    campaign.status = (
        CampaignStatus.SENDING if campaign.started_at is not None else CampaignStatus.SCHEDULED
    )
    campaign.status_reason = None
    return True


def cancel(db: Session, campaign: Campaign) -> int:
    """Cancel a campaign that is not finished: its messages not yet claimed by a
    worker are skipped. Returns how many. Raises ``CampaignError`` when it is
    done or cancelled already. Does not commit."""
    if campaign.status in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
        raise CampaignError(f"campaign {campaign.id} is {campaign.status.value}")
    campaign.status = CampaignStatus.CANCELLED
    campaign.status_reason = None
    campaign.finished_at = utcnow()
    skipped = db.execute(
        update(OutboundSms)
        .where(OutboundSms.campaign_id == campaign.id, OutboundSms.status == SmsStatus.QUEUED)
        .values(status=SmsStatus.SKIPPED, failure_reason="campaign cancelled")
    ).rowcount  # type: ignore[attr-defined]
    return int(skipped)


def funnel(db: Session, campaign_id: int) -> dict[str, int]:
    """``{status: messages}`` for every status of ``SmsStatus`` (zeros included)."""
    counts = dict(
        db.execute(
            select(OutboundSms.status, func.count())
            .where(OutboundSms.campaign_id == campaign_id)
            .group_by(OutboundSms.status)
        ).all()
    )
    return {s.value: int(counts.get(s, 0)) for s in SmsStatus}


def funnels(db: Session, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """``funnel`` of each of ``campaign_ids`` in one query (a list page's rows)."""
    out = {i: {s.value: 0 for s in SmsStatus} for i in campaign_ids}
    if not campaign_ids:
        return out
    rows = db.execute(
        select(OutboundSms.campaign_id, OutboundSms.status, func.count())
        .where(OutboundSms.campaign_id.in_(campaign_ids))
        .group_by(OutboundSms.campaign_id, OutboundSms.status)
    ).all()
    for campaign_id, status, count in rows:
        if campaign_id is not None:  # always, by the WHERE; mypy cannot tell
            out[campaign_id][SmsStatus(status).value] = int(count)
    return out


def failure_reasons(db: Session, campaign_id: int) -> dict[str, int]:
    """``{reason: messages}`` of the failed, rejected and skipped messages."""
    rows = db.execute(
        select(OutboundSms.failure_reason, func.count())
        .where(
            OutboundSms.campaign_id == campaign_id,
            OutboundSms.status.in_([SmsStatus.FAILED, SmsStatus.REJECTED, SmsStatus.SKIPPED]),
        )
        .group_by(OutboundSms.failure_reason)
    ).all()
    return {reason or "unknown": int(n) for reason, n in rows}


# -- approved templates ------------------------------------------------------------------


def approved_templates(db: Session) -> list[MessageTemplate]:
    """Templates a cadre may send, by slug."""
    return list(
        db.scalars(
            select(MessageTemplate)
            .where(MessageTemplate.approved.is_(True))
            .order_by(MessageTemplate.slug)
        )
    )


def campaign_from_template(
    db: Session,
    template: MessageTemplate,
    *,
    village_id: int,
    cadre_id: int | None,
    dedup_key: str | None,
    quiet_hours: str | None,
    created_via: str = "ussd",
    save: bool = True,
) -> Campaign:
    """A draft campaign of ``template``'s texts to ``village_id``'s subscribers that
    its eligibility rule fits (``save=False``: built, not added). Raises
    ``CampaignError``. Does not commit."""
    if not template.approved:
        raise CampaignError(f"template {template.slug!r} is not approved")
    village = db.get(Area, village_id)
    if village is None:
        raise CampaignError(f"no area with id {village_id}")
    default = "en" if "en" in template.messages else next(iter(template.messages))
    return create_campaign(
        db,
        name=f"{template.slug} — {village.name}",
        messages=template.messages,
        audience=Audience(areas=(village_id,), rule=template.eligibility),
        default_language=default,
        variables=template.variables,
        quiet_hours=quiet_hours,
        template_id=template.id,
        cadre_id=cadre_id,
        created_via=created_via,
        dedup_key=dedup_key,
        save=save,
    )
