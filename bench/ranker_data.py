"""The labelled real-partnership set, loaded through the service's own code, and its features.

Shared by ``bench/train_ranker.py`` (fits the shipped model) and ``bench/quality.py`` (cross-
validated evaluation). Profiles are registered with ``service.profiles.service.register_many``
into a fresh SQLite database and indexed with ``MatchIndex.rebuild``, exactly as the service
does; features come from ``service.matching.features.pair_features`` for every query against
every candidate of the other country (nothing is left to the candidate search).
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from embeddings.encoder import Encoder  # noqa: E402
from service.bootstrap import build_encoder, build_index  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db import create_db_engine, create_session_factory, transaction  # noqa: E402
from service.indexing.search import meta_of  # noqa: E402
from service.indexing.service import MatchIndex  # noqa: E402
from service.matching.features import pair_features  # noqa: E402
from service.matching.model import FEATURES, KINDS, RankerModel, Weights  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from service.profiles.schemas import ProfileCreate  # noqa: E402
from service.profiles.service import register_many  # noqa: E402
from service.vocab import COUNTRIES, other_country  # noqa: E402

REAL = ROOT / "seed_data" / "real"


@dataclass
class LabelledSet:
    profiles: list[dict]
    pairs: list[tuple[int, int]]  # (IN position, KR position) in ``profiles``
    third_country: list[str]  # per pair, "" for an India-Korea pair
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # internal ids
    index: MatchIndex | None = None
    database_url: str = ""

    def other_country(self, q: int) -> str:
        """The country whose profiles are ``q``'s candidates (position ``q`` in the set)."""
        return other_country(self.profiles[q]["country"])

    def partners(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for a, b in self.pairs:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
        return out

    def folds(self, k: int = 5, seed: int = 0) -> dict[int, int]:
        """Fold of every profile in a pair: pairs that share an organisation (a multi-partner
        firm) stay in one fold, so no test pair's organisation was seen in training."""
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent.setdefault(x, x) != x:
                x = parent[x]
            return x

        for a, b in self.pairs:
            parent[find(a)] = find(b)
        groups = sorted({find(a) for a, _ in self.pairs})
        np.random.default_rng(seed).shuffle(groups)
        fold = {g: i % k for i, g in enumerate(groups)}
        return {x: fold[find(x)] for pair in self.pairs for x in pair}


def load_set(folder: Path = REAL) -> LabelledSet:
    profiles = [json.loads(line) for line in open(folder / "profiles.jsonl") if line.strip()]
    pos = {p["key"]: i for i, p in enumerate(profiles)}
    pairs, third = [], []
    with open(folder / "pairs.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            pairs.append((pos[row["in_key"]], pos[row["kr_key"]]))
            third.append(row.get("third_country", "") or "")
    return LabelledSet(profiles, pairs, third)


def make_encoder(backend: str = "onnx-int8") -> Encoder:
    s = Settings(data_dir=ROOT / "data", encoder_backend=backend)
    return build_encoder(s)


def register(data: LabelledSet, encoder: Encoder, workdir: Path) -> LabelledSet:
    """Register every profile through the service code and build the index from the database."""
    url = f"sqlite:///{workdir / 'labelled.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    sessions = create_session_factory(engine)
    fields = set(ProfileCreate.model_fields)
    items = [ProfileCreate(**{k: v for k, v in p.items() if k in fields}) for p in data.profiles]
    with transaction(sessions) as session:
        results = register_many(session, encoder, items)
    ids = []
    for p, r in zip(data.profiles, results, strict=True):
        if not hasattr(r, "profile"):
            raise RuntimeError(f"could not register {p['key']}: {r}")
        ids.append(int(r.profile.id))
    index = build_index(Settings(data_dir=workdir, database_url=url), encoder.dim)
    with sessions() as session:
        index.rebuild(session)
    engine.dispose()
    data.ids, data.index, data.database_url = np.array(ids, np.int64), index, url
    return data


def country_means(data: LabelledSet, rows: list[int] | None = None) -> tuple[dict, dict]:
    """Mean capability and need vector per country (of ``rows`` positions, default all)."""
    rows = list(range(len(data.profiles))) if rows is None else rows
    caps, needs = data.index.vectors(data.ids[rows])
    country = np.array([data.profiles[r]["country"] for r in rows])
    mc = {c: caps[country == c].mean(axis=0) for c in COUNTRIES}
    mn = {c: needs[country == c].mean(axis=0) for c in COUNTRIES}
    return mc, mn


def blank_model(mean_caps: dict, mean_needs: dict) -> RankerModel:
    n = len(FEATURES)
    w = Weights(np.zeros(n), np.zeros(n), np.ones(n))
    return RankerModel("untrained", {k: w for k in KINDS}, mean_caps, mean_needs)


@dataclass
class Features:
    """Features of every query (a position in the set) against every candidate of the other
    country, for one kind of query."""

    queries: np.ndarray  # positions
    candidates: dict[str, np.ndarray]  # country -> positions, ascending internal id
    x: dict[int, np.ndarray]  # query position -> (n candidates, len(FEATURES))
    pfit: dict[int, np.ndarray]  # query position -> partnership_fit component per candidate


def features(data: LabelledSet, model: RankerModel, kind: str = "both") -> Features:
    """``kind`` "needs_only" / "capabilities_only": the query's other side left empty, as in an
    ad-hoc search that states one side."""
    index = data.index
    order = np.argsort(data.ids)
    by_country = {c: order[[data.profiles[i]["country"] == c for i in order]] for c in COUNTRIES}
    out: dict[int, np.ndarray] = {}
    pfit: dict[int, np.ndarray] = {}
    queries = np.arange(len(data.profiles))
    for q in queries.tolist():
        other = data.other_country(q)
        cand = data.ids[by_country[other]][None, :]
        qid = data.ids[[q]]
        caps, needs = index.vectors(qid)
        meta = meta_of(index, qid)
        terms = None
        if kind != "both":
            from service.indexing.lexical import profile_terms

            p = data.profiles[q]
            c_text = p["capabilities"] if kind == "capabilities_only" else ""
            n_text = p["needs"] if kind == "needs_only" else ""
            terms = index.terms.query(*profile_terms(c_text, n_text))
            if kind == "needs_only":
                caps = np.zeros_like(caps)
            else:
                needs = np.zeros_like(needs)
        x, comps = pair_features(
            index, model, caps, needs, meta, cand, None if terms else qid, terms
        )
        out[q] = x[0]
        pfit[q] = comps["partnership_fit"][0]
    return Features(queries, by_country, out, pfit)


# Features whose weight may not be negative: more of them never makes a worse partner. Without
# the bound, correlated features (bm25_needs and cover) took opposite signs, and a firm that
# covers more of a need could rank lower (EcoPro BM for the README's firm: 11th).
MONOTONE = (
    "dense_sum",
    "dense_min",
    "bm25_needs",
    "bm25_whole",
    "cover",
    "sector_fit",
)


def fit_listwise(
    xs: list[np.ndarray],
    targets: list[np.ndarray],
    l2: float = 1e-2,
    names: tuple[str, ...] = FEATURES,
) -> Weights:
    """Listwise linear model: for each query, softmax of ``x @ w`` over its candidates, the
    true partners (``targets``, 0/1) sharing the probability mass; minimised with L-BFGS-B on
    standardised features, L2 penalty ``l2``, weights of ``MONOTONE`` features kept >= 0."""
    from scipy.optimize import minimize

    allx = np.concatenate(xs)
    mean, scale = allx.mean(axis=0), allx.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    xt = [torch.tensor((x - mean) / scale, dtype=torch.float64) for x in xs]
    yt = [torch.tensor(y / y.sum(), dtype=torch.float64) for y in targets]

    def loss_and_grad(w_np: np.ndarray) -> tuple[float, np.ndarray]:
        w = torch.tensor(w_np, dtype=torch.float64, requires_grad=True)
        loss = sum(-(torch.log_softmax(x @ w, 0) * y).sum() for x, y in zip(xt, yt, strict=True))
        loss = loss / len(xt) + l2 * (w**2).sum()
        loss.backward()
        return float(loss.detach()), w.grad.numpy().copy()

    bounds = [(0.0, None) if n in MONOTONE else (None, None) for n in names]
    res = minimize(
        loss_and_grad, np.zeros(allx.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds
    )
    return Weights(res.x, mean, scale)


def fit_subset(xs: list[np.ndarray], targets: list[np.ndarray], subset: list[str]) -> Weights:
    """``fit_listwise`` on the features ``subset`` only; the others get weight 0."""
    cols = [FEATURES.index(f) for f in subset]
    w = fit_listwise([x[:, cols] for x in xs], targets, names=tuple(subset))
    full = Weights(np.zeros(len(FEATURES)), np.zeros(len(FEATURES)), np.ones(len(FEATURES)))
    full.w[cols], full.mean[cols], full.scale[cols] = w.w, w.mean, w.scale
    return full


def training_lists(
    data: LabelledSet, feats: Features, queries: list[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    partners = data.partners()
    xs, ys = [], []
    for q in queries:
        other = data.other_country(q)
        cand = feats.candidates[other]
        y = np.array([c in partners.get(q, ()) for c in cand.tolist()], np.float64)
        if y.sum() > 0:
            xs.append(feats.x[q])
            ys.append(y)
    return xs, ys
