"""The console's English names for what a survey classifies (one place for the
analytics tables and a household's record). Villagers never see these: their
screens are translated in ``locales/``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from domain import mpi

#: Global-MPI indicators (``domain.mpi.INDICATORS``), OPHI's names.
INDICATORS: Mapping[str, str] = MappingProxyType(
    {
        "years_of_schooling": "Years of schooling",
        "school_attendance": "School attendance",
        "child_mortality": "Child mortality",
        "nutrition": "Nutrition",
        "electricity": "Electricity",
        "sanitation": "Sanitation",
        "drinking_water": "Drinking water",
        "housing": "Housing",
        "cooking_fuel": "Cooking fuel",
        "assets": "Assets",
    }
)
DIMENSIONS: Mapping[str, str] = MappingProxyType(
    {"education": "Education", "health": "Health", "living_standards": "Living standards"}
)
#: An indicator's dimension, by name.
DIMENSION_OF: Mapping[str, str] = MappingProxyType(
    {name: DIMENSIONS[dim] for dim, names in mpi.DIMENSIONS.items() for name in names}
)
#: "Two no-worries, three guarantees" (两不愁三保障) and safe water, by need
#: (the survey's ``<need>_ok`` columns).
GUARANTEES: Mapping[str, str] = MappingProxyType(
    {
        "food": "Enough food (no worry)",
        "clothing": "Enough clothing (no worry)",
        "education": "Compulsory education (no child of 6-15 out of school)",
        "medical": "Basic medical care (every member insured)",
        "housing": "Safe housing",
        "water": "Safe drinking water (JMP basic)",
    }
)
#: WHO/UNICEF JMP drinking-water service levels, best first.
WATER_LEVELS: Mapping[str, str] = MappingProxyType(
    {
        "basic": "Basic",
        "limited": "Limited (over 30 minutes)",
        "unimproved": "Unimproved",
        "surface_water": "Surface water",
    }
)
SANITATION_LEVELS: Mapping[str, str] = MappingProxyType(
    {
        "basic": "Basic",
        "limited": "Limited (shared)",
        "unimproved": "Unimproved",
        "open_defecation": "Open defecation",
    }
)
