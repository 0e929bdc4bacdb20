"""Cross-programme overlaps: the same identity enrolled in programmes that must not combine.

An identity is a registry subject (``unit: person``) or a household (``unit: household``: the
group enrolled itself, or the group its enrolled member belongs to). ``detect_overlaps`` runs on
the whole registry (full recompute) or only on the identities a batch of subject keys touches
(incremental); both give the same overlaps for those identities because both run the same join.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pandas as pd

from ibr_service.analytics.frames import OPEN_STATUSES, RegistryFrames
from ibr_service.analytics.rules import ProgrammeRules

__all__ = ["OVERLAP_COLUMNS", "case_id_of", "detect_overlaps", "finish_overlaps", "overlap_pairs"]

OVERLAP_COLUMNS = (
    "case_id", "unit", "identity_key", "programme_a", "programme_b", "enrolment_key_a",
    "enrolment_key_b", "record_a", "record_b", "status_a", "status_b", "enrolment_date_a",
    "enrolment_date_b", "concurrent", "reason",
)  # fmt: skip
_UNIT_COLUMNS = ["enrolment_key", "programme_identifier", "beneficiary_programme_id"]
_UNIT_COLUMNS += ["enrolment_status", "enrolment_date", "identity_key"]


def _units(frames: RegistryFrames, enrolments: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each enrolment with the identity it is checked on, per assistance unit."""
    kinds = frames.subjects.set_index("subject_key")["kind"]
    kind = enrolments["subject_key"].map(kinds)
    person = enrolments[kind == "person"].assign(identity_key=lambda f: f["subject_key"])
    as_group = enrolments[kind == "group"].assign(identity_key=lambda f: f["subject_key"])
    groups_of = frames.memberships.rename(
        columns={"subject_key": "identity_key", "member_key": "subject_key"}
    )
    via_member = enrolments[kind == "person"].merge(groups_of, on="subject_key")
    household = pd.concat([as_group, via_member], ignore_index=True)
    return {"person": person[_UNIT_COLUMNS], "household": household[_UNIT_COLUMNS]}


def _touched_enrolments(frames: RegistryFrames, subject_keys: set[str]) -> pd.DataFrame:
    """Enrolments of every identity a batch of subjects belongs to (their households too)."""
    members = frames.memberships
    groups = set(members.loc[members["member_key"].isin(subject_keys), "subject_key"])
    groups |= subject_keys & set(members["subject_key"])
    housemates = set(members.loc[members["subject_key"].isin(groups), "member_key"])
    keys = subject_keys | groups | housemates
    return frames.enrolments[frames.enrolments["subject_key"].isin(keys)]


def case_id_of(unit: str, identity: str, enrolment_a: str, enrolment_b: str) -> str:
    digest = hashlib.sha256(f"{unit}|{identity}|{enrolment_a}|{enrolment_b}".encode())
    return f"OV-{digest.hexdigest()[:20]}"


def detect_overlaps(
    frames: RegistryFrames, rules: ProgrammeRules, subject_keys: Iterable[str] | None = None
) -> pd.DataFrame:
    """Every pair of enrolments of one identity in programmes that exclude each other.

    ``subject_keys``: check only the identities these subjects belong to (an ingested batch).
    """
    enrolments = frames.enrolments
    if subject_keys is not None:
        enrolments = _touched_enrolments(frames, set(subject_keys))
    if rules.statuses == "open":
        enrolments = enrolments[enrolments["enrolment_status"].isin(OPEN_STATUSES)]
    units = _units(frames, enrolments)
    found = []
    for rule in rules.excluded_pairs(frames.programmes()):
        table = units[rule.unit]
        a, b = rule.programmes
        left = table[table["programme_identifier"] == a]
        right = table[table["programme_identifier"] == b]
        pairs = left.merge(right, on="identity_key", suffixes=("_a", "_b"))
        if pairs.empty:
            continue
        found.append(
            pd.DataFrame(
                {
                    "unit": rule.unit,
                    "identity_key": pairs["identity_key"],
                    "programme_a": a,
                    "programme_b": b,
                    "enrolment_key_a": pairs["enrolment_key_a"],
                    "enrolment_key_b": pairs["enrolment_key_b"],
                    "record_a": pairs["beneficiary_programme_id_a"],
                    "record_b": pairs["beneficiary_programme_id_b"],
                    "status_a": pairs["enrolment_status_a"],
                    "status_b": pairs["enrolment_status_b"],
                    "enrolment_date_a": pairs["enrolment_date_a"],
                    "enrolment_date_b": pairs["enrolment_date_b"],
                    "reason": rule.reason,
                }
            )
        )
    if not found:
        return pd.DataFrame(columns=list(OVERLAP_COLUMNS))
    return finish_overlaps(pd.concat(found, ignore_index=True))


def finish_overlaps(pairs: pd.DataFrame) -> pd.DataFrame:
    """Found pairs (any source) as overlaps: one per identity and pair of enrolments, with
    ``concurrent`` (both still open) and a stable ``case_id``, in case id order."""
    out = pairs.drop_duplicates(["unit", "identity_key", "enrolment_key_a", "enrolment_key_b"])
    out = out.assign(
        concurrent=out["status_a"].isin(OPEN_STATUSES) & out["status_b"].isin(OPEN_STATUSES),
        enrolment_date_a=pd.to_datetime(out["enrolment_date_a"]),
        enrolment_date_b=pd.to_datetime(out["enrolment_date_b"]),
    )
    keys = zip(
        out["unit"],
        out["identity_key"],
        out["enrolment_key_a"],
        out["enrolment_key_b"],
        strict=True,
    )
    out.insert(0, "case_id", [case_id_of(*key) for key in keys])
    return out.sort_values("case_id", ignore_index=True)[list(OVERLAP_COLUMNS)]


def overlap_pairs(overlaps: pd.DataFrame) -> set[frozenset[str]]:
    """The overlaps as unordered pairs of programme record ids (to compare with a truth file)."""
    return {
        frozenset((str(a), str(b)))
        for a, b in zip(overlaps["record_a"], overlaps["record_b"], strict=True)
    }
