"""The jobs board: jobs posted by employers or cadres, listed nearest first,
applied for over USSD, announced to subscribers of the "jobs" topic.

A job takes applications while it is ``open`` and until the end of its closing
day in its area's time zone (``Area.timezone``). One application per person and
job (the table's unique constraint). An application is answered by two SMS: a
receipt with its reference to the applicant, a summary to the job's contact.
Every function is plain (no Flask), shared by the USSD menu and ``flask job``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import campaigns
from domain.market import amount
from domain.phone import InvalidMsisdn, normalise_msisdn
from domain.sms import queue_sms
from domain.translation import LANGUAGES, N_, gettext_for
from models import (
    Area,
    AreaLevel,
    Campaign,
    CampaignStatus,
    Job,
    JobApplication,
    JobStatus,
    Subscriber,
)

#: What a wage is paid for, with how a wage is written per period.
PERIODS = {
    "day": N_("%(money)s/day"),
    "week": N_("%(money)s/week"),
    "month": N_("%(money)s/month"),
    "task": N_("%(money)s/task"),
}
#: When an applicant can start: stored value → how it is said.
STARTS = {
    "now": N_("Now"),
    "week": N_("Within a week"),
    "month": N_("Within a month"),
}
#: Longest title and requirements (characters): a title is a USSD list label.
MAX_TITLE, MAX_REQUIREMENTS = 40, 300
MAX_SLOTS = 10_000
#: The ``Numeric(12, 2)`` column holds less than this.
MAX_WAGE = Decimal("1E10")
#: A name as typed on a keypad: letters (any script), spaces, ' - . between them.
_NAME = re.compile(r"[^\W\d_]+(?:[ '.-]+[^\W\d_]+)*\.?")
#: Control characters, and the invisible format characters that reorder or hide
#: text on a phone (bidirectional overrides and isolates, zero-width marks):
#: in a title or an applicant's skills they could make an SMS read otherwise.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

MSG_RECEIPT = N_(
    "Ngazi: application %(ref)s for %(title)s, %(employer)s, %(place)s is sent. "
    "The employer will call you if chosen."
)
MSG_SUMMARY = N_(
    "Ngazi job application %(ref)s: %(title)s, %(place)s. %(name)s, %(msisdn)s. "
    "Can start: %(start)s. Skills: %(skills)s"
)
MSG_NO_SKILLS = N_("none given")
MSG_LIST_HEAD = N_("Ngazi jobs near you:")
MSG_LIST_ITEM = N_("%(title)s, %(place)s, %(wage)s, closes %(closes)s")
MSG_LIST_HOW = N_("To apply dial %(code)s, then 2 Jobs.")
MSG_LIST_NONE = N_("Ngazi: no jobs open near you now. Please check again later.")
MSG_ALERT = N_(
    "Ngazi new job: %(title)s, %(place)s, %(wage)s, %(slots)d places. Apply by %(closes)s: "
    "dial %(code)s, 2 Jobs. Reply STOP to stop SMS."
)


class JobError(ValueError):
    """A job or application that cannot be made as asked; the message says why."""


class JobClosed(JobError):
    """The job is closed, or its closing day has passed in its area."""


class Applied(NamedTuple):
    application: JobApplication
    created: bool  # False: this number had applied already (the first application)
    sms: tuple[int, ...]  # outbound SMS ids still to send: enqueue ``send_sms`` for each


def local_today(zone: str, now: datetime) -> date:
    """The date at ``now`` (aware) in the IANA time zone ``zone``."""
    return now.astimezone(ZoneInfo(zone)).date()


def is_open(db: Session, job: Job, now: datetime) -> bool:
    """Open and not past its closing day in its area's time zone."""
    area = db.get(Area, job.area_id)
    zone = area.timezone if area is not None else "UTC"
    return job.status is JobStatus.OPEN and job.closes_on >= local_today(zone, now)


def add_job(
    db: Session,
    *,
    titles: Mapping[str, str],
    employer: str,
    contact: str,
    area_id: int,
    wage: Decimal | str,
    wage_period: str,
    currency: str,
    slots: int,
    closes_on: date,
    now: datetime,
    requirements: Mapping[str, str] | None = None,
    region: str = "KE",
) -> Job:
    """Create an open job. ``titles``/``requirements`` map language codes (of
    ``LANGUAGES``; ``"en"`` required for titles) to text; ``wage`` a positive
    amount in ``currency`` (ISO 4217) per ``wage_period`` (a key of
    ``PERIODS``); ``contact`` a phone number in any form ``normalise_msisdn``
    reads (national ones in ``region``); ``closes_on`` the last day applications
    are taken, not before today in the area's time zone at ``now``. Raises
    ``JobError``. Does not commit."""
    titles = {k: v.strip() for k, v in titles.items() if v and v.strip()}
    requirements = {k: v.strip() for k, v in (requirements or {}).items() if v and v.strip()}
    if "en" not in titles:
        raise JobError("a job needs an English title (--title-en)")
    for what, texts, longest in (
        ("title", titles, MAX_TITLE),
        ("requirements", requirements, MAX_REQUIREMENTS),
    ):
        for language, text in texts.items():
            if language not in LANGUAGES:
                raise JobError(f"unsupported language {language!r} (one of {', '.join(LANGUAGES)})")
            if len(text) > longest or _CONTROL.search(text):
                raise JobError(f"the {language} {what} must be 1-{longest} characters of text")
    employer = " ".join(employer.split())
    if not 1 <= len(employer) <= 80:
        raise JobError("the employer's name must be 1-80 characters")
    try:
        contact_msisdn = normalise_msisdn(contact, region)
    except InvalidMsisdn as exc:
        raise JobError(f"contact {contact!r} is not a phone number") from exc
    area = db.get(Area, area_id)
    if area is None:
        raise JobError(f"no area with id {area_id}")
    try:
        money = Decimal(str(wage))
    except InvalidOperation as exc:
        raise JobError(f"wage {wage!r} is not a number") from exc
    if not money.is_finite() or not 0 < money < MAX_WAGE:
        raise JobError("the wage must be more than 0 (and less than 10,000,000,000)")
    if money != money.quantize(Decimal("0.01")):
        raise JobError("the wage has at most 2 decimals")
    if wage_period not in PERIODS:
        raise JobError(f"wage period {wage_period!r}: one of {', '.join(PERIODS)}")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise JobError(f"currency {currency!r} is not an ISO 4217 code such as KES")
    if not 1 <= slots <= MAX_SLOTS:
        raise JobError(f"slots must be 1-{MAX_SLOTS}")
    today = local_today(area.timezone, now)
    if closes_on < today:
        raise JobError(f"the closing date {closes_on.isoformat()} has passed ({area.timezone})")
    job = Job(
        titles=titles,
        requirements=requirements,
        employer=employer,
        contact_msisdn=contact_msisdn,
        area_id=area.id,
        wage=money,
        wage_period=wage_period,
        currency=currency,
        slots=slots,
        closes_on=closes_on,
        status=JobStatus.OPEN,
        created_at=now,
    )
    db.add(job)
    db.flush()
    return job


def close_job(db: Session, job_id: int) -> Job:
    """Stop ``job_id`` taking applications (filled or withdrawn); idempotent.
    Raises ``JobError`` for an unknown id. Does not commit."""
    job = db.get(Job, job_id)
    if job is None:
        raise JobError(f"no job with id {job_id}")
    job.status = JobStatus.CLOSED
    return job


# -- listing -------------------------------------------------------------------------


def _ancestors(db: Session, area_ids: Sequence[int]) -> dict[int, list[int]]:
    """``{area id: [itself, parent, grandparent, …]}`` (one query per level)."""
    parents: dict[int, int | None] = {}
    todo = set(area_ids)
    while todo:
        rows = db.execute(select(Area.id, Area.parent_id).where(Area.id.in_(todo))).all()
        parents.update({row[0]: row[1] for row in rows})
        todo = {row[1] for row in rows if row[1] is not None and row[1] not in parents}
    out: dict[int, list[int]] = {}
    for area_id in area_ids:
        chain: list[int] = []
        node: int | None = area_id
        while node is not None and node in parents and node not in chain:
            chain.append(node)
            node = parents[node]
        out[area_id] = chain
    return out


def open_jobs_near(db: Session, area_id: int | None, now: datetime) -> list[Job]:
    """Open jobs, nearest to the village ``area_id`` first: that village, then
    the rest of its county, its province, then everywhere else (an unknown
    area: every open job); soonest closing first within each. A job past its
    closing day in its own area's time zone at ``now`` (aware) is left out."""
    rows = db.execute(
        select(Job, Area.timezone)
        .join(Area, Area.id == Job.area_id)
        # No time zone is more than a day behind UTC: the rest is sorted out below.
        .where(Job.status == JobStatus.OPEN, Job.closes_on >= now.date() - timedelta(days=1))
    ).all()
    jobs = [job for job, zone in rows if job.closes_on >= local_today(zone, now)]
    mine = _ancestors(db, [area_id]).get(area_id, []) if area_id is not None else []
    chains = _ancestors(db, sorted({j.area_id for j in jobs}))

    def nearness(job: Job) -> int:
        around = set(chains.get(job.area_id, []))
        return next((i for i, a in enumerate(mine) if a in around), len(mine))

    return sorted(jobs, key=lambda j: (nearness(j), j.closes_on, j.id))


def title_for(job: Job, language: str) -> str:
    """The job's title in ``language``, else in English."""
    return job.titles.get(language) or job.titles["en"]


def requirements_for(job: Job, language: str) -> str:
    """The requirements in ``language``, else in English; "" when none."""
    return job.requirements.get(language) or job.requirements.get("en", "")


def wage_text(job: Job, language: str) -> str:
    """``"KES 500/day"``: the amount grouped as ``language`` writes numbers
    (``domain.market.amount``), the period in ``language``."""
    money = f"{job.currency} {amount(job.wage, language)}"
    return gettext_for(language)(PERIODS.get(job.wage_period, "%(money)s")) % {"money": money}


def place_of(db: Session, job: Job) -> str:
    """The name of the job's area (a village, or a county for a county-wide job)."""
    area = db.get(Area, job.area_id)
    return area.name if area is not None else ""


def closes_text(job: Job, language: str) -> str:
    """The closing date as ``language`` writes a date (Babel, CLDR medium)."""
    return format_date(job.closes_on, format="medium", locale=language)


# -- applying ------------------------------------------------------------------------


def reference(application: JobApplication) -> str:
    """``"J12-A345"``: job 12, application 345 (digits and two letters that
    cannot be misread as digits, so it can be read over the phone)."""
    return f"J{application.job_id}-A{application.id}"


def clean_text(text: str) -> str:
    """``text`` as typed, with control and invisible format characters removed
    and spaces tidied (NFC): what an applicant's free text is kept as."""
    return " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", text)).split())


def valid_name(text: str) -> str | None:
    """The name as it will be kept (spaces tidied), or None unless it is 2-60
    characters of letters, with spaces, apostrophes, hyphens or dots between."""
    name = " ".join(unicodedata.normalize("NFC", text).split())
    return name if 2 <= len(name) <= 60 and _NAME.fullmatch(name) else None


def application_of(db: Session, job_id: int, msisdn: str) -> JobApplication | None:
    return db.scalars(
        select(JobApplication).where(
            JobApplication.job_id == job_id, JobApplication.msisdn == msisdn
        )
    ).first()


def apply(
    db: Session,
    job: Job,
    *,
    msisdn: str,
    name: str,
    start: str,
    skills: str,
    language: str,
    now: datetime,
) -> Applied:
    """Apply ``msisdn`` (E.164) for ``job`` and queue the two SMS (the receipt
    in ``language``; the summary to the job's contact in theirs, else English).

    A number that applied before gets its first application back
    (``created=False``), even once the job closed. Otherwise raises
    ``JobClosed`` for a closed job or one past its closing day, and ``JobError``
    for a name ``valid_name`` refuses, ``start`` not in ``STARTS``, or skills
    over 100 characters. Commits (``queue_sms`` does).
    """
    found = application_of(db, job.id, msisdn)
    if found is None:
        if not is_open(db, job, now):
            raise JobClosed(f"job {job.id} is closed")
        kept = valid_name(name)
        skills = " ".join(skills.split())
        if kept is None:
            raise JobError("a name is 2-60 letters")
        if start not in STARTS:
            raise JobError(f"start {start!r}: one of {', '.join(STARTS)}")
        if len(skills) > 100 or _CONTROL.search(skills):
            raise JobError("skills are at most 100 characters")
        application = JobApplication(
            job_id=job.id,
            msisdn=msisdn,
            name=kept,
            start=start,
            skills=skills,
            language=language if language in LANGUAGES else "en",
            created_at=now,
        )
        try:
            with db.begin_nested():
                db.add(application)
        except IntegrityError:  # a racing copy of the same application made it first
            found = application_of(db, job.id, msisdn)
            if found is None:
                raise
    if found is not None:
        return Applied(found, False, _queue_application_sms(db, job, found))
    return Applied(application, True, _queue_application_sms(db, job, application))


def _queue_application_sms(db: Session, job: Job, application: JobApplication) -> tuple[int, ...]:
    """Queue (once per application: the keys name it) the receipt and the summary."""
    pending = []
    for msisdn, body, key in (
        (application.msisdn, receipt_text(db, job, application), "receipt"),
        (job.contact_msisdn, summary_text(db, job, application), "summary"),
    ):
        queued = queue_sms(
            db, msisdn=msisdn, body=body, dedup_key=f"job-application:{application.id}:{key}"
        )
        if queued.pending:
            pending.append(queued.id)
    return tuple(pending)


def receipt_text(db: Session, job: Job, application: JobApplication) -> str:
    """The applicant's SMS: reference, job, what happens next (their language)."""
    language = application.language
    return gettext_for(language)(MSG_RECEIPT) % {
        "ref": reference(application),
        "title": title_for(job, language),
        "employer": job.employer,
        "place": place_of(db, job),
    }


def summary_text(db: Session, job: Job, application: JobApplication) -> str:
    """The contact's SMS: job, applicant, number, start, skills, reference, in
    the contact's language when they are a subscriber who chose one."""
    language = db.scalar(select(Subscriber.language).where(Subscriber.msisdn == job.contact_msisdn))
    language = language if language in LANGUAGES else "en"
    _ = gettext_for(language)
    return _(MSG_SUMMARY) % {
        "ref": reference(application),
        "title": title_for(job, language),
        "place": place_of(db, job),
        "name": application.name,
        "msisdn": application.msisdn,
        "start": _(STARTS.get(application.start, application.start)),
        "skills": application.skills or _(MSG_NO_SKILLS),
    }


# -- SMS: the JOBS keyword and alerts --------------------------------------------------


def sms_listing(
    db: Session, msisdn: str, language: str, now: datetime, service_code: str, limit: int = 3
) -> str:
    """The reply to the ``JOBS`` keyword: up to ``limit`` open jobs nearest the
    sender's home village (every open job when it is not known), each with
    title, place, wage and closing date, then how to apply by USSD
    (``service_code`` like ``*384*1234#``); a "none near you" text when none."""
    language = language if language in LANGUAGES else "en"
    _ = gettext_for(language)
    area_id = db.scalar(select(Subscriber.area_id).where(Subscriber.msisdn == msisdn))
    jobs = open_jobs_near(db, area_id, now)[:limit]
    if not jobs:
        return _(MSG_LIST_NONE)
    lines = [_(MSG_LIST_HEAD)]
    for i, job in enumerate(jobs, 1):
        item = _(MSG_LIST_ITEM) % {
            "title": title_for(job, language),
            "place": place_of(db, job),
            "wage": wage_text(job, language),
            "closes": closes_text(job, language),
        }
        lines.append(f"{i}. {item}")
    lines.append(_(MSG_LIST_HOW) % {"code": service_code})
    return "\n".join(lines)


def alert_county(db: Session, job: Job) -> int:
    """The area a job's alert goes to: the county of a village's job, else the
    job's own area (a county- or province-wide job)."""
    area = db.get(Area, job.area_id)
    assert area is not None
    return area.parent_id if area.level is AreaLevel.VILLAGE and area.parent_id else area.id


def alert_messages(db: Session, job: Job, service_code: str) -> dict[str, str]:
    """The alert's campaign text in every language (``{closing_date}`` is the
    campaign's variable, written as each recipient's language writes dates)."""

    def literal(text: str) -> str:  # a name is never read as a placeholder
        return text.replace("{", "{{").replace("}", "}}")

    out = {}
    for language in LANGUAGES:
        out[language] = gettext_for(language)(MSG_ALERT) % {
            "title": literal(title_for(job, language)),
            "place": literal(place_of(db, job)),
            "wage": wage_text(job, language),
            "slots": job.slots,
            "closes": "{closing_date}",
            "code": literal(service_code),
        }
    return out


def alert_campaign(
    db: Session,
    job: Job,
    *,
    service_code: str,
    price_per_part: str,
    quiet_hours: str | None = "20:00-07:00",
) -> Campaign | None:
    """Schedule the job's alert: a campaign (``domain.campaigns``) to subscribers
    of the "jobs" topic living in the job's county (``alert_county``), one text
    per language, keyed ``job:<id>`` (asking again returns the same campaign).
    None when nobody is subscribed there (nothing is created). The caller
    commits and starts it (``workers.campaigns.start``) when its status is
    ``scheduled``. Raises ``CampaignError`` (an audience over several time
    zones)."""
    key = f"job:{job.id}"
    found = db.scalars(select(Campaign).where(Campaign.dedup_key == key)).first()
    if found is not None:
        return found

    def build(save: bool) -> Campaign:
        return campaigns.create_campaign(
            db,
            name=f"Job {job.id}: {job.titles['en']}"[:120],
            messages=alert_messages(db, job, service_code),
            audience=campaigns.Audience(areas=(alert_county(db, job),), topics=("jobs",)),
            variables={"closing_date": job.closes_on.isoformat()},
            quiet_hours=quiet_hours,
            dedup_key=key,
            save=save,
        )

    if campaigns.preview(db, build(False), price_per_part).recipients == 0:
        return None
    campaign = build(True)
    if campaign.status is CampaignStatus.DRAFT:
        campaigns.schedule(db, campaign, campaigns.preview(db, campaign, price_per_part))
    return campaign
