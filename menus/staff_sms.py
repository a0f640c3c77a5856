"""A cadre sends an approved SMS to the households of one of their villages that
it fits: pick the message, pick the village, see how many households and what
it costs, confirm. The campaign is made by ``domain.campaigns`` and sent by the
workers, like one an operator makes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from domain import campaigns
from domain.cadres import village_choices
from domain.translation import N_
from menus import survey
from menus.content import GONE
from menus.context import Context
from menus.menu import Items, Menu, Option, State
from models import Campaign, CampaignStatus, MessageTemplate
from models.base import utcnow

MSG_SEND_SMS = N_("Send SMS")
MSG_WHICH_MESSAGE = N_("Which message?")
MSG_WHICH_VILLAGE = N_("To which village?")
MSG_NO_TEMPLATES = N_("No approved message yet. Ask your office.")
MSG_AUDIENCE = N_("%(village)s: households %(n)d, SMS each %(parts)d, cost about %(cost)s.")
MSG_NOBODY = N_("No household in %(village)s fits this message.")
MSG_ALREADY = N_("Sent to %(village)s today already (campaign %(id)d).")
MSG_SEND = N_("Send")
MSG_SENT = N_("Sending. Households: %(n)d. Campaign %(id)d.")

#: The same message to the same village again within this is refused (a cadre
#: who sent it and came back to check would otherwise send it twice).
RESEND_AFTER = timedelta(hours=24)


def _templates(ctx: Context) -> Sequence[tuple[int, str]]:
    return [
        (t.id, t.titles.get(ctx.language) or t.titles.get("en") or t.slug)
        for t in campaigns.approved_templates(ctx.db)
    ]


def _villages(ctx: Context) -> Sequence[tuple[int, str]]:
    return village_choices(ctx.db, ctx.data["cadre"])


def _template(ctx: Context) -> MessageTemplate | None:
    found = ctx.db.get(MessageTemplate, ctx.data.get("sms_template", 0))
    return found if found is not None and found.approved else None


def _village_name(ctx: Context) -> str:
    return dict(_villages(ctx)).get(ctx.data.get("sms_village", 0), "")


def _preview(ctx: Context) -> campaigns.Preview | None:
    """The audience of the chosen message in the chosen village, counted once per
    callback; None when either is gone (or the village is no longer theirs)."""

    def compute() -> campaigns.Preview | None:
        template = _template(ctx)
        if template is None or not _village_name(ctx):
            return None
        draft = campaigns.campaign_from_template(
            ctx.db,
            template,
            village_id=ctx.data["sms_village"],
            cadre_id=ctx.data["cadre"],
            dedup_key=None,
            quiet_hours=None,
            save=False,  # built to count with, not kept
        )
        return campaigns.preview(ctx.db, draft, current_app.config["SMS_PRICE_PER_PART"])

    return ctx.memo("sms_preview", compute)  # type: ignore[no-any-return]


def _already_sent(ctx: Context) -> Campaign | None:
    """A campaign of the chosen message to the chosen village in the last
    ``RESEND_AFTER`` that was not cancelled, by anyone."""

    def find() -> Campaign | None:
        template = _template(ctx)
        village = ctx.data.get("sms_village")
        if template is None:
            return None
        recent = ctx.db.scalars(
            select(Campaign).where(
                Campaign.template_id == template.id,
                Campaign.created_at >= utcnow() - RESEND_AFTER,
                Campaign.status != CampaignStatus.CANCELLED,
                Campaign.status != CampaignStatus.DRAFT,
            )
        )
        return next((c for c in recent if c.audience.get("areas") == [village]), None)

    return ctx.memo("sms_already", find)  # type: ignore[no-any-return]


def _confirm_title(ctx: Context) -> str:
    template = _template(ctx)
    return "" if template is None else (template.titles.get(ctx.language) or template.slug)


def _confirm_body(ctx: Context) -> str:
    village = _village_name(ctx)
    if _template(ctx) is None or not village:
        return ctx.gettext(GONE)
    already = _already_sent(ctx)
    if already is not None:
        return ctx.gettext(MSG_ALREADY) % {"village": village, "id": already.id}
    found = _preview(ctx)
    if found is None or found.recipients == 0:
        return ctx.gettext(MSG_NOBODY) % {"village": village}
    parts = max(lp.parts for lp in found.languages)
    return ctx.gettext(MSG_AUDIENCE) % {
        "n": found.recipients,
        "village": village,
        "parts": parts,
        "cost": f"{found.currency} {found.cost}",
    }


def _can_send(ctx: Context) -> bool:
    if _already_sent(ctx) is not None:
        return False
    found = _preview(ctx)
    return found is not None and found.recipients > 0


def _send(ctx: Context) -> None:
    ctx.run(_create_and_send)


def _create_and_send(ctx: Context) -> None:
    """Create, schedule and start the campaign once per session and path (a
    repeated callback finds the campaign by its key)."""
    from workers.campaigns import start

    ctx.data.pop("sms_campaign", None)  # the last screen shows this send's only
    template = _template(ctx)
    # Unapproved, or the village no longer the cadre's, since the screen was
    # shown: nothing is sent (the last screen says so).
    if template is None or not _village_name(ctx):
        return
    campaign = campaigns.campaign_from_template(
        ctx.db,
        template,
        village_id=ctx.data["sms_village"],
        cadre_id=ctx.data["cadre"],
        dedup_key=ctx.effect_key(),
        quiet_hours=current_app.config["CAMPAIGN_QUIET_HOURS"],
    )
    ctx.data["sms_campaign"] = campaign.id
    if campaign.status is not CampaignStatus.DRAFT:
        return  # sent by an earlier copy of this callback
    estimate = campaigns.preview(ctx.db, campaign, current_app.config["SMS_PRICE_PER_PART"])
    campaigns.schedule(ctx.db, campaign, estimate)
    ctx.db.commit()
    start(ctx.db, campaign)


def _sent_body(ctx: Context) -> str:
    campaign = ctx.db.get(Campaign, ctx.data.get("sms_campaign", 0))
    if campaign is None or campaign.estimate is None:
        return ctx.gettext(GONE)
    return ctx.gettext(MSG_SENT) % {"n": campaign.estimate["recipients"], "id": campaign.id}


MENU = Menu(
    name="staff_sms",
    requires=survey.signed_in,
    states=[
        State(
            "template",
            MSG_WHICH_MESSAGE,
            items=Items(_templates, key="sms_template", dest="village"),
            back="staff:home",
            empty=MSG_NO_TEMPLATES,
        ),
        State(
            "village",
            MSG_WHICH_VILLAGE,
            items=Items(_villages, key="sms_village", dest="confirm"),
            back="template",
        ),
        State(
            "confirm",
            _confirm_title,
            body=_confirm_body,
            options=(Option("1", MSG_SEND, "sent", _send, when=_can_send),),
            back="village",
        ),
        State("sent", MSG_SEND_SMS, body=_sent_body, final=True),
    ],
)
