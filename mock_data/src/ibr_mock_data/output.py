"""Write a generated population to disk (CSV, JSONL, envelopes) and/or PostgreSQL, in parallel.

Workers generate and serialise whole blocks; the parent writes them strictly in block order, so
output is byte-identical whatever the number of workers, and memory holds only the blocks in
flight (never the population).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.envelopes import enrollment_update_batches
from ibr_mock_data.generate import generate_block
from ibr_mock_data.tables import COLUMNS, ENTITIES, rows

__all__ = ["FORMATS", "Format", "Summary", "serialise_block", "write_population"]

Format = Literal["csv", "jsonl", "envelopes", "postgres"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "envelopes", "postgres")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(slots=True)
class Summary:
    """Counts of what was written."""

    people: int = 0
    households: int = 0
    records: int = 0
    benefits: int = 0
    truth_cases: int = 0
    updates: int = 0
    envelopes: int = 0
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "households": self.households,
            "records": self.records,
            "benefits": self.benefits,
            "truth_cases": self.truth_cases,
            "updates": self.updates,
            "envelopes": self.envelopes,
        }


@dataclass(slots=True)
class _Chunk:
    index: int
    text: dict[str, str]  # "csv/<entity>", "jsonl/<entity>", "jsonl/beneficiaries"
    records: list[str]  # canonical beneficiary JSON, for envelopes
    updates: list[str]  # follow-up messages (JSON of {"case_id", "step", "beneficiary"})
    counts: dict[str, int]


def _csv_text(entity_rows: Iterator[tuple[Any, ...]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(entity_rows)
    return buffer.getvalue()


def _jsonl_text(entity: str, entity_rows: Iterator[tuple[Any, ...]]) -> str:
    columns = COLUMNS[entity]
    return "".join(_dumps(dict(zip(columns, row, strict=True))) + "\n" for row in entity_rows)


def serialise_block(config: GeneratorConfig, index: int, formats: Sequence[Format]) -> _Chunk:
    """Generate block `index` and serialise it for `formats` (runs in a worker process)."""
    block = generate_block(config, index)
    text: dict[str, str] = {}
    tabular = "csv" in formats or "postgres" in formats
    for entity in ENTITIES:
        if tabular:
            text[f"csv/{entity}"] = _csv_text(rows(entity, block, config))
        if "jsonl" in formats:
            text[f"jsonl/{entity}"] = _jsonl_text(entity, rows(entity, block, config))
    records: list[str] = []
    updates: list[str] = []
    if "jsonl" in formats or "envelopes" in formats:
        records = [_dumps(r) for r in block.beneficiaries(config)]
        updates = [_dumps(u) for u in block.follow_ups(config)]
        if "jsonl" in formats:
            text["jsonl/beneficiaries"] = "".join(r + "\n" for r in records)
            text["jsonl/updates"] = "".join(u + "\n" for u in updates)
        if "envelopes" not in formats:
            records = updates = []
    text["truth"] = "".join(_dumps(c.as_dict()) + "\n" for c in block.truth)
    counts = {
        "people": sum(len(h.members) for h in block.households),
        "households": len(block.households),
        "records": len(block.enrolments),
        "benefits": sum(len(e.deliveries) for e in block.enrolments),
        "truth_cases": len(block.truth),
        "updates": len(block.follow_up_messages),
    }
    return _Chunk(index=index, text=text, records=records, updates=updates, counts=counts)


def _serialise_star(args: tuple[GeneratorConfig, int, tuple[Format, ...]]) -> _Chunk:
    return serialise_block(*args)


def _chunks(config: GeneratorConfig, formats: tuple[Format, ...], workers: int) -> Iterator[_Chunk]:
    tasks = ((config, i, formats) for i in range(config.blocks))
    if workers <= 1 or config.blocks == 1:
        yield from map(_serialise_star, tasks)
        return
    # fork keeps the warm faker pools of the parent; imap keeps block order.
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        yield from pool.imap(_serialise_star, tasks, chunksize=1)


def write_population(
    config: GeneratorConfig,
    out_dir: Path | None,
    formats: Sequence[Format],
    *,
    batch_size: int = 100,
    workers: int = 1,
    database_url: str | None = None,
    on_block: Callable[[int], None] | None = None,
    envelope_time: dt.datetime | None = None,
) -> Summary:
    """Generate the population of `config` and write each of `formats`.

    Files go to `out_dir`: `csv/<entity>.csv`, `jsonl/<entity>.jsonl`,
    `jsonl/beneficiaries.jsonl` (canonical records), `jsonl/updates.jsonl` (follow-up messages in
    push order), `envelopes/enrollment_updates_NNNNNN.json` (base batches, then the follow-ups'
    batches numbered after them), and always `truth.jsonl`. `postgres` loads the staging schema
    at `database_url`.
    `on_block(people)` is called after each block (for a progress bar).
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"formats {sorted(unknown)}: valid formats are {', '.join(FORMATS)}")
    if "postgres" in formats and not database_url:
        raise ValueError("format postgres: needs database_url")
    file_formats = [f for f in formats if f != "postgres"]
    if file_formats and out_dir is None:
        raise ValueError(f"formats {file_formats}: need an output directory")
    summary = Summary()
    with ExitStack() as stack:
        files: dict[str, IO[str]] = {}

        def open_file(key: str, relative: str, header: Sequence[str] | None) -> None:
            assert out_dir is not None
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(path.open("w", encoding="utf-8", newline=""))
            if header is not None:
                handle.write(",".join(header) + "\n")
            files[key] = handle
            summary.files.append(relative)

        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            open_file("truth", "truth.jsonl", None)
            for entity in ENTITIES:
                if "csv" in formats:
                    open_file(f"csv/{entity}", f"csv/{entity}.csv", COLUMNS[entity])
                if "jsonl" in formats:
                    open_file(f"jsonl/{entity}", f"jsonl/{entity}.jsonl", None)
            if "jsonl" in formats:
                open_file("jsonl/beneficiaries", "jsonl/beneficiaries.jsonl", None)
                open_file("jsonl/updates", "jsonl/updates.jsonl", None)
        loader = None
        if "postgres" in formats:
            from ibr_mock_data.postgres import StagingLoader

            assert database_url is not None
            loader = stack.enter_context(StagingLoader(database_url))
        envelope_writer = (
            _EnvelopeWriter(config, out_dir, batch_size, envelope_time, summary)
            if "envelopes" in formats and out_dir is not None
            else None
        )
        for chunk in _chunks(config, tuple(formats), workers):
            for key, text in chunk.text.items():
                handle = files.get(key)
                if handle is not None:
                    handle.write(text)
            if loader is not None:
                loader.load({e: chunk.text[f"csv/{e}"] for e in ENTITIES})
            if envelope_writer is not None:
                envelope_writer.add(chunk.records)
                envelope_writer.add_follow_ups(chunk.updates)
            for name, value in chunk.counts.items():
                setattr(summary, name, getattr(summary, name) + value)
            if on_block is not None:
                on_block(chunk.counts["people"])
        if envelope_writer is not None:
            envelope_writer.close()
    return summary


class _EnvelopeWriter:
    """Collects canonical records across blocks and writes one file per full batch; follow-ups
    are spooled to disk (memory stays flat) and written after the last base batch."""

    def __init__(
        self,
        config: GeneratorConfig,
        out_dir: Path,
        batch_size: int,
        now: dt.datetime | None,
        summary: Summary,
    ):
        self.config = config
        self.dir = out_dir / "envelopes"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.now = now or dt.datetime.combine(config.as_of, dt.time(12, 0), tzinfo=dt.UTC)
        self.summary = summary
        self.pending: list[str] = []
        self.spool_path = self.dir / ".follow-ups.spool"
        self.spool = self.spool_path.open("w", encoding="utf-8")

    def add(self, records: list[str]) -> None:
        self.pending.extend(records)
        while len(self.pending) >= self.batch_size:
            self._flush(self.pending[: self.batch_size])
            del self.pending[: self.batch_size]

    def add_follow_ups(self, follow_ups: list[str]) -> None:
        self.spool.writelines(f + "\n" for f in follow_ups)

    def close(self) -> None:
        if self.pending:
            self._flush(self.pending)
        self.pending = []
        self.spool.close()
        with self.spool_path.open(encoding="utf-8") as spooled:
            for line in spooled:
                self.pending.append(line)
                if len(self.pending) == self.batch_size:
                    self._flush_follow_ups()
        if self.pending:
            self._flush_follow_ups()
        self.spool_path.unlink()

    def _flush_follow_ups(self) -> None:
        batch = [_dumps(json.loads(line)["beneficiary"]) for line in self.pending]
        self._flush(batch, receipt_type="update")
        self.pending = []

    def _flush(self, batch: list[str], receipt_type: str = "enrollment") -> None:
        number = self.summary.envelopes + 1
        (envelope,) = enrollment_update_batches(
            (json.loads(r) for r in batch),
            len(batch),
            self.config.sender_id,
            self.config.receiver_id,
            receipt_type=receipt_type,
            seed=self.config.seed * 1_000_000 + number,
            now=self.now + dt.timedelta(seconds=number - 1),
        )
        path = self.dir / f"enrollment_updates_{number:06d}.json"
        path.write_text(_dumps(envelope) + "\n", encoding="utf-8")
        self.summary.envelopes = number
