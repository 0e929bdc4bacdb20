"""Perturbations of a careless second registration: typos, transliterations, swapped names,
day and month swapped, a mistyped or missing ID (the `fuzzy_duplicate` kind)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

from ibr_mock_data.population import Person

__all__ = ["perturb_person"]

# Common spelling variants between transliterations and dialects (applied to the first match).
_TRANSLITERATIONS = (
    ("ph", "f"), ("th", "t"), ("sh", "sy"), ("dj", "j"), ("j", "dj"), ("oo", "u"), ("ou", "u"),
    ("kh", "k"), ("ck", "k"), ("c", "k"), ("k", "c"), ("y", "i"), ("i", "y"), ("w", "u"),
    ("v", "b"), ("ei", "ey"), ("ss", "s"), ("nh", "ny"), ("lh", "ly"), ("ç", "c"), ("ã", "a"),
    ("á", "a"), ("é", "e"), ("í", "i"), ("ó", "o"), ("ú", "u"), ("ñ", "n"), ("z", "s"),
)  # fmt: skip
_NAME_PERTURBATIONS = ("typo", "transliteration", "swapped_name_order", "date_format_error")


def _typo(value: str, rng: random.Random) -> str:
    if len(value) < 3:
        return value + value[-1]
    i = rng.randrange(1, len(value))
    op = rng.randrange(3)
    if op == 0:  # drop a letter
        return value[:i] + value[i + 1 :]
    if op == 1:  # double a letter
        return value[:i] + value[i] + value[i:]
    j = i - 1  # swap two neighbours (or fall back to a drop when they are equal)
    if value[j] == value[i]:
        return value[:i] + value[i + 1 :]
    return value[:j] + value[i] + value[j] + value[i + 1 :]


def _transliterate(value: str, rng: random.Random) -> str | None:
    lower = value.lower()
    options = [(a, b) for a, b in _TRANSLITERATIONS if a in lower[1:]]
    if not options:
        return None
    a, b = rng.choice(options)
    i = lower.index(a, 1)
    return value[:i] + b + value[i + len(a) :]


def _altered_birth(birth_ord: int, rng: random.Random) -> int:
    born = dt.date.fromordinal(birth_ord)
    if born.day <= 12 and born.day != born.month:
        return dt.date(born.year, born.day, born.month).toordinal()  # day and month swapped
    year = born.year + rng.choice((-1, 1))  # a mistyped year digit
    return dt.date(year, born.month, min(born.day, 28)).toordinal()


def _mistyped_id(value: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(value))
    digit = str((int(value[i]) + rng.randrange(1, 10)) % 10)
    return value[:i] + digit + value[i + 1 :]


def perturb_person(person: Person, rng: random.Random) -> tuple[Person, tuple[str, ...]]:
    """A copy of `person` as a careless second registration would record them.

    Always removes the shared ID (dropped, or mistyped so that its check digit fails), plus one or
    two changes to name or birth date. Returns the copy and the names of the changes made.
    """
    changes: dict[str, Any] = {}
    done: list[str] = []
    for kind in rng.sample(_NAME_PERTURBATIONS, k=rng.choice((1, 1, 2))):
        if kind == "typo":
            field = rng.choice(("given_name", "surname"))
            changes[field] = _typo(changes.get(field, getattr(person, field)), rng)
        elif kind == "transliteration":
            field = rng.choice(("given_name", "surname"))
            value = _transliterate(changes.get(field, getattr(person, field)), rng)
            if value is None:
                field = "surname" if field == "given_name" else "given_name"
                value = _transliterate(changes.get(field, getattr(person, field)), rng)
            if value is None:
                changes[field] = _typo(changes.get(field, getattr(person, field)), rng)
                kind = "typo"
            else:
                changes[field] = value
        elif kind == "swapped_name_order":
            given = changes.get("given_name", person.given_name)
            surname = changes.get("surname", person.surname)
            if given == surname:
                changes["given_name"] = _typo(given, rng)
                kind = "typo"
            else:
                changes["given_name"], changes["surname"] = surname, given
        else:
            changes["birth_ord"] = _altered_birth(person.birth_ord, rng)
        done.append(kind)
    names = (changes.get("given_name", person.given_name), changes.get("surname", person.surname))
    name_kinds = {"typo", "transliteration", "swapped_name_order"}
    if name_kinds.intersection(done) and names == (person.given_name, person.surname):
        # Two changes can cancel out (a doubled letter dropped again); a typo always changes.
        changes["given_name"] = _typo(person.given_name, rng)
        if "typo" not in done:
            done.append("typo")
    if person.national_id is not None and rng.random() < 0.4:
        changes["national_id"] = _mistyped_id(person.national_id, rng)
        done.append("id_typo")
    else:
        changes["national_id"] = None
        changes["birth_registration"] = None
        done.append("missing_id")
    changes["phone"] = None
    return dataclasses.replace(person, **changes), tuple(done)
