"""Settings of the core processes (host-independent; the host fills them from its own config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES, IdentifierTypes

__all__ = ["CoreSettings"]


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """Knobs of the IBR processes."""

    receiver_id: str = "IBR"
    """Our id: `sender_id` of callbacks and notifications."""
    default_page_size: int = 100
    max_page_size: int = 1000
    enrolled_statuses: frozenset[str] = frozenset({"1", "4", "7"})
    """Enrolment statuses that count as enrolled for `sync/enrolled` (IBR-ENROLLED-001: any
    status but Deceased 2, Graduated 3, Exited 5, Withdrawn 6): Active, Suspended, Pending.
    A deceased person is never enrolled, whatever the status of each enrolment."""
    identifier_types: IdentifierTypes = field(default=DEFAULT_IDENTIFIER_TYPES)
    """How identifiers are normalised, checked and ranked (see core/identity.py)."""
    identity_birth_year_tolerance: int = 2
    """Birth years further apart than this, for one identifier, open an identity case."""
    future_date_tolerance_days: int = 1
    """How far past today a reported date may lie (time zones, clocks) before it is refused."""
    require_consent: bool = False
    """Refuse searches about people that carry no `consent` (deployments whose law asks it)."""
    max_batch_items: int = 100_000
    """Largest number of beneficiaries in one enrolment-updates request."""
