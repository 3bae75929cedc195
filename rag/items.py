"""What a question asks for (a date, a number, a name, a place) and where a sentence states it,
so that an answer can say that item first and a page can bold it."""

from __future__ import annotations

import re

from rag.references import names_in
from rag.terms import is_stopword, terms
from rag.words import DAYS, MONTHS, NUMBER_VALUES, NUMBER_WORDS, alternation

_CALENDAR = frozenset((*DAYS, *MONTHS))

_YEAR = r"\b(1[5-9]\d\d|20\d\d)s?\b"
_MONTH = alternation((*MONTHS, *DAYS, "century", "decade"))
_NUMBER = r"\d|" + alternation((*NUMBER_WORDS, "several", "few"))
_EXPECT: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^\s*when\b|\b(what|which) (year|date|time|day|month|century)\b", re.I),
        "date",
    ),
    (
        re.compile(r"\bhow (many|much|old|long|far|big|large|often)\b|\bwhat percent", re.I),
        "number",
    ),
    (re.compile(r"^\s*(who|whom|whose)\b|\bwho\b", re.I), "name"),
    (re.compile(r"^\s*where\b|\bwhere\b", re.I), "place"),
]


#: Words that ask for the newest news rather than any ("now" is left out: "How old is he
#: now?" asks about the story, not about time).
_RECENT = re.compile(
    r"\b(?:latest|newest|most recent|recent(?:ly)?|today|tonight|this (?:week|month|year)|"
    r"current(?:ly)?|so far|updated?)\b",
    re.I,
)


def asks_for_recency(question: str) -> bool:
    """Whether ``question`` asks for the latest on something, so newer articles go first."""
    return bool(_RECENT.search(question))


def expected_type(question: str) -> str:
    """``date``, ``number``, ``name`` or ``""``: what kind of thing the question asks for."""
    for pattern, kind in _EXPECT:
        if pattern.search(question):
            return kind
    return ""


#: What "how old / how much / how long / what time" ask for, more narrowly than "a number"
#: or "a date": an age, an amount of money, a span of time, a time of day.
_NUMBER_WORD = (
    r"(?:\d[\d,.]*|"
    + "|".join(sorted(NUMBER_VALUES, key=len, reverse=True))
    + r"|a few|several|a dozen|dozens|a|an)"
)
_TIME_SPAN = re.compile(
    r"\b\d{1,2}(?::\d\d)?\s?(?:a\.m\.|p\.m\.|am\b|pm\b)(?: [A-Z]{2,3}\b)?|\bnoon\b|\bmidnight\b",
    re.I,
)
_NARROW: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        re.compile(r"\bhow old\b", re.I),
        # "12-year-old", "aged 49", "Saari, 22, died"
        re.compile(
            r"\b\d{1,3}(?=(?:-| )years?[- ]old\b)|\b(?:age|aged) \d{1,3}\b|(?<=\w, )\d{1,3}(?=,\s)",
            re.I,
        ),
    ),
    (
        re.compile(r"\bhow much\b", re.I),
        re.compile(
            r"[$€£]\s?\d|\b\d[\d,.]*\s?(?:million|billion|dollars|euros|pounds|cents|%|percent)",
            re.I,
        ),
    ),
    (
        re.compile(r"\bhow long\b", re.I),
        re.compile(
            rf"\b{_NUMBER_WORD}[- ](?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|"
            r"decades?|centuries)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"\bwhat time\b", re.I),
        _TIME_SPAN,
    ),
]


def _narrow(question: str) -> re.Pattern[str] | None:
    """The pattern of what a "how old / how much / how long / what time" question asks for."""
    for asks, holds in _NARROW:
        if asks.search(question):
            return holds
    return None


_HOW_MANY = re.compile(r"\bhow many\s+(?:more\s+|other\s+)?([a-z][\w-]*)", re.I)
#: A number and at most two words between it and what it counts ("27 Chinese companies").
_COUNT_OF = re.compile(rf"\b{_NUMBER_WORD}\b((?:[\s-]+[\w'’-]+){{1,3}})", re.I)


def counts_asked(question: str, sentence: str) -> bool:
    """Whether ``sentence`` counts what a "how many X?" question asks about: a number with
    X within three words after it ("how many companies?": "27 Chinese companies", not "the
    two largest economies")."""
    m = _HOW_MANY.search(question)
    if m is None:
        return False
    wanted = set(terms(m.group(1)))
    if not wanted:
        return False
    return any(wanted & set(terms(c.group(1))) for c in _COUNT_OF.finditer(sentence))


def holds_type(kind: str, sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds something of ``kind`` that the question does not."""
    narrow = _narrow(question)
    if narrow is not None and kind in ("date", "number"):
        return bool(narrow.search(sentence))
    if kind == "date":
        return bool(re.search(_YEAR, sentence) or re.search(_MONTH, sentence))
    if kind == "number":
        return bool(re.search(_NUMBER, sentence, re.I))
    if kind in ("name", "place"):
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        # A capitalised word that is not the sentence's first, not in the question, and not
        # a day or a month ("reopened on Tuesday" names no one).
        words = re.findall(r"(?<=\s)[A-Z][\w-]+", sentence)
        return any(w.lower() not in asked and w not in _CALENDAR for w in words)
    return False


_DATE_SPAN = re.compile(
    rf"\b(?:(?:{'|'.join(MONTHS)})(?: \d{{1,2}})?(?:,? \d{{4}})?|(?:{'|'.join(DAYS)})"
    r"(?: (?:morning|afternoon|evening|night))?|(?:1[5-9]|20)\d\ds?)\b"
)
_NUMBER_SPAN = re.compile(
    r"(?:[$€£]\s?)?\d[\d,.]*(?:\s?(?:%|percent|million|billion|thousand|years?|months?|"
    r"days?|hours?|minutes?|points?|people|feet|miles|meters))?"
    r"|\b(?:"
    + "|".join(sorted(NUMBER_VALUES, key=len, reverse=True))
    + r"|a dozen|dozens|several)\b(?:[- ](?:\w+-)?(?:year|month|day)s?)?",
    re.I,
)


_NOT_A_COUNT = re.compile(r"one\s+(?:of|another|day|who|that)\b", re.I)


def _whole_item(sentence: str, start: int) -> tuple[int, int]:
    """The date or number phrase that starts at ``start`` ("$10 million", "7:30 p.m.")."""
    for pattern in (_TIME_SPAN, _NUMBER_SPAN, _DATE_SPAN):
        m = pattern.match(sentence, start)
        if m and m.end() > start:
            return start, start + len(m.group().rstrip(",."))
    return start, start + len(sentence[start:].split(maxsplit=1)[0])


def asked_item(question: str, sentence: str) -> tuple[int, int] | None:
    """The span in ``sentence`` of the thing ``question`` asks for, if it holds one that the
    question does not already say."""
    kind = expected_type(question)
    asked = question.lower()
    spans: list[tuple[int, int]] = []
    narrow = _narrow(question)
    if narrow is not None and kind in ("date", "number"):
        spans = [_whole_item(sentence, m.start()) for m in narrow.finditer(sentence)]
    elif kind == "date":
        spans = [m.span() for m in _DATE_SPAN.finditer(sentence)]
    elif kind == "number":
        numbers = _NUMBER_SPAN.finditer(sentence)
        counts = [m for m in numbers if not _NOT_A_COUNT.match(sentence, m.start())]
        # A figure in digits before a number in words ("one of the most ...").
        spans = [m.span() for m in sorted(counts, key=lambda m: not m.group()[:1].isdigit())]
    elif kind in ("name", "place"):
        wanted = ("person", "org", "name") if kind == "name" else ("place", "name")
        found: list[tuple[int, tuple[int, int]]] = []
        at = 0
        for name in names_in(sentence):
            i = sentence.find(name.text, at)
            if i < 0:
                continue
            at = i + len(name.text)
            if name.kind in wanted and not set(name.text.lower().split()) & set(asked.split()):
                found.append((wanted.index(name.kind), (i, i + len(name.text))))
        spans = [span for _, span in sorted(found, key=lambda f: f[0])]
    for a, b in spans:
        if sentence[a:b].strip().lower() not in asked:
            return a, b
    return None


#: Where a question names the thing it asks about, in order: "the name of (his) X", "X's
#: name", "what kind of X", "what was the X": a run of words up to the first stopword, the last
#: of them its head ("the second cousin who" -> "cousin"); "how many X", "which X": the word
#: right after ("Which banks held ..." -> "banks").
_ASKED_NOUN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bname of\s+(.+)", re.I), "last"),
    (re.compile(r"([\w-]+)['’]s name\b", re.I), "owner"),
    (re.compile(r"\b(?:which|what)\s+(?:kind|type|sort)\s+of\s+(.+)", re.I), "last"),
    (_HOW_MANY, "next"),
    (re.compile(r"\b(?:what|which)\s+(?:is|was|are|were)\s+(.+)", re.I), "last"),
    (re.compile(r"\b(?:which|what)\s+(.+)", re.I), "next"),
]
_WORD_RUN = re.compile(r"[\w’'-]+")
#: Words that stand where a noun would but say nothing of what is asked ("what is his name").
_NOT_A_NOUN = frozenset(("name", "names", "called", "one", "ones", "thing", "things"))


def asked_noun(question: str) -> str | None:
    """The noun the question asks about ("How many overs did he bowl?" -> "overs", "Which
    arena ...?" -> "arena", "What is the officer's name?" -> "officer"), or None where its
    words name none ("What did he say?")."""
    noun = _asked_word(question)
    return None if noun is None or noun.lower() in _NOT_A_NOUN else noun


def _asked_word(question: str) -> str | None:
    found = next(
        ((m, rule) for pattern, rule in _ASKED_NOUN if (m := pattern.search(question))), None
    )
    if found is None:
        return None
    m, rule = found
    words = _WORD_RUN.findall(m.group(1))
    if rule == "owner":
        return None if is_stopword(words[0].lower()) else words[0]
    if rule == "next":
        # "What did he say?", "What happened?": no noun, a verb.
        first = words[0].lower() if words else ""
        return None if not first or is_stopword(first) or first.endswith("ed") else words[0]
    run: list[str] = []
    for word in words:
        low = word.lower()
        if low.endswith(("'s", "’s")):
            # "Barkley's blood-alcohol level": the owner is not what is asked for.
            run = []
        elif is_stopword(low):
            if run:
                break
        else:
            run.append(word)
    return run[-1] if run else None


def asked_noun_terms(question: str) -> set[str]:
    """``terms`` of the noun the question asks about (``asked_noun``); empty where none."""
    noun = asked_noun(question)
    return set(terms(noun)) if noun else set()


def names_asked_noun(question: str, text: str) -> bool | None:
    """Whether ``text`` has the noun the question asks about; None where it names none."""
    wanted = asked_noun_terms(question)
    return bool(wanted & set(terms(text))) if wanted else None
