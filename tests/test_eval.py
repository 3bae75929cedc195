"""The eval suite: the scorer on hand-made answers, the datasets as they are, the regression
gate on a planted regression, and ``rag eval`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import DatasetError, Fact, Turn, load_dataset
from eval.gate import check, write_baseline
from eval.score import normalize, score_turn, states, summarize
from rag.answer import REFUSAL, Answer, Citation
from rag.retrieve import Passage

from .conftest import COQA, ROOT, SAMPLES

SAMPLES_SET = ROOT / "eval" / "datasets" / "samples"
TRADE = Turn("How much trade?", (Fact(("USD 700 billion", "$700 billion"), "raimondo"),))


def cite(article: str, quote: str, n: int = 1) -> Citation:
    return Citation(n, article, "t", "", "", "", quote, 0, len(quote))


def passage(article: str) -> Passage:
    return Passage(f"{article}:0", article, "x", 0, 1, "t", "", "", "", 1.0, 0, 0)


def is_gold(article_id: str, source: str) -> bool:
    return article_id == source


def test_number_and_currency_forms_match() -> None:
    assert states("They share over $700 billion of trade [1].", ["USD 700 billion"])
    assert states("Twenty-seven Chinese companies were removed.", ["27"])
    assert states("a four- day visit", ["four-day"])
    assert states("Trade was 700,000 tonnes", ["700000 tonnes"])
    assert not states("They share 7,000 billion", ["700 billion"])
    assert not states("Wang Wentaos", ["Wang Wentao"])  # whole words only
    assert normalize("The Ministry, of Defence!") == "ministry of defence"


def test_right_answer_with_a_wrong_citation_scores_as_uncited() -> None:
    text = "They share USD 700 billion of trade [1]."
    wrong_article = Answer("q", text, [cite("other", "They share USD 700 billion of trade")])
    r = score_turn("i", 1, "single", TRADE, wrong_article, 0.1, is_gold)
    assert (r.stated, r.cited) == (1, 0)
    quote_without_fact = Answer("q", text, [cite("raimondo", "Raimondo was in Beijing.")])
    assert score_turn("i", 1, "single", TRADE, quote_without_fact, 0.1, is_gold).cited == 0
    right = Answer("q", text, [cite("raimondo", "We share over USD 700 billion of trade")])
    assert score_turn("i", 1, "single", TRADE, right, 0.1, is_gold).cited == 1


def test_refusals_count_against_recall_and_are_scored_on_unanswerable_turns() -> None:
    refusal = Answer("q", REFUSAL, refused=True)
    answered = Answer("q", "USD 700 billion [1]", [cite("raimondo", "USD 700 billion")])
    answered.passages.extend([passage("other"), passage("raimondo")])
    unanswerable = Turn("What is the capital of Australia?", answerable=False)
    results = [
        score_turn("a", 1, "single", TRADE, refusal, 0.1, is_gold),  # wrongly refused
        score_turn("b", 1, "single", TRADE, answered, 0.3, is_gold),
        score_turn("c", 1, "none", unanswerable, refusal, 0.1, is_gold),  # rightly refused
        score_turn("d", 1, "none", unanswerable, answered, 0.1, is_gold),  # should have refused
    ]
    m = summarize(results, k=5)
    assert m["fact_recall"] == 0.5 and m["citation_support"] == 0.5
    assert m["refusal_precision"] == 0.5 and m["refusal_recall"] == 0.5
    assert m["hit@5"] == 0.5 and m["mrr"] == 0.25  # gold at rank 2 in one of two
    assert 100 <= m["latency_p50_ms"] <= 300


def test_gate_fails_on_a_planted_regression_and_names_the_metric(tmp_path: Path) -> None:
    good = {"all": {"turns": 10, "fact_recall": 0.90, "mrr": 0.80, "latency_p50_ms": 50.0}}
    baseline = tmp_path / "samples-extractive.json"
    write_baseline(baseline, good, tolerance=0.02)
    assert check(baseline, good)[0]
    within = {"all": {"turns": 10, "fact_recall": 0.885, "mrr": 0.80, "latency_p50_ms": 900.0}}
    assert check(baseline, within)[0]  # latency is not gated
    worse = {"all": {"turns": 10, "fact_recall": 0.70, "mrr": 0.80, "latency_p50_ms": 50.0}}
    passed, why = check(baseline, worse)
    assert not passed
    assert "all.fact_recall: 0.700 is 0.200 below its baseline 0.900" in why
    assert "mrr" not in why
    assert not check(tmp_path / "missing.json", good)[0]


def test_the_sample_articles_set_has_what_the_suite_promises() -> None:
    data = load_dataset(SAMPLES_SET)
    assert data.corpus.resolve() == SAMPLES.resolve()
    kinds = [i.kind for i in data.items]
    assert len(data.items) >= 60
    assert kinds.count("conversation") >= 8 and kinds.count("unanswerable") >= 10
    assert kinds.count("cross") >= 5
    stems = {p.stem for p in SAMPLES.iterdir()}
    texts = {p.stem: p.read_text("utf-8") for p in SAMPLES.iterdir()}
    for item in data.items:
        for turn in item.turns:
            assert turn.answerable == bool(turn.facts)
            for fact in turn.facts:
                assert fact.source in stems
                # Every fact is stated by its article, in at least one accepted form.
                assert states(texts[fact.source], fact.variants), (item.id, fact)
    cross = [i for i in data.items if i.kind == "cross"]
    assert all(len({f.source for f in i.turns[0].facts}) >= 1 for i in cross)


def test_coqa_is_read_as_it_is() -> None:
    if not COQA.is_dir():
        pytest.skip("the shared CoQA set is not here")
    data = load_dataset(COQA)
    assert len(data.items) == 100 and data.turns == 1650
    unanswerable = [t for i in data.items for t in i.turns if not t.answerable]
    assert len(unanswerable) == 11
    first = data.items[0].turns[0]
    assert first.gold == (data.items[0].id,) and first.span == (3, 43)
    # Only free-form turns are scored: a yes/no turn is asked but states no fact and has no
    # rationale to cite (1,372 free-form turns, 267 yes/no).
    scored = [t for i in data.items for t in i.turns if t.facts]
    assert len(scored) == 1372 and all(t.span for t in scored)
    yes_no = [t for i in data.items for t in i.turns if t.answerable and not t.facts]
    assert len(yes_no) == 267 and not any(t.span for t in yes_no)


def test_a_bad_dataset_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text('{"id": "a", "text": "x"}\n', "utf-8")
    (tmp_path / "questions.jsonl").write_text(
        '{"id": "ok", "turns": [{"question": "q", "facts": [{"any": ["x"]}]}]}\n'
        '{"id": "bad", "turns": [{"question": "q"}]}\n',
        "utf-8",
    )
    with pytest.raises(DatasetError, match=r"questions.jsonl:2: .*needs facts"):
        load_dataset(tmp_path)


@pytest.mark.slow
def test_rag_eval_reports_and_gates(tmp_path: Path, capsys, embedder) -> None:  # type: ignore[no-untyped-def]
    from rag.cli import main

    planted = tmp_path / "planted.json"
    planted.write_text(
        json.dumps({"tolerance": 0.0, "metrics": {"all.fact_recall": 1.0, "all.hit@5": 0.0}}),
        "utf-8",
    )
    report = tmp_path / "report"
    code = main(["eval", "--check", "--baseline", str(planted), "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED: 1 metric(s)" in out and "all.fact_recall" in out
    assert "| fact_recall |" in out and "follow-ups (n=" in out
    results = json.loads((report / "results.json").read_text("utf-8"))
    assert results["dataset"] == "samples" and len(results["turns"]) >= 70
    assert (report / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Regression gate" in (report / "report.md").read_text("utf-8")
    assert (report / "items.csv").read_text("utf-8").count("\n") == len(results["turns"]) + 1
