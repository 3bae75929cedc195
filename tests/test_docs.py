"""The README starts small and its links and those of ``docs/`` lead somewhere; every figure the
docs quote from the code is the code's (generated blocks are up to date, and each quoted
constant is checked against its value), so none can go stale."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from eval.docs import DOCS, refreshed
from rag import extractive, grounding, llm, reader, spans, story
from ui import conversations, guard, openai_api

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

#: Figures the docs quote from the code: (page, the phrase with the value in it).
QUOTED = [
    ("answering.md", f"support >= {grounding.SUPPORTED_FROM:.2f}"),
    ("answering.md", f"at most {grounding.NOVEL_UP_TO:.0%} of its rare-word weight"),
    ("answering.md", f"capped at {llm.MAX_REPLY_TOKENS} tokens"),
    ("answering.md", f"by {story.EVIDENCE_MARGIN} turns' worth of results"),
    ("answering.md", f"every span of up to {spans.MOST_WORDS}"),
    ("answering.md", f"probabilities of the {reader.CONSIDERED} best"),
    ("local-model.md", f"only the {llm.EXCERPTS} best sentences"),
    ("page-and-api.md", f"fails {guard.LOGIN_FAILURES} logins in a minute"),
    (
        "page-and-api.md",
        f"{conversations.MOST:,} conversations at most ({conversations.PER_CLIENT}",
    ),
    ("page-and-api.md", f"from its last {openai_api.REPLAY} user turns"),
    ("page-and-api.md", f"At most {openai_api.MOST_MESSAGES} messages"),
    ("page-and-api.md", f"of {openai_api.MESSAGE_CHARS:,} characters each"),
]


def test_the_readme_starts_small_and_names_the_docs() -> None:
    text = README.read_text("utf-8")
    assert len(text.splitlines()) <= 300
    assert "docs/" in text
    assert text.lstrip().startswith("# ") and "make run" in text[:400] and "make test" in text[:400]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_generated_blocks_are_what_the_code_gives_now(page: Path) -> None:
    text = page.read_text("utf-8")
    assert refreshed(text) == text, f"run python -m eval.docs: {page.name} is stale"


@pytest.mark.parametrize(("page", "phrase"), QUOTED, ids=[q[1][:40] for q in QUOTED])
def test_each_quoted_figure_is_the_codes(page: str, phrase: str) -> None:
    # Line breaks in the page are spaces: a phrase may wrap.
    text = " ".join((DOCS / page).read_text("utf-8").split())
    assert phrase in text, f"docs/{page} should say {phrase!r} (the code's value)"


def test_the_second_sentence_rule_is_quoted_as_the_code_has_it() -> None:
    """'At least a sixth as likely' is SECOND_WITHIN = ln 6 in log-odds."""
    assert math.isclose(math.exp(extractive.SECOND_WITHIN), 6)
    assert "at least a sixth as likely" in (DOCS / "answering.md").read_text("utf-8")
