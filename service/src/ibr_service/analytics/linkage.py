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

import logging
import unicodedata
from typing import Any

import pandas as pd

from ibr_service.analytics.frames import RegistryFrames

__all__ = ["LINKAGE_COLUMNS", "linkage_input", "predict_duckdb", "predict_spark", "train"]

LINKAGE_COLUMNS = (
    "unique_id", "given_name", "surname", "birth_date", "birth_year", "sex", "area_level_1",
    "area_level_2", "id_type", "id_value",
)  # fmt: skip
_ID_RANK = ("NID", "NATIONAL_ID", "BRN")  # then any other type
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


def _settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _identifier(),
            _names(),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("area_level_2"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("area_level_2", "birth_year"),
            block_on("area_level_2", "surname"),
            block_on("area_level_2", "given_name"),
            block_on("area_level_1", "birth_date"),
            {"blocking_rule": "l.area_level_2 = r.area_level_2 and l.given_name = r.surname"},
        ],
        retain_intermediate_calculation_columns=True,
    )


def train(records: pd.DataFrame, *, seed: int = 1) -> dict[str, Any]:
    """Fit the model on ``records`` (``linkage_input``) with DuckDB; the model as a dict.

    No labels are used: u from random pairs, m by expectation maximisation on two blocking
    passes (same birth date; same name), each leaving the compared fields of the other free.
    """
    from splink import DuckDBAPI, Linker, block_on

    db_api = DuckDBAPI()
    linker = Linker(db_api.register(records), _settings())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("area_level_2", "birth_date")], recall=0.6
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    # Each pass trains the fields it does not block on. splink refuses an m probability that
    # EM drove to exactly 0 (seen on some populations): that pass is replaced by the next one.
    passes = [
        [block_on("birth_date")],
        [block_on("given_name", "surname"), block_on("surname", "area_level_2")],
    ]
    for options in passes:
        for rule in options:
            before = linker.misc.save_model_to_json()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
                break
            except ValueError:  # a failed pass leaves the linker half-changed: start again
                linker = Linker(db_api.register(records), before)
    model: dict[str, Any] = linker.misc.save_model_to_json()
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


def predict_duckdb(records: pd.DataFrame, model: dict[str, Any], threshold: float) -> pd.DataFrame:
    """Pairs at or above ``threshold`` (match probability), scored on DuckDB."""
    from splink import DuckDBAPI, Linker

    linker = Linker(DuckDBAPI().register(records), _explaining(model, "duckdb"))
    found = linker.inference.predict(threshold_match_probability=threshold)
    return _explained(found.as_pandas_dataframe())  # type: ignore[no-untyped-call]


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
