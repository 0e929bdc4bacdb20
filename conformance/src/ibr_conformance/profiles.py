"""Which kind of system is under test."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Profile"]


class Profile(StrEnum):
    """The role the system under test claims."""

    IBR = "ibr"
    """An Integrated Beneficiary Registry: serves search, enrolled, updates, subscribe, ..."""
    SP_MIS = "sp-mis"
    """A programme MIS: serves callbacks (on-search, notify, ...) and calls an IBR."""
