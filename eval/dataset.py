"""Eval datasets: a corpus and a JSONL of questions or conversations with the facts each answer
must state.

A dataset is a folder holding ``questions.jsonl`` and either ``corpus.jsonl`` or a
``dataset.json`` that names its corpus (``{"name": ..., "corpus": "relative/path"}``); the
corpus is anything ``rag ingest`` reads. Each line of ``questions.jsonl`` is one item, in our
format::

    {"id": "c01", "kind": "conversation", "turns": [
        {"question": "Who did Raimondo meet?",
         "facts": [{"any": ["Wang Wentao"], "source": "000_1f9bcd90020cac5f"}]},
        {"question": "What did he say about trade?", "facts": [...]},
        {"question": "What is the capital of Australia?", "answerable": false}]}

or in CoQA's (``story_id``, ``turns[].answers``, ``answer_type``, ``rationale_span``), read as
it is. A ``source`` names an article by its JSONL ``id``, file name or stem, URL, or stored id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DatasetError(ValueError):
    """A dataset that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Fact:
    """Something the answer must state, in any of its accepted forms."""

    variants: tuple[str, ...]
    #: The article it comes from ("" when unknown).
    source: str = ""


@dataclass(frozen=True)
class Turn:
    question: str
    facts: tuple[Fact, ...] = ()
    answerable: bool = True
    #: Character span of the supporting text in the gold article, when known.
    span: tuple[int, int] | None = None
    #: Gold articles besides those the facts name.
    sources: tuple[str, ...] = ()
    #: The accepted short answers, scored by CoQA's word F1 (best match); empty when the turn
    #: has none to score (several facts at once).
    answers: tuple[str, ...] = ()
    #: CoQA's answer type: ``free``, ``yes``, ``no`` or ``unknown`` (not stated).
    answer_type: str = "free"

    @property
    def gold(self) -> tuple[str, ...]:
        """Every article that supports this turn."""
        return tuple(dict.fromkeys([*self.sources, *(f.source for f in self.facts if f.source)]))


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    turns: tuple[Turn, ...]


@dataclass
class Dataset:
    name: str
    corpus: Path
    items: list[Item] = field(default_factory=list)

    @property
    def turns(self) -> int:
        return sum(len(i.turns) for i in self.items)


def _coqa_item(raw: dict[str, Any]) -> Item:
    story = str(raw["story_id"])
    turns = []
    for t in raw["turns"]:
        kind = str(t.get("answer_type", "free"))
        unknown = kind == "unknown"
        answers = tuple(str(a) for a in t.get("answers", []) if str(a).strip())
        # Facts (recall, citation support) are free-form answers only; every turn type is
        # scored by CoQA's F1 of the short answer.
        free = kind == "free"
        span = t.get("rationale_span") if free else None
        turns.append(
            Turn(
                question=t["question"],
                facts=(Fact(answers, story),) if free and answers else (),
                answerable=not unknown,
                span=(int(span[0]), int(span[1])) if span else None,
                sources=(story,),
                answers=answers or (("unknown",) if unknown else ()),
                answer_type=kind,
            )
        )
    return Item(story, "conversation" if len(turns) > 1 else "single", tuple(turns))


def _our_item(raw: dict[str, Any], number: int) -> Item:
    turns = []
    for t in raw["turns"]:
        facts = tuple(
            Fact(tuple(str(v) for v in f["any"]), str(f.get("source", "")))
            for f in t.get("facts", [])
        )
        answerable = bool(t.get("answerable", True))
        if answerable and not facts:
            raise KeyError("an answerable turn needs facts")
        span = t.get("span")
        turns.append(
            Turn(
                question=str(t["question"]),
                facts=facts,
                answerable=answerable,
                span=(int(span[0]), int(span[1])) if span else None,
                sources=tuple(str(s) for s in t.get("sources", [])),
                answers=_accepted(t, facts, answerable),
                answer_type=str(t.get("answer_type", "free" if answerable else "unknown")),
            )
        )
    if not turns:
        raise KeyError("no turns")
    return Item(str(raw.get("id", f"item{number}")), str(raw.get("kind", "")), tuple(turns))


def _accepted(raw: dict[str, Any], facts: tuple[Fact, ...], answerable: bool) -> tuple[str, ...]:
    """The short answers a turn of our own format accepts: its ``answers``, else the forms of
    its one fact ("unknown" when it is not answerable); none for a turn of several facts."""
    if "answers" in raw:
        return tuple(str(a) for a in raw["answers"])
    if not answerable:
        return ("unknown",)
    return facts[0].variants if len(facts) == 1 else ()


def load_dataset(folder: Path, corpus: Path | None = None) -> Dataset:
    """Read the dataset in ``folder``; ``corpus`` overrides the one it names."""
    folder = Path(folder)
    questions = folder / "questions.jsonl"
    if not questions.is_file():
        raise DatasetError(f"{folder}: no questions.jsonl")
    name = folder.name
    manifest = folder / "dataset.json"
    if corpus is None:
        if manifest.is_file():
            meta = json.loads(manifest.read_text("utf-8"))
            name = str(meta.get("name", name))
            corpus = (folder / meta["corpus"]).resolve()
        else:
            corpus = folder / "corpus.jsonl"
    if not Path(corpus).exists():
        raise DatasetError(f"{folder}: corpus {corpus} does not exist")
    data = Dataset(name, Path(corpus))
    with questions.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                item = _coqa_item(raw) if "story_id" in raw else _our_item(raw, number)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
                raise DatasetError(f"{questions}:{number}: not a valid item ({exc})") from None
            data.items.append(item)
    if not data.items:
        raise DatasetError(f"{questions}: no items")
    return data
