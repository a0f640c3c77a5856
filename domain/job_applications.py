"""Applying for a job over USSD: one application per number and job, with a
reference sent to the applicant and a summary to the job's contact by SMS.

``apply`` is what the Jobs menu calls; a number that applied already gets its
first application back (the table's unique constraint holds it even for
concurrent callbacks).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.jobs import CONTROL, JobClosed, JobError, is_open, place_of, title_for
from domain.sms import queue_sms
from domain.translation import LANGUAGES, N_, gettext_for
from models import Job, JobApplication, Subscriber

#: When an applicant can start: stored value → how it is said.
STARTS = {
    "now": N_("Now"),
    "week": N_("Within a week"),
    "month": N_("Within a month"),
}
#: A name as typed on a keypad: letters (any script), spaces, ' - . between them.
_NAME = re.compile(r"[^\W\d_]+(?:[ '.-]+[^\W\d_]+)*\.?")

MSG_RECEIPT = N_(
    "Ngazi: application %(ref)s for %(title)s, %(employer)s, %(place)s is sent. "
    "The employer will call you if chosen."
)
MSG_SUMMARY = N_(
    "Ngazi job application %(ref)s: %(title)s, %(place)s. %(name)s, %(msisdn)s. "
    "Can start: %(start)s. Skills: %(skills)s"
)
MSG_NO_SKILLS = N_("none given")


class Applied(NamedTuple):
    application: JobApplication
    created: bool  # False: this number had applied already (the first application)
    sms: tuple[int, ...]  # outbound SMS ids still to send: enqueue ``send_sms`` for each


def reference(application: JobApplication) -> str:
    """``"J12-A345"``: job 12, application 345 (digits and two letters that
    cannot be misread as digits, so it can be read over the phone)."""
    return f"J{application.job_id}-A{application.id}"


def clean_text(text: str) -> str:
    """``text`` as typed, with control and invisible format characters removed
    and spaces tidied (NFC): what an applicant's free text is kept as."""
    return " ".join(CONTROL.sub(" ", unicodedata.normalize("NFC", text)).split())


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
        if len(skills) > 100 or CONTROL.search(skills):
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
