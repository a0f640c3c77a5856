"""Personal data out of the logs: every record's text has its phone numbers masked
(``+254712345601`` → ``+2547******01``, as ``domain.phone.mask_msisdn``) and the
values of secret query parameters (``?token=…``) replaced by ``***``.

``install()`` wraps logging's record factory, so every record made in the process
is masked when it is made, whatever logger made it (``app.*``, ``domain.*``,
``menus.*``, ``workers.*``, ``ngazi.*``, werkzeug's request lines, RQ, gunicorn)
and whatever handler later writes it, including handlers configured after the
app starts (werkzeug's and RQ's are added lazily) and logging's last resort. A
filter on the handlers would miss those; a record factory is the one place every
record passes through (``logging.setLogRecordFactory``).

What is masked: the message with its arguments, the formatted traceback of
``exc_info`` and ``stack_info``. A record whose text needs no masking is left
as it was (its ``args`` and ``exc_info`` kept); one that does gets its message
rendered and masked (``args`` dropped) and its traceback rendered once and
masked into ``exc_text`` with ``exc_info`` cleared, so no formatter can render
the raw traceback again (``logging.Formatter`` prints ``exc_text`` as given).

``MaskingFilter`` does the same as a ``logging.Filter``, for a logging
configuration that prefers filters on its handlers.

What is not recognised: numbers written without the ``+`` (``0712…``, ``254…``);
the app logs E.164 numbers only, and the database errors that could carry
others have their parameters hidden (``app.db.make_engine``). Names, SMS texts,
PINs and passwords are never passed to a log call (docs/privacy.md).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

#: ``+`` (or ``%2B``, URL-encoded) then 7–15 digits not followed by another digit.
_NUMBER = re.compile(r"(?<![\w+])(\+|%2[Bb])(\d{7,15})(?!\d)")
#: Secret query parameters (the callbacks' ``?token=``) and form fields.
_SECRET = re.compile(r"(?i)\b(token|api_?key|password|pin)=([^&\s\"']+)")


def _mask_digits(match: re.Match[str]) -> str:
    prefix, digits = match.group(1), match.group(2)
    # mask_msisdn keeps "+" and four digits, and the last two.
    return prefix + digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def mask_text(text: str) -> str:
    """``text`` with every ``+``-prefixed phone number masked as ``mask_msisdn``
    masks it, and every ``token=…`` (``password=``, ``pin=``, ``api_key=``)
    value replaced by ``***``."""
    if "+" not in text and "%2" not in text and "=" not in text:
        return text  # the common case, cheaply
    text = _NUMBER.sub(_mask_digits, text)
    return _SECRET.sub(lambda m: m.group(1) + "=***", text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ``record`` in place (see the module's docstring); returns it."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it when it formats
        return record
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[0] is not None:
        raw = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        safe = mask_text(raw)
        if safe != raw:
            record.exc_text, record.exc_info = safe, None
    elif record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    return record


class MaskingFilter(logging.Filter):
    """A filter that masks each record it sees (and lets it through)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_installed: Callable[..., logging.LogRecord] | None = None


def install() -> None:
    """Mask every log record this process makes from now on. Idempotent."""
    global _installed
    current = logging.getLogRecordFactory()
    if _installed is not None and current is _installed:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(current(*args, **kwargs))

    _installed = factory
    logging.setLogRecordFactory(factory)
