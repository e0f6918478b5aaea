"""Candidate search beside the index: filters, allowed ids, exact pools and batched search.

Every lock of the index is taken here or in ``service.indexing.service``; callers in other
packages call these functions and the index's methods, never ``lock``, ``columns`` or
``indexes`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from embeddings.index import InvertedLists
from service.indexing.columns import ORG_CODE
from service.indexing.service import MatchIndex
from service.sectors import SECTOR_BIT
from service.vocab import PARTNERSHIP_BIT


@dataclass(frozen=True)
class Filters:
    """Restrictions on the candidate side."""

    sector: str | None = None
    org_type: str | None = None
    partnership_type: str | None = None


def allowed_ids(index: MatchIndex, country: str, f: Filters) -> np.ndarray | None:
    """Ids of ``country`` passing the filters, or None when nothing is filtered."""
    cols = index.columns
    mask = None

    def both(m: np.ndarray) -> np.ndarray:
        return m if mask is None else (mask & m)

    if f.sector:
        mask = both((cols.sector_mask & SECTOR_BIT[f.sector]) != 0)
    if f.org_type:
        mask = both(cols.org == ORG_CODE[f.org_type])
    if f.partnership_type:
        bit = PARTNERSHIP_BIT[f.partnership_type]
        mask = both((cols.partnership_mask == 0) | ((cols.partnership_mask & bit) != 0))
    return None if mask is None else cols.ids_where(country, mask & cols.present)


def ids_or_all(index: MatchIndex, country: str, allowed: np.ndarray | None) -> np.ndarray:
    """``allowed`` (from ``allowed_ids``), or every indexed id of ``country`` when it is None."""
    return (
        allowed if allowed is not None else index.columns.ids_where(country, index.columns.present)
    )


def meta_of(index: MatchIndex, ids: np.ndarray) -> dict[str, np.ndarray]:
    cols = index.columns
    safe = np.where(ids >= 0, ids, 0)
    return {
        "sector_mask": cols.sector_mask[safe].astype(np.int64),
        "partnership_mask": cols.partnership_mask[safe].astype(np.int64),
        "org": cols.org[safe].astype(np.int64),
        "country": cols.country[safe].astype(np.int64),
    }


@dataclass(frozen=True)
class CandidateSource:
    """Where candidates come from: the country's FAISS index (optionally restricted to
    ``allowed``); when a filter leaves few enough profiles, an exact scan of just those; for
    batches over an IVF index, a copy of its lists searched list by list (same results)."""

    country: str
    allowed: np.ndarray | None = None
    matrix: np.ndarray | None = None  # pair vectors of ``allowed`` for the exact scan
    lists: InvertedLists | None = None  # IVF lists for batched search


def candidate_source(
    index: MatchIndex, country: str, allowed: np.ndarray | None, *, batch: bool = False
) -> CandidateSource:
    """``batch``: many queries will follow, so copying an IVF index's lists pays off."""
    with index.lock:
        if allowed is not None and len(allowed) <= index.exact_max:
            return CandidateSource(country, allowed, index.columns.pairs[allowed])
        if batch and index.indexes[country].kind == "ivf":
            return CandidateSource(country, allowed, lists=index.indexes[country].lists())
    return CandidateSource(country, allowed)


def search(
    index: MatchIndex, src: CandidateSource, queries: np.ndarray, pool: int
) -> tuple[np.ndarray, np.ndarray]:
    """(inner products, candidate ids), shape (B, <= pool); id -1 pads.

    The inner product of a query vector with a candidate's pair vector is the two-way sum
    ``cos(A.needs, B.caps) + cos(A.caps, B.needs)`` (``service.indexing.service``).
    """
    if src.lists is not None:
        return src.lists.search(queries, pool, src.allowed)
    if src.matrix is None:
        with index.lock:
            return index.indexes[src.country].search(queries, pool, src.allowed)
    n = len(src.allowed)
    if n == 0:
        return (
            np.full((len(queries), 1), -np.inf, np.float32),
            np.full((len(queries), 1), -1, np.int64),
        )
    sums = queries @ src.matrix.T
    if n <= pool:
        return sums, np.broadcast_to(src.allowed, (len(queries), n)).copy()
    pos = np.argpartition(-sums, pool - 1, axis=1)[:, :pool]
    return np.take_along_axis(sums, pos, axis=1), src.allowed[pos]


def exact_pools(
    index: MatchIndex, in_ids: np.ndarray, kr_ids: np.ndarray, pool: int, batch: int = 2048
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Candidate pools of every profile of both countries by one exact scan.

    The two-way score is symmetric (``q_a . x_b == q_b . x_a``), so one blocked product of the
    Indian query vectors with the Korean pair vectors yields both sides: row-wise top-``pool``
    for Indian profiles (``in_ids``), column-wise top-``pool`` for Korean ones (``kr_ids``).
    Returns, per country, (query ids, sums (n, P), candidate ids (n, P), -1 padded).
    """
    dim = index.dim
    with index.lock:
        x_kr = index.columns.pairs[kr_ids]
        q_in = index.columns.pairs[in_ids]
    q_in = np.concatenate([q_in[:, dim:], q_in[:, :dim]], axis=1)  # [needs | caps]
    n_in, n_kr = len(in_ids), len(kr_ids)
    p_in, p_kr = max(1, min(pool, n_kr)), max(1, min(pool, n_in))
    # Products in numpy (OpenBLAS runs twice as fast as torch's MKL on AMD CPUs), top-k in
    # torch (numpy's argpartition is several times slower).
    row_sums = np.full((n_in, p_in), -np.inf, np.float32)
    row_ids = np.full((n_in, p_in), -1, np.int64)
    col_sums = torch.full((n_kr, p_kr), -torch.inf)
    col_pos = torch.full((n_kr, p_kr), -1, dtype=torch.int64)
    for start in range(0, n_in if n_kr else 0, batch):
        sims = torch.from_numpy(q_in[start : start + batch] @ x_kr.T)
        top = torch.topk(sims, p_in, dim=1, sorted=False)
        row_sums[start : start + len(sims)] = top.values.numpy()
        row_ids[start : start + len(sims)] = kr_ids[top.indices.numpy()]
        col_sums, col_pos = merge_column_top(col_sums, col_pos, sims, start)
    col_sums, col_pos = col_sums.numpy(), col_pos.numpy()
    # no Indian profile at all (a filter can leave none): every Korean pool is empty
    kr_cand = np.where(col_pos >= 0, in_ids[np.maximum(col_pos, 0)], -1) if n_in else col_pos
    return {"IN": (in_ids, row_sums, row_ids), "KR": (kr_ids, col_sums, kr_cand)}


def merge_column_top(
    col_sums: torch.Tensor, col_pos: torch.Tensor, sims: torch.Tensor, start: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge block ``sims`` (rows ``start``.. of the scan, one column per Korean profile) into
    each column's running top-p (``col_sums``, row positions ``col_pos``; shape (n_kr, p)).

    Once every column holds p values, only entries above a column's current p-th best can
    enter it, and after the first block few do: those are picked out and merged, instead of
    transposing the whole block and taking each column's top-p of it (same result).
    """
    p = col_sums.shape[1]
    floor = col_sums.min(dim=1).values
    if torch.isinf(floor).any():  # some column not full yet: dense merge
        top = torch.topk(sims.T.contiguous(), min(p, sims.shape[0]), dim=1, sorted=False)
        merged_s = torch.cat([col_sums, top.values], dim=1)
        merged_p = torch.cat([col_pos, top.indices + start], dim=1)
    else:
        rows, cols = torch.nonzero(sims > floor, as_tuple=True)
        if len(cols) == 0:
            return col_sums, col_pos
        order = torch.argsort(cols, stable=True)
        rows, cols = rows[order], cols[order]
        counts = torch.bincount(cols, minlength=len(floor))
        touched = torch.nonzero(counts, as_tuple=True)[0]
        # slot of each entry within its column: its rank among the entries of that column
        first = torch.cumsum(counts, 0) - counts
        slot = torch.arange(len(cols)) - first[cols]
        width = int(counts.max())
        where = torch.full((len(floor),), -1, dtype=torch.int64)
        where[touched] = torch.arange(len(touched))
        new_s = torch.full((len(touched), width), -torch.inf)
        new_p = torch.full((len(touched), width), -1, dtype=torch.int64)
        new_s[where[cols], slot] = sims[rows, cols]
        new_p[where[cols], slot] = rows + start
        merged_s = torch.cat([col_sums[touched], new_s], dim=1)
        merged_p = torch.cat([col_pos[touched], new_p], dim=1)
        keep = torch.topk(merged_s, p, dim=1, sorted=False).indices
        col_sums[touched] = torch.gather(merged_s, 1, keep)
        col_pos[touched] = torch.gather(merged_p, 1, keep)
        return col_sums, col_pos
    keep = torch.topk(merged_s, p, dim=1, sorted=False).indices
    return torch.gather(merged_s, 1, keep), torch.gather(merged_p, 1, keep)
