"""Applying a batch of updates to the registry: every rule of docs/registry-model.md, set-wise.

    result = apply_batch(tx, items, fields=..., settings=settings, now=now)

`items` holds the updates of each accepted item of a batch, in batch order. The core reads the
state it needs in a fixed number of set-wise store calls (sources, identifiers, subjects,
enrolments, benefits, areas), decides everything in memory, and hands the store one
`RegistryWrite`. A rule violation rejects its whole item; the other items are applied.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from ibr_service.core.linkage import Linked, link
from ibr_service.core.records import (
    ApplyOutcome,
    AreaMove,
    BenefitChange,
    BenefitRecord,
    EnrolmentRecord,
    EnrolmentUpdate,
    IdentifierRecord,
    RegistryWrite,
    SourceRecord,
    StatusChange,
    SubjectRecord,
    SubjectState,
)
from ibr_service.core.rules import RuleViolationError, check_transition
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import StoreTransaction
from ibr_service.core.survivorship import MEMBER_LIST_MARK, consolidate

__all__ = ["BatchResult", "apply_batch", "no_collection_pauses"]

_REVERSING = {"4": "cancelled", "5": "reversed"}
"""codes/payment_status that undo a benefit: Cancelled, Returned.

Benefit history holds changes only (corrections, cancellations, reversals): a benefit's first
state is in `benefits` until it changes, then in the first change's `previous_amount`."""


@dataclass
class BatchResult:
    """What a batch did: per-item outcomes or rejection, and the events it raised."""

    outcomes: list[list[ApplyOutcome]]
    """Per item, one outcome per update (empty for a rejected item)."""
    rejected: dict[int, RuleViolationError] = field(default_factory=dict)
    applied: list[tuple[EnrolmentUpdate, ApplyOutcome]] = field(default_factory=list)
    """Updates that changed an enrolment, as linked, for notifications."""
    newly_deceased: list[SubjectRecord] = field(default_factory=list)
    """Subjects this batch made deceased (consolidated view)."""
    write: RegistryWrite = field(default_factory=RegistryWrite)


def apply_batch(
    tx: StoreTransaction,
    items: Sequence[Sequence[EnrolmentUpdate]],
    *,
    fields: Sequence[str],
    settings: CoreSettings,
    now: datetime,
) -> BatchResult:
    """Link, order, validate and consolidate `items`, then write them in one `RegistryWrite`."""
    with no_collection_pauses():
        return _apply_batch(tx, items, fields=fields, settings=settings, now=now)


@contextmanager
def no_collection_pauses() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is checked and applied.

    Every object a batch makes (records, rows, documents) lives until the batch ends, so the
    collections the allocations trigger find nothing to free and re-scan the whole batch every
    time: a quarter of the CPU of a 2,000-record batch. Reference counting still frees what it
    frees; the collector is re-enabled afterwards only if it was enabled before (a host that
    turned it off keeps it off; concurrent batches at worst collect as before).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _apply_batch(
    tx: StoreTransaction,
    items: Sequence[Sequence[EnrolmentUpdate]],
    *,
    fields: Sequence[str],
    settings: CoreSettings,
    now: datetime,
) -> BatchResult:
    linked = link(tx, items, settings=settings, now=now)
    result = BatchResult(outcomes=[])
    _fold_enrolments(tx, linked, fields, result, now)
    accepted = [
        (u, o)
        for i, updates in enumerate(linked.items)
        if i not in result.rejected
        for u, o in zip(updates, result.outcomes[i], strict=True)
    ]
    write = result.write
    write.identity_cases.extend(linked.cases)
    accepted_keys = {u.subject.subject_key for u, _ in accepted} | {
        m.subject_key for u, _ in accepted for m in u.members
    }
    write.identifiers.extend((k, i) for k, i in linked.new_links if k in accepted_keys)
    _consolidate_subjects(tx, accepted, result, linked.maybe_stored, now)
    _benefits(tx, accepted, write, now)
    programmes = {u.programme.programme_identifier: u.programme for u, o in accepted if _writes(o)}
    write.programmes.extend(programmes.values())
    for u, o in accepted:
        if _writes(o):
            write.memberships.extend((u.subject.subject_key, m.subject_key) for m in u.members)
    if not write.is_empty():
        tx.write_registry(write)
    return result


def _writes(outcome: ApplyOutcome) -> bool:
    return outcome.result in ("created", "updated")


# --- enrolments: order, transitions, history ---------------------------------------------


def _fold_enrolments(
    tx: StoreTransaction, linked: Linked, fields: Sequence[str], result: BatchResult, now: datetime
) -> None:
    updates = [u for item in linked.items for u in item]
    stored = tx.load_enrolments(list(dict.fromkeys(u.enrolment.enrolment_key for u in updates)))
    last_hash = {u.enrolment.enrolment_key: u.enrolment.content_hash for u in updates}
    state: dict[str, EnrolmentRecord] = dict(stored)
    final: dict[str, EnrolmentRecord] = {}
    for index, item in enumerate(linked.items):
        tentative: dict[str, EnrolmentRecord] = {}
        outcomes: list[ApplyOutcome] = []
        history = []
        try:
            for j, u in enumerate(item):
                e = u.enrolment
                key = e.enrolment_key
                before = tentative.get(key) or state.get(key)
                previous = None if before is None else before.enrolment_status
                if stored.get(key) is not None and stored[key].content_hash == last_hash[key]:
                    # The batch ends where the store already is: a re-send writes nothing.
                    outcomes.append(ApplyOutcome(key, "unchanged", previous, previous or ""))
                    continue
                if before is not None and before.content_hash == e.content_hash:
                    outcomes.append(ApplyOutcome(key, "unchanged", previous, e.enrolment_status))
                    continue
                if _older(e, before):
                    outcomes.append(ApplyOutcome(key, "stale", previous, e.enrolment_status))
                    history.append(_history(e, applied=False, now=now))
                    continue
                check_transition(
                    previous,
                    e.enrolment_status,
                    status_reason=e.status_reason,
                    field=f"{fields[index]}.programme_identifier[{j}].enrolment_status",
                )
                outcomes.append(
                    ApplyOutcome(
                        key,
                        "created" if before is None else "updated",
                        previous,
                        e.enrolment_status,
                    )
                )
                if before is None or _changes_history(before, e):
                    history.append(_history(e, applied=True, now=now))
                tentative[key] = e
        except RuleViolationError as violation:
            result.rejected[index] = violation
            result.outcomes.append([])
            continue
        state.update(tentative)
        final.update(tentative)
        result.outcomes.append(outcomes)
        result.write.status_history.extend(history)
        result.applied.extend((u, o) for u, o in zip(item, outcomes, strict=True) if _writes(o))
    result.write.enrolments.extend(final.values())


def _older(new: EnrolmentRecord, stored: EnrolmentRecord | None) -> bool:
    return (
        stored is not None
        and new.event_date is not None
        and stored.event_date is not None
        and new.event_date < stored.event_date
    )


def _changes_history(before: EnrolmentRecord, after: EnrolmentRecord) -> bool:
    """A status change, or a changed enrolment date (a re-enrolment), makes a history entry."""
    return (
        before.enrolment_status != after.enrolment_status
        or before.enrolment_date != after.enrolment_date
    )


def _history(e: EnrolmentRecord, *, applied: bool, now: datetime) -> StatusChange:
    return StatusChange(
        enrolment_key=e.enrolment_key,
        subject_key=e.subject_key,
        enrolment_status=e.enrolment_status,
        status_change_date=e.status_change_date or e.enrolment_date,
        status_reason=e.status_reason,
        recorded_at=now,
        sender_id=e.sender_id,
        enrolment_date=e.enrolment_date,
        event_date=e.event_date,
        applied=applied,
        programme_identifier=e.programme_identifier,
    )


# --- subjects: sources, survivorship, areas, deaths ----------------------------------------


def _consolidate_subjects(
    tx: StoreTransaction,
    accepted: Sequence[tuple[EnrolmentUpdate, ApplyOutcome]],
    result: BatchResult,
    maybe_stored: set[str],
    now: datetime,
) -> None:
    incoming: dict[str, SourceRecord] = {}
    for u, outcome in accepted:
        if not _writes(outcome) or u.source is None:
            continue
        incoming[u.source.source_key] = u.source
        for m in u.members:
            member_source = SourceRecord(
                source_key=f"{u.source.source_key}{MEMBER_LIST_MARK}{m.subject_key}",
                subject=m,
                sender_id=u.source.sender_id,
                programme_identifier=u.source.programme_identifier,
                beneficiary_programme_id=u.source.beneficiary_programme_id,
                event_date=u.source.event_date,
                received_at=u.source.received_at,
            )
            incoming[member_source.source_key] = member_source
    if not incoming:
        return
    keys = sorted({s.subject.subject_key for s in incoming.values()})
    listed: dict[str, list[str]] = {}
    for source in incoming.values():
        if source.subject.member_keys:
            listed.setdefault(source.subject.subject_key, []).extend(source.subject.member_keys)
    stored_keys = [k for k in keys if k in maybe_stored]
    states = tx.load_subject_states(stored_keys) if stored_keys else {}
    new_links: dict[str, list[IdentifierRecord]] = {}
    for key, identifier in result.write.identifiers:
        new_links.setdefault(key, []).append(identifier)
    sources: dict[str, dict[str, SourceRecord]] = {
        key: {s.source_key: s for s in state.sources} for key, state in states.items()
    }
    write = result.write
    for source in incoming.values():
        mine = sources.setdefault(source.subject.subject_key, {})
        stored = mine.get(source.source_key)
        if stored is not None and _source_older(source, stored):
            continue  # a stale view of this source: its newer record stays
        mine[source.source_key] = source
        write.sources.append(source)
    codes = sorted(
        {
            s.subject.area_code
            for per in sources.values()
            for s in per.values()
            if s.subject.area_code
        }
    )
    areas = tx.load_areas(codes) if codes else {}
    for key in keys:
        state = states.get(key)
        members = _member_keys(state, listed.get(key, ()))
        identifiers = [*(state.subject.identifiers if state else ()), *new_links.get(key, ())]
        subject = consolidate(
            key,
            list(sources[key].values()),
            identifiers=list(dict.fromkeys(identifiers)),
            member_keys=members,
            areas=areas,
        )
        before = state.subject if state is not None else None
        if before is not None and before.content_hash == subject.content_hash:
            continue
        write.subjects.append(subject)
        if subject.area_code != (before.area_code if before else None) and subject.area_code:
            winner = max(
                (s for s in sources[key].values() if s.subject.area_code == subject.area_code),
                key=lambda s: (s.event_date or s.received_at.date(), s.received_at),
            )
            write.area_moves.append(
                AreaMove(
                    subject_key=key,
                    area_code=subject.area_code,
                    area_levels=subject.area_levels,
                    moved_on=winner.event_date,
                    recorded_at=now,
                    source_key=winner.source_key,
                )
            )
        if subject.death_date is not None and (before is None or before.death_date is None):
            result.newly_deceased.append(subject)


def _source_older(new: SourceRecord, stored: SourceRecord) -> bool:
    return (
        new.event_date is not None
        and stored.event_date is not None
        and new.event_date < stored.event_date
    )


def _member_keys(state: SubjectState | None, listed: Iterable[str]) -> list[str]:
    """A group's members: every member any source listed (memberships are never removed)."""
    keys = list(state.subject.member_keys) if state is not None else []
    return list(dict.fromkeys([*keys, *listed]))


# --- benefits: corrections replace, reversals are explicit ---------------------------------


def _benefits(
    tx: StoreTransaction,
    accepted: Sequence[tuple[EnrolmentUpdate, ApplyOutcome]],
    write: RegistryWrite,
    now: datetime,
) -> None:
    incoming: dict[tuple[str, str], tuple[BenefitRecord, str]] = {}
    for u, outcome in accepted:
        if not _writes(outcome):
            continue
        for b in u.benefits:
            incoming[(b.enrolment_key, b.benefit_key)] = (b, u.enrolment.sender_id)
    if not incoming:
        return
    stored = tx.load_benefits(list(incoming))
    for key, (benefit, sender) in incoming.items():
        before = stored.get(key)
        if before is not None and _same_benefit(before, benefit):
            continue
        write.benefits.append(benefit)
        change = _REVERSING.get(benefit.payment_status or "")
        if change is None:
            if before is None:
                continue  # a new benefit: its current state is all there is to keep
            change = "corrected"
        write.benefit_history.append(
            BenefitChange(
                subject_key=benefit.subject_key,
                enrolment_key=benefit.enrolment_key,
                benefit_key=benefit.benefit_key,
                change=change,  # type: ignore[arg-type]
                amount=benefit.amount,
                previous_amount=None if before is None else before.amount,
                currency=benefit.currency,
                payment_status=benefit.payment_status,
                recorded_at=now,
                sender_id=sender,
            )
        )


def _same_benefit(a: BenefitRecord, b: BenefitRecord) -> bool:
    return a.document == b.document and a.amount == b.amount
