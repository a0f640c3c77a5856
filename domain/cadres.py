"""Cadres (field staff): accounts, their villages, and who is one.

A cadre is known by MSISDN. ``cadre_id_for`` answers "is this caller a
cadre?" on every main-menu screen, so it is cached in-process (negative answers
too) for ``CACHE_SECONDS``; adding a cadre clears the cache.
"""

from __future__ import annotations

from collections.abc import Sequence

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.phone import InvalidMsisdn, normalise_msisdn
from domain.pins import set_pin
from models import Area, AreaLevel, Cadre, CadreRole

CACHE_SECONDS = 30
_ids: TTLCache[str, int] = TTLCache(maxsize=100_000, ttl=CACHE_SECONDS)


class CadreError(ValueError):
    """A cadre that cannot be created as asked (the message says why)."""


def add_cadre(
    db: Session,
    *,
    msisdn: str,
    name: str,
    pin: str,
    villages: Sequence[str],
    role: CadreRole = CadreRole.CADRE,
    region: str = "KE",
) -> Cadre:
    """Create a cadre, or update the one with this number (name, role, PIN and
    villages replaced). ``villages`` are village names, or ``County/Village``
    where a name is not unique. Raises ``CadreError``. Does not commit."""
    try:
        number = normalise_msisdn(msisdn, region)
    except InvalidMsisdn as exc:
        raise CadreError(f"not a phone number: {msisdn!r}") from exc
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise CadreError("a name is 1 to 80 characters")
    areas = [find_village(db, v) for v in villages]
    cadre = db.scalars(select(Cadre).where(Cadre.msisdn == number)).one_or_none()
    if cadre is None:
        cadre = Cadre(msisdn=number, name=name, role=role, pin_failures=0)
        db.add(cadre)
    cadre.name, cadre.role, cadre.active = name, role, True
    cadre.villages = areas
    try:
        set_pin(cadre, pin)
    except ValueError as exc:
        raise CadreError(str(exc)) from exc
    db.flush()
    _ids.clear()
    return cadre


def deactivate_cadre(db: Session, msisdn: str, *, region: str = "KE") -> Cadre:
    """Stop a cadre from signing in; a session already signed in is sent home at
    its next input (within ``CACHE_SECONDS`` on other processes). Their surveys
    and drafts are kept. Raises ``CadreError``. Does not commit."""
    try:
        number = normalise_msisdn(msisdn, region)
    except InvalidMsisdn as exc:
        raise CadreError(f"not a phone number: {msisdn!r}") from exc
    cadre = db.scalars(select(Cadre).where(Cadre.msisdn == number)).one_or_none()
    if cadre is None:
        raise CadreError(f"no cadre {number}")
    cadre.active = False
    db.flush()
    _ids.clear()
    return cadre


def find_village(db: Session, spec: str) -> Area:
    """The village named ``spec`` (``"Shinyalu"`` or ``"Kakamega/Shinyalu"``);
    raises ``CadreError`` when none or several match."""
    county, _, village = spec.rpartition("/")
    query = select(Area).where(Area.level == AreaLevel.VILLAGE, Area.name == village.strip())
    found = list(db.scalars(query))
    if county:
        found = [a for a in found if a.parent is not None and a.parent.name == county.strip()]
    if not found:
        known = db.scalars(
            select(Area.name).where(Area.level == AreaLevel.VILLAGE).order_by(Area.name).limit(40)
        ).all()
        raise CadreError(f"no village {spec!r} (villages: {', '.join(known)})")
    if len(found) > 1:
        raise CadreError(f"several villages are called {spec!r}: write County/Village")
    return found[0]


def cadre_id_for(db: Session, msisdn: str) -> int | None:
    """The active cadre with this E.164 number, or None (cached)."""
    hit = _ids.get(msisdn)
    if hit is None:
        found = db.scalar(select(Cadre.id).where(Cadre.msisdn == msisdn, Cadre.active))
        hit = _ids[msisdn] = found or 0
    return hit or None


def clear_cache() -> None:
    _ids.clear()


def village_choices(db: Session, cadre_id: int) -> list[tuple[int, str]]:
    """The cadre's villages as ``[(area id, name)]``, by name."""
    cadre = db.get(Cadre, cadre_id)
    return [(a.id, a.name) for a in cadre.villages] if cadre else []
