"""The reading model: the numpy pass the product runs is the fitted model (the bundled MiniLM
in torch with the deltas merged gives the same outputs), it points at the asked-for words, and
what it did not read it does not score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embedder import bundled_model_path
from rag.span_model import ADAPTED, CLASSES, MODEL, encode, model

RAIMONDO = [
    "US Commerce Secretary Gina Raimondo met her Chinese counterpart Wang Wentao in Beijing "
    "on Monday.",
    "The two agreed to set up a working group on export controls.",
]


def _best_span(question: str, sentences: list[str]) -> str:
    """The likeliest span the model reads, start and end within eight tokens."""
    r = model().read(question, question, sentences)
    inside = np.flatnonzero(r.encoded.sentence >= 0)
    best, where = -np.inf, (0, 0)
    for i in inside:
        for j in inside[(inside >= i) & (inside < i + 8)]:
            if r.encoded.sentence[j] == r.encoded.sentence[i] and r.start[i] + r.end[j] > best:
                best, where = r.start[i] + r.end[j], (i, j)
    i, j = where
    n = int(r.encoded.sentence[i])
    return sentences[n][int(r.encoded.starts[i]) : int(r.encoded.ends[j])]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who did Gina Raimondo meet?", "Wang"),
        ("Where did they meet?", "Beijing"),
        ("When did they meet?", "Monday"),
    ],
)
def test_the_model_points_at_the_asked_for_words(question: str, expected: str) -> None:
    assert expected in _best_span(question, RAIMONDO)


def test_a_span_the_model_did_not_read_has_no_score() -> None:
    r = model().read("Who met?", "Who met?", RAIMONDO)
    assert r.span(0, 0, 2) is not None  # "US"
    assert r.span(2, 0, 2) is None  # no third sentence was read
    assert r.span(0, 0, 10_000) is None  # runs past what was read
    assert np.isclose(np.exp(r.classes).sum(), 1.0, atol=1e-4) and len(r.classes) == len(CLASSES)


def test_a_long_sentence_is_cut_and_the_question_kept() -> None:
    long = " ".join(["The harbour reopened on Tuesday."] * 80)
    enc = encode("When did the harbour reopen?", "", [long])
    assert len(enc.ids) <= 192 and (enc.sentence >= 0).sum() > 100
    assert (enc.segments == 0).sum() == 9  # [CLS] when did the harbour re ##open ? [SEP]


@pytest.mark.slow
def test_the_numpy_pass_is_the_fitted_model_in_torch() -> None:
    """The bundled MiniLM in transformers, its weights changed by the committed deltas, gives
    the token states the numpy pass gives (to within the tanh form of GELU)."""
    torch = pytest.importorskip("torch")
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(bundled_model_path()).eval()
    with np.load(MODEL) as data:
        fitted = {k: data[k] for k in data.files}
    scale = float(fitted["lora_scale"])
    with torch.no_grad():
        for n, layer in enumerate(bert.encoder.layer):
            for name in ADAPTED:
                key = f"encoder.layer.{n}.{name}"
                delta = fitted[f"{key}.b"].astype(np.float32) @ fitted[f"{key}.a"].astype(
                    np.float32
                )
                layer.get_submodule(name).weight += torch.from_numpy(scale * delta)
        enc = encode("Who did Gina Raimondo meet?", "", RAIMONDO)
        ids = torch.from_numpy(enc.ids)[None]
        out = bert(input_ids=ids, token_type_ids=torch.from_numpy(enc.segments)[None])
    expected = out.last_hidden_state[0].numpy()
    got = model().states(enc.ids, enc.segments)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 2e-2
    assert Path(MODEL).stat().st_size < 2_000_000


def test_absent_unknown_learns_unknown_where_the_read_sentences_hold_no_word_of_the_answer() -> (
    None
):
    from eval.fit_reader import Turn
    from eval.fit_span_model import examples

    def turn(quote: str) -> Turn:
        question = "Who is the harbour master of Zorvath?"
        return Turn("d", "c", 1, question, question, "free", ["Ilse Brandqvist"], [quote], False)

    turns = [
        turn("Harbour master Ilse Brandqvist said 41 ships had waited offshore."),
        turn("The harbour of Zorvath reopened on Tuesday after the storm."),
    ]
    holds, lacks = examples(turns, absent_unknown=True)
    assert CLASSES[holds.label] == "span" and holds.first is not None
    assert CLASSES[lacks.label] == "unknown" and lacks.first is None
    # As committed (off): a span with no place to start or end.
    assert CLASSES[examples(turns)[1].label] == "span"
