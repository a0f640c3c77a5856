"""The jobs board: jobs posted by employers or cadres, listed nearest first,
applied for over USSD, announced to subscribers of the "jobs" topic.

A job takes applications while it is ``open`` and until the end of its closing
day in its area's time zone (``Area.timezone``). Applying is
``domain.job_applications``; the JOBS keyword and new-job alerts are
``domain.job_alerts``. Every function is plain (no Flask), shared by the USSD
menu and ``flask job``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.areas import ancestors
from domain.market import amount
from domain.phone import InvalidMsisdn, normalise_msisdn
from domain.translation import LANGUAGES, N_, gettext_for
from models import (
    Area,
    Job,
    JobStatus,
)

#: What a wage is paid for, with how a wage is written per period.
PERIODS = {
    "day": N_("%(money)s/day"),
    "week": N_("%(money)s/week"),
    "month": N_("%(money)s/month"),
    "task": N_("%(money)s/task"),
}
#: Longest title and requirements (characters): a title is a USSD list label.
MAX_TITLE, MAX_REQUIREMENTS = 40, 300
MAX_SLOTS = 10_000
#: A closing date further ahead is a typing mistake (9999-12-31).
MAX_OPEN_DAYS = 366
#: The ``Numeric(12, 2)`` column holds less than this.
MAX_WAGE = Decimal("1E10")
#: Control characters, and the invisible format characters that reorder or hide
#: text on a phone (bidirectional overrides and isolates, zero-width marks):
#: in a title or an applicant's skills they could make an SMS read otherwise.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


class JobError(ValueError):
    """A job or application that cannot be made as asked; the message says why.
    ``problems`` maps what was wrong (a field of the console's job form:
    ``title_sw``, ``requirements_en``, ``employer``, ``contact``, ``area``,
    ``wage``, ``wage_period``, ``currency``, ``slots``, ``closes_on``; ``""`` for
    the whole) to its message, in the order found; the message joins them."""

    def __init__(self, message: str, problems: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = dict(problems) if problems else {"": message}


class JobClosed(JobError):
    """The job is closed, or its closing day has passed in its area."""


def local_today(zone: str, now: datetime) -> date:
    """The date at ``now`` (aware) in the IANA time zone ``zone``."""
    return now.astimezone(ZoneInfo(zone)).date()


def is_open(db: Session, job: Job, now: datetime) -> bool:
    """Open and not past its closing day in its area's time zone."""
    area = db.get(Area, job.area_id)
    zone = area.timezone if area is not None else "UTC"
    return job.status is JobStatus.OPEN and job.closes_on >= local_today(zone, now)


@dataclass(frozen=True)
class Checked:
    """A job's fields as ``check_job`` cleaned them."""

    titles: dict[str, str]
    requirements: dict[str, str]
    employer: str
    contact_msisdn: str
    area: Area
    wage: Decimal
    wage_period: str
    currency: str
    slots: int
    closes_on: date


def check_job(
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
    was_closing: date | None = None,
) -> Checked:
    """The rules of ``add_job`` (which see) on every field at once: a
    ``Checked`` job, or ``JobError`` whose ``problems`` name every field that is
    wrong. ``was_closing``: an edited job's closing date, which may stay as it
    is though it has passed (fixing a past job's title does not reopen it)."""
    problems: dict[str, str] = {}
    titles = {k: v.strip() for k, v in titles.items() if v and v.strip()}
    requirements = {k: v.strip() for k, v in (requirements or {}).items() if v and v.strip()}
    if "en" not in titles:
        problems["title_en"] = "a job needs an English title (--title-en)"
    for what, texts, longest in (
        ("title", titles, MAX_TITLE),
        ("requirements", requirements, MAX_REQUIREMENTS),
    ):
        for language, text in texts.items():
            if language not in LANGUAGES:
                problems[""] = f"unsupported language {language!r} (one of {', '.join(LANGUAGES)})"
            elif len(text) > longest or CONTROL.search(text):
                problems[f"{what}_{language}"] = (
                    f"the {language} {what} must be 1-{longest} characters of text"
                )
    employer = " ".join(employer.split())
    if not 1 <= len(employer) <= 80:
        problems["employer"] = "the employer's name must be 1-80 characters"
    contact_msisdn = ""
    try:
        contact_msisdn = normalise_msisdn(contact, region)
    except InvalidMsisdn:
        problems["contact"] = f"contact {contact!r} is not a phone number"
    area = db.get(Area, area_id)
    if area is None:
        problems["area"] = f"no area with id {area_id}"
    money = Decimal(0)
    try:
        money = Decimal(str(wage))
    except InvalidOperation:
        problems["wage"] = f"wage {wage!r} is not a number"
    else:
        if not money.is_finite() or not 0 < money < MAX_WAGE:
            problems["wage"] = "the wage must be more than 0 (and less than 10,000,000,000)"
        elif money != money.quantize(Decimal("0.01")):
            problems["wage"] = "the wage has at most 2 decimals"
    if wage_period not in PERIODS:
        problems["wage_period"] = f"wage period {wage_period!r}: one of {', '.join(PERIODS)}"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        problems["currency"] = f"currency {currency!r} is not an ISO 4217 code such as KES"
    if not 1 <= slots <= MAX_SLOTS:
        problems["slots"] = f"slots must be 1-{MAX_SLOTS}"
    if area is not None and closes_on != was_closing:
        today = local_today(area.timezone, now)
        if closes_on < today:
            problems["closes_on"] = (
                f"the closing date {closes_on.isoformat()} has passed ({area.timezone})"
            )
        elif closes_on > today + timedelta(days=MAX_OPEN_DAYS):
            problems["closes_on"] = (
                f"the closing date is more than {MAX_OPEN_DAYS} days ahead: "
                "a job takes applications for a year at most"
            )
    if problems or area is None:
        raise JobError("; ".join(problems.values()), problems)
    return Checked(
        titles,
        requirements,
        employer,
        contact_msisdn,
        area,
        money,
        wage_period,
        currency,
        slots,
        closes_on,
    )


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
    organisation_id: int | None = None,
) -> Job:
    """Create an open job. ``titles``/``requirements`` map language codes (of
    ``LANGUAGES``; ``"en"`` required for titles) to text; ``wage`` a positive
    amount in ``currency`` (ISO 4217) per ``wage_period`` (a key of
    ``PERIODS``); ``contact`` a phone number in any form ``normalise_msisdn``
    reads (national ones in ``region``); ``closes_on`` the last day applications
    are taken, not before today in the area's time zone at ``now`` nor more than
    ``MAX_OPEN_DAYS`` after it. ``organisation_id``: the NGO posting it (None:
    the service). Raises ``JobError`` (``check_job``). Does not commit."""
    ok = check_job(
        db,
        titles=titles,
        employer=employer,
        contact=contact,
        area_id=area_id,
        wage=wage,
        wage_period=wage_period,
        currency=currency,
        slots=slots,
        closes_on=closes_on,
        now=now,
        requirements=requirements,
        region=region,
    )
    job = Job(status=JobStatus.OPEN, created_at=now, organisation_id=organisation_id)
    _apply(job, ok)
    db.add(job)
    db.flush()
    return job


def edit_job(
    db: Session,
    job: Job,
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
) -> bool:
    """Change ``job``'s fields under ``add_job``'s rules (its closing date may
    stay as it was though past); callers see the change at once. Its status,
    organisation and applications stay; an alert already sent is not sent
    again. True when something changed. Raises ``JobError``. Does not commit."""
    ok = check_job(
        db,
        titles=titles,
        employer=employer,
        contact=contact,
        area_id=area_id,
        wage=wage,
        wage_period=wage_period,
        currency=currency,
        slots=slots,
        closes_on=closes_on,
        now=now,
        requirements=requirements,
        region=region,
        was_closing=job.closes_on,
    )
    before = _fields(job)
    _apply(job, ok)
    db.flush()
    return _fields(job) != before


def _apply(job: Job, ok: Checked) -> None:
    job.titles = ok.titles
    job.requirements = ok.requirements
    job.employer = ok.employer
    job.contact_msisdn = ok.contact_msisdn
    job.area_id = ok.area.id
    job.wage = ok.wage
    job.wage_period = ok.wage_period
    job.currency = ok.currency
    job.slots = ok.slots
    job.closes_on = ok.closes_on


def _fields(job: Job) -> tuple[object, ...]:
    return (
        dict(job.titles or {}),
        dict(job.requirements or {}),
        job.employer,
        job.contact_msisdn,
        job.area_id,
        job.wage,
        job.wage_period,
        job.currency,
        job.slots,
        job.closes_on,
    )


def close_job(db: Session, job_id: int) -> Job:
    """Stop ``job_id`` taking applications (filled or withdrawn); idempotent.
    Raises ``JobError`` for an unknown id. Does not commit."""
    job = db.get(Job, job_id)
    if job is None:
        raise JobError(f"no job with id {job_id}")
    job.status = JobStatus.CLOSED
    return job


# -- listing -------------------------------------------------------------------------


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
    mine = ancestors(db, [area_id]).get(area_id, []) if area_id is not None else []
    chains = ancestors(db, sorted({j.area_id for j in jobs}))

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
