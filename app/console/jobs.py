"""``/console/jobs``: the jobs board, each job's applicants, and posting,
editing and closing jobs.

Applicants' numbers are shown in full to admins and operators (who call them
back) and masked to supervisors and editors; CSV downloads mask them always.
Every view of applicants (page or CSV) is written to the audit log
(``domain.audit.record``: stored, and logged to ``ngazi.audit``). A
supervisor sees the jobs in their areas only and changes none (``403``); an
editor sees, posts, edits and closes their organisation's jobs only; another
job's page is ``404``. The rules of a job are ``domain.jobs``'s (``add_job``,
``edit_job``, ``close_job``), as ``flask job`` uses them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.console import bp, row_id
from app.console.auth import current_console_user
from app.console.content_form import LANGUAGE_NAMES
from app.console.export import csv_response, mask_msisdn, pairs, wants_csv
from app.console.job_form import JobForm, draft_job, measure
from app.db import db_session
from app.job_alert import send_alert
from app.webhook_auth import request_address
from domain import audit, jobs
from domain.campaigns import CampaignError
from domain.console_users import visible_areas
from domain.job_applications import STARTS, reference
from models import Area, ConsoleRole, ConsoleUser, Job, JobApplication, JobStatus
from models.base import utcnow

log = logging.getLogger("ngazi.console")

PAGE_SIZE = 50
#: Who sees applicants' numbers in full (they call them back).
SEES_NUMBERS = frozenset({ConsoleRole.ADMIN, ConsoleRole.OPERATOR})
LANGUAGE = "en"


#: Who posts, edits and closes jobs (an editor: their organisation's only).
CHANGES = frozenset({ConsoleRole.ADMIN, ConsoleRole.OPERATOR, ConsoleRole.EDITOR})


def _ordered_ids(
    db: Session, area_ids: Sequence[int] | None, now: datetime, organisation: int | None = None
) -> list[int]:
    """Visible job ids: open ones first, soonest closing first; then closed or
    past ones, latest closing first (``jobs.is_open``, per area time zone).
    ``organisation``: only that organisation's jobs (an editor's list)."""
    query = select(Job.id, Job.status, Job.closes_on, Area.timezone).join(
        Area, Area.id == Job.area_id
    )
    if area_ids is not None:
        query = query.where(Job.area_id.in_(area_ids))
    if organisation is not None:
        query = query.where(Job.organisation_id == organisation)
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
    user = current_console_user()
    areas = visible_areas(db, user)
    ids = _ordered_ids(db, areas, now, _organisation(user))
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
        editor=user.role is ConsoleRole.EDITOR,
        may_post=_may_post(user),
    )


@bp.get("/jobs/<job_id>")
def job_page(job_id: str) -> ResponseReturnValue:
    """The job and its applicants, oldest first (``?page=N``, ``?format=csv``)."""
    db = db_session()
    now = utcnow()
    user = current_console_user()
    number = row_id(job_id)
    job = _visible_job(db, user, number) if number is not None else None
    if job is None:
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
        # An editor typed their own job's contact (and edits it): shown in full.
        contact=job.contact_msisdn if user.role in CHANGES else mask_msisdn(job.contact_msisdn),
        may_change=user.role in CHANGES,
        is_open=job.status is JobStatus.OPEN,
        created=f"{job.created_at:%Y-%m-%d %H:%M}",
        applicants=applicants,
        full=full,
        page=page,
        pages=pages,
        total=total,
    )


def _organisation(user: ConsoleUser) -> int | None:
    """The organisation an editor is kept to (-1, none, for an editor without
    one: they see no job); None for every other role."""
    if user.role is not ConsoleRole.EDITOR:
        return None
    return user.organisation_id or -1


def _visible_job(db: Session, user: ConsoleUser, job_id: int) -> Job | None:
    """The job when ``user`` may see it: in a supervisor's areas, of an
    editor's organisation; None otherwise (a ``404``: not told it exists)."""
    job = db.get(Job, job_id)
    if job is None:
        return None
    areas = visible_areas(db, user)
    if areas is not None and job.area_id not in areas:
        return None
    organisation = _organisation(user)
    if organisation is not None and job.organisation_id != organisation:
        return None
    return job


def _forbidden(message: str) -> ResponseReturnValue:
    return render_template("console/error.html", title="Not allowed", message=message), 403


def _may_post(user: ConsoleUser) -> bool:
    return user.role in {ConsoleRole.ADMIN, ConsoleRole.OPERATOR} or (
        user.role is ConsoleRole.EDITOR and user.organisation_id is not None
    )


# -- posting, editing, closing -------------------------------------------------------------


@bp.route("/jobs/new", methods=["GET", "POST"])
def job_new() -> ResponseReturnValue:
    """The form for a new job; saved, it is open at once (callers see it on
    USSD) and, when asked, its alert goes to the subscribers to jobs in its
    county. "Update" refreshes the villages and the counts without saving."""
    db = db_session()
    user = current_console_user()
    if not _may_post(user):
        return _forbidden("A supervisor (or an editor without an organisation) may not post jobs.")
    form = JobForm()
    if request.method == "GET":
        form.alert.data = user.role is not ConsoleRole.EDITOR
        form.wage_period.data = "day"
        form.slots.data = "1"
    form.fill_choices(db)
    now = utcnow()
    args, problems = form.arguments(db, now)
    error, status = None, 200
    if request.method == "POST" and "save" in request.form:
        try:
            job = _checked(db, args, problems, None)
        except jobs.JobError as exc:
            db.rollback()
            error, status = form.show_problems(exc.problems), 422
        else:
            db.commit()
            log.info("console: %s posted job %d", user.username, job.id)
            flash(f"Job {job.id} posted: callers see it on USSD now.")
            # An SMS to a county's subscribers costs the service money: the
            # service's staff send it, not an NGO's editor.
            if form.alert.data and user.role is not ConsoleRole.EDITOR:
                _alert(job)
            return redirect(url_for("console.job_page", job_id=job.id))
    return _edit_page(db, form, args, None, error), status


@bp.route("/jobs/<id:job_id>/edit", methods=["GET", "POST"])
def job_edit(job_id: int) -> ResponseReturnValue:
    """Change a job; an open job's callers see the change at once. No alert is
    sent again."""
    db = db_session()
    user = current_console_user()
    job = _visible_job(db, user, job_id)
    if job is None:
        abort(404)
    if user.role not in CHANGES:
        return _forbidden("A supervisor may read jobs but not change them.")
    form = JobForm()
    if request.method == "GET":
        form.fill_from(db, job)
    form.fill_choices(db)
    args, problems = form.arguments(db, utcnow())
    error, status = None, 200
    if request.method == "POST" and "save" in request.form:
        try:
            changed = _checked(db, args, problems, job)
        except jobs.JobError as exc:
            db.rollback()
            error, status = form.show_problems(exc.problems), 422
        else:
            db.commit()
            if changed:
                log.info("console: %s edited job %d", user.username, job.id)
                flash("Saved: callers see the change now.")
            else:
                flash("Nothing changed.")
            return redirect(url_for("console.job_page", job_id=job.id))
    return _edit_page(db, form, args, job, error), status


def _checked(db: Session, args: dict[str, Any], problems: dict[str, str], job: Job | None) -> Any:
    """Add (``job`` None) or edit a job under the domain's rules; the form's own
    problems (a date that is no date) join the domain's, and win for a field."""
    region = current_app.config["DEFAULT_REGION"]
    made: Job | bool
    try:
        if job is None:
            organisation = current_console_user().organisation_id
            editor = current_console_user().role is ConsoleRole.EDITOR
            made = jobs.add_job(
                db, **args, region=region, organisation_id=organisation if editor else None
            )
        else:
            made = jobs.edit_job(db, job, **args, region=region)
    except jobs.JobError as exc:
        found = exc.problems
    else:
        if not problems:
            return made
        found = {}
    merged = {**{k: v for k, v in found.items() if k not in problems}, **problems}
    raise jobs.JobError("; ".join(merged.values()), merged)


def _edit_page(
    db: Session, form: JobForm, args: dict[str, Any], job: Job | None, error: str | None
) -> str:
    engine = current_app.extensions["ngazi_ussd_engine"]
    fits = measure(
        db,
        draft_job(args),
        limits=engine.limits,
        fold_to_gsm7=engine.fold_to_gsm7,
        service_code=current_app.config["USSD_SERVICE_CODE"],
    )
    return render_template(
        "console/job_edit.html",
        form=form,
        job=job,
        fits=fits,
        error=error,
        languages=LANGUAGE_NAMES,
        max_title=jobs.MAX_TITLE,
        max_requirements=jobs.MAX_REQUIREMENTS,
    )


def _alert(job: Job) -> None:
    """Send the job's alert as ``flask job add`` does, and say what became of it."""
    try:
        campaign = send_alert(job)
    except CampaignError as exc:
        flash(f"No alert was sent: {exc}")
        return
    if campaign is None:
        flash("Alert: nobody in the county subscribes to jobs; no SMS sent.")
        return
    recipients = (campaign.estimate or {}).get("recipients", 0)
    flash(f"Alert: campaign {campaign.id} to {recipients} subscribers to jobs in the county.")


@bp.post("/jobs/<id:job_id>/close")
def job_close(job_id: int) -> ResponseReturnValue:
    """Stop the job taking applications (filled or withdrawn); callers who open
    it are told it is closed."""
    db = db_session()
    user = current_console_user()
    job = _visible_job(db, user, job_id)
    if job is None:
        abort(404)
    if user.role not in CHANGES:
        return _forbidden("A supervisor may read jobs but not close them.")
    if job.status is JobStatus.CLOSED:
        flash("It was closed already.")
    else:
        jobs.close_job(db, job.id)
        db.commit()
        log.info("console: %s closed job %d", user.username, job.id)
        flash("Closed: it takes no more applications, and callers are told so.")
    return redirect(url_for("console.job_page", job_id=job.id))
