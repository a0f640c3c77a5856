"""Policies & benefits, Health advice and Education: categories, articles, SMS."""

from __future__ import annotations

from collections.abc import Sequence

from domain import content
from domain.sms import queue_sms
from domain.translation import N_
from menus.context import Context
from menus.menu import Items, Menu, Option, State
from models import Topic

TOPIC_TITLES = {
    Topic.POLICIES: N_("Policies & benefits"),
    Topic.HEALTH: N_("Health advice"),
    Topic.EDUCATION: N_("Education"),
}

GONE = N_("This is no longer available.")


def _topic(ctx: Context) -> Topic:
    return Topic(ctx.data["topic"])


def topic_title(ctx: Context) -> str:
    return ctx.gettext(TOPIC_TITLES[_topic(ctx)])


def categories(ctx: Context) -> Sequence[tuple[int, str]]:
    return content.list_categories(ctx.db, _topic(ctx), ctx.language)


def category_title(ctx: Context) -> str:
    return content.category_name(ctx.db, ctx.data["category"], ctx.language)


def articles(ctx: Context) -> Sequence[tuple[int, str]]:
    return content.list_articles(ctx.db, ctx.data["category"], ctx.language)


def article_title(ctx: Context) -> str:
    art = content.get_article(ctx.db, ctx.data["article"], ctx.language)
    return art.title if art else ctx.gettext(GONE)


def article_body(ctx: Context) -> str:
    art = content.get_article(ctx.db, ctx.data["article"], ctx.language)
    return art.body if art else ""


def sent_body(ctx: Context) -> str:
    return ctx.gettext(N_("We are sending this to your phone by SMS."))


def send_article_by_sms(ctx: Context) -> None:
    """Queue the article as an SMS to the caller, once per session and path."""
    ctx.run(_queue_article_sms)


def _queue_article_sms(ctx: Context) -> None:
    from workers import SMS, enqueue
    from workers.sms import send_sms

    art = content.get_article(ctx.db, ctx.data["article"], ctx.language)
    if art is None:
        return
    queued = queue_sms(
        ctx.db,
        msisdn=ctx.msisdn,
        body=f"{art.title}\n{art.body}",
        dedup_key=ctx.effect_key(),
    )
    if queued.pending:  # new, or queued before but its job may never have been enqueued
        enqueue(SMS, send_sms, queued.id)


MENU = Menu(
    name="content",
    states=[
        State(
            "categories",
            topic_title,
            items=Items(categories, key="category", dest="articles"),
            back="main:home",
            empty=N_("Nothing here yet. Please check again later."),
        ),
        State(
            "articles",
            category_title,
            items=Items(articles, key="article", dest="article"),
            back="categories",
            empty=N_("Nothing here yet. Please check again later."),
        ),
        State(
            "article",
            article_title,
            body=article_body,
            options=(Option("1", N_("Send me this by SMS"), "sent", send_article_by_sms),),
            back="articles",
        ),
        State("sent", article_title, body=sent_body, back="article"),
    ],
)
