from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from service.introductions.schemas import PairState
from service.profiles.schemas import ControlledTechnologies, LongText, ProfileSummary, Sectors
from service.screening.schemas import PairScreening
from service.vocab import Country


class Components(BaseModel):
    sector_fit: float = Field(description="Shared (1) or related (partial) sectors, in [0, 1].")
    complementarity: float = Field(
        description="Harmonic mean of how well each side's offer meets the other's needs."
    )
    similarity: float = Field(description="Capability similarity; high means competitors.")
    partnership_fit: float = Field(description="Partnership-type overlap and org-type fit.")
    keywords: float = Field(
        description="Share of each side's needs' keyword weight (IDF) found in the other's offer, "
        "averaged over both sides, in [0, 1]."
    )


class EvidenceOut(BaseModel):
    direction: str = Field(
        description="Who offers: partner_offers or asker_offers in match lists and search; "
        "kr_offers or in_offers in pairings and exports."
    )
    need: str = Field(description="A whole sentence of one side's needs.")
    offer: str = Field(description="The sentence of the other side's offer that answers it best.")
    similarity: float = Field(description="Cosine of the two sentences (about 0.5+ is close).")


class MatchOut(BaseModel):
    profile: ProfileSummary
    score: float
    components: Components
    explanation: str
    evidence: list[EvidenceOut]
    pair_state: PairState = Field(
        "none",
        description="How the pair stands, as the profile whose list this is sees it: none, sent "
        "(it sent an interest, unanswered), received (it has one to answer), declined (either "
        "side declined within the cooldown; listed only with include_declined=true) or "
        "introduced. Always none in ad-hoc search.",
    )
    introduction_id: str | None = Field(
        None, description="The pair's introduction, when introduced."
    )
    screening: PairScreening | None = Field(
        None,
        description="Sensitive-technology screening of the pair, an aid for officials, not "
        "legal advice: review_required when a category either side declares or is flagged for "
        "touches the pair (categories and reasons for officials only).",
    )


class MatchList(BaseModel):
    profile_id: str
    matches: list[MatchOut]


_ABSENT = {"not": {}}


class SearchRequest(BaseModel):
    # "needs, capabilities or both", stated in the schema so that clients know the rule: not
    # an object in which both are absent (``{"not": {}}`` matches nothing, so a property given
    # it may not appear). An ``anyOf`` of two ``required`` lists said the same, but client
    # generators read a top-level ``anyOf`` as "one of two untyped bodies" and dropped the
    # model (openapi-python-client typed the body ``Any``); they ignore ``not``.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"not": {"properties": {"needs": _ABSENT, "capabilities": _ABSENT}}},
    )

    needs: LongText | SkipJsonSchema[None] = Field(
        None,
        description="What the organisation seeks; candidates are ranked by how they answer it.",
    )
    capabilities: LongText | SkipJsonSchema[None] = Field(
        None,
        description="What it offers; with needs, both directions count; alone, candidates "
        "are ranked by how much they need it.",
    )
    country: Country = Field(description="The candidates' country.")
    sectors: Sectors | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    controlled_technologies: ControlledTechnologies = []

    @model_validator(mode="after")
    def _one_side(self) -> SearchRequest:
        if not (self.needs or self.capabilities):
            raise ValueError("give needs, capabilities or both")
        return self


class SearchResult(BaseModel):
    matches: list[MatchOut]


class PairingOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    in_: ProfileSummary = Field(alias="in")
    kr: ProfileSummary
    score: float
    components: Components
    explanation: str
    evidence: list[EvidenceOut]
    screening: PairScreening | None = None


class PairingList(BaseModel):
    pairings: list[PairingOut]
