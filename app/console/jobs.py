"""``/console/jobs``: the jobs board and each job's applicants.

Read-only. Applicants' numbers are shown in full to admins and operators (who
call them back) and masked to supervisors; CSV downloads mask them always.
Every view of applicants (page or CSV) is written to the audit log
(``domain.audit.record``: stored, and logged to ``ngazi.audit``). A
supervisor sees the jobs in their areas only; another job's page is ``404``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.console import bp, row_id
from app.console.auth import current_console_user
from app.console.export import csv_response, mask_msisdn, pairs, wants_csv
from app.db import db_session
from app.webhook_auth import request_address
from domain import audit, jobs
from domain.console_users import visible_areas
from domain.job_applications import STARTS, reference
from models import Area, ConsoleRole, Job, JobApplication, JobStatus
from models.base import utcnow

PAGE_SIZE = 50
#: Who sees applicants' numbers in full (they call them back).
SEES_NUMBERS = frozenset({ConsoleRole.ADMIN, ConsoleRole.OPERATOR})
LANGUAGE = "en"


def _ordered_ids(db: Session, area_ids: Sequence[int] | None, now: datetime) -> list[int]:
    """Visible job ids: open ones first, soonest closing first; then closed or
    past ones, latest closing first (``jobs.is_open``, per area time zone)."""
    query = select(Job.id, Job.status, Job.closes_on, Area.timezone).join(
        Area, Area.id == Job.area_id
    )
    if area_ids is not None:
        query = query.where(Job.area_id.in_(area_ids))
    open_, done = [], []
    for job_id, status, closes_on, zone in db.execute(query):
        if status is JobStatus.OPEN and closes_on >= jobs.local_today(zone, now):
            open_.append((closes_on.toordinal(), job_id))
        else:
            done.append((-closes_on.toordinal(), -job_id))
    return [i for _, i in sorted(open_)] + [-i for _, i in sorted(done)]


def _job_row(db: Session, job: Job, applications: int, now: datetime) -> dict[str, Any]:
    """The job as the pages show it; ``status`` is open, closed or past."""
    is_open = jobs.is_open(db, job, now)
    return {
        "id": job.id,
        "title": jobs.title_for(job, LANGUAGE),
        "employer": job.employer,
        "place": jobs.place_of(db, job),
        "wage": jobs.wage_text(job, LANGUAGE),
        "slots": job.slots,
        "closes": job.closes_on.isoformat(),
        "status": "open" if is_open else "closed" if job.status is JobStatus.CLOSED else "past",
        "applications": applications,
    }


def _counts(db: Session, ids: Sequence[int]) -> dict[int, int]:
    return pairs(
        db.execute(
            select(JobApplication.job_id, func.count())
            .where(JobApplication.job_id.in_(ids))
            .group_by(JobApplication.job_id)
        ).all()
    )


@bp.get("/jobs")
def job_list() -> ResponseReturnValue:
    """Jobs, open first, ``PAGE_SIZE`` a page (``?page=N``); ``?format=csv``: all."""
    db = db_session()
    now = utcnow()
    areas = visible_areas(db, current_console_user())
    ids = _ordered_ids(db, areas, now)
    total = len(ids)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(row_id(request.args.get("page")) or 1, pages)
    shown = ids if wants_csv() else ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    found = {j.id: j for j in db.scalars(select(Job).where(Job.id.in_(shown)))} if shown else {}
    counts = _counts(db, shown)
    rows = [_job_row(db, found[i], counts.get(i, 0), now) for i in shown]
    if wants_csv():
        keys = ["id", "title", "employer", "place", "wage", "slots", "closes", "status"]
        return csv_response(
            "jobs",
            [*keys[:6], "closes_on", "status", "applications"],
            [[r[k] for k in keys] + [r["applications"]] for r in rows],
        )
    return render_template(
        "console/jobs.html",
        rows=rows,
        page=page,
        pages=pages,
        total=total,
        limited=areas is not None,
    )


@bp.get("/jobs/<job_id>")
def job_page(job_id: str) -> ResponseReturnValue:
    """The job and its applicants, oldest first (``?page=N``, ``?format=csv``)."""
    db = db_session()
    now = utcnow()
    user = current_console_user()
    number = row_id(job_id)
    job = db.get(Job, number) if number is not None else None
    areas = visible_areas(db, user)
    if job is None or (areas is not None and job.area_id not in areas):
        abort(404)
    condition = JobApplication.job_id == job.id
    total = db.scalar(select(func.count()).select_from(JobApplication).where(condition)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(row_id(request.args.get("page")) or 1, pages)
    query = select(JobApplication).where(condition).order_by(JobApplication.id)
    if not wants_csv():
        query = query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    applications = db.scalars(query).all()
    full = user.role in SEES_NUMBERS and not wants_csv()
    applicants = [
        {
            "reference": reference(a),
            "name": a.name,
            "msisdn": a.msisdn if full else mask_msisdn(a.msisdn),
            "start": STARTS.get(a.start, a.start),
            "skills": a.skills,
            "applied": f"{a.created_at:%Y-%m-%d %H:%M}",
        }
        for a in applications
    ]
    audit.record(
        db,
        user=user,
        action="job.applicants",
        subject_type="job",
        subject_id=job.id,
        detail={
            "rows": len(applicants),
            "page": page,
            "format": "csv" if wants_csv() else "page",
            "numbers": "full" if full else "masked",
        },
        address=request_address(),
    )
    if wants_csv():
        keys = ["reference", "name", "msisdn", "start", "skills", "applied"]
        return csv_response(
            f"job-{job.id}-applicants",
            [*keys[:5], "applied_utc"],
            [[a[k] for k in keys] for a in applicants],
        )
    return render_template(
        "console/job.html",
        job=_job_row(db, job, total, now),
        requirements=jobs.requirements_for(job, LANGUAGE),
        contact=job.contact_msisdn
        if user.role in SEES_NUMBERS
        else mask_msisdn(job.contact_msisdn),
        created=f"{job.created_at:%Y-%m-%d %H:%M}",
        applicants=applicants,
        full=full,
        page=page,
        pages=pages,
        total=total,
    )
