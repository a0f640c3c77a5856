"""Campaign fan-out on RQ: a planner, batch jobs, and a tick that keeps them honest.

- ``plan_campaign`` walks the audience by subscriber id in chunks of
  ``SMS_BATCH_SIZE`` (keyset pagination: never all recipients in memory). Each
  chunk is one ``INSERT … SELECT`` of ``queued`` rows (``(campaign, msisdn)`` is
  unique, so a re-run adds nobody twice). Recipients who get the same text (one
  language, one village) form a group; every ``SMS_BATCH_SIZE`` rows of a group
  become one ``send_batch`` job for that id range, at its share of the spread.
- ``send_batch`` renders the group's text in its language, then per chunk of at
  most ``SMS_RATE``: waits for the throttle (across workers, in Redis), claims
  the rows (``queued`` → ``sending``, committed before the gateway is called),
  skips numbers opted out by now, sends one bulk request and records each
  recipient's answer. A gateway that refused releases the claims and RQ retries
  with backoff; one that timed out after the request went out keeps them (it may
  have taken the messages); insufficient balance pauses the campaign and tells
  the operator.
- A claim with no answer (a worker killed, a timeout) is settled by a delivery
  report for that number (``domain.delivery``); ``tick`` puts claims older than
  ``CAMPAIGN_CLAIM_TIMEOUT`` back in the queue once reports for later messages
  have come in (or none has come for that long): ``reconcile_claims``. The
  only case that can send twice: the gateway took the message and its report
  was lost.
- ``tick`` (every minute, and ``flask campaign tick``) starts due campaigns,
  reconciles stale claims, and when a sending campaign has made no progress for
  ``CAMPAIGN_STALL_SECONDS`` (its jobs were lost: Redis flushed, workers killed)
  restarts its planner or re-enqueues its due rows; it marks finished campaigns
  done. Duplicate jobs are harmless: a row is claimed once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from rq import Retry
from sqlalchemy import case, exists, func, literal, select, text, update
from sqlalchemy.orm import Session

from app.db import db_session
from app.gateways import INSUFFICIENT_BALANCE, BulkRecipient, GatewayUnavailable, sms_sender
from domain import campaigns, delivery
from domain.sms import queue_sms
from domain.sms_encoding import parts as sms_parts
from domain.subscribers import opt_out
from models import Campaign, CampaignStatus, OutboundSms, SmsStatus, Subscriber, WaitingReport
from models.base import utcnow
from workers import CAMPAIGNS, DEFAULT, SMS, job, queue

log = logging.getLogger(__name__)

#: Backoff for a batch the gateway could not take (seconds between attempts).
RETRY_INTERVALS = [10, 30, 60, 120, 300]
#: How often the tick runs while a worker with the scheduler is up (seconds).
TICK_SECONDS = 60
TICK_LOCK = "ngazi:campaigns:tick"


#: Recipients who get the same text: (language, village id).
Group = tuple[str, int | None]


class RetryLater(RuntimeError):
    """Some recipients of a batch must be tried again later (raised so RQ retries)."""


# -- starting ---------------------------------------------------------------------------


def start(db: Session, campaign: Campaign, now: datetime | None = None) -> None:
    """Enqueue the planner of a ``scheduled`` campaign: now, or at ``send_at``.

    In the embedded default (no Redis) a campaign due now is planned and sent
    inline; one due later waits for ``flask campaign tick``.
    """
    now = now or utcnow()
    due = campaign.send_at is None or campaign.send_at <= now
    if due:
        _enqueue_plan(campaign.id)
    elif current_app.config["REDIS_URL"] and campaign.send_at is not None:
        queue(CAMPAIGNS).enqueue_at(
            campaign.send_at, plan_campaign, campaign.id, job_timeout=3600, result_ttl=600
        )


def _enqueue_plan(campaign_id: int) -> None:
    queue(CAMPAIGNS).enqueue(plan_campaign, campaign_id, job_timeout=3600, result_ttl=600)


def resume_work(db: Session, campaign: Campaign) -> None:
    """After ``domain.campaigns.resume``: plan the rest, send what is queued."""
    if campaign.status is CampaignStatus.SCHEDULED:
        start(db, campaign)
        return
    if not campaign.planning_done:
        _enqueue_plan(campaign.id)
    requeue_lost(db, campaign, utcnow())


def _enqueue_batch(
    campaign_id: int, group: Group, first_id: int, last_id: int, at: datetime | None
) -> None:
    """Enqueue ``send_batch`` for the group's rows with ids ``first_id..last_id``,
    at ``at`` when that is later than now. Without Redis (jobs inline, no
    scheduler) a batch for later is not run now: ``flask campaign tick`` sends
    its rows once they are due."""
    q = queue(CAMPAIGNS)
    kwargs: dict[str, Any] = {
        "retry": Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        "job_timeout": 600,
        "result_ttl": 60,
    }
    later = at is not None and at > utcnow()
    if later and current_app.config["REDIS_URL"]:
        assert at is not None
        q.enqueue_at(at, send_batch, campaign_id, *group, first_id, last_id, **kwargs)
    elif not later:
        q.enqueue(send_batch, campaign_id, *group, first_id, last_id, **kwargs)


# -- planning ---------------------------------------------------------------------------


@job
def plan_campaign(campaign_id: int) -> int:
    """Queue one row per recipient and a batch job per ``SMS_BATCH_SIZE`` rows of
    each group of recipients who get the same text (language and village), so a
    batch is one bulk request; resumable (it starts after ``planned_through``).
    Returns how many rows it added."""
    db = db_session()
    campaign = db.get(Campaign, campaign_id)
    if campaign is None or campaign.status not in (
        CampaignStatus.SCHEDULED,
        CampaignStatus.SENDING,
    ):
        return 0
    if campaign.planning_done:
        return 0
    if campaign.status is CampaignStatus.SCHEDULED:
        campaign.status = CampaignStatus.SENDING
        campaign.started_at = campaign.started_at or utcnow()
    campaign.progress_at = utcnow()
    db.commit()
    size = current_app.config["SMS_BATCH_SIZE"]
    audience = campaigns.recipients(db, campaign).subquery()
    start_at = campaign.started_at or utcnow()
    total = campaign.estimate.get("recipients", 0) if campaign.estimate else 0
    spread = timedelta(hours=campaign.spread_hours)
    added = 0
    # Per group, the rows with no job yet: [first id, last id, count].
    waiting: dict[Group, list[int]] = {}
    while True:
        cursor = campaign.planned_through
        window = (
            select(audience.c.id.label("id"))
            .where(audience.c.id > cursor)
            .order_by(audience.c.id)
            .limit(size)
            .subquery()
        )
        bound = db.scalar(select(func.max(window.c.id)))
        if bound is None:
            break
        not_before = None
        if spread and total:
            not_before = start_at + spread * min(1.0, campaign.planned / total)
        chunk = (
            select(
                literal(campaign.id),
                audience.c.id,
                audience.c.msisdn,
                audience.c.language,
                audience.c.area_id,
                literal(SmsStatus.QUEUED.value),
                literal(0),
                literal(utcnow(), OutboundSms.created_at.type),
                literal(not_before, OutboundSms.not_before.type),
            )
            .where(audience.c.id > cursor, audience.c.id <= bound)
            .order_by(audience.c.id)
        )
        stmt = (
            _insert(db)
            .from_select(
                [
                    "campaign_id",
                    "subscriber_id",
                    "msisdn",
                    "language",
                    "area_id",
                    "status",
                    "attempts",
                    "created_at",
                    "not_before",
                ],
                chunk,
            )
            .on_conflict_do_nothing()
            .returning(OutboundSms.id, OutboundSms.language, OutboundSms.area_id)
        )
        rows = sorted(db.execute(stmt).all())
        campaign.planned_through = bound
        campaign.planned += len(rows)
        campaign.progress_at = utcnow()
        db.commit()
        _count_pending(campaign.id, len(rows))
        added += len(rows)
        for row in rows:  # by id: each group's batch is an id range
            group = (row.language, row.area_id)
            batch = waiting.get(group)
            if batch is None:
                waiting[group] = [row.id, row.id, 1]
                continue
            batch[1], batch[2] = row.id, batch[2] + 1
            if batch[2] == size:
                _enqueue_batch(campaign.id, group, batch[0], batch[1], not_before)
                del waiting[group]
        if not_before is not None:  # spread: this chunk's rows go at this chunk's time
            for group, (first, last, _) in waiting.items():
                _enqueue_batch(campaign.id, group, first, last, not_before)
            waiting.clear()
        db.refresh(campaign)
        if campaign.status is not CampaignStatus.SENDING:  # paused or cancelled meanwhile
            return added
    for group, (first, last, _) in waiting.items():
        _enqueue_batch(campaign.id, group, first, last, None)
    campaign.planning_done = True
    db.commit()
    _finish_if_done(db, campaign)
    return added


def _insert(db: Session) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(OutboundSms)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(OutboundSms)


# -- sending ----------------------------------------------------------------------------


@job
def send_batch(
    campaign_id: int, language: str, area_id: int | None, first_id: int, last_id: int
) -> dict[str, int]:
    """Send the campaign's queued, due rows with ids ``first_id..last_id`` for
    recipients of ``language`` in village ``area_id`` (one text: one bulk request
    of at most ``SMS_BATCH_SIZE`` numbers).

    Returns counts by outcome (``sent``, ``rejected``, ``skipped``, ``retry``).
    Raises ``GatewayUnavailable`` or ``RetryLater`` so RQ tries again with
    backoff: claims are released, except those the gateway may have taken (a
    timeout after the request went out), which a delivery report or the tick
    settles, so nobody is sent twice. Rows still queued after the last retry
    are found by the tick.
    """
    db = db_session()
    campaign = db.get(Campaign, campaign_id)
    counts: dict[str, int] = defaultdict(int)
    if campaign is None or campaign.status is not CampaignStatus.SENDING:
        return counts  # paused (resume re-enqueues), cancelled or done
    now = utcnow()
    quiet_end = campaigns.quiet_until(campaign, now)
    if quiet_end is not None:
        _enqueue_batch(campaign_id, (language, area_id), first_id, last_id, quiet_end)
        counts["deferred"] = 1
        return counts
    area = OutboundSms.area_id.is_(None) if area_id is None else OutboundSms.area_id == area_id
    mine = (
        OutboundSms.campaign_id == campaign_id,
        OutboundSms.language == language,
        area,
        OutboundSms.id >= first_id,
        OutboundSms.id <= last_id,
        OutboundSms.status == SmsStatus.QUEUED,
        (OutboundSms.not_before.is_(None)) | (OutboundSms.not_before <= now),
    )
    left = db.scalar(select(func.count()).where(*mine)) or 0
    body = campaigns.text_of(db, campaign, language, area_id)
    sender = sms_sender(current_app.config)
    config = current_app.config
    size = max(1, min(config["SMS_BATCH_SIZE"], config["SMS_RATE"] or config["SMS_BATCH_SIZE"]))
    retry: list[int] = []
    while left > 0:
        # Wait for the throttle first, then claim: a claim is never held
        # through a wait, and a STOP that arrives meanwhile is seen.
        want = min(size, left)
        throttle(want)
        db.refresh(campaign)
        if campaign.status is not CampaignStatus.SENDING:  # paused or cancelled meanwhile
            break
        rows = _claim(db, campaign_id, mine, want, counts)
        left -= want
        if rows is None:
            break
        if not rows:  # every one of them opted out
            continue
        try:
            answers = sender.send_bulk([msisdn for _, msisdn in rows], body)
        except GatewayUnavailable as exc:
            if not exc.maybe_sent:  # the gateway took nothing: they wait for the retry
                release_claims(db, [row_id for row_id, _ in rows] + retry)
            else:  # it may have: a delivery report or the tick settles them
                release_claims(db, retry)
                log.warning(
                    "campaign %s: %s claims left to reconcile: %s", campaign_id, len(rows), exc
                )
            raise
        retry_ids, out_of_balance = _record(
            db, campaign.id, sender.name, body, rows, answers, counts
        )
        retry += retry_ids
        if out_of_balance:
            release_claims(db, retry)
            counts["retry"] += len(retry)
            _pause_for_balance(db, campaign)
            return counts
    if retry:
        release_claims(db, retry)
        counts["retry"] += len(retry)
        raise RetryLater(f"campaign {campaign_id}: {len(retry)} recipients to try again")
    _finish_if_done(db, campaign)
    return counts


def _claim(
    db: Session, campaign_id: int, mine: tuple[Any, ...], limit: int, counts: dict[str, int]
) -> list[tuple[int, str]] | None:
    """Claim up to ``limit`` of the batch's queued rows (``queued`` → ``sending``,
    committed before the gateway is called) and skip those whose number opted out
    since planning. Returns ``(id, msisdn)`` of the rows to send now, or None when
    none were left to claim."""
    now = utcnow()
    opted_out = (
        select(Subscriber.opted_out)
        .where(Subscriber.id == OutboundSms.subscriber_id)
        .scalar_subquery()
    )
    pick = (
        select(OutboundSms.id)
        .where(*mine)
        .order_by(OutboundSms.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = db.execute(
        update(OutboundSms)
        .where(OutboundSms.id.in_(pick.scalar_subquery()), OutboundSms.status == SmsStatus.QUEUED)
        .values(status=SmsStatus.SENDING, claimed_at=now, attempts=OutboundSms.attempts + 1)
        .returning(OutboundSms.id, OutboundSms.msisdn, opted_out.label("opted_out"))
        .execution_options(synchronize_session=False)
    ).all()
    db.commit()
    if not claimed:
        return None
    opted = [row.id for row in claimed if row.opted_out]
    if opted:  # opted out since planning: never sent
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id.in_(opted), OutboundSms.status == SmsStatus.SENDING)
            .values(status=SmsStatus.SKIPPED, failure_reason="opted out")
            .execution_options(synchronize_session=False)
        )
        db.commit()
        counts["skipped"] += len(opted)
        _count_pending(campaign_id, -len(opted))
    return [(row.id, row.msisdn) for row in claimed if not row.opted_out]


def _record(
    db: Session,
    campaign_id: int,
    gateway: str,
    body: str,
    rows: Sequence[tuple[int, str]],
    answers: Sequence[BulkRecipient],
    counts: dict[str, int],
) -> tuple[list[int], bool]:
    """Store each recipient's answer (the text is not stored: it is the
    campaign's for the row's group); returns (ids to retry, out of balance)."""
    now = utcnow()
    n_parts = sms_parts(body)
    values: list[dict[str, Any]] = []
    retry: list[int] = []
    out_of_balance = False
    blacklisted: list[str] = []
    for (row_id, msisdn), answer in zip(rows, answers, strict=True):
        if answer.status is None:
            retry.append(row_id)
            out_of_balance |= answer.code == INSUFFICIENT_BALANCE
            continue
        if answer.code == 406:  # UserInBlacklist: never again
            blacklisted.append(msisdn)
        counts[answer.status.value] += 1
        values.append(
            {
                "id": row_id,
                "status": answer.status.value,
                "mid": answer.message_id if answer.message_id not in (None, "None") else None,
                "cost": answer.cost,
                "reason": answer.failure_reason,
            }
        )
    if values:
        store_answers(db, gateway, n_parts, now, values)
    db.execute(update(Campaign).where(Campaign.id == campaign_id).values(progress_at=now))
    for msisdn in blacklisted:
        opt_out(db, msisdn, "blacklist")
    db.commit()
    _count_pending(campaign_id, -len(values))
    return retry, out_of_balance


def store_answers(
    db: Session,
    gateway: str,
    n_parts: int,
    now: datetime,
    values: list[dict[str, Any]],
) -> None:
    """Record the gateway's answers (``values``: dicts of ``id``, ``status``
    value, ``mid``, ``cost``, ``reason``): one UPDATE for the whole request on
    PostgreSQL (``unnest`` of arrays), one per row elsewhere. A status or
    message id already set by a delivery report that raced the answer is kept.
    Does not commit. Used for campaign batches and single SMS alike."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text(
                "UPDATE outbound_sms AS o SET"
                " status = CASE WHEN o.status = 'sending' THEN v.status ELSE o.status END,"
                " gateway_message_id = COALESCE(o.gateway_message_id, v.mid),"
                " cost = v.cost, failure_reason = COALESCE(o.failure_reason, v.reason),"
                " gateway = :gateway, parts = :parts, sent_at = :now"
                " FROM unnest(CAST(:ids AS integer[]), CAST(:statuses AS varchar[]),"
                " CAST(:mids AS varchar[]), CAST(:costs AS varchar[]),"
                " CAST(:reasons AS varchar[])) AS v(id, status, mid, cost, reason)"
                " WHERE o.id = v.id"
            ),
            {
                "gateway": gateway,
                "parts": n_parts,
                "now": now,
                "ids": [v["id"] for v in values],
                "statuses": [v["status"] for v in values],
                "mids": [v["mid"] for v in values],
                "costs": [v["cost"] for v in values],
                "reasons": [v["reason"] for v in values],
            },
        )
        return
    for v in values:
        status = literal(SmsStatus(v["status"]), OutboundSms.status.type)
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id == v["id"])
            .values(
                status=case(
                    (OutboundSms.status == SmsStatus.SENDING, status), else_=OutboundSms.status
                ),
                gateway_message_id=func.coalesce(OutboundSms.gateway_message_id, v["mid"]),
                cost=v["cost"],
                failure_reason=func.coalesce(OutboundSms.failure_reason, v["reason"]),
                gateway=gateway,
                parts=n_parts,
                sent_at=now,
            )
            .execution_options(synchronize_session=False)
        )


def release_claims(db: Session, ids: Sequence[int]) -> None:
    """Put claimed rows back in the queue (nothing was sent to them). Commits.
    Used for campaign batches and single SMS alike."""
    if ids:
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id.in_(list(ids)), OutboundSms.status == SmsStatus.SENDING)
            .values(status=SmsStatus.QUEUED, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
    db.commit()


def _pause_for_balance(db: Session, campaign: Campaign) -> None:
    reason = "insufficient balance at the SMS gateway: top up, then resume"
    if campaigns.pause(db, campaign, reason):
        db.commit()
        log.error("campaign %s paused: %s", campaign.id, reason)
        operator = current_app.config.get("OPERATOR_MSISDN")
        if operator:
            from workers.sms import send_sms

            queued = queue_sms(
                db,
                msisdn=operator,
                body=f"Ngazi: campaign {campaign.id} paused, {reason}.",
                dedup_key=f"campaign:{campaign.id}:paused:{utcnow():%Y%m%d%H}",
            )
            if queued.pending:
                queue(SMS).enqueue(send_sms, queued.id)


def _pending_key(campaign_id: int) -> str:
    return f"ngazi:campaign:{campaign_id}:pending"


def _count_pending(campaign_id: int, delta: int) -> int | None:
    """Add ``delta`` to the campaign's count of rows not yet finished (a hint
    in Redis, so a batch need not scan the campaign's rows to know whether it
    finished it); returns the new count, or None when Redis is away."""
    from redis.exceptions import RedisError

    from app.redis_store import get_redis

    if not delta:
        return None
    try:
        r = get_redis()
        key = _pending_key(campaign_id)
        value = int(r.incrby(key, delta))
        r.expire(key, 7 * 24 * 3600)
        return value
    except RedisError:
        return None


def _finish_if_done(db: Session, campaign: Campaign, *, check: bool = False) -> bool:
    """Mark the campaign done when it is planned and nothing is left to send.

    A batch asks (``check=False``) after each send: the database is read only
    when the Redis count of unfinished rows says none are left. The tick asks
    with ``check=True``: the database decides (a count lost or left high, by a
    Redis flush or rows finished by a delivery report, only delays it)."""
    db.refresh(campaign)
    if campaign.status is not CampaignStatus.SENDING or not campaign.planning_done:
        return False
    if not check:
        from redis.exceptions import RedisError

        from app.redis_store import get_redis

        try:
            hint = get_redis().get(_pending_key(campaign.id))
        except RedisError:
            hint = None
        if hint is None or int(hint) > 0:
            return False
    left = db.scalar(
        select(
            exists().where(
                OutboundSms.campaign_id == campaign.id,
                OutboundSms.status.in_([SmsStatus.QUEUED, SmsStatus.SENDING]),
            )
        )
    )
    if left:
        return False
    done = db.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.SENDING)
        .values(status=CampaignStatus.DONE, finished_at=utcnow())
    ).rowcount  # type: ignore[attr-defined]
    db.commit()
    return bool(done)


# -- throttle ---------------------------------------------------------------------------

_limiters: dict[str, Any] = {}


def throttle(messages: int) -> float:
    """Wait until ``messages`` more SMS fit in ``SMS_RATE`` per second, counted
    across every worker in Redis (a moving window from the ``limits`` library;
    in-process in the embedded default). Returns the seconds waited. A rate of 0
    means no limit."""
    rate = current_app.config["SMS_RATE"]
    if rate <= 0 or messages <= 0:
        return 0.0
    from limits import RateLimitItemPerSecond

    limiter = _limiter()
    item = RateLimitItemPerSecond(rate)
    waited = 0.0
    cost = min(messages, rate)
    while not limiter.hit(item, "ngazi-sms", cost=cost):
        reset, _ = limiter.get_window_stats(item, "ngazi-sms")
        pause = min(1.0, max(0.01, reset - time.time()))
        time.sleep(pause)
        waited += pause
    return waited


def _limiter() -> Any:
    """The throttle's limiter: on the app's Redis connections (a plain server or
    Sentinel alike), in-process memory in the embedded default."""
    from limits.storage import MemoryStorage, RedisStorage
    from limits.strategies import SlidingWindowCounterRateLimiter

    from app.redis_store import get_redis

    url = current_app.config["REDIS_URL"]
    limiter = _limiters.get(url)
    if limiter is None:
        pool = get_redis().connection_pool
        storage = RedisStorage("redis://", connection_pool=pool) if url else MemoryStorage()
        limiter = _limiters[url] = SlidingWindowCounterRateLimiter(storage)
    return limiter


# -- the tick ---------------------------------------------------------------------------


@job
def tick() -> dict[str, int]:
    """Keep every campaign moving, and send the single SMS whose jobs a loss of
    Redis took (``workers.sms.sweep_after_redis_loss``); safe to run at any
    time, any number of times. Returns counts of what it did. With Redis,
    schedules its next run."""
    db = db_session()
    config = current_app.config
    now = utcnow()
    done: dict[str, int] = defaultdict(int)
    from app.sms import release_held  # inbound SMS held while the database was away

    released = release_held()
    if released:
        done["inbound_released"] = released
    from workers.sms import sweep_after_redis_loss  # single SMS whose jobs Redis lost

    swept = sweep_after_redis_loss(db, now)
    if swept:
        done["sms_swept"] = swept
    alerts = price_alerts(db, now)
    if alerts:
        done["price_alerts"] = alerts
    due = db.scalars(
        select(Campaign).where(
            Campaign.status == CampaignStatus.SCHEDULED,
            (Campaign.send_at.is_(None)) | (Campaign.send_at <= now),
        )
    ).all()
    for campaign in due:
        start(db, campaign, now)
        done["started"] += 1
    applied = delivery.apply_waiting(db, now)  # before any claim is put back
    if applied:
        done["reports"] = applied
    sending = db.scalars(select(Campaign).where(Campaign.status == CampaignStatus.SENDING)).all()
    stalled_before = now - timedelta(seconds=config["CAMPAIGN_STALL_SECONDS"])
    for campaign in sending:
        done["reconciled"] += reconcile_claims(
            db, campaign, now, config["CAMPAIGN_CLAIM_TIMEOUT"], report_slack(config)
        )
        stalled = campaign.progress_at is None or campaign.progress_at < stalled_before
        if stalled and not campaign.planning_done:
            _enqueue_plan(campaign.id)
            done["replanned"] += 1
        elif stalled and campaigns.quiet_until(campaign, now) is None:
            done["requeued"] += requeue_lost(db, campaign, now)
        if _finish_if_done(db, campaign, check=True):
            done["finished"] += 1
    return dict(done)


#: When the last delivery report of any message came (epoch seconds, in Redis).
REPORTS_SEEN_KEY = "ngazi:reports:seen"
_noted = [0.0]  # when this process last wrote it (monotonic seconds)


def note_report(now: datetime) -> None:
    """Record that a delivery report came at ``now`` (the webhook calls it; at
    most once a second per process). Redis away: nothing is recorded."""
    from redis.exceptions import RedisError

    from app.redis_store import get_redis

    if time.monotonic() - _noted[0] < 1.0:
        return
    _noted[0] = time.monotonic()
    try:
        get_redis().set(REPORTS_SEEN_KEY, now.timestamp(), ex=7 * 24 * 3600)
    except RedisError:
        pass


def reports_seen_since(since: datetime) -> bool:
    """Whether any delivery report came after ``since`` (``note_report``)."""
    from redis.exceptions import RedisError

    from app.redis_store import get_redis

    try:
        seen = get_redis().get(REPORTS_SEEN_KEY)
    except RedisError:
        return False
    return seen is not None and float(seen) >= since.timestamp()


#: Seconds by which one message's delivery report may overtake another's sent
#: earlier, beyond the gateway's answer time: network delays differ.
REPORT_ORDER_SLACK = 30


def report_slack(config: Any) -> float:
    """How much later than a claim a message must have gone out for its report
    to say the claim's would be in by now (seconds): the longest the gateway may
    take to answer (``AT_SMS_TIMEOUT``) plus ``REPORT_ORDER_SLACK``."""
    return float(config["AT_SMS_TIMEOUT"] + REPORT_ORDER_SLACK)


def price_alerts(db: Session, now: datetime) -> int:
    """Schedule this ISO week's price alerts (``domain.prices``) once: at the
    first tick of the week, remembered in Redis for eight days (the campaigns'
    dedup keys make a second run after a Redis flush schedule nothing new).
    Returns how many campaigns were scheduled."""
    from app.redis_store import get_redis
    from domain import prices

    key = f"ngazi:price-alerts:{prices.week_of(now)}"
    if get_redis().get(key):
        return 0
    config = current_app.config
    made = prices.weekly_campaigns(
        db,
        now,
        quiet_hours=config["CAMPAIGN_QUIET_HOURS"] or None,
        price_per_part=config["SMS_PRICE_PER_PART"],
    )
    get_redis().set(key, "1", ex=8 * 24 * 3600)
    return len(made)


def reconcile_claims(
    db: Session, campaign: Campaign, now: datetime, timeout: int, slack: float = 0.0
) -> int:
    """Put back in the queue the campaign's rows claimed more than ``timeout``
    seconds ago that have neither the gateway's answer nor a delivery report
    (their worker died), once the reports say the gateway never took them:

    - reports are coming in (one arrived in the last ``timeout`` seconds) and
      have arrived for messages that went out more than ``slack`` seconds after
      the claim. A campaign's reports come about in the order its messages went
      out, so had the gateway taken the claimed message, its report would be in.
      A claim whose report is only late (a backlog at the gateway or at our web
      nodes) waits for it, however long that takes;
    - or no report has come for ``timeout`` seconds (reports are not set up, or
      have stopped): the claim's age alone decides. Reports for other messages
      (``note_report``) while this campaign's answered messages still wait for
      theirs count as coming in: the campaign's are behind a backlog.

    Returns how many; each may be a repeat send (the gateway took the message
    and its report was lost, or overtaken by more than ``slack``)."""
    cutoff = now - timedelta(seconds=timeout)
    stale = [
        OutboundSms.campaign_id == campaign.id,
        OutboundSms.status == SmsStatus.SENDING,
        OutboundSms.claimed_at < cutoff,
        OutboundSms.gateway_message_id.is_(None),
        # A report for this number is waiting to settle it: not yet.
        ~exists().where(WaitingReport.msisdn == OutboundSms.msisdn),
    ]
    if not db.scalar(select(exists().where(*stale))):
        return 0
    # How far the reports have come (no index: a report's update stays HOT; this
    # runs only while a claim is stale).
    newest, reached = db.execute(
        select(func.max(OutboundSms.reported_at), func.max(OutboundSms.sent_at)).where(
            OutboundSms.campaign_id == campaign.id, OutboundSms.reported_at.is_not(None)
        )
    ).one()
    flowing = newest is not None and newest >= cutoff
    if not flowing and reports_seen_since(cutoff):
        # Reports come in for other messages while this campaign's answered
        # ones still wait for theirs: its reports are behind a backlog.
        flowing = bool(
            db.scalar(
                select(
                    exists().where(
                        OutboundSms.campaign_id == campaign.id,
                        OutboundSms.gateway_message_id.is_not(None),
                        OutboundSms.reported_at.is_(None),
                    )
                )
            )
        )
    if flowing:
        if reached is None:  # none of this campaign's reports is in yet: wait
            db.rollback()
            return 0
        stale.append(OutboundSms.claimed_at < reached - timedelta(seconds=slack))
    put_back = db.execute(
        update(OutboundSms)
        .where(*stale)
        .values(status=SmsStatus.QUEUED, claimed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.commit()
    if put_back:
        log.warning(
            "campaign %s: %s claims with no answer put back in the queue", campaign.id, put_back
        )
    return int(put_back)


def requeue_lost(db: Session, campaign: Campaign, now: datetime) -> int:
    """Enqueue batch jobs again for queued rows that are due (their jobs were
    lost, or gave up retrying): one per ``SMS_BATCH_SIZE`` rows of each group,
    numbered in SQL (a window function), so no id list is held in memory.
    Duplicate jobs are harmless: a row is claimed once. Returns how many rows."""
    size = current_app.config["SMS_BATCH_SIZE"]
    due = (
        select(
            OutboundSms.id,
            OutboundSms.language,
            OutboundSms.area_id,
            (
                (
                    func.row_number().over(
                        partition_by=(OutboundSms.language, OutboundSms.area_id),
                        order_by=OutboundSms.id,
                    )
                    - 1
                )
                // size
            ).label("batch"),
        )
        .where(
            OutboundSms.campaign_id == campaign.id,
            OutboundSms.status == SmsStatus.QUEUED,
            (OutboundSms.not_before.is_(None)) | (OutboundSms.not_before <= now),
        )
        .subquery()
    )
    batches = db.execute(
        select(
            due.c.language, due.c.area_id, func.min(due.c.id), func.max(due.c.id), func.count()
        ).group_by(due.c.language, due.c.area_id, due.c.batch)
    ).all()
    for language, area_id, first, last, _ in batches:
        group = (language or campaign.default_language, area_id)
        _enqueue_batch(campaign.id, group, first, last, None)
    return sum(n for *_, n in batches)


def schedule_tick() -> bool:
    """Run ``tick`` every ``TICK_SECONDS`` while a worker runs the scheduler: one
    chain per Redis (a lock key). Returns whether this call started the chain."""
    if not current_app.config["REDIS_URL"]:
        return False
    from app.redis_store import get_redis

    if not get_redis().set(TICK_LOCK, "1", nx=True, ex=TICK_SECONDS * 2):
        return False
    queue(DEFAULT).enqueue_in(timedelta(seconds=TICK_SECONDS), _tick_and_reschedule)
    return True


@job
def _tick_and_reschedule() -> dict[str, int]:
    from app.redis_store import get_redis

    try:
        return tick()
    finally:
        get_redis().delete(TICK_LOCK)
        schedule_tick()
