"""The screener: the vocabulary, its prototype vectors and the fitted model, ready to score.

One per process (the prototypes are encoded once, ~50 short texts). Scoring a profile needs no
encoding: it reads the sentence vectors stored with the profile.
"""

from __future__ import annotations

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
        raw = json.loads((model or MODEL).read_text(encoding="utf-8"))
        self.model_name: str = raw["name"]
        self.weights: dict[str, float] = raw["weights"]
        self.thresholds: dict[str, float] = raw["thresholds"]
        # Categories that can be flagged: those with a description to compare with.
        self.codes = [c.code for c in self.vocabulary.categories.values() if c.examples]
        cats = [self.vocabulary.categories[c] for c in self.codes]
        self.regime = np.array([c.regime for c in cats])
        self.cut = np.array([self.thresholds[c.regime] for c in cats])
        self.terms = [[scoring.phrase(t) for t in c.terms] for c in cats]
        self.civil = [[scoring.phrase(t) for t in c.civil_cues] for c in cats]
        self._protos: tuple[np.ndarray, np.ndarray] | None = None
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

    def features(self, sentences: list[str], vectors: np.ndarray) -> np.ndarray:
        """(sentences × categories × FEATURES)."""
        protos, starts = self.prototypes()
        cos = scoring.max_per_group(vectors.astype(np.float32) @ protos.T, starts)
        x = np.zeros((len(sentences), len(self.codes), len(scoring.FEATURES)))
        x[:, :, 0] = cos
        for i, s in enumerate(sentences):
            w = words(s)
            for j in range(len(self.codes)):
                x[i, j, 1] = scoring.contains(w, self.terms[j])
                x[i, j, 2] = scoring.contains(w, self.civil[j])
        return x

    def confidences(self, sentences: list[str], vectors: np.ndarray) -> np.ndarray:
        if not sentences:
            return np.zeros((0, len(self.codes)))
        return scoring.confidence(self.features(sentences, vectors), self.weights)

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
