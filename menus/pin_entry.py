"""Typing a PIN over USSD, shared by the staff sign-in and "My household"."""

from __future__ import annotations

from domain.pins import PinCheck, check_pin, valid_pin
from domain.translation import N_
from menus.context import Context
from models.pin import PinProtected

MSG_PIN_FORMAT = N_("A PIN is 4-6 digits.")
MSG_PIN_WRONG = N_("Wrong PIN. Try again.")
MSG_PIN_LOCKED = N_("Locked. Try in 15 min.")
MSG_PIN_NOT_SET = N_("No PIN. Ask your office.")

#: The hint for each way a PIN check fails.
VERDICTS = {
    PinCheck.WRONG: MSG_PIN_WRONG,
    PinCheck.LOCKED: MSG_PIN_LOCKED,
    PinCheck.NOT_SET: MSG_PIN_NOT_SET,
}


def verify(ctx: Context, account: PinProtected, text: str) -> str | None:
    """Check the PIN typed against ``account`` and commit the count; None when
    it is right, else the hint's msgid. The PIN goes no further."""
    if not valid_pin(text):
        return MSG_PIN_FORMAT
    verdict = check_pin(ctx.db, account, text, attempt_key=ctx.effect_key())
    ctx.db.commit()
    return None if verdict is PinCheck.OK else VERDICTS[verdict]
