"""The ranker model files: the shipped one, an earlier one, and one this code cannot score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.matching.model import DATA, DEFAULT_MODEL, FEATURES, KINDS, load


def test_the_shipped_model_has_every_feature_and_kind():
    model = load(DEFAULT_MODEL)
    assert model.name == "ranker-v2"
    assert json.loads(DEFAULT_MODEL.read_text())["features"] == list(FEATURES)
    assert set(model.kinds) == set(KINDS)


def test_an_earlier_model_scores_as_it_did_with_weight_0_on_later_features():
    v1 = json.loads((DATA / "ranker-v1.json").read_text())
    model = load(DATA / "ranker-v1.json")
    later = [FEATURES.index(f) for f in FEATURES if f not in v1["features"]]
    assert later  # bm25_caps_caps, bm25_needs_needs
    x = np.random.default_rng(0).random((7, len(FEATURES)))
    w = v1["kinds"]["both"]
    by_hand = ((x[:, : len(w["weights"])] - w["mean"]) / w["scale"]) @ w["weights"]
    assert np.allclose(model.kinds["both"].z(x), by_hand)
    x[:, later] += 5.0  # what v1 never saw cannot move its scores
    assert np.allclose(model.kinds["both"].z(x), by_hand)


def test_a_model_with_a_feature_this_code_does_not_compute_is_refused(tmp_path):
    data = json.loads(DEFAULT_MODEL.read_text())
    data["features"] = [*data["features"][:-1], "tea_leaves"]
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="tea_leaves"):
        load(path)
