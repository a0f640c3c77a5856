"""The area tree (province → county → village) read upwards: an area's chain of
parents, the county or province around it. ``domain.campaigns.areas_under``
reads it downwards."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Area, AreaLevel


def ancestors(db: Session, area_ids: Sequence[int]) -> dict[int, list[int]]:
    """``{area id: [itself, parent, grandparent, …]}`` (one query per level);
    an unknown id maps to ``[]``."""
    parents: dict[int, int | None] = {}
    todo = set(area_ids)
    while todo:
        rows = db.execute(select(Area.id, Area.parent_id).where(Area.id.in_(todo))).all()
        parents.update({row[0]: row[1] for row in rows})
        todo = {row[1] for row in rows if row[1] is not None and row[1] not in parents}
    out: dict[int, list[int]] = {}
    for area_id in area_ids:
        chain: list[int] = []
        node: int | None = area_id
        while node is not None and node in parents and node not in chain:
            chain.append(node)
            node = parents[node]
        out[area_id] = chain
    return out


def enclosing(db: Session, area_id: int, level: AreaLevel) -> Area | None:
    """The area of ``level`` that ``area_id`` is in (itself when it is of that
    level), or None (a province is in no county; an unknown id is in nothing)."""
    for ident in ancestors(db, [area_id]).get(area_id, []):
        area = db.get(Area, ident)
        if area is not None and area.level is level:
            return area
    return None


def county_of(db: Session, area_id: int) -> int:
    """The county around ``area_id``, or the area itself when it is not in one
    (a province): where alerts about a village's prices or jobs are sent."""
    county = enclosing(db, area_id, AreaLevel.COUNTY)
    return county.id if county is not None else area_id
