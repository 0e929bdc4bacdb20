"""Probabilistic record linkage of people with splink (Fellegi-Sunter match weights).

One model, two engines: ``train`` fits it on DuckDB (one machine) and returns the model as a
JSON-able dict; ``predict_duckdb`` and ``predict_spark`` score candidate pairs with that same
model, so both engines give the same pairs and weights. Candidate pairs come from blocking on
area and birth year, plus area and either name, so that a mistyped birth year or a swapped name
order still meets its original. Every pair keeps a match weight per field (``mw_<field>``;
``mw_tf_adj_<field>`` is the part due to how common the value is), which is what an analyst
reads to see why two records were linked.
"""

from __future__ import annotations

import json
import logging
import statistics
import unicodedata
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import RegistryFrames

__all__ = [
    "BLOCKING_RULES",
    "LINKAGE_COLUMNS",
    "duckdb_connection",
    "linkage_input",
    "load_model",
    "predict_duckdb",
    "predict_spark",
    "save_model",
    "train",
]

LINKAGE_COLUMNS = (
    "unique_id", "given_name", "surname", "birth_date", "birth_year", "sex", "area_level_1",
    "area_level_2", "id_type", "id_value",
)  # fmt: skip
_COMPARISON_NAMES = ("identifier", "name", "birth_date", "sex", "area_level_2")
_ID_RANK = ("NID", "NATIONAL_ID", "BRN")  # then any other type
# Candidate pairs, each rule in the SQL DuckDB and Spark share. Within a district: same birth date
# (names may differ), or same birth year and one name equal (a mistyped date keeps its year when
# day and month are swapped), or same birth month and one name equal (a mistyped year; its day may
# change too), or the two names swapped. Anywhere: same names and birth date (a person who moved).
# District and birth year alone pairs every two people of a district's year group, growing with
# the square of the population: 1.48 million pairs for 88,634 mock people, where these rules give
# 42,000 and still pair all 1,061 planted duplicates (docs/analytics.md).
_SAME_MONTH = "substr(l.birth_date, 6, 2) = substr(r.birth_date, 6, 2)"
BLOCKING_RULES = (
    "l.area_level_2 = r.area_level_2 and l.birth_date = r.birth_date",
    "l.area_level_2 = r.area_level_2 and l.birth_year = r.birth_year and l.surname = r.surname",
    "l.area_level_2 = r.area_level_2 and l.birth_year = r.birth_year"
    " and l.given_name = r.given_name",
    f"l.area_level_2 = r.area_level_2 and {_SAME_MONTH} and l.surname = r.surname",
    f"l.area_level_2 = r.area_level_2 and {_SAME_MONTH} and l.given_name = r.given_name",
    "l.area_level_2 = r.area_level_2 and l.given_name = r.surname and l.surname = r.given_name",
    "l.given_name = r.given_name and l.surname = r.surname and l.birth_date = r.birth_date",
)
logging.getLogger("splink").setLevel(logging.WARNING)


def _fold(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split()) or None


def linkage_input(frames: RegistryFrames) -> pd.DataFrame:
    """One row per person enrolled in a programme, with the fields the model compares."""
    enrolled = set(frames.enrolments["subject_key"])
    people = frames.subjects[
        (frames.subjects["kind"] == "person") & frames.subjects["subject_key"].isin(enrolled)
    ]
    ids = frames.identifiers.assign(
        rank=lambda f: f["identifier_type"].map(
            lambda t: _ID_RANK.index(t) if t in _ID_RANK else len(_ID_RANK)
        )
    )
    best = ids.sort_values(["subject_key", "rank"]).drop_duplicates("subject_key")
    best = best.set_index("subject_key")
    birth = pd.to_datetime(people["birth_date"], errors="coerce")
    out = pd.DataFrame(
        {
            "unique_id": people["subject_key"].astype(str),
            "given_name": people["given_name"].map(_fold),
            "surname": people["surname"].map(_fold),
            "birth_date": birth.dt.strftime("%Y-%m-%d"),
            "birth_year": birth.dt.year.astype("Int64").astype(str).replace("<NA>", None),
            "sex": people["sex"].map(_fold),
            "area_level_1": people["area_level_1"],
            "area_level_2": people["area_level_2"],
            "id_type": people["subject_key"].map(best["identifier_type"]),
            "id_value": people["subject_key"].map(best["identifier_value"]),
        }
    )
    return out.astype(object).where(out.notna(), None).reset_index(drop=True)


def _identifier() -> Any:
    """The best identifier each record holds: equal, national IDs one edit apart (a mistyped
    digit; not birth registrations, which are numbered in sequence so siblings' differ by one),
    same type and different (two documents: strong evidence of two people), else.

    The m probability of "same type, different" is fixed small rather than trained: true
    duplicates almost never show it, and EM would drive it to zero, which splink refuses.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="identifier",
        comparison_levels=[
            cll.NullLevel("id_value"),
            cll.ExactMatchLevel("id_value"),
            cll.And(
                cll.ExactMatchLevel("id_type"),
                cll.LevenshteinLevel("id_value", 1),
                cll.CustomLevel("id_type_l IN ('NID', 'NATIONAL_ID')"),
            ).configure(label_for_charts="national ID one digit apart"),
            cll.ExactMatchLevel("id_type").configure(m_probability=0.002, fix_m_probability=True),
            cll.ElseLevel(),
        ],
    )


def _names() -> Any:
    """Names: exact, swapped order, similar (Jaro-Winkler), one of the two equal, else.

    Built level by level rather than with splink's ForenameSurnameComparison because that one's
    term-frequency levels fail on Spark; without them both engines score alike.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    both = ("given_name", "surname")
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.And(*(cll.NullLevel(c) for c in both)),
            cll.And(*(cll.ExactMatchLevel(c) for c in both)),
            cll.ColumnsReversedLevel(*both),
            cll.And(*(cll.JaroWinklerLevel(c, 0.92) for c in both)),
            cll.And(*(cll.JaroWinklerLevel(c, 0.88) for c in both)),
            cll.ExactMatchLevel("surname"),
            cll.ExactMatchLevel("given_name"),
            cll.ElseLevel(),
        ],
    )


def _agreeing(column: str) -> Any:
    """Equal, else. The m probability of "else" is fixed small rather than trained: no planted
    duplicate differs in sex or district, so EM shrinks it every iteration until splink refuses
    the value (below 1e-300) and with it the whole pass (docs/analytics.md)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.ElseLevel().configure(m_probability=0.001, fix_m_probability=True),
        ],
    )


def _settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _identifier(),
            _names(),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            _agreeing("sex"),
            _agreeing("area_level_2"),
        ],
        blocking_rules_to_generate_predictions=[{"blocking_rule": rule} for rule in BLOCKING_RULES],
        retain_intermediate_calculation_columns=True,
    )


# Each EM pass trains the comparisons that do not use its columns; together they train all.
_EM_PASSES = (("birth_date",), ("surname", "area_level_2"))
_U_PAIRS = 1e7  # random pairs for the u probabilities


def train(
    records: pd.DataFrame | str,
    *,
    seed: int = 1,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Any]:
    """Fit the model on ``records`` (``linkage_input``, or a table of ``connection``) with
    DuckDB; the model as a dict, for ``save_model`` and the ``predict_*`` functions.

    No labels are used: u from random pairs, m by expectation maximisation on the passes of
    ``_EM_PASSES``, each started from the same model and their estimates combined by median
    (as splink combines passes). One pass started where another stopped inherits its m
    probabilities near zero and drives them below what splink accepts.
    """
    from splink import DuckDBAPI, Linker, block_on

    connection = connection or duckdb_connection()
    db_api = DuckDBAPI(connection)
    linker = Linker(db_api.register(records), _settings())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("area_level_2", "birth_date")], recall=0.6
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=_U_PAIRS, seed=seed)
    start: dict[str, Any] = linker.misc.save_model_to_json()
    people = (
        len(records) if isinstance(records, pd.DataFrame) else connection.table(records).shape[0]
    )
    _bound_unseen_u(start, max(1.0, min(_U_PAIRS, people * (people - 1) / 2)))
    passes = [_em_pass(Linker(db_api.register(records), start), columns) for columns in _EM_PASSES]
    return _with_median_m(start, passes)


def _bound_unseen_u(model: dict[str, Any], sampled: float) -> None:
    """A level none of the ``sampled`` random pairs showed (two people holding one identifier,
    two national IDs a digit apart) gets u = 3 / ``sampled``, the rule-of-three bound, rather
    than splink's default."""
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                level.setdefault("u_probability", 3 / sampled)


def _em_pass(linker: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    from splink import block_on
    from splink.internals.exceptions import SplinkException  # splink exports none

    try:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*columns))
    except (ValueError, SplinkException) as error:
        reason = str(error).strip().splitlines()[0]
        raise AnalyticsError(
            f"linkage: the training pass on equal {' and '.join(columns)} failed: {reason}"
        ) from None
    model: dict[str, Any] = linker.misc.save_model_to_json()
    return model


def _with_median_m(model: dict[str, Any], passes: list[dict[str, Any]]) -> dict[str, Any]:
    """``model`` with each level's m the median of those the passes estimated."""
    for index, comparison in enumerate(model["comparisons"]):
        for position, level in enumerate(comparison["comparison_levels"]):
            found = (p["comparisons"][index]["comparison_levels"][position] for p in passes)
            estimates = [f["m_probability"] for f in found if "m_probability" in f]
            if estimates and not level.get("fix_m_probability"):
                level["m_probability"] = statistics.median(estimates)
    return model


def _explaining(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """The trained model written in ``dialect``'s SQL, keeping each field's match weight.

    A saved model holds its comparisons as SQL of the engine it was trained on; the same
    comparisons are generated for the other engine and given the trained probabilities.
    """
    fresh: dict[str, Any] = _settings().get_settings(dialect).as_dict()
    fresh["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    for ours, trained in zip(fresh["comparisons"], model["comparisons"], strict=True):
        levels = zip(ours["comparison_levels"], trained["comparison_levels"], strict=True)
        for level, trained_level in levels:
            for key in ("m_probability", "u_probability"):
                if key in trained_level:
                    level[key] = trained_level[key]
    fresh["retain_intermediate_calculation_columns"] = True  # training switches it off
    return fresh


def _explained(predictions: pd.DataFrame) -> pd.DataFrame:
    """Pairs with their total match weight and one weight (log2 Bayes factor) per field."""
    out = pd.DataFrame(
        {
            "subject_key_l": predictions["unique_id_l"],
            "subject_key_r": predictions["unique_id_r"],
            "match_weight": predictions["match_weight"].astype(float).round(6),
            "match_probability": predictions["match_probability"].astype(float).round(6),
        }
    )
    for column in (c for c in predictions.columns if c.startswith("mw_")):
        out[column] = predictions[column].astype(float).round(6)
    swap = out["subject_key_l"] > out["subject_key_r"]
    left = out["subject_key_l"].copy()
    out.loc[swap, "subject_key_l"] = out.loc[swap, "subject_key_r"]
    out.loc[swap, "subject_key_r"] = left[swap]
    return out.sort_values(["subject_key_l", "subject_key_r"], ignore_index=True)


def duckdb_connection(
    *, threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for scoring: every core unless ``threads``; past ``memory_limit``
    (``"3GB"``) DuckDB spills to its temporary directory instead of growing."""
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    connection.execute("SET preserve_insertion_order = false")  # lets joins stream, less memory
    try:
        if threads is not None:
            connection.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            connection.execute("SELECT set_config('memory_limit', ?)", [memory_limit])
    except duckdb.Error as error:
        raise AnalyticsError(f"linkage: bad DuckDB setting: {error}") from None
    return connection


def predict_duckdb(
    records: pd.DataFrame | str,
    model: dict[str, Any],
    threshold: float,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Pairs at or above ``threshold`` (match probability), scored on DuckDB.

    ``records``: a ``linkage_input`` frame, or the name of a table of ``connection`` holding
    its columns (then nothing is copied). Only the pairs kept reach pandas.
    """
    from splink import DuckDBAPI, Linker

    connection = connection or duckdb_connection()
    if not isinstance(records, str):
        connection.register("linkage_frame", records[list(LINKAGE_COLUMNS)])
        connection.execute(
            "CREATE OR REPLACE TEMP TABLE linkage_records AS SELECT * FROM linkage_frame"
        )
        connection.unregister("linkage_frame")
        records = "linkage_records"
    linker = Linker(DuckDBAPI(connection).register(records), _explaining(model, "duckdb"))
    found = linker.inference.predict(threshold_match_probability=threshold)
    return _explained(found.as_pandas_dataframe())  # type: ignore[no-untyped-call]


def save_model(model: dict[str, Any], path: Path) -> None:
    """Write a trained model (``train``) as JSON, to score later populations without training."""
    try:
        path.write_text(json.dumps(model, indent=2), encoding="utf-8")
    except OSError as error:
        raise AnalyticsError(f"cannot write linkage model {path}: {error.strerror}") from None


def load_model(path: Path) -> dict[str, Any]:
    """A model written by ``save_model`` (or splink's ``save_model_to_json``)."""
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AnalyticsError(f"cannot read linkage model {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise AnalyticsError(f"{path}: not a linkage model (line {error.lineno})") from None
    comparisons = model.get("comparisons") if isinstance(model, dict) else None
    if not isinstance(comparisons, list) or len(comparisons) != len(_COMPARISON_NAMES):
        raise AnalyticsError(f"{path}: not a linkage model of this version (comparisons differ)")
    names = tuple(c.get("output_column_name") for c in comparisons)
    if names != _COMPARISON_NAMES or "probability_two_random_records_match" not in model:
        raise AnalyticsError(f"{path}: not a linkage model of this version (comparisons differ)")
    return dict(model)


def predict_spark(
    records: pd.DataFrame, model: dict[str, Any], threshold: float, spark: Any
) -> pd.DataFrame:
    """The same pairs on a Spark session (its ``spark.jars`` must hold splink's similarity jar)."""
    from splink import Linker, SparkAPI

    frame = spark.createDataFrame(records.astype(str).where(records.notna(), None))
    api = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
    linker = Linker(api.register(frame), _explaining(model, "spark"))
    found = linker.inference.predict(threshold_match_probability=threshold)
    return _explained(found.as_pandas_dataframe())  # type: ignore[no-untyped-call]
