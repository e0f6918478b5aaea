"""Each score component on small hand-made cases (pure functions, no model)."""

from __future__ import annotations

import numpy as np

from service.indexing.columns import ORG_CODE
from service.matching.scoring import complementarity, partnership_fit, sector_fit
from service.sectors import mask_of
from service.vocab import partnership_mask


def test_complementarity_prefers_two_sided_fit():
    two_sided = complementarity(np.array([0.6]), np.array([0.6]))
    one_sided = complementarity(np.array([0.9]), np.array([0.1]))
    assert two_sided[0] > one_sided[0]
    assert complementarity(np.array([0.0]), np.array([0.0]))[0] == 0


def test_sector_fit_shared_beats_related_beats_unrelated():
    semis, ai, ships = mask_of(["semiconductors"]), mask_of(["ai"]), mask_of(["shipbuilding"])
    shared = sector_fit(np.array([semis]), np.array([semis]))[0]
    related = sector_fit(np.array([semis]), np.array([ai]))[0]
    unrelated = sector_fit(np.array([semis]), np.array([ships]))[0]
    assert shared == 1.0 and 0 < related < shared and unrelated == 0
    naval = sector_fit(np.array([mask_of(["defence"])]), np.array([ships]))[0]
    assert naval > 0


def test_partnership_fit_overlap_and_org_types():
    jv, lic = partnership_mask(["joint_venture"]), partnership_mask(["technology_licensing"])
    co = ORG_CODE["company"]
    ri = ORG_CODE["research_institute"]

    def pf(ta, tb, oa, ob):
        return partnership_fit(np.array([ta]), np.array([tb]), np.array([oa]), np.array([ob]))[0]

    assert pf(jv, jv, co, co) == 1.0
    assert pf(0, jv, co, co) == 1.0  # empty means open to all
    assert pf(jv, lic, co, co) < pf(jv, jv, co, co)
    research = partnership_mask(["research_collaboration"])
    assert pf(research, research, co, ri) > pf(jv, jv, co, ri)
