"""The shipped screening model file, through the service's screener (no HTTP, no database)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from service.screening import scoring
from service.screening.engine import MODEL, Screener

FIRE_CONTROL = (
    "Our fire-control radar tracks aerial targets and directs the naval guns of frigates."
)
WEATHER = (
    "We supply Doppler weather radars for airports that warn air traffic controllers of wind shear."
)


def _flags(screener: Screener, text: str):
    # vectors as profiles store them (float16)
    vecs = screener.encoder.encode_sentences([text]).astype(np.float16).astype(np.float32)
    return screener.flags([text], vecs)


def test_shipped_model_flags_fire_control_radar_not_airport_weather_radar(encoder):
    screener = Screener(encoder)
    assert screener.model_name == json.loads(MODEL.read_text(encoding="utf-8"))["name"]
    assert set(screener.thresholds) == set(screener.vocabulary.regimes)
    flagged = _flags(screener, FIRE_CONTROL)
    regimes = {screener.vocabulary.categories[f.code].regime for f in flagged}
    assert "wassenaar_munitions" in regimes, flagged
    assert all(f.sentence == FIRE_CONTROL and 0 < f.confidence <= 1 for f in flagged)
    assert _flags(screener, WEATHER) == []


def _copy_model(tmp_path, change=None):
    """The shipped model file and its exemplar file in a folder of their own, ``change``
    applied to the parsed model."""
    raw = json.loads(MODEL.read_text(encoding="utf-8"))
    if change:
        change(raw)
    (tmp_path / MODEL.name).write_text(json.dumps(raw), encoding="utf-8")
    exemplars = MODEL.parent / raw.get("exemplars", {}).get("file", "exemplars.csv")
    if exemplars.exists():
        shutil.copy(exemplars, tmp_path / exemplars.name)
    return tmp_path / MODEL.name


def test_shipped_model_uses_exemplars_and_names_its_features(encoder):
    screener = Screener(encoder)
    assert screener.feature_names == list(scoring.FEATURES)
    assert set(screener.weights) == {"bias", *screener.feature_names}
    texts, _, _ = screener.exemplar_vectors()
    assert texts.shape[0] == len(screener.exemplars.texts) > 400
    # a sentence the exemplars hold is flagged for its category, with that sentence
    i = next(i for i, c in enumerate(screener.exemplars.codes) if c == ("ML9",))
    text = screener.exemplars.texts[i]
    assert "ML9" in {f.code for f in _flags(screener, text)}


def test_loader_refuses_unknown_features_by_name(tmp_path, encoder):
    def add(raw):
        raw["features"] = [*raw["features"], "sentiment"]
        raw["weights"]["sentiment"] = 1.0

    with pytest.raises(ValueError, match="unknown screening features.*sentiment"):
        Screener(encoder, model=_copy_model(tmp_path, add))


def test_loader_refuses_weights_that_are_not_the_features(tmp_path, encoder):
    def drop(raw):
        del raw["weights"]["regime_margin"]

    with pytest.raises(ValueError, match="regime_margin"):
        Screener(encoder, model=_copy_model(tmp_path, drop))


def test_loader_refuses_an_exemplar_file_the_model_was_not_fitted_on(tmp_path, encoder):
    path = _copy_model(tmp_path)
    with (tmp_path / "exemplars.csv").open("a", encoding="utf-8") as f:
        f.write("ML9,We build frigates.\n")
    with pytest.raises(ValueError, match="exemplar file"):
        Screener(encoder, model=path)


def test_a_model_without_exemplar_features_needs_no_exemplar_file(tmp_path, encoder):
    """The screening-v2 form: three features named by its weights, no exemplars."""
    v2 = {
        "name": "screening-v2",
        "weights": {"bias": -4.1005, "cosine": 7.4271, "term": 4.1875, "civil": -0.415},
        "thresholds": dict.fromkeys(Screener(encoder).thresholds, 0.6),
    }
    (tmp_path / "v2.json").write_text(json.dumps(v2), encoding="utf-8")
    screener = Screener(encoder, model=tmp_path / "v2.json")
    assert screener.feature_names == ["cosine", "term", "civil"] and screener.exemplars is None
    assert screener.version.endswith("/screening-v2")
    assert "ML5" in {f.code for f in _flags(screener, FIRE_CONTROL)}


def test_exemplar_margins_against_the_nearest_uncontrolled_exemplar():
    # 2 sentences, 3 exemplars (ML9, KR-SHIP, uncontrolled), categories ML9, ML5 (one regime)
    # and KR-SHIP (another)
    sims = np.array([[0.9, 0.5, 0.6], [0.2, 0.7, -1.0]])
    labels = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    uncontrolled = np.array([False, False, True])
    regime = np.array([0, 0, 1])
    cosine = np.array([[0.5, 0.4, 0.3], [0.1, 0.3, 0.8]])
    margin, regime_margin = scoring.exemplar_margins(sims, labels, uncontrolled, regime, cosine)
    # ML9: its exemplar 0.9 - 0.6; ML5 has none: its prototype cosine 0.4 - 0.6; KR-SHIP: its
    # exemplar 0.5 (above its prototype cosine 0.3) - 0.6
    assert np.allclose(margin[0], [0.3, -0.2, -0.1])
    assert np.allclose(regime_margin[0], [0.3, 0.3, -0.1])
    # the second sentence may not see the uncontrolled exemplar (-1): its floor is -1
    assert np.allclose(margin[1], [1.2, 1.3, 1.8]) and np.allclose(
        regime_margin[1], [1.2, 1.2, 1.7]
    )
