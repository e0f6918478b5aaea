"""The screener: the vocabulary, its prototype vectors and the fitted model, ready to score.

One per process (the prototypes, ~100 short texts, and the model's exemplar sentences, ~460,
are encoded once, on first use). Scoring a profile needs no encoding: it reads the sentence
vectors stored with the profile, and costs a product with the prototype and exemplar vectors.

The model file (``data/screening-model.json``) names its features; a name this code does not
know is refused, as is an exemplar file whose checksum differs from the one the model was
fitted with.
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder
from embeddings.lexical import words
from service.controls import DATA, Catalogue, catalogue
from service.screening import scoring

MODEL = DATA / "screening-model.json"


@dataclass(frozen=True)
class Exemplars:
    """Labelled capability sentences: their texts and, per sentence, its category codes (none:
    uncontrolled)."""

    texts: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]

    @classmethod
    def read(cls, path: Path) -> Exemplars:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        return cls(tuple(r["text"] for r in rows), tuple(tuple(r["codes"].split()) for r in rows))

    def labels(self, codes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(exemplars × ``codes``) 0/1 labels, and whether each exemplar is uncontrolled."""
        col = {c: j for j, c in enumerate(codes)}
        y = np.zeros((len(self.texts), len(codes)))
        for i, cs in enumerate(self.codes):
            for c in cs:
                if c in col:
                    y[i, col[c]] = 1
        return y, np.array([not cs for cs in self.codes], bool)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_model(path: Path) -> dict:
    """The model file, checked: known features only, a weight for each, and the exemplar file
    it was fitted with."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    features = raw.get("features") or [k for k in raw["weights"] if k != "bias"]
    unknown = [f for f in features if f not in scoring.FEATURES]
    if unknown:
        raise ValueError(f"{path.name}: unknown screening features {unknown}")
    missing = [f for f in ["bias", *features] if f not in raw["weights"]]
    extra = [k for k in raw["weights"] if k != "bias" and k not in features]
    if missing or extra:
        raise ValueError(f"{path.name}: weights missing {missing} or not features {extra}")
    raw["features"] = list(features)
    raw["exemplar_texts"] = None
    if set(features) & set(scoring.EXEMPLAR_FEATURES):
        spec = raw.get("exemplars") or {}
        file = path.parent / spec.get("file", "exemplars.csv")
        if sha256(file) != spec.get("sha256"):
            raise ValueError(f"{path.name}: {file.name} is not the exemplar file it was fitted on")
        raw["exemplar_texts"] = Exemplars.read(file)
    return raw


@dataclass(frozen=True)
class Flag:
    code: str
    sentence: str
    confidence: float

    def as_dict(self) -> dict:
        return {"code": self.code, "sentence": self.sentence, "confidence": self.confidence}


class Screener:
    def __init__(
        self, encoder: Encoder, vocabulary: Catalogue | None = None, model: Path | None = None
    ) -> None:
        self.encoder = encoder
        self.vocabulary = vocabulary or catalogue()
        raw = read_model(model or MODEL)
        self.model_name: str = raw["name"]
        self.feature_names: list[str] = raw["features"]
        self.weights: dict[str, float] = raw["weights"]
        self.thresholds: dict[str, float] = raw["thresholds"]
        self.exemplars: Exemplars | None = raw["exemplar_texts"]
        # Categories that can be flagged: those with a description to compare with.
        self.codes = [c.code for c in self.vocabulary.categories.values() if c.examples]
        cats = [self.vocabulary.categories[c] for c in self.codes]
        self.regime = np.array([c.regime for c in cats])
        self.cut = np.array([self.thresholds[c.regime] for c in cats])
        self.terms = [[scoring.phrase(t) for t in c.terms] for c in cats]
        self.civil = [[scoring.phrase(t) for t in c.civil_cues] for c in cats]
        self.regime_index = np.unique(self.regime, return_inverse=True)[1]
        self._protos: tuple[np.ndarray, np.ndarray] | None = None
        self._exemplars: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """What a stored result was computed with: the vocabulary and model versions."""
        return f"{self.vocabulary.version}/{self.model_name}"

    def prototypes(self) -> tuple[np.ndarray, np.ndarray]:
        """(prototype vectors, start column of each category), encoded once."""
        with self._lock:
            if self._protos is None:
                texts, starts = [], []
                for code in self.codes:
                    c = self.vocabulary.categories[code]
                    starts.append(len(texts))
                    texts += [c.description, *c.examples]
                vecs = self.encoder.encode_sentences(texts).astype(np.float32)
                self._protos = (vecs, np.array(starts))
        return self._protos

    def exemplar_vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(exemplar vectors, their labels over ``codes``, uncontrolled or not), encoded once."""
        with self._lock:
            if self._exemplars is None:
                ex = self.exemplars or Exemplars((), ())
                vecs = self.encoder.encode_sentences(list(ex.texts)) if ex.texts else None
                vecs = np.zeros((0, 1)) if vecs is None else vecs.astype(np.float32)
                self._exemplars = (vecs, *ex.labels(self.codes))
        return self._exemplars

    def base_features(self, sentences: list[str], vectors: np.ndarray) -> np.ndarray:
        """(sentences × categories × 3): ``cosine``, ``term``, ``civil``."""
        protos, starts = self.prototypes()
        cos = scoring.max_per_group(vectors.astype(np.float32) @ protos.T, starts)
        x = np.zeros((len(sentences), len(self.codes), 3))
        x[:, :, 0] = cos
        for i, s in enumerate(sentences):
            w = words(s)
            for j in range(len(self.codes)):
                x[i, j, 1] = scoring.contains(w, self.terms[j])
                x[i, j, 2] = scoring.contains(w, self.civil[j])
        return x

    def with_exemplars(
        self,
        base: np.ndarray,
        sims: np.ndarray,
        labels: np.ndarray,
        uncontrolled: np.ndarray,
        features: list[str] | None = None,
    ) -> np.ndarray:
        """(sentences × categories × ``features``) from the base features and the sentences'
        cosines to a set of labelled exemplars (the model's; cross-validation passes the
        training folds')."""
        features = features or self.feature_names
        cols = {"cosine": base[:, :, 0], "term": base[:, :, 1], "civil": base[:, :, 2]}
        if set(features) & set(scoring.EXEMPLAR_FEATURES):
            margin, regime = scoring.exemplar_margins(
                sims, labels, uncontrolled, self.regime_index, base[:, :, 0]
            )
            cols |= {"exemplar_margin": margin, "regime_margin": regime}
        return np.stack([cols[f] for f in features], axis=-1)

    def features(self, sentences: list[str], vectors: np.ndarray) -> np.ndarray:
        """(sentences × categories × the model's features)."""
        base = self.base_features(sentences, vectors)
        if not set(self.feature_names) & set(scoring.EXEMPLAR_FEATURES):
            return self.with_exemplars(base, np.zeros((len(sentences), 0)), None, None)
        ex, labels, uncontrolled = self.exemplar_vectors()
        sims = vectors.astype(np.float32) @ ex.T
        return self.with_exemplars(base, sims, labels, uncontrolled)

    def confidences(self, sentences: list[str], vectors: np.ndarray) -> np.ndarray:
        if not sentences:
            return np.zeros((0, len(self.codes)))
        x = self.features(sentences, vectors)
        return scoring.confidence(x, self.weights, self.feature_names)

    def flags(self, sentences: list[str], vectors: np.ndarray) -> list[Flag]:
        """Each category flagged, with the sentence that raised it most; best first."""
        conf = self.confidences(sentences, vectors)
        out = []
        for j, code in enumerate(self.codes):
            if not len(sentences):
                break
            i = int(conf[:, j].argmax())
            if conf[i, j] >= self.cut[j]:
                out.append(Flag(code, sentences[i], round(float(conf[i, j]), 4)))
        return sorted(out, key=lambda f: -f.confidence)
