"""The reading model: the bundled all-MiniLM-L6-v2 given the question and the cited sentences
together, with low-rank changes to its layers and two small heads fitted to read CoQA
(``python -m eval.fit_span_model``): for each token, how likely the answer starts or ends
there, and for the whole, whether the answer is a span, "yes", "no" or not there at all.

It runs in numpy on the bundled weights (no torch, no export, nothing cached): one pass over
about a hundred tokens. Its output is a feature of the reader (``rag.reader``) and of
answerability (``rag.answerable``), weighed there with the others.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedder import bundled_model_path

#: The fitted low-rank deltas and heads (``python -m eval.fit_span_model``).
MODEL = Path(__file__).with_name("reader_model.npz")
#: What the whole-input head tells apart, in its output order.
CLASSES = ("span", "yes", "no", "unknown")
#: Input tokens at most (question, sentences and marks): two news sentences and a
#: follow-up's rewrite fit in it with room to spare.
MAX_TOKENS = 192
#: The layers' linear maps that carry a low-rank delta.
ADAPTED = ("attention.self.query", "attention.self.value", "intermediate.dense", "output.dense")
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12


def query_text(question: str, standalone: str) -> str:
    """The question as the model reads it: as typed, with its rewrite when that differs."""
    if standalone.strip() and standalone.strip() != question.strip():
        return f"{question} [SEP] {standalone}"
    return question


@dataclass(frozen=True)
class Encoded:
    """A question and its sentences as the model's input: ids, segment ids, and for each
    token of the sentences the sentence it is in and its character span there."""

    ids: np.ndarray
    segments: np.ndarray
    sentence: np.ndarray  # -1 for the question's tokens and the marks
    starts: np.ndarray
    ends: np.ndarray


@functools.lru_cache(maxsize=1)
def tokenizer() -> Any:
    """The bundled model's own tokenizer, cutting the sentences (never the question) to fit."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(bundled_model_path()) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS, strategy="only_second")
    return tok


def encode(question: str, standalone: str, sentences: Sequence[str]) -> Encoded:
    """The model's input for the question over ``sentences`` (joined by a space)."""
    text = " ".join(sentences)
    enc = tokenizer().encode(query_text(question, standalone), text)
    bounds = np.cumsum([0, *(len(s) + 1 for s in sentences)])
    n = len(enc.ids)
    sentence = np.full(n, -1, dtype=np.int64)
    starts = np.zeros(n, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    for i, (seq, (a, b)) in enumerate(zip(enc.sequence_ids, enc.offsets, strict=True)):
        if seq == 1 and b > a:
            k = int(np.searchsorted(bounds, a, side="right")) - 1
            sentence[i], starts[i], ends[i] = k, a - bounds[k], b - bounds[k]
    return Encoded(
        np.array(enc.ids, dtype=np.int64),
        np.array(enc.type_ids, dtype=np.int64),
        sentence,
        starts,
        ends,
    )


@dataclass(frozen=True)
class Reading:
    """What the model reads in the sentences: log-probabilities that the answer starts or
    ends at each token (over the sentences' tokens), and of each of ``CLASSES``."""

    encoded: Encoded
    start: np.ndarray
    end: np.ndarray
    classes: np.ndarray

    def spans(self, sentence: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Log-probability that the answer is exactly each character span ``starts[i]`` ..
        ``ends[i]`` of a sentence (its first token starts it, its last ends it); NaN where
        the model did not see the span whole."""
        e = self.encoded
        here = np.flatnonzero(e.sentence == sentence)
        out = np.full(len(starts), np.nan, dtype=np.float32)
        if not len(here) or not len(starts):
            return out
        # The sentence's tokens are in order: the one a span starts in is the last to start
        # at or before its first character, the one it ends in the first to end at or after
        # its last.
        first = np.searchsorted(e.starts[here], starts, side="right") - 1
        last = np.searchsorted(e.ends[here], ends, side="left")
        ok = (first >= 0) & (last < len(here))
        first, last = np.clip(first, 0, len(here) - 1), np.clip(last, 0, len(here) - 1)
        ok &= (e.ends[here][first] > starts) & (e.starts[here][last] < ends)
        out[ok] = self.start[here[first[ok]]] + self.end[here[last[ok]]]
        return out

    def span(self, sentence: int, start: int, end: int) -> float | None:
        """``spans`` of one span; None when the model did not see it whole."""
        p = float(self.spans(sentence, np.array([start]), np.array([end]))[0])
        return None if np.isnan(p) else p

    def log_odds(self, a: str, b: str) -> float:
        """How much likelier class ``a`` is than ``b`` (log-odds)."""
        return float(self.classes[CLASSES.index(a)] - self.classes[CLASSES.index(b)])

    def log_odds_against(self, a: str) -> float:
        """How much likelier class ``a`` is than all the others together (log-odds)."""
        p = float(np.exp(self.classes[CLASSES.index(a)]))
        return float(np.log(max(p, 1e-9)) - np.log(max(1.0 - p, 1e-9)))

    def to_dict(self) -> dict[str, Any]:
        e = self.encoded
        arrays = (e.ids, e.segments, e.sentence, e.starts, e.ends)
        return {
            "encoded": [a.tolist() for a in arrays],
            "start": np.round(self.start, 3).tolist(),
            "end": np.round(self.end, 3).tolist(),
            "classes": np.round(self.classes, 3).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reading:
        encoded = Encoded(*(np.asarray(a, dtype=np.int64) for a in data["encoded"]))
        start, end, classes = (
            np.asarray(data[k], dtype=np.float32) for k in ("start", "end", "classes")
        )
        return cls(encoded, start, end, classes)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    return np.asarray(z - np.log(np.exp(z).sum()), dtype=np.float32)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + _EPS) * g + b, dtype=np.float32)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU in its tanh form (within 1e-3 of BERT's erf form, which numpy lacks), computed in
    place: ``x**3`` in numpy took 50 times as long as the rest."""
    inner = x * x
    inner *= 0.044715 * 0.7978845608
    inner += 0.7978845608
    inner *= x
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= 0.5
    return inner


class ReadingModel:
    """The fitted model, loaded once per process (``model()``)."""

    def __init__(self, weights: dict[str, np.ndarray], fitted: dict[str, np.ndarray]) -> None:
        scale = float(fitted["lora_scale"])
        w = dict(weights)
        for n in range(_LAYERS):
            for name in ADAPTED:
                key = f"encoder.layer.{n}.{name}"
                a, b = fitted[f"{key}.a"].astype(np.float32), fitted[f"{key}.b"].astype(np.float32)
                w[f"{key}.weight"] = w[f"{key}.weight"] + scale * (b @ a)
        # Stored as (in, out) so that a pass is ``x @ W``.
        self.w = {
            k: (v.T.copy() if v.ndim == 2 and "embeddings" not in k else v) for k, v in w.items()
        }
        self.span_head = fitted["span.weight"].T.astype(np.float32)
        self.span_bias = fitted["span.bias"].astype(np.float32)
        self.class_head = fitted["classes.weight"].T.astype(np.float32)
        self.class_bias = fitted["classes.bias"].astype(np.float32)

    def states(self, ids: np.ndarray, segments: np.ndarray) -> np.ndarray:
        """The last layer's token states of one input."""
        w = self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][segments]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        d = x.shape[1] // _HEADS
        for k in range(_LAYERS):
            p = f"encoder.layer.{k}."

            def lin(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return np.asarray(h @ w[p + name + ".weight"] + w[p + name + ".bias"])

            q, kk, v = (
                lin(x, f"attention.self.{m}").reshape(n, _HEADS, d).transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            scores = q @ kk.transpose(0, 2, 1) / np.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
            x = _layer_norm(
                lin(context, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            x = _layer_norm(
                lin(_gelu(lin(x, "intermediate.dense")), "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        return np.asarray(x, dtype=np.float32)

    def read(self, question: str, standalone: str, sentences: Sequence[str]) -> Reading:
        """The model's reading of ``sentences`` for the question."""
        enc = encode(question, standalone, sentences)
        h = self.states(enc.ids, enc.segments)
        se = h @ self.span_head + self.span_bias
        inside = enc.sentence >= 0
        start = np.full(len(enc.ids), -1e4, dtype=np.float32)
        end = start.copy()
        if inside.any():
            start[inside] = _log_softmax(se[inside, 0])
            end[inside] = _log_softmax(se[inside, 1])
        classes = _log_softmax(h[0] @ self.class_head + self.class_bias)
        return Reading(enc, start, end, classes)


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _loaded() -> ReadingModel:
    from safetensors.numpy import load_file

    base = load_file(str(Path(bundled_model_path()) / "model.safetensors"))
    with np.load(MODEL) as data:
        fitted = {k: data[k] for k in data.files}
    return ReadingModel(base, fitted)


def model() -> ReadingModel:
    """The fitted reading model (loaded on first use: about a tenth of a second)."""
    with _LOCK:
        return _loaded()
