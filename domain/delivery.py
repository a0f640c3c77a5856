"""Delivery reports: the gateway tells us what became of a message it took.

A status only moves forward (``models.RANK``): reports arrive out of order, and
a late "Sent" must not take back a "Success". The rank test is part of the one
``UPDATE`` that applies a report, so two reports racing for one message cannot
both win.

A report whose id we never recorded may be for a campaign message whose worker
died between the gateway's answer and recording it (``sending`` with no message
id): the oldest such claim to that number takes the id, so it is reconciled
without being sent twice. A claim younger than ``settle_after`` may still be
answered by its worker (and two campaigns may be sending to the same number at
once): the report is then ``"later"``, to be applied again once that worker
has had its say: ``wait`` keeps it, ``apply_waiting`` (the campaigns' tick)
applies it when due.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.phone import mask_msisdn
from domain.subscribers import opt_out
from models import RANK, OutboundSms, SmsStatus, WaitingReport
from models.base import utcnow

log = logging.getLogger(__name__)

#: The delivery report's ``status`` → ours. Source: Africa's Talking SMS
#: notifications ("Delivery reports"); AbsentSubscriber is reported by some
#: networks in place of Failed. Any other status is kept in ``report_status``
#: and leaves ours as it is.
STATUS: dict[str, SmsStatus] = {
    "Sent": SmsStatus.SENT,  # sent by the gateway's network
    "Submitted": SmsStatus.SENT,  # submitted to the mobile network
    "Buffered": SmsStatus.SENT,  # queued by the mobile network
    "Success": SmsStatus.DELIVERED,  # on the handset (final)
    "Failed": SmsStatus.FAILED,  # final
    "AbsentSubscriber": SmsStatus.FAILED,
    "Rejected": SmsStatus.REJECTED,  # final
}

#: ``failureReason`` of a number that opted out at the network (406 UserInBlacklist).
BLACKLISTED = ("userinblacklist", "406")

FINAL = max(RANK.values())


class Report(NamedTuple):
    """A delivery report, validated at the edge; ``msisdn`` is E.164 or None."""

    message_id: str
    status: str  # as the gateway spelt it
    msisdn: str | None = None
    network_code: str | None = None
    failure_reason: str | None = None
    retry_count: int | None = None


def apply_report(db: Session, report: Report, *, settle_after: timedelta | None = None) -> str:
    """Apply ``report`` to its message. Does not commit.

    Returns "updated" (the report applied), "unchanged" (the message is already
    as far or further along), "later" (no message has this id yet, and a claim
    to its number younger than ``settle_after`` may still be answered by its
    worker: apply it again later) or "unknown" (no message has this id and no
    claim to reconcile; logged). A Rejected report for a blacklisted number also opts
    the number out (source "blacklist").
    """
    ours = STATUS.get(report.status)
    values: dict[str, object] = {
        "report_status": report.status[:32],
        "network_code": report.network_code,
        "failure_reason": report.failure_reason[:120] if report.failure_reason else None,
        "reported_at": func.coalesce(OutboundSms.reported_at, utcnow()),
    }
    if ours is None:
        # Undocumented: keep what the gateway said, while the message is not final.
        behind = [s for s, rank in RANK.items() if rank < FINAL]
    else:
        values["status"] = ours
        # Same rank is allowed while not final, to keep the newest report_status
        # (Sent → Submitted → Buffered); a final status never changes.
        behind = [s for s, rank in RANK.items() if rank < RANK[ours] or rank == RANK[ours] < FINAL]
        if ours is SmsStatus.DELIVERED:
            values["delivered_at"] = utcnow()
    # By number and id: the number's index finds the row (the id has none: see
    # models.OutboundSms). The gateway always names the number; a report that
    # does not is not looked up by id alone, which would read the whole table.
    if report.msisdn is None:
        log.warning("delivery report %s (%s) names no number", report.message_id, report.status)
        return "unknown"
    this = [
        OutboundSms.gateway_message_id == report.message_id,
        OutboundSms.msisdn == report.msisdn,
    ]
    msisdn = db.execute(
        update(OutboundSms)
        .where(*this, OutboundSms.status.in_(behind))
        .values(values)
        .returning(OutboundSms.msisdn)
    ).scalar()
    if msisdn is None:
        known = db.scalar(select(func.count()).select_from(OutboundSms).where(*this))
        if known:
            return "unchanged"
        msisdn = _reconcile_claim(db, report, values, settle_after)
        if msisdn == LATER:
            return "later"
        if msisdn is None:
            log.warning(
                "delivery report %s (%s) for an unknown message to %s",
                report.message_id,
                report.status,
                mask(report.msisdn),
            )
            return "unknown"
    if ours is SmsStatus.REJECTED and (report.failure_reason or "").casefold() in BLACKLISTED:
        opt_out(db, msisdn, "blacklist")
    return "updated"


LATER = "later"


def _reconcile_claim(
    db: Session, report: Report, values: dict[str, object], settle_after: timedelta | None
) -> str | None:
    """Give the report's id to the oldest claim to its number that never got the
    gateway's answer; return that number, None when there is none, or ``LATER``
    when any such claim is younger than ``settle_after``."""
    if report.msisdn is None:
        return None
    if settle_after is not None:
        # Any young claim to the number may be the one this report is about.
        young = db.scalar(
            select(func.max(OutboundSms.claimed_at)).where(
                OutboundSms.status == SmsStatus.SENDING,
                OutboundSms.gateway_message_id.is_(None),
                OutboundSms.msisdn == report.msisdn,
            )
        )
        if young is not None and young > utcnow() - settle_after:
            return LATER
    values = {**values, "gateway_message_id": report.message_id}
    values.setdefault("status", SmsStatus.SENT)  # the gateway took it, whatever it says now
    # When it went out, near enough: its claim (not now, which would tell
    # reconcile_claims that the reports have caught up to now).
    values["sent_at"] = func.coalesce(OutboundSms.sent_at, OutboundSms.claimed_at, utcnow())
    unanswered = (
        OutboundSms.status == SmsStatus.SENDING,
        OutboundSms.gateway_message_id.is_(None),
        OutboundSms.msisdn == report.msisdn,
    )
    for _ in range(3):  # another report may take the same claim first: try the next
        oldest = db.scalar(
            select(OutboundSms.id)
            .where(*unanswered)
            .order_by(OutboundSms.claimed_at, OutboundSms.id)
            .limit(1)
        )
        if oldest is None:
            return None
        took = db.execute(
            update(OutboundSms).where(OutboundSms.id == oldest, *unanswered).values(values)
        ).rowcount  # type: ignore[attr-defined]
        if took:
            log.info("delivery report %s reconciled claim %s", report.message_id, oldest)
            return report.msisdn
    return None


def mask(msisdn: str | None) -> str:
    """``+254700000101`` → ``+2547******01``: enough to tell numbers apart in a log."""
    return mask_msisdn(msisdn) if msisdn else "(no number)"


def wait(db: Session, report: Report, apply_after: datetime) -> None:
    """Keep ``report`` (one ``apply_report`` answered "later") to apply from
    ``apply_after``. Does not commit."""
    assert report.msisdn is not None  # "later" is only answered for a number
    db.add(
        WaitingReport(
            message_id=report.message_id,
            status=report.status,
            msisdn=report.msisdn,
            network_code=report.network_code,
            failure_reason=report.failure_reason,
            apply_after=apply_after,
            received_at=utcnow(),
        )
    )


def apply_waiting(db: Session, now: datetime, limit: int = 1000) -> int:
    """Apply the kept reports due by ``now`` (oldest first, at most ``limit``),
    each once; returns how many. Commits."""
    due = db.scalars(
        select(WaitingReport)
        .where(WaitingReport.apply_after <= now)
        .order_by(WaitingReport.apply_after, WaitingReport.id)
        .limit(limit)
    ).all()
    for kept in due:
        report = Report(
            kept.message_id, kept.status, kept.msisdn, kept.network_code, kept.failure_reason
        )
        apply_report(db, report)
        db.delete(kept)
        db.commit()
    return len(due)
