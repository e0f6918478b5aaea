"""Numbers for the pairings page's pictures; the SVG itself is written by the templates (so every
label goes through Jinja's escaping). Pure functions of the domain services' results."""

from __future__ import annotations

from dataclasses import dataclass

from service.sectors import SECTORS

STRONG = 0.5  # a pair at least this good counts in the heatmap


@dataclass
class Heatmap:
    sectors: list[tuple[str, str]]  # (code, name), rows (IN) and columns (KR)
    counts: list[list[int]]
    top: int

    def shade(self, n: int) -> int:
        """0-4, the colour step of a cell (0: none)."""
        return 0 if n == 0 or self.top == 0 else 1 + min(3, (4 * n - 1) // self.top)


def heatmap(pairs: list[tuple[list[str], list[str], float]]) -> Heatmap:
    """Strong pairs (IN sectors, KR sectors, score) counted by IN sector and KR sector."""
    codes = [s.code for s in SECTORS]
    at = {c: i for i, c in enumerate(codes)}
    counts = [[0] * len(codes) for _ in codes]
    for in_sectors, kr_sectors, score in pairs:
        if score < STRONG:
            continue
        for a in in_sectors:
            for b in kr_sectors:
                counts[at[a]][at[b]] += 1
    top = max((max(row) for row in counts), default=0)
    return Heatmap([(s.code, s.name) for s in SECTORS], counts, top)


@dataclass
class Histogram:
    bins: list[tuple[float, float, int]]  # (low, high, count)
    top: int


def histogram(scores: list[float], n_bins: int = 10) -> Histogram:
    counts = [0] * n_bins
    for s in scores:
        counts[min(n_bins - 1, max(0, int(s * n_bins)))] += 1
    bins = [(i / n_bins, (i + 1) / n_bins, c) for i, c in enumerate(counts)]
    return Histogram(bins, max(counts, default=0))


FUNNEL_STEPS = (
    ("interests_sent", "Interests"),
    ("accepted", "Accepted"),
    ("introductions", "Introduced"),
    ("meetings", "Meetings"),
    ("agreements", "Agreements"),
)
