"""Follow-up references resolved without a model: "Why didn't he play?" after a turn about
Kevin Ware becomes "Why didn't Kevin Ware play?".

The names of the earlier turns (their questions first, then the sentences their answers
quoted) are the candidates; a pronoun takes the latest name of its kind: "he"/"she" a person,
"there" a place, "then" a time, "they"/"it"/"the company" an organisation. A
follow-up with nothing to resolve ("For what role?") keeps the previous question beside it,
so that its search still has the conversation's words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.terms import is_stopword
from rag.words import DAYS, MONTHS, PLACES, ROLES

if TYPE_CHECKING:
    from rag.answer import Answer

#: How many earlier turns are searched for the name a pronoun points at.
LOOK_BACK = 3

_CAP = r"[A-Z][\w'’.-]*[\w]"
_JOIN = r"(?:\s+(?:of|de|da|del|van|von|bin|al|la|le)\s+|\s+)"
_NAME = re.compile(rf"{_CAP}(?:{_JOIN}{_CAP})*")
_MONTHS = frozenset((*MONTHS, *DAYS))
_DATE = re.compile(
    rf"\b(?:(?:on |in |last |next )?(?:{'|'.join(sorted(_MONTHS))})(?: \d{{1,2}})?(?:,? \d{{4}})?"
    r"|in (?:1[5-9]|20)\d\d)\b"
)
_DATELINE = re.compile(
    r"^[^()\n]{0,60}\((?:CNN|AP|Reuters|AFP|EW|[A-Z][\w ]{0,30})\)\s*(?:--|—|-)\s*"
)
_THING_BEFORE = re.compile(r"(?:\bthe|['’]s)\s+(?:most\s+)?$", re.I)
_PLACE_BEFORE = re.compile(r"\b(?:in|at|from|near|to|into|across)\s+(?:the\s+)?$", re.I)
_TITLE_BEFORE = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Sen|Rep|Gov|President|Minister|Secretary|Judge|Officer|Coach|Captain|"
    r"Prince|Princess|King|Queen|Pope|Sir|Lady|Lord)\.?\s+$"
)
_ORG_WORD = re.compile(
    r"\b(?:Inc|Corp|Co|Ltd|Company|Association|Agency|Department|Party|Council|Committee|"
    r"University|College|Bank|Group|Club|Team|Times|News|Service|Commission|Organization|"
    r"Institute|Foundation|Ministry|Court|Police|Army|Union|Church)\b|^[A-Z]{3,}$"
)
_PERSON_AFTER = re.compile(r"^\s*(?:,\s*\d{1,3}\b|\s+said|\s+says|\s+told)")

#: The pronouns resolved, and the kinds of name each may point at, in order of preference.
#: The role says how a pronoun is replaced: a possessive takes "'s"; an object ("him", "her")
#: is never the person its own question's "he"/"she" became ("What did she call him?").
_POINTS_AT: list[tuple[re.Pattern[str], tuple[str, ...], str]] = [
    (re.compile(r"\b(he)\b", re.I), ("person",), "subject"),
    (re.compile(r"\b(she)\b", re.I), ("person",), "subject"),
    (re.compile(r"\b(him)\b", re.I), ("person",), "object"),
    (re.compile(r"\b(his)\b", re.I), ("person",), "possessive"),
    (
        re.compile(
            r"\b(her)\b(?=\s*(?:[?.!,]|$|\s+(?:to|for|with|about|from|in|at|on|by)\b))", re.I
        ),
        ("person",),
        "object",
    ),
    (re.compile(r"\b(her)\b", re.I), ("person",), "possessive"),
    (
        re.compile(r"\b(the company|the firm|the organization|the group)\b", re.I),
        ("org",),
        "subject",
    ),
    # "They" is plural: a group or an organisation, never one person's name.
    (re.compile(r"\b(they|them)\b", re.I), ("org",), "subject"),
    (re.compile(r"\b(their)\b", re.I), ("org",), "possessive"),
    (
        # Not "Was there ...?", which asks whether something existed.
        re.compile(
            r"(?<!^is )(?<!^was )(?<!^are )(?<!^were )\b(there)\b"
            r"(?!\s+(?:is|are|was|were|be|been|any|anything|anyone)\b)",
            re.I,
        ),
        ("place",),
        "subject",
    ),
    (re.compile(r"\b(then)\b", re.I), ("time",), "subject"),
    (re.compile(r"\b(it)\b", re.I), ("org",), "subject"),
    (re.compile(r"\b(its)\b", re.I), ("org",), "possessive"),
]


@dataclass(frozen=True)
class Name:
    text: str
    kind: str


_REFERS_BACK = re.compile(
    r"\b(he|she|him|her|his|hers|it|its|they|them|their|theirs|this|that|these|those|"
    r"there|then|such|the same|the other|else|also|too|either|"
    r"the (?:company|firm|group|organization))\b",
    re.I,
)
#: "How many of them were there?" counts; its "there" points at no place.
_COUNTS_THERE = re.compile(r"^\s*how (?:many|much)\b.*\b(?:is|are|was|were) there\b", re.I)
#: The words a rewrite resolves; one left means the question still leans on the last turn.
_POINTER = re.compile(
    r"\b(he|she|him|her|his|it|its|they|them|their|this|that|these|those|"
    r"the (?:company|firm|group|organization))\b",
    re.I,
)
_OPENS_FOLLOW_UP = re.compile(r"^\s*(and|but|so|or|what about|how about|why|why not)\b", re.I)


def refers_back(question: str) -> bool:
    """Whether a question leans on what came before (pronouns, "and ...", a bare fragment)."""
    words = re.findall(r"\w+", question)
    return len(words) <= 4 or bool(
        _REFERS_BACK.search(question) or _OPENS_FOLLOW_UP.search(question)
    )


def names_in(text: str) -> list[Name]:
    """The names and dates of ``text`` in order, each with its likely kind (a dateline such
    as "LONDON (CNN) --" names no one the story is about)."""
    dateline = _DATELINE.match(text)
    if dateline:
        text = " " * dateline.end() + text[dateline.end() :]
    found: list[tuple[int, Name]] = []
    for m in _DATE.finditer(text):
        found.append((m.start(), Name(m.group().strip(), "time")))
    for m in _NAME.finditer(text):
        words = re.sub(r"['’]s$", "", m.group()).split()
        before, after = text[: m.start()], text[m.end() :]
        at_start = not before.strip() or before.rstrip()[-1] in '.?!"“:-'
        # A sentence's first word alone ("Featured on CNN ...", "Shortly before ...") is an
        # ordinary word more often than a name.
        if at_start and len(words) == 1 and not _PERSON_AFTER.match(after):
            continue
        while words and (words[0] in _MONTHS or is_stopword(words[0].lower())):
            words = words[1:]
        while words and words[-1] in _MONTHS:
            words = words[:-1]
        if not words:
            continue
        name = " ".join(words)
        found.append((m.start(), Name(name, _kind(name, before, after))))
    return [n for _, n in sorted(found, key=lambda f: f[0])]


def _kind(name: str, before: str, after: str) -> str:
    if _ORG_WORD.search(name):
        return "org"
    if _THING_BEFORE.search(before):
        # "the tournament's Most Outstanding Player", "the Golden Globe": a title or a thing.
        return "title"
    if _TITLE_BEFORE.search(before) or _PERSON_AFTER.match(after):
        return "person"
    if _PLACE_BEFORE.search(before):
        return "place"
    return "person" if len(name.split()) >= 2 else "name"


#: "Who did X meet?", "Which player will X sign?": the answer is the object, X the subject.
_ASKS_OBJECT = re.compile(
    r"^\W*(?:and\s+)?(?:who|whom|which\s+[\w-]+(?:\s+[\w-]+)?)\s+"
    r"(?:did|does|do|will|would|can|could|has|have|had|should|must)\b",
    re.I,
)
#: Nouns for a person a "Which ...?" question may ask for: the roles, and plain ones.
PERSON_NOUNS = frozenset(
    re.escape(w)
    for w in ROLES
    | {"man", "woman", "boy", "girl", "person", "guard", "member", "candidate", "athlete"}
    if not w.endswith(".")
)
#: The kind of name a short answer is, by what its question asked.
_ANSWER_KIND = (
    (re.compile(r"^\W*(?:and\s+)?(?:who|whom|whose)\b", re.I), "person"),
    # "Which sophomore guard ...?", "Which of his teammates ...?" ask for a person too.
    (
        re.compile(
            r"^\W*(?:and\s+)?(?:what|which)\s+(?:of\s+\w+\s+)?(?:[\w-]+\s+){0,2}?"
            rf"(?:{'|'.join(sorted(PERSON_NOUNS))})s?\b",
            re.I,
        ),
        "person",
    ),
    (re.compile(r"^\W*(?:and\s+)?where\b", re.I), "place"),
    (re.compile(r"^\W*(?:and\s+)?(?:what|which)\b", re.I), "org"),
)


def answered_name(answer: Answer) -> Name | None:
    """The name an answer gave as its short answer ("Who co-founded it?" -> "David Morales"):
    a pronoun of the next turn points at it before any name of the question."""
    short = answer.short
    text = short.text.strip(" ,.\"'“”‘’") if short is not None else ""
    if short is None or short.kind != "span" or not _NAME.fullmatch(text):
        return None
    if text.lower() in PLACES:
        # A country or its people's word ("Chinese") is a place, whatever was asked.
        return Name(text, "place")
    for asks, kind in _ANSWER_KIND:
        if asks.search(answer.question):
            return Name(text, kind)
    return None


def _candidates(history: Sequence[Answer]) -> list[list[Name]]:
    """Names of the latest turns in groups, most recent turn first; in a turn, the name its
    short answer gave (the person or thing the user asked for), then the question's names (the
    topic the user asked about), then those of the quotes that answered it."""
    out: list[list[Name]] = []
    for answer in reversed(history[-LOOK_BACK:]):
        given = answered_name(answer)
        out.append([given] if given is not None else [])
        out.append(names_in(answer.question))
        out.append([n for c in answer.citations for n in names_in(c.quote)])
    return out


_HE = re.compile(r"\b(?:he|him|his|himself)\b", re.I)
_SHE = re.compile(r"\b(?:she|her|hers|herself)\b", re.I)
#: Characters after a name in which the pronouns that follow it are counted.
GENDER_WINDOW = 150


def genders(texts: Sequence[str]) -> dict[str, str]:
    """``m`` or ``f`` for the names the texts refer to as "he" or "she": the pronouns that
    follow a name before the next name, counted over every mention (keyed by the last word)."""
    votes: dict[str, int] = {}
    for text in texts:
        for m in _NAME.finditer(text):
            if not _person_like(m.group(), text[: m.start()], text[m.end() :]):
                continue
            after = text[m.end() : m.end() + GENDER_WINDOW]
            following = _NAME.search(after)
            window = after[: following.start()] if following else after
            key = m.group().split()[-1].lower()
            votes[key] = votes.get(key, 0) + len(_HE.findall(window)) - len(_SHE.findall(window))
    return {k: "m" if v > 0 else "f" for k, v in votes.items() if v}


_THING_MENTION = re.compile(r"\b(?:the|in|at|near)\s+$", re.I)


def marks(texts: Sequence[str]) -> tuple[set[str], set[str]]:
    """What the texts' own words say their names are: the last words of the names marked as
    people's (a title before, "said", "told" or an age after, or a full name whose last word
    also stands alone: "Jim Swire" ... "Swire", never "Pan Am Flight" ... "Flight"), and the
    names used as places or things, never as people (after "the", "in", "at" or "near": "the
    United Progressive Alliance", "in Toulouse")."""
    people: set[str] = set()
    alone: set[str] = set()
    full: set[str] = set()
    things: set[str] = set()
    for text in texts:
        for m in _NAME.finditer(text):
            name, before, after = m.group(), text[: m.start()], text[m.end() :]
            words = re.sub(r"['’]s$", "", name).split()
            last = words[-1].lower()
            if _TITLE_BEFORE.search(before) or _PERSON_AFTER.match(after):
                people.add(last)
            (full if len(words) > 1 else alone).add(last)
            near = before[-8:]
            if name.startswith("The "):  # "The Alliance met ..." opens a sentence
                name, near = name[4:], "the "
            if _THING_MENTION.search(near) and not re.match(r"['’]s\b", after):
                things.add(name.lower())
    return people | (full & alone), things


def _person_like(name: str, before: str, after: str) -> bool:
    """Whether a name in running text may be a person's (not a place, an organisation or a
    title by its context)."""
    return _kind(name, before, after) in ("person", "name")


def _pronoun_gender(pronoun: str) -> str:
    return {"he": "m", "him": "m", "his": "m", "she": "f", "her": "f"}.get(pronoun.lower(), "")


@dataclass(frozen=True)
class _Evidence:
    """What the recent turns say about their names: who is called "he" or "she" (``known``,
    by last word), who is marked as a person (``cued``), and the names answers gave."""

    known: dict[str, str]
    cued: set[str]
    answered: frozenset[Name]
    things: set[str]

    @classmethod
    def of(cls, history: Sequence[Answer]) -> _Evidence:
        recent = history[-LOOK_BACK:]
        texts = [c.quote for a in recent for c in a.citations]
        texts += [p.text for a in recent for p in a.passages]
        # Not where the answer was what someone the question named did something to: after
        # "Who did Carlos Mendes meet?" the next "he" is still Mendes, the one it was about.
        answered = frozenset(
            n
            for a in recent
            if (n := answered_name(a)) is not None
            and not (
                _ASKS_OBJECT.match(a.question)
                and any(m.kind == "person" for m in names_in(a.question))
            )
        )
        cued, things = marks(texts)
        return cls(genders(texts), cued, answered, things)

    def not_a_person(self, n: Name) -> bool:
        """A country or its people's word ("American"), or a name used as a place or a thing
        ("the Pennsylvania Republican", "in Toulouse"), is never "he" or "she"."""
        text = n.text.lower()
        return text in PLACES or text in self.things

    def said(self, n: Name) -> str:
        return self.known.get(n.text.split()[-1].lower(), "")


def _pick(
    kinds: tuple[str, ...],
    groups: list[list[Name]],
    question: str,
    gender: str,
    ev: _Evidence,
) -> Name | None:
    """The name a pronoun points at: the latest group that has a name of the first kind that
    any group has; in a group a bare single name ("Kelley") stands for a person only when no
    fuller one is there. Never a name the question already uses, nor one the articles call by
    the other gender's pronoun."""
    asked = {w.lower() for w in re.findall(r"\w+", question)}
    # A "he" or "she" points first at a name the articles call so, or the person an answer
    # just named ("Who crashed the stage?" -> "Kanye West") where the articles' own "he"s
    # went to others; then at a name marked as a person's; a name never called either
    # ("China", "Michigan") only when none is.
    passes = (
        [
            lambda n: ev.said(n) == gender or (n in ev.answered and not ev.said(n)),
            lambda n: not ev.said(n) and n.text.split()[-1].lower() in ev.cued,
            lambda n: not ev.said(n),
        ]
        if gender
        else [lambda n: True]
    )
    for fits in passes:
        for kind in kinds:
            for names in groups:
                fresh = [
                    n for n in names if not {w.lower() for w in n.text.split()} & asked and fits(n)
                ]
                for accepts in ((kind,), ("name",) if kind == "person" else ()):
                    for n in fresh:
                        if n.kind in accepts and not (kind == "person" and ev.not_a_person(n)):
                            return n
    return None


def resolve(question: str, history: Sequence[Answer]) -> str:
    """``question`` with its pronouns replaced by the names they point at ("" when none)."""
    names = _candidates(history)
    if not any(names):
        return ""
    evidence = _Evidence.of(history)
    out = question
    resolved = False
    subjects: list[str] = []
    for pattern, kinds, role in _POINTS_AT:
        match = pattern.search(out)
        if match is None or (kinds == ("place",) and _COUNTS_THERE.search(out)):
            continue
        avoid = " ".join(subjects) if role == "object" else ""
        gender = _pronoun_gender(match.group(1))
        target = _pick(kinds, names, f"{question} {avoid}", gender, evidence)
        if target is None:
            continue
        if role == "subject":
            subjects.append(target.text)
        text = f"{target.text}'s" if role == "possessive" else target.text
        if kinds == ("time",) or kinds == ("place",):
            text = target.text if target.kind == "time" else f"in {target.text}"
        # Every "he" of the question is the same person ("... when he broke his shin?").
        out = pattern.sub(text.replace("\\", "\\\\"), out)
        resolved = True
    return out if resolved else ""


def still_leans_back(question: str) -> bool:
    """Whether a (rewritten) question still holds a word that points at the conversation."""
    return bool(_POINTER.search(question))
