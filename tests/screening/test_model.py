"""The shipped screening model file, through the service's screener (no HTTP, no database)."""

from __future__ import annotations

import json

import numpy as np

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
