"""Group-level tables written as TSV + JSON sidecar: every column described, values round-trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_stats import make_table

from ieegrsa.config import load_config
from ieegrsa.errors import DataError
from ieegrsa.stats import (
    cluster_test,
    compare_models,
    compare_regressions,
    mixed_model,
    patient_summary,
    write_stats_table,
)


@pytest.fixture(scope="module")
def table():
    return make_table(n_subjects=6)


def _tables(table):
    one_window = table[table.window_start.isin([0.1, 0.15])]
    return {
        "mixedlm": mixed_model(one_window).table,
        "comparison": pd.concat([
            compare_models(one_window, "value ~ C(objective) + C(roi)",
                           "value ~ C(objective) * C(roi)", by=["window_start", "window_stop"]),
            compare_regressions(one_window)], ignore_index=True),
        "clusters": cluster_test(table, n_permutations=50).clusters,
        "patients": patient_summary(table, back_transform=True),
    }


def test_every_table_round_trips_with_described_columns(table, tmp_path):
    config = load_config({})
    for kind, frame in _tables(table).items():
        path = write_stats_table(frame, tmp_path / f"task-faces_desc-{kind}_stats.tsv", kind,
                                 extra={"Config": config.model_dump(mode="json")})
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert set(frame.columns) <= set(sidecar), kind
        assert sidecar["Config"]["stats"]["formula"] == "value ~ C(objective)"
        back = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
        assert list(back.columns) == list(frame.columns)
        for column in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[column]) and frame[column].dtype != bool:
                np.testing.assert_allclose(back[column].to_numpy(float),
                                           frame[column].to_numpy(float), rtol=1e-12,
                                           err_msg=f"{kind}.{column}")
        assert not list(tmp_path.glob("*.part"))


def test_undescribed_column_is_refused(table, tmp_path):
    with pytest.raises(DataError, match="without a description"):
        write_stats_table(pd.DataFrame({"roi": ["ventral"], "mystery": [1]}),
                          tmp_path / "x.tsv", "clusters")
    with pytest.raises(DataError, match="unknown stats table kind"):
        write_stats_table(pd.DataFrame(), tmp_path / "x.tsv", "anova")
