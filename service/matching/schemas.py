from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from service.profiles.schemas import LongText, ProfileSummary, Sectors
from service.vocab import Country


class Components(BaseModel):
    sector_fit: float = Field(description="Shared (1) or related (partial) sectors, in [0, 1].")
    complementarity: float = Field(
        description="Harmonic mean of how well each side's offer meets the other's needs."
    )
    similarity: float = Field(description="Capability similarity; high means competitors.")
    partnership_fit: float = Field(description="Partnership-type overlap and org-type fit.")


class MatchOut(BaseModel):
    profile: ProfileSummary
    score: float
    components: Components
    explanation: str


class MatchList(BaseModel):
    profile_id: str
    matches: list[MatchOut]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needs: LongText
    capabilities: LongText | None = None
    country: Country = Field(description="The candidates' country.")
    sectors: Sectors | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 10


class SearchResult(BaseModel):
    matches: list[MatchOut]


class PairingOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    in_: ProfileSummary = Field(alias="in")
    kr: ProfileSummary
    score: float
    components: Components
    explanation: str


class PairingList(BaseModel):
    pairings: list[PairingOut]
