"""Market → My offers: the caller's open offers, to mark sold or withdraw."""

from __future__ import annotations

from domain import market
from domain.inbound import MSG_ALREADY
from domain.translation import N_
from menus.content import GONE
from menus.context import Context
from menus.market.buy import open_offer
from menus.market.picks import CLOSING, MAX_LISTED, MSG_MY_OFFERS, OFFER, listed
from menus.menu import Effect, Items, Option, State
from models import OfferStatus, ProduceOffer
from models.base import utcnow

MSG_NO_OWN_OFFERS = N_("You have no open offers.")
MSG_OFFER_NUMBER = N_("Offer %(n)d.")
MSG_MARK_SOLD = N_("Sold")
MSG_WITHDRAW = N_("Withdraw")
MSG_MARKED_SOLD = N_("Offer %(n)d is marked sold.")
MSG_WITHDRAWN = N_("Offer %(n)d is withdrawn.")


def _own_offers(ctx: Context) -> list[tuple[int, str]]:
    return listed(
        ctx,
        "mk_list_mine",
        lambda ctx: [
            (offer.id, market.describe(offer, ctx.language))
            for offer in market.offers_of(ctx.db, ctx.msisdn, utcnow())[:MAX_LISTED]
        ],
    )


def _own_offer(ctx: Context) -> ProduceOffer | None:
    offer = open_offer(ctx)
    return offer if offer is not None and offer.msisdn == ctx.msisdn else None


def _own_title(ctx: Context) -> str:
    offer = _own_offer(ctx)
    return market.describe(offer, ctx.language) if offer is not None else ctx.gettext(GONE)


def _own_body(ctx: Context) -> str:
    offer = _own_offer(ctx)
    return ctx.gettext(MSG_OFFER_NUMBER) % {"n": offer.id} if offer is not None else ""


def _is_own(ctx: Context) -> bool:
    return _own_offer(ctx) is not None


def _close(status: OfferStatus) -> Effect:
    def effect(ctx: Context) -> None:
        ctx.data[CLOSING] = status.value

        def store(ctx: Context) -> None:
            market.close_offer(
                ctx.db,
                msisdn=ctx.msisdn,
                offer_id=ctx.data.get(OFFER, 0),
                status=status,
                now=utcnow(),
            )
            ctx.db.commit()

        store.__name__ = f"store_{status.value}"
        ctx.run(store)

    effect.__name__ = f"close_{status.value}"
    return effect


def _closed_body(ctx: Context) -> str:
    """What became of the offer: marked as asked, or closed before (sold by SMS,
    expired) — read from the database, not assumed."""
    offer = ctx.db.get(ProduceOffer, ctx.data.get(OFFER, 0))
    if offer is None or offer.msisdn != ctx.msisdn:
        return ctx.gettext(GONE)
    n = {"n": offer.id}
    if offer.status.value != ctx.data.get(CLOSING):
        return ctx.gettext(MSG_ALREADY) % n
    done = MSG_MARKED_SOLD if offer.status is OfferStatus.SOLD else MSG_WITHDRAWN
    return ctx.gettext(done) % n


STATES = [
    State(
        "mine",
        MSG_MY_OFFERS,
        items=Items(_own_offers, key=OFFER, dest="my_offer"),
        back="home",
        empty=MSG_NO_OWN_OFFERS,
    ),
    State(
        "my_offer",
        _own_title,
        body=_own_body,
        options=(
            Option("1", MSG_MARK_SOLD, "closed", _close(OfferStatus.SOLD), when=_is_own),
            Option("2", MSG_WITHDRAW, "closed", _close(OfferStatus.CANCELLED), when=_is_own),
        ),
        back="mine",
    ),
    State("closed", MSG_MY_OFFERS, body=_closed_body, back="mine"),
]
