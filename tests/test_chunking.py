"""Chunks keep exact offsets, respect the token budget and never lose text."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from ingest.chunking import chunk_text
from rag.sentences import sentence_spans

from .conftest import COQA, SAMPLES

_TOKEN = re.compile(r"\w+|[^\w\s]")


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN.finditer(text)]


def tokens_in(text: str) -> int:
    return len(_TOKEN.findall(text))


def corpus() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.txt"))]
    if (COQA / "corpus.jsonl").exists():
        texts += [json.loads(line)["text"] for line in (COQA / "corpus.jsonl").open()][:40]
    return texts


@pytest.mark.parametrize(("max_tokens", "overlap"), [(32, 0), (64, 16), (128, 32), (254, 64)])
def test_offsets_budget_and_coverage(max_tokens: int, overlap: int) -> None:
    for text in corpus():
        chunks = chunk_text("a1", text, word_spans, max_tokens, overlap)
        assert chunks, "every text with words gets a chunk"
        covered = [False] * len(text)
        for i, c in enumerate(chunks):
            assert c.index == i and c.id == f"a1:{i}"
            assert text[c.start : c.end] == c.text
            assert c.text == c.text.strip()
            assert tokens_in(c.text) <= max_tokens
            for k in range(c.start, c.end):
                covered[k] = True
        # Every non-space character of the article lands in some chunk.
        lost = [ch for ch, cov in zip(text, covered, strict=True) if not cov and not ch.isspace()]
        assert lost == []
        starts = [c.start for c in chunks]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_overlap_repeats_trailing_sentences() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = chunk_text("a", text, word_spans, 30, 12)
    assert len(chunks) > 3
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start < prev.end, "consecutive chunks share a sentence"
    no_overlap = chunk_text("a", text, word_spans, 30, 0)
    for prev, nxt in itertools.pairwise(no_overlap):
        assert nxt.start >= prev.end


def test_sentence_longer_than_budget_is_cut_at_token_boundaries() -> None:
    text = "Intro sentence. " + " ".join(f"w{i}" for i in range(100)) + " end. Outro."
    chunks = chunk_text("a", text, word_spans, 20, 0)
    assert all(tokens_in(c.text) <= 20 for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert all(f"w{i}" in joined.split() for i in range(100))


def test_lines_are_sentence_boundaries() -> None:
    text = "Headline without a stop\n\nREUTERS\nBody sentence one. Body sentence two."
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert got == [
        "Headline without a stop",
        "REUTERS",
        "Body sentence one.",
        "Body sentence two.",
    ]


def test_abbreviations_do_not_split_sentences() -> None:
    text = "U.S. Commerce Secretary Gina Raimondo met Mr. Wang in Beijing. They talked."
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert got == [
        "U.S. Commerce Secretary Gina Raimondo met Mr. Wang in Beijing.",
        "They talked.",
    ]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        # Punkt alone splits after each of these (coqa-cnn-dev: "No." 9 times, "U.S." 5).
        ("A wreath framed a No. 9 jersey. Fans wept.", 2),
        ("He left the U.S. Naval Academy in 1958. He sailed.", 2),
        ("Before O.J. Simpson there was Sheppard. It began.", 2),
        ("Shortly before 7:30 p.m. ET Saturday, police came. They left.", 2),
        ('"Come in!" in French was chosen. It stuck.', 2),
        # A real end after initials: a sentence-opening word follows.
        ("He moved to the U.S. The rest followed. Then fame.", 3),
    ],
    ids=["no", "u.s.-naval", "initials", "p.m.-et", "lowercase-after", "real-end"],
)
def test_titles_initials_and_times_stay_in_their_sentence(text: str, sentences: int) -> None:
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert len(got) == sentences, got
    assert " ".join(got) == text


@pytest.mark.slow
def test_no_chunk_exceeds_the_real_models_input(embedder) -> None:  # type: ignore[no-untyped-def]
    from rag.embeddings import SentenceTransformerEmbedder

    # The torch model's own tokenizer judges the spans of the default (ONNX) embedder.
    model = SentenceTransformerEmbedder().model
    tok = model.tokenizer
    limit = model.max_seq_length
    long_sentence = "The " + "committee, which met repeatedly, " * 120 + "agreed."
    for text in [*corpus(), long_sentence]:
        chunks = chunk_text("a", text, embedder.token_spans, embedder.max_tokens, 32)
        for c in chunks:
            assert len(tok(c.text)["input_ids"]) <= limit
            assert text[c.start : c.end] == c.text
