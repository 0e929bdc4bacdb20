"""The same linkage model on a local Spark session gives the same pairs as on DuckDB."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from ibr_service.analytics.duplicates import fuzzy_duplicates

from .conftest import Population


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        if os.environ.get("IBR_REQUIRE_JAVA") == "1":
            pytest.fail(
                "IBR_REQUIRE_JAVA=1 but no java on PATH (apt-get install openjdk-17-jre-headless)"
            )
        pytest.skip("Java is not installed (apt-get install openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    session = (
        SparkSession.builder.master("local[2]")
        .appName("ibr-analytics-test")
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir("/tmp/ibr-analytics-spark-checkpoints")
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_finds_the_same_pairs_with_the_same_weights(mock: Population, spark: Any) -> None:
    on_duckdb = fuzzy_duplicates(mock.frames)
    on_spark = fuzzy_duplicates(mock.frames, model=on_duckdb.model, spark=spark)
    assert len(on_duckdb.pairs) > 10
    columns = ["subject_key_l", "subject_key_r", "programmes", "match_weight"]
    duck = on_duckdb.pairs[columns].round(4)
    sparked = on_spark.pairs[columns].round(4)
    assert duck.to_dict("records") == sparked.to_dict("records")
