"""USSD menus as data (one module per feature) and the engine that runs them.

Nothing here knows HTTP: the webhook in ``app/ussd.py`` parses the callback and
hands the engine a ``Caller``.
"""

from __future__ import annotations

from menus import content, household, jobs, main, market, messages, staff, staff_sms, survey
from menus.menu import Menu

#: Every menu of the service, by name. Each menu's machine is built when its
#: module is imported, once per process.
MENUS: dict[str, Menu] = {
    m.name: m
    for m in (
        main.MENU,
        content.MENU,
        staff.MENU,
        staff_sms.MENU,
        survey.MENU,
        household.MENU,
        messages.MENU,
        jobs.MENU,
        market.MENU,
    )
}
