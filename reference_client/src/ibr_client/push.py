"""Pushing a programme's beneficiaries to the IBR from a file, resumable without duplicates.

Sources:

* **JSONL**: one Beneficiary per line, canonical (spec/schemas/data/beneficiary) or in a DCI
  variant spelling (normalised with ``ibr_protocol.normalise_record``). This is the form to push
  ``ibr-mock`` output in: its ``jsonl/beneficiaries.jsonl``. Its ``csv/`` tables are a relational
  dump (persons, programmes, enrolments, benefits joined by keys) for databases, not one flat
  file per programme, so they are not a CSV source here.
* **CSV**: one row per beneficiary enrolment or benefit. Rows with the same identifier and
  programme are merged into one Beneficiary (their benefits listed in row order). Columns (only
  the first four and ``enrolment_date`` are required; codes may be codes or DCI labels):

  ====================== =================================================================
  identifier_type        e.g. ``NID`` (person identifier type code)
  identifier_value       the person's identifier
  programme_identifier   the programme's id
  programme_name         the programme's name
  enrolment_date         YYYY-MM-DD
  enrolment_status       code or label (default ``Active``, code ``1``)
  status_change_date     YYYY-MM-DD
  status_reason          free text
  beneficiary_programme_id  the person's id in the programme
  assistance_unit        ``1`` individual (default); group units need JSONL
  given_name, surname, sex, birth_date, death_date   the person
  benefit_id, benefit_type, benefit_date, benefit_amount, benefit_currency,
  benefit_frequency      one benefit (``benefit_frequency``: DAILY/WEEKLY/MONTHLY/YEARLY/ONCE)
  ====================== =================================================================

Checkpoints: batch *i* of a file gets the deterministic ``transaction_id`` uuid5(file digest,
batch size, i) and is recorded in the store once the IBR accepted every item of it. A second run
of the same file skips recorded batches and sends the others again: those never answered (crash
or Ctrl-C in between) and those with rejected items (once the cause is fixed at the IBR, e.g. the
programme allowed, the rerun delivers them). A resent batch carries the same records and ids,
which the IBR upserts, so nothing is counted twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibr_protocol as proto
from ibr_client.client import IbrClient, batched
from ibr_client.errors import ConfigError, RequestInvalidError

__all__ = [
    "CSV_COLUMNS",
    "PushInterrupted",
    "PushReport",
    "Rejection",
    "push_file",
    "read_records",
    "source_key",
]

CSV_COLUMNS = (
    "identifier_type",
    "identifier_value",
    "programme_identifier",
    "programme_name",
    "enrolment_date",
    "enrolment_status",
    "status_change_date",
    "status_reason",
    "beneficiary_programme_id",
    "assistance_unit",
    "given_name",
    "surname",
    "sex",
    "birth_date",
    "death_date",
    "benefit_id",
    "benefit_type",
    "benefit_date",
    "benefit_amount",
    "benefit_currency",
    "benefit_frequency",
)
_REQUIRED_CSV = (
    "identifier_type",
    "identifier_value",
    "programme_identifier",
    "programme_name",
    "enrolment_date",
)
_NAMESPACE = uuid.UUID("6f1c2a4e-3d2b-5b8e-9c61-1b7e0c9a4d55")


@dataclass(frozen=True)
class Rejection:
    """One item the IBR rejected: its ``reference_id`` and the IBR's reason."""

    reference_id: str
    code: str
    message: str


@dataclass
class PushReport:
    batches_total: int = 0
    batches_sent: int = 0
    batches_skipped: int = 0
    batches_with_rejections: int = 0
    """Sent, but not checkpointed: a rerun sends them again."""
    records_sent: int = 0
    items_rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def batches_done(self) -> int:
        """Batches checkpointed, by this run or an earlier one."""
        return self.batches_skipped + self.batches_sent - self.batches_with_rejections

    def rejections_by_code(self) -> dict[str, int]:
        """How many items were rejected for each reason code, most frequent first."""
        return dict(Counter(r.code for r in self.rejections).most_common())


class PushInterrupted(KeyboardInterrupt):
    """Ctrl-C during a push, carrying ``report`` (how far it got). A KeyboardInterrupt, so that
    callers that stop on Ctrl-C keep doing so."""

    def __init__(self, report: PushReport) -> None:
        self.report = report
        super().__init__(
            f"push interrupted: {report.batches_done} of {report.batches_total} batch(es) done; "
            "push the same file with the same batch size again to resume"
        )


def source_key(path: Path, batch_size: int) -> str:
    """Identity of one push: the file's content digest and the batch size."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"{digest.hexdigest()}:{batch_size}"


def read_records(path: Path) -> list[dict[str, Any]]:
    """Canonical Beneficiary records from a ``.jsonl`` or ``.csv`` file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return list(_read_jsonl(path))
    if suffix == ".csv":
        return _read_csv(path)
    raise ConfigError("source file", f"{path}: use a .jsonl or .csv file, not {suffix or 'none'}")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise ConfigError("source file", f"{path}:{line_no}: not JSON: {exc}") from None
            yield proto.normalise_record("beneficiary", raw)


def _read_csv(path: Path) -> list[dict[str, Any]]:
    by_key: dict[tuple[str, str, str], dict[str, Any]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED_CSV if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError("source file", f"{path}: missing CSV column(s) {', '.join(missing)}")
        unknown = [c for c in reader.fieldnames or [] if c not in CSV_COLUMNS]
        if unknown:
            raise ConfigError(
                "source file",
                f"{path}: unknown CSV column(s) {', '.join(unknown)}; "
                f"known: {', '.join(CSV_COLUMNS)}",
            )
        for row in reader:
            cells = {k: v.strip() for k, v in row.items() if v is not None and v.strip()}
            key = (
                cells["identifier_type"],
                cells["identifier_value"],
                cells["programme_identifier"],
            )
            record = by_key.get(key)
            if record is None:
                record = by_key[key] = _beneficiary_from_row(cells)
            benefit = _benefit_from_row(cells)
            if benefit is not None:
                record["programme_identifier"][0].setdefault("benefits", []).append(benefit)
    return [proto.normalise_record("beneficiary", record) for record in by_key.values()]


def _beneficiary_from_row(cells: dict[str, str]) -> dict[str, Any]:
    identifier = {
        "identifier_type": cells["identifier_type"],
        "identifier_value": cells["identifier_value"],
    }
    person: dict[str, Any] = {"identifier": [identifier]}
    name = {k: cells[k] for k in ("given_name", "surname") if k in cells}
    if name:
        person["name"] = name
    for attribute in ("sex", "birth_date", "death_date"):
        if attribute in cells:
            person[attribute] = cells[attribute]
    enrolment: dict[str, Any] = {
        "programme": {
            "programme_identifier": cells["programme_identifier"],
            "programme_name": cells["programme_name"],
        },
        "enrolment_date": cells["enrolment_date"],
        "enrolment_status": cells.get("enrolment_status", "Active"),
    }
    for attribute in ("status_change_date", "status_reason", "beneficiary_programme_id"):
        if attribute in cells:
            enrolment[attribute] = cells[attribute]
    return {
        "assistance_unit": cells.get("assistance_unit", "1"),
        "member": {"member_identifier": [identifier], "demographic_info": person},
        "programme_identifier": [enrolment],
    }


def _benefit_from_row(cells: dict[str, str]) -> dict[str, Any] | None:
    if "benefit_type" not in cells and "benefit_date" not in cells:
        return None
    benefit: dict[str, Any] = {
        "benefit_type": cells.get("benefit_type", ""),
        "benefit_date": cells.get("benefit_date", ""),
    }
    # A stable benefit_id makes a resent row an update of the same benefit, never a second one.
    benefit["benefit_id"] = cells.get("benefit_id") or str(
        uuid.uuid5(
            _NAMESPACE,
            "|".join(
                cells.get(k, "")
                for k in (
                    "identifier_type",
                    "identifier_value",
                    "programme_identifier",
                    "benefit_type",
                    "benefit_date",
                    "benefit_amount",
                )
            ),
        )
    )
    if "benefit_amount" in cells:
        benefit["benefit_value"] = {
            "amount": cells["benefit_amount"],
            "currency": cells.get("benefit_currency", ""),
        }
    if "benefit_frequency" in cells:
        benefit["benefit_frequency"] = {"freq": cells["benefit_frequency"].upper()}
    return benefit


def push_file(
    client: IbrClient,
    path: Path,
    *,
    batch_size: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> PushReport:
    """Publish every record of ``path``, skipping batches a previous run completed (every
    item accepted). Ctrl-C raises :class:`PushInterrupted`, which says how far it got.

    ``on_batch(records_in_batch, batch_index)`` is called after each batch (sent or skipped),
    e.g. to advance a progress bar.
    """
    size = batch_size or client.config.batch_size
    records = read_records(path)
    for index, record in enumerate(records):
        try:
            proto.validate(record, "data/beneficiary")
        except proto.SchemaValidationError as exc:
            errors = [(f"record {index + 1}{e.path[1:]}", e.message) for e in exc.errors]
            raise RequestInvalidError("data/beneficiary", errors) from None
    key = source_key(path, size)
    store = client.hub.store
    done = store.completed_batches(key)
    batches = list(batched(records, size))
    report = PushReport(batches_total=len(batches))
    try:
        for index, batch in enumerate(batches):
            if index in done:
                report.batches_skipped += 1
            else:
                _send_batch(client, key, index, batch, report)
            if on_batch is not None:
                on_batch(len(batch), index)
    except KeyboardInterrupt:
        raise PushInterrupted(report) from None
    return report


def _send_batch(
    client: IbrClient, key: str, index: int, batch: list[dict[str, Any]], report: PushReport
) -> None:
    transaction_id = str(uuid.uuid5(_NAMESPACE, f"{key}:{index}"))
    answer = client.publish_batch(batch, transaction_id=transaction_id)
    rejections = _rejections(answer)
    report.batches_sent += 1
    report.records_sent += len(batch)
    report.items_rejected += len(rejections)
    report.rejections.extend(rejections)
    if rejections:
        report.batches_with_rejections += 1
    else:
        client.hub.store.mark_batch_done(key, index, transaction_id, len(batch))


def _rejections(answer: Any) -> list[Rejection]:
    data = (
        answer.model_dump(mode="json", by_alias=True, exclude_none=True)
        if hasattr(answer, "model_dump")
        else answer
    )
    return [
        Rejection(
            reference_id=str(item.get("reference_id")),
            code=str(item.get("status_reason_code") or "rjct"),
            message=str(item.get("status_reason_message") or ""),
        )
        for item in data.get("enrolled_response") or []
        if item.get("status") == "rjct"
    ]
