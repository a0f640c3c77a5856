"""SMS messages: stop every SMS from Ngazi, start them again, choose topics.

What the caller was shown (opted out or not, which topics are on) is kept in
the session when they open the screen, and each choice acts on that: a choice
means what the screen said, and two copies of one callback racing each other
set the same values rather than toggling twice. Writes go through ``ctx.run``
and set values (never flip them), so running one twice does nothing more.
"""

from __future__ import annotations

from domain.subscribers import TOPICS, is_opted_out, opt_in, opt_out, set_topic, topics_of
from domain.translation import N_
from menus.context import Context
from menus.menu import Effect, Menu, Option, State, Text

MSG_TITLE = N_("SMS messages")
MSG_STOP_ALL = N_("Stop all messages")
MSG_TOPICS = N_("Topics")
MSG_START = N_("Get messages again")
MSG_CONFIRM_STOP = N_("You will get no more SMS from Ngazi.")
MSG_STOP = N_("Stop")
MSG_STOPPED = N_("Done. You will get no SMS from Ngazi. Dial again to start them.")
MSG_STARTED = N_("Done. You will get SMS from Ngazi again.")
MSG_TOPICS_HELP = N_("Choose one to switch it on or off.")
MSG_TOPIC_ON = N_("%(topic)s: on")
MSG_TOPIC_OFF = N_("%(topic)s: off")

#: Each topic of ``TOPICS`` by the name the main menu gives it.
TOPIC_NAMES = {
    "policies": N_("Policies & benefits"),
    "health": N_("Health advice"),
    "education": N_("Education"),
    "jobs": N_("Jobs"),
}

#: Session keys: whether the caller was shown "opted out", and the topics shown on.
OFF, ON_TOPICS = "sms_off", "sms_topics"


def enter(ctx: Context) -> None:
    """Effect of the main menu's entry: read whether the caller opted out."""
    ctx.data[OFF] = is_opted_out(ctx.db, ctx.subscriber_id)


def _opted_out(ctx: Context) -> bool:
    if OFF in ctx.data:
        return bool(ctx.data[OFF])
    return bool(ctx.memo(OFF, lambda: is_opted_out(ctx.db, ctx.subscriber_id)))


def _opted_in(ctx: Context) -> bool:
    return not _opted_out(ctx)


def _topics_on(ctx: Context) -> list[str]:
    if ON_TOPICS in ctx.data:
        return list(ctx.data[ON_TOPICS])
    found: list[str] = ctx.memo(ON_TOPICS, lambda: sorted(topics_of(ctx.db, ctx.subscriber_id)))
    return found


def _open_topics(ctx: Context) -> None:
    ctx.data[ON_TOPICS] = sorted(topics_of(ctx.db, ctx.subscriber_id))


def _stop(ctx: Context) -> None:
    ctx.data[OFF] = True
    ctx.run(_store_stop)


def _store_stop(ctx: Context) -> None:
    opt_out(ctx.db, ctx.msisdn, "ussd")
    ctx.db.commit()


def _start(ctx: Context) -> None:
    ctx.data[OFF] = False
    ctx.run(_store_start)


def _store_start(ctx: Context) -> None:
    opt_in(ctx.db, ctx.msisdn)
    ctx.db.commit()


def _toggle(topic: str) -> Effect:
    """Switch ``topic`` to the opposite of what the screen showed."""

    def effect(ctx: Context) -> None:
        shown = _topics_on(ctx)
        wanted = topic not in shown
        # A new list: a deferred effect keeps a shallow copy of the data.
        ctx.data[ON_TOPICS] = sorted({*shown, topic} if wanted else set(shown) - {topic})

        def store(ctx: Context) -> None:
            set_topic(ctx.db, ctx.subscriber_id, topic, wanted)
            ctx.db.commit()

        store.__name__ = f"store_topic_{topic}"
        ctx.run(store)

    effect.__name__ = f"toggle_{topic}"
    return effect


def _topic_label(topic: str) -> Text:
    def label(ctx: Context) -> str:
        state = MSG_TOPIC_ON if topic in _topics_on(ctx) else MSG_TOPIC_OFF
        return ctx.gettext(state) % {"topic": ctx.gettext(TOPIC_NAMES[topic])}

    return label


TOPIC_OPTIONS = tuple(
    Option(str(i), _topic_label(topic), "topics", _toggle(topic))
    for i, topic in enumerate(TOPICS, 1)
)

MENU = Menu(
    name="messages",
    states=[
        State(
            "home",
            MSG_TITLE,
            options=(
                Option("1", MSG_STOP_ALL, "confirm_stop", when=_opted_in),
                Option("2", MSG_TOPICS, "topics", _open_topics, when=_opted_in),
                Option("1", MSG_START, "started", _start, when=_opted_out),
            ),
            back="main:home",
        ),
        State(
            "confirm_stop",
            MSG_STOP_ALL,
            body=MSG_CONFIRM_STOP,
            options=(Option("1", MSG_STOP, "stopped", _stop),),
            back="home",
        ),
        State("stopped", MSG_TITLE, body=MSG_STOPPED, final=True),
        State("started", MSG_TITLE, body=MSG_STARTED, back="home"),
        State("topics", MSG_TOPICS, body=MSG_TOPICS_HELP, options=TOPIC_OPTIONS, back="home"),
    ],
)
