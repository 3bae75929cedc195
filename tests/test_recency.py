"""Time-aware answers on a dated set the test writes: a question about the latest ranks newer
articles first and the answer says its date; one that does not ask for the latest is not
reordered by date."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.config import Config
from rag.items import asks_for_recency

from .conftest import SAMPLES

#: Three versions of one story, as a news site updates it: each a day later, a higher toll.
VERSIONS = [
    ("2024-03-01", "3", "three people"),
    ("2024-03-02", "7", "seven people"),
    ("2024-03-03", "12", "twelve people"),
]


def story(day: str, toll: str, people: str) -> str:
    return (
        f"date {day} Harbourville\n"
        f"Storm death toll in Harbourville rises to {toll}\n\n"
        f"The storm that hit Harbourville has killed {people}, the mayor said. "
        "Rescue teams are still searching the flooded coast.\n"
    )


@pytest.mark.parametrize(
    ("question", "recent"),
    [
        ("What is the latest death toll in Harbourville?", True),
        ("How many people have died so far?", True),
        ("What is the current situation in Harbourville?", True),
        ("How many people did the storm kill?", False),
        ("How old is he now?", False),
    ],
)
def test_which_questions_ask_for_the_latest(question: str, recent: bool) -> None:
    assert asks_for_recency(question) is recent


@pytest.mark.slow
def test_the_latest_is_cited_first_and_the_answer_says_its_date(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "storm"
    folder.mkdir()
    for n, (day, toll, people) in enumerate(VERSIONS):
        (folder / f"storm-{n}.txt").write_text(story(day, toll, people), "utf-8")
    qa = Assistant.open(Config.from_env(home=tmp_path / "lib"))
    assert qa.ingest(SAMPLES, folder).ok

    answer = qa.ask("What is the latest death toll of the storm in Harbourville?")
    assert answer.citations[0].published == "2024-03-03"
    assert answer.text.startswith("As of 2024-03-03:") and "12" in answer.text
    dates = [p.published for p in answer.passages if p.title.startswith("Storm")]
    assert dates == sorted(dates, reverse=True)

    plain = qa.ask("How many people did the storm in Harbourville kill?")
    assert not plain.text.startswith("As of")
