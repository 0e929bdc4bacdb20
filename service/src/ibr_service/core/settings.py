"""Settings of the core processes (host-independent; the host fills them from its own config)."""

from __future__ import annotations

from dataclasses import dataclass

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
    status but Deceased 2, Graduated 3, Exited 5, Withdrawn 6): Active, Suspended, Pending."""
    national_id_types: tuple[str, ...] = ("NID", "NATIONAL_ID", "NationalID", "UIN")
    """Identifier types whose value leads the subject key (see storage-and-distribution.md)."""
    max_batch_items: int = 100_000
    """Largest number of beneficiaries in one enrolment-updates request."""
