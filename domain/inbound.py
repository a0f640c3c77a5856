"""Inbound SMS: store the raw message first, then act on it and reply.

``receive`` keeps the message as the gateway posted it (once per gateway id,
even when posted twice at the same moment). ``process`` claims a stored
message and acts on it: STOP opts the number out, START back in; a produce
offer ("SELL maize 50kg 30", ``domain.offer_parser``) becomes an open offer
(``domain.market``) and is confirmed with its number; an offer with an amount
that cannot be read safely is answered with what was understood and how to
write it; SOLD/CANCEL <n> close the sender's offer; LANG <code> sets their
language; HELP and anything else get the help text. Exactly one reply, in the
sender's language. The row is never deleted: a message that failed stays
``failed`` with its error until ``flask sms retry-inbound`` runs it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from domain import job_alerts, keywords, market, offer_parser, prices
from domain.sms import queue_sms
from domain.sms_encoding import GSM7, gsm7_lookalike, text_length
from domain.sql import upsert
from domain.subscribers import (
    get_or_create_subscriber,
    opt_in,
    opt_out,
    set_language,
    superseded,
)
from domain.translation import LANGUAGES, N_, gettext_for, join_sentences
from models import Area, InboundSms, InboundStatus, OfferStatus, ProduceOffer, Subscriber
from models.base import utcnow

MSG_OPTED_OUT = N_("Ngazi: you will get no more messages from us. Reply START to get them again.")
MSG_OPTED_IN = N_("Ngazi: welcome back, you will get our messages again. Reply STOP to stop them.")
MSG_HELP = N_(
    "Ngazi: to sell, send like SELL maize 50 kg 30. JOBS for work near you. "
    "Dial %(code)s for the menu. STOP to stop SMS."
)
MSG_OFFER = N_("Offer %(n)d: %(offer)s. Reply SOLD %(n)d when sold, CANCEL %(n)d to withdraw it.")
MSG_UNCLEAR = N_("We read: %(understood)s. %(problem)s Send again like: %(example)s")
MSG_EXAMPLE = N_("SELL maize 50 kg 30")
#: What is wrong with an offer, by ``offer_parser.Unclear.problem``.
PROBLEMS = {
    "negative_quantity": N_("A quantity cannot be below zero."),
    "zero_quantity": N_("The quantity is zero."),
    "ambiguous_number": N_(
        "Write decimals with a point (30.5), thousands with nothing between (1999)."
    ),
    "no_quantity": N_("How much? Add the quantity and unit, e.g. 50 kg."),
    "no_price": N_("At what price? Add it, e.g. 30 per kg."),
    "too_large": N_("A number is too large."),
    "unknown_produce": N_("Which produce? Name it, e.g. maize."),
    "negative_price": N_("A price cannot be below zero."),
    "zero_price": N_("The price is zero."),
    "conflicting_prices": N_("There are two prices: send one."),
    "conflicting_quantities": N_("There are two quantities: send one."),
    "unit_mismatch": N_("The price is for another unit than the quantity."),
}
MSG_PROBLEM = N_("Something is missing.")
MSG_NOTHING = N_("nothing")
MSG_SOLD = N_("Offer %(n)d is marked sold. Thank you.")
MSG_CANCELLED = N_("Offer %(n)d is withdrawn.")
MSG_ALREADY = N_("Offer %(n)d is already closed.")
MSG_NO_OFFER = N_("You have no offer %(n)s. Check the number in our SMS.")
MSG_WHICH_OFFER = N_("Which offer? Send its number, like: SOLD 12")
MSG_LANGUAGE_SET = N_("Ngazi will write to you in English.")
MSG_ASK_SHARE = N_("Reply SHARE to let buyers get your number.")
MSG_SHARED = N_("Ngazi: buyers who ask will get your number for your offers. Reply HIDE to stop.")
MSG_HIDDEN = N_("Ngazi: your number stays private. Buyers cannot get it. Reply SHARE to change.")
MSG_ALERT_SET = N_("Ngazi: each week you will get the price of %(produce)s in %(area)s by SMS.")
MSG_ALERT_WHICH = N_("Which produce? Send like: ALERT maize")

#: Statuses a message can be claimed from: never processed, or processing raised.
CLAIMABLE = (InboundStatus.RECEIVED, InboundStatus.FAILED)


class InboundMessage(NamedTuple):
    """One incoming SMS, validated at the edge (``msisdn`` is E.164)."""

    gateway_id: str
    msisdn: str
    to: str
    text: str
    link_id: str | None = None
    gateway_date: str | None = None


class Received(NamedTuple):
    id: int
    created: bool  # False: the gateway had posted this id before
    status: InboundStatus


class Processed(NamedTuple):
    outcome: str  # "opt-out", "opt-in", "help", "superseded" or "ignored"
    reply_id: int | None  # the outbound SMS answering it (None: no reply)
    reply_pending: bool  # the reply still waits to be sent: enqueue ``send_sms``


def receive(
    db: Session, message: InboundMessage, status: InboundStatus = InboundStatus.RECEIVED
) -> Received:
    """Store ``message`` with ``status`` (``received``: to act on; ``throttled``:
    kept only) and commit; the same ``gateway_id`` again (even concurrently)
    stores nothing and returns the first row."""
    params = {
        "gateway_id": message.gateway_id,
        "msisdn": message.msisdn,
        "to": message.to,
        "text": message.text,
        "link_id": message.link_id,
        "gateway_date": message.gateway_date,
        "status": status,
        "received_at": utcnow(),
    }
    new_id = db.execute(_receive_insert(db), params).scalar()
    db.commit()
    if new_id is not None:
        return Received(new_id, True, status)
    row = db.execute(
        select(InboundSms.id, InboundSms.status).where(InboundSms.gateway_id == message.gateway_id)
    ).one()
    return Received(row.id, False, row.status)


_receive_inserts: dict[str, Any] = {}


def _receive_insert(db: Session) -> Any:
    """``INSERT … ON CONFLICT (gateway_id) DO NOTHING RETURNING id``, built once
    per dialect with bound parameters: building it with its values on every
    callback cost more CPU than running it (``bench.inbound``)."""
    dialect = db.get_bind().dialect.name
    stmt = _receive_inserts.get(dialect)
    if stmt is None:
        names = ("gateway_id", "msisdn", "to", "text", "link_id", "gateway_date")
        stmt = _receive_inserts[dialect] = (
            upsert(db, InboundSms)
            .values({n: bindparam(n) for n in (*names, "status", "received_at")})
            .on_conflict_do_nothing(index_elements=[InboundSms.gateway_id])
            .returning(InboundSms.id)
        )
    return stmt


def process(
    db: Session,
    inbound_id: int,
    *,
    service_code: str,
    region: str = "KE",
    offer_days: int = 14,
) -> Processed | None:
    """Act on the stored message ``inbound_id`` and queue its reply; commits.

    Returns None when the message is not claimable (already processed, or being
    processed by another run: the claim waits for that run's transaction).
    The claim, the opt-out or opt-in and the reply commit together. The reply's
    dedup key is ``inbound:<gateway id>``, so a message run twice (a retry after
    a failure) is answered once. ``service_code`` is the USSD code the help
    text names; ``region`` gives an offer its currency when the farmer names
    none; an offer is open ``offer_days`` days. Raises whatever the database
    raises; see ``mark_failed``.
    """
    claimed = db.execute(
        update(InboundSms)
        .where(InboundSms.id == inbound_id, InboundSms.status.in_(CLAIMABLE))
        .values(status=InboundStatus.PROCESSED, processed_at=utcnow(), error=None)
        .returning(
            InboundSms.id,
            InboundSms.gateway_id,
            InboundSms.msisdn,
            InboundSms.text,
            InboundSms.received_at,
        )
    ).first()
    if claimed is None:
        db.rollback()
        return None
    found = keywords.match(claimed.text)
    # The sender's record, read once: the reply's language, opt-out and consent.
    sender = db.execute(
        select(Subscriber.language, Subscriber.opted_out, Subscriber.shares_contact).where(
            Subscriber.msisdn == claimed.msisdn
        )
    ).first()
    stored = sender.language if sender is not None else None
    language = reply_language(stored, found)
    gettext = gettext_for(language)
    name = found.name if found is not None else None
    at = claimed.received_at
    body: str | None
    if name in ("stop", "start") and superseded(db, claimed.msisdn, at):
        # An older STOP or START processed late (a retry): a later wish stands.
        outcome, body = "superseded", None
    elif name == "stop":
        # One confirmation: a STOP from a number already opted out (a repeat,
        # or a number the network blacklisted) gets none.
        changed = opt_out(db, claimed.msisdn, "sms", at=at)
        outcome, body = "opt-out", gettext(MSG_OPTED_OUT) if changed else None
    elif name == "start":
        opt_in(db, claimed.msisdn, at=at)
        outcome, body = "opt-in", gettext(MSG_OPTED_IN)
    elif name == "help":
        outcome, body = "help", gettext(MSG_HELP) % {"code": service_code}
    else:
        parsed = offer_parser.parse(claimed.text)
        outcome, body = _market(db, claimed, sender, parsed, at, region, offer_days, service_code)
        if outcome == "help":
            if sender is not None and sender.opted_out:
                # Someone who said STOP gets nothing unasked: only HELP is answered.
                outcome, body = "ignored", None
            else:  # in the language the message is written in, if we know no other
                written = reply_language(stored, None, parsed.language)
                body = gettext_for(written)(MSG_HELP) % {"code": service_code}
    db.execute(update(InboundSms).where(InboundSms.id == inbound_id).values(outcome=outcome))
    if body is None:
        db.commit()
        return Processed(outcome, None, False)
    body = _fewer_parts(body)
    # queue_sms commits: the claim, the opt-out and the reply land together.
    queued = queue_sms(
        db, msisdn=claimed.msisdn, body=body, dedup_key=f"inbound:{claimed.gateway_id}"
    )
    return Processed(outcome, queued.id, queued.pending)


def _market(
    db: Session,
    claimed: Any,
    sender: Any,
    parsed: offer_parser.Parsed,
    at: datetime,
    region: str,
    offer_days: int,
    service_code: str,
) -> tuple[str, str | None]:
    """Act on an offer or a market command; ``("help", None)`` for anything else
    (the caller answers with the help text)."""
    language = reply_language(
        sender.language if sender is not None else None, None, parsed.language
    )
    gettext = gettext_for(language)
    if isinstance(parsed, offer_parser.Offer) and market.unstorable(parsed):
        parsed = offer_parser.Unclear(
            market.unstorable(parsed) or "",
            {
                "produce": parsed.produce,
                "quantity": parsed.quantity,
                "unit": parsed.unit,
                "price": parsed.unit_price or parsed.total_price,
            },
            parsed.language,
        )
    if isinstance(parsed, offer_parser.Offer):
        made = market.create_offer(
            db,
            msisdn=claimed.msisdn,
            parsed=parsed,
            inbound_id=claimed.id,
            now=at,
            days=offer_days,
            region=region,
        )
        offer = made.offer
        text = gettext(MSG_OFFER) % {"n": offer.id, "offer": market.describe(offer, language)}
        unasked = sender is None or sender.shares_contact is None
        if unasked and _first_offer(db, offer):
            # Asked once, with the first offer; no answer keeps the number private.
            text = join_sentences(language, text, gettext(MSG_ASK_SHARE))
        return "offer", text
    if isinstance(parsed, offer_parser.Unclear):
        understood = market.describe_parts(parsed.understood, language) or gettext(MSG_NOTHING)
        problem = gettext(PROBLEMS.get(parsed.problem, MSG_PROBLEM))
        text = gettext(MSG_UNCLEAR) % {
            "understood": understood,
            "problem": problem,
            "example": gettext(MSG_EXAMPLE),
        }
        return "unclear", text
    if isinstance(parsed, offer_parser.Command):
        if parsed.command in ("SOLD", "CANCEL") and parsed.arg and parsed.arg.isdigit():
            status = OfferStatus.SOLD if parsed.command == "SOLD" else OfferStatus.CANCELLED
            closed = market.close_offer(
                db, msisdn=claimed.msisdn, offer_id=int(parsed.arg), status=status, now=at
            )
            n = {"n": int(parsed.arg)}
            if closed.outcome == "closed":
                done = MSG_SOLD if status is OfferStatus.SOLD else MSG_CANCELLED
                return parsed.command.lower(), gettext(done) % n
            if closed.outcome == "already":
                return parsed.command.lower(), gettext(MSG_ALREADY) % n
            shown = parsed.arg if len(parsed.arg) <= 10 else parsed.arg[:10] + "…"
            return "no-offer", gettext(MSG_NO_OFFER) % {"n": shown}
        if parsed.command in ("SOLD", "CANCEL"):  # no number, or not one whole number
            return "no-offer", gettext(MSG_WHICH_OFFER)
        if parsed.command == "JOBS":
            return "jobs", job_alerts.sms_listing(
                db, claimed.msisdn, language, utcnow(), service_code
            )
        if parsed.command in ("SHARE", "HIDE"):
            shares = parsed.command == "SHARE"
            market.set_shares_contact(db, claimed.msisdn, shares)
            return parsed.command.lower(), gettext(MSG_SHARED if shares else MSG_HIDDEN)
        if parsed.command == "ALERT":
            if parsed.arg is None:
                return "alert", gettext(MSG_ALERT_WHICH)
            subscriber_id, _ = get_or_create_subscriber(db, claimed.msisdn)
            area_id = prices.subscribe(db, subscriber_id, parsed.arg, home=True)
            area = db.get(Area, area_id) if area_id is not None else None
            return "alert", gettext(MSG_ALERT_SET) % {
                "produce": offer_parser.produce_name(parsed.arg, language),
                "area": area.name if area is not None else gettext(prices.MSG_COUNTRY),
            }
        if parsed.command == "LANG" and parsed.arg in LANGUAGES:
            subscriber_id, _ = get_or_create_subscriber(db, claimed.msisdn)
            set_language(db, subscriber_id, parsed.arg)
            return "language", gettext_for(parsed.arg)(MSG_LANGUAGE_SET)
    return "help", None


def _first_offer(db: Session, offer: ProduceOffer) -> bool:
    """Whether ``offer`` is the first its seller made."""
    return not db.scalar(
        select(ProduceOffer.id)
        .where(ProduceOffer.msisdn == offer.msisdn, ProduceOffer.id != offer.id)
        .limit(1)
    )


def _fewer_parts(body: str) -> str:
    """``body`` with GSM-7 lookalikes (``ï`` → ``i``) when that makes it all GSM-7:
    a French reply then takes 160 characters a part, not 70. Chinese is kept."""
    folded = gsm7_lookalike(body)
    return folded if text_length(folded).encoding == GSM7 else body


def reply_language(
    stored: str | None, keyword: keywords.Keyword | None, written: str | None = None
) -> str:
    """The language to answer a sender in: the one they chose (``stored``), else
    the keyword's ("ACHA" is Kiswahili), else the one the message is written
    in, else English."""
    if stored:
        return stored
    if keyword is not None:
        return keyword.language
    return written if written in LANGUAGES else "en"


def mark_failed(db: Session, inbound_id: int, error: BaseException) -> None:
    """Record that processing ``inbound_id`` raised ``error`` (kept for a retry).
    Call after a rollback. Does not commit."""
    db.execute(
        update(InboundSms)
        .where(InboundSms.id == inbound_id)
        .values(status=InboundStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
    )


def retryable(db: Session) -> list[int]:
    """Ids of the messages not processed yet (``received``, its job perhaps never
    enqueued) or whose processing raised (``failed``), oldest first."""
    return list(
        db.scalars(
            select(InboundSms.id).where(InboundSms.status.in_(CLAIMABLE)).order_by(InboundSms.id)
        )
    )
