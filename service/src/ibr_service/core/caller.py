"""Who is calling: built by the host after authentication, passed to every core operation."""

from __future__ import annotations

from dataclasses import dataclass, field

from ibr_service.core.records import ClientRecord

__all__ = ["Caller", "ReadScope"]


@dataclass(frozen=True, slots=True)
class ReadScope:
    """Which enrolments a caller may see: programmes and areas, None = no restriction."""

    programmes: frozenset[str] | None = None
    areas: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.programmes is None and self.areas is None

    def sees_programme(self, programme_identifier: str) -> bool:
        return self.programmes is None or programme_identifier in self.programmes


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated SP-MIS (or operator) as the core sees it.

    `allowed_programmes` limits which programmes the caller may *write* enrolments and benefits
    for; `None` means every programme (an operator or a trusted national system). `read` limits
    what searches and notifications reveal (docs/registry-model.md); `purposes` the purpose
    codes its searches may declare (None = any).
    """

    sender_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    allowed_programmes: frozenset[str] | None = None
    read: ReadScope = field(default_factory=ReadScope)
    purposes: frozenset[str] | None = None

    def may_write_programme(self, programme_identifier: str) -> bool:
        """True when this caller may publish enrolments for `programme_identifier`."""
        return self.allowed_programmes is None or programme_identifier in self.allowed_programmes

    @classmethod
    def from_client(cls, client: ClientRecord, scopes: frozenset[str] = frozenset()) -> Caller:
        """The caller a registered client acts as; `own` reads what it may write."""
        if client.read_programmes == "all":
            programmes: frozenset[str] | None = None
        elif client.read_programmes == "own":
            programmes = client.allowed_programmes
        else:
            programmes = frozenset(client.read_programmes)
        return cls(
            sender_id=client.sender_id,
            scopes=scopes,
            allowed_programmes=client.allowed_programmes,
            read=ReadScope(programmes=programmes, areas=client.read_areas),
            purposes=client.purposes,
        )
