"""Ready-to-send `sync/enrollment/updates` request envelopes, in batches."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["MAX_BATCH_SIZE", "enrollment_update_batches"]

MAX_BATCH_SIZE = 1000  # messages/enrollment_updates_request: beneficiaries maxItems
_NAMESPACE = uuid.UUID("6f1c1c57-3b7e-4f55-9d54-6a1bd2a0e0a1")


def enrollment_update_batches(
    records: Iterable[dict[str, Any]],
    batch_size: int,
    sender_id: str,
    receiver_id: str,
    *,
    receipt_type: str = "enrollment",
    seed: int = 0,
    now: dt.datetime | None = None,
    first_number: int = 1,
) -> Iterator[dict[str, Any]]:
    """Unsigned request envelopes of `batch_size` beneficiary records each (the last may be short).

    Message ids and transaction ids are UUIDv5 of (seed, batch number) and `message_ts` is `now`
    plus one second per batch, so the same inputs give the same envelopes. Sign them with
    `ibr_protocol.sign_envelope` just before sending; `message_ts` must then be current, so pass
    `now=None` (the current time) for envelopes that will really be sent. Batches are numbered
    from `first_number`: number follow-up batches after the base ones, so that their ids differ.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size {batch_size}: must be 1..{MAX_BATCH_SIZE} (spec maxItems)")
    if first_number < 1:
        raise ValueError(f"first_number {first_number}: must be 1 or more")
    if receipt_type not in ("enrollment", "update"):
        raise ValueError(f"receipt_type {receipt_type!r}: valid values are enrollment, update")
    batch: list[dict[str, Any]] = []
    number = first_number - 1
    for record in records:
        batch.append(record)
        if len(batch) == batch_size:
            number += 1
            yield _envelope(batch, number, sender_id, receiver_id, receipt_type, seed, now)
            batch = []
    if batch:
        yield _envelope(batch, number + 1, sender_id, receiver_id, receipt_type, seed, now)


def _envelope(
    batch: list[dict[str, Any]],
    number: int,
    sender_id: str,
    receiver_id: str,
    receipt_type: str,
    seed: int,
    now: dt.datetime | None,
) -> dict[str, Any]:
    # Imported here so that CSV/JSONL generation does not need the protocol library loaded.
    from ibr_protocol import build_request

    items = [{**record, "reference_id": f"{number}-{i}"} for i, record in enumerate(batch, start=1)]
    message = {
        "transaction_id": str(uuid.uuid5(_NAMESPACE, f"txn:{seed}:{number}")),
        "enrolled_updates": {"receipt_type": receipt_type, "beneficiaries": items},
    }
    return build_request(
        action="notify",
        message=message,
        sender_id=sender_id,
        receiver_id=receiver_id,
        total_count=len(items),
        message_id=str(uuid.uuid5(_NAMESPACE, f"msg:{seed}:{number}")),
        now=None if now is None else now + dt.timedelta(seconds=number - 1),
    )
