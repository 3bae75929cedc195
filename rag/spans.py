"""Candidate spans of a sentence and their features: every span of up to ``MOST_WORDS``
words (and every clause between punctuation), each described by what the question asks for
(its type), the span's shape (a name, a number, a date, a phrase opening with "in"/"because"/
"to"), its closeness to the question's words in the sentence, and the words beside it. The
reader (``rag.reader``) weighs them."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from rag.items import asked_item
from rag.terms import is_stopword, terms
from rag.words import (
    DAYS,
    IRREGULAR_PAST,
    MONTHS,
    NUMBER_WORDS,
    OPENERS,
    PLACES,
    PREPOSITIONS,
    REASONS,
    ROLES,
    UNITS,
)

#: The longest span of words a candidate may be (clauses between punctuation may be longer):
#: CoQA's answers are 2.7 words on average, and 95% of them are at most 10.
MOST_WORDS = 10

_TOKEN = re.compile(
    r"[$€£]?\d[\d,.:]*(?:%|(?:st|nd|rd|th|s)\b)?|['’]s\b|\w+(?:[-.]\w+|['’](?!s\b)\w+)*|[^\w\s]"
)
_YEAR = re.compile(r"^(?:1[5-9]\d\d|20\d\d)s?$")
_QUOTES = frozenset("\"“”'‘’")
_DOUBLE_QUOTES = frozenset('"“”')
#: A news sentence's dateline: where and when the story was filed, not what it states.
_DATELINE = re.compile(
    r"^(?:[A-Z][\w.'’-]*[ ,]*){1,4}[(\[][^)\]]{0,40}[)\]][^\n.!?:]{0,30}?\s*(?:--|—|–|-|:)"
)
_DATE_WORDS = frozenset(w.lower() for w in (*MONTHS, *DAYS))

#: What a question asks for, by its opening words.
QUESTION_TYPES = ("who", "when", "where", "count", "measure", "what", "why", "how", "choice")
_TYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("choice", re.compile(r"\b\w+ or \w+[^,]*\?*\s*$", re.I)),
    ("when", re.compile(r"^when\b|\bwhat (?:year|date|time|day|month|century)\b", re.I)),
    ("count", re.compile(r"^how many\b|\bhow many\b|\bwhat (?:number|percent)", re.I)),
    ("measure", re.compile(r"^how (?:much|old|long|far|big|large|tall|often|fast)\b", re.I)),
    ("who", re.compile(r"^(?:who|whom|whose)\b|\bwho\b", re.I)),
    ("where", re.compile(r"^where\b|\bwhere\b", re.I)),
    ("why", re.compile(r"^why\b|\bwhy\b|\bhow come\b|\bwhat (?:caused|led to)\b", re.I)),
    ("how", re.compile(r"^how\b", re.I)),
    ("what", re.compile(r"^(?:what|which)\b|\b(?:what|which)\b", re.I)),
]

#: "Who is X?", "What was Y?", "Who's the ...": asks what a name is, so a title of it answers.
_ASKS_WHAT_IT_IS = re.compile(r"^\W*(?:who|what)(?:'s|\s+(?:is|was|are|were))\b", re.I)

#: "Who did Carlos Mendes meet ...?", "What will she buy?": asks for what the verb acts on.
_ASKS_OBJECT = re.compile(
    r"^\W*(?:who|whom|what|(?:which|whose)\s+\w+)\s+(?:did|does|do|will|would|can|could|has|have|had|"
    r"should|might|may)\s+(.+)$",
    re.I,
)
#: Words a subject may be made of before the verb (a capitalised name is one too).
_SUBJECT_WORDS = frozenset(["he", "she", "they", "it", "i", "you", "we"])
#: A subject that opens with one of these is the word after it too ("the police").
_DETERMINERS = frozenset(
    ["his", "her", "their", "its", "the", "a", "an", "this", "that", "these", "those"]
)
#: How far after the verb its object may begin ("met his Indian counterpart Priya Raman").
OBJECT_WITHIN = 5


def asked_verb(question: str) -> frozenset[str]:
    """The stems of the verb whose object the question asks for, when it asks for one."""
    m = _ASKS_OBJECT.match(question.strip())
    if m is None:
        return frozenset()
    words = re.findall(r"[\w'’-]+", m.group(1))
    i = 0
    while i < len(words):
        word = words[i].lower()
        if word in _DETERMINERS:
            i += 2
        elif words[i][:1].isupper() or word in _SUBJECT_WORDS:
            i += 1
        else:
            break
    if i == 0 or i >= len(words) or is_stopword(words[i].lower()):
        return frozenset()
    return frozenset(_terms(words[i]))


SHAPES = (
    "whole_name",  # capitalised words, none beside it (all of "Anees al-Sharif")
    "full_name",  # a whole name of two words or more (a person's, mostly)
    "place",  # a country, a US state, a continent or its people's word ("China", "Chinese")
    "after_role",  # right after a noun of a person's role ("counterpart Wang Wentao")
    "in_dateline",  # in the opening "BEIJING [China], August 28 :" / "LONDON (CNN) --"
    "after_head",  # right after the thing a "what/which X" or "how many X" asks about
    "before_head",  # right before it ("Entertainment Weekly magazine", "12 companies")
    "after_asked_verb",  # within five words after the verb of a question that asks for its
    # object ("Who did Carlos Mendes *meet*?": "... Mendes met his counterpart Priya Raman")
    "title_of_asked_name",  # right before a name the question holds, when the question does
    # not ask what that name is: "Trade Minister" (Carlos Mendes) answers "Who is Carlos
    # Mendes?", not "Who did Carlos Mendes meet?"
    "whole_number",  # a number with its unit, no number beside it
    "capitals",  # share of its content words capitalised (not opening the sentence), new ones
    "number",  # holds a number
    "date",  # holds a month, a weekday or a year
    "opens_with_preposition",  # "in Paris", "on Monday"
    "opens_with_reason",  # "because ...", "to ...", "by ..."
    "short",  # one or two words
    "long",  # six words or more
    "clause",  # runs from one punctuation mark (or the sentence's edge) to the next
    "question_words",  # share of its content words that the question has
)
#: The words beside a span that tell what it is ("by" before an agent, "in" before a place,
#: "said" after a speaker), each a feature on its own side and crossed with the question type.
CONTEXT_WORDS = (
    "of", "by", "in", "on", "at", "to", "for", "from", "with", "as", "the", "a", "and", "is",
    "was", "are", "were", "said", "says", "told", "named", "called", "who", "that", "which",
    ",", "(", ")", '"', ":", "'s",
)  # fmt: skip
FEATURES = (
    "bias_length_1",
    "length_2",
    "length_3",
    "length_4",
    "length_5_6",
    "length_7_10",
    "length_over_10",
    *SHAPES,
    "any_question_word",  # holds a word of the question
    "only_question_words",  # every content word of it is the question's
    "after_question_word",  # a question word right before it (a stopword may come between)
    "before_question_word",  # one right after it
    "next_to_question_word",  # a question word right beside it
    "near_question_word",  # one within three words
    "log_distance",  # log(1 + words to the nearest question word outside it)
    "no_question_word_in_sentence",
    "starts_with_stopword",
    "ends_with_stopword",
    "in_quotation",  # inside quotation marks
    "whole_sentence",
    "asked_item",  # the item rag.items finds for the question
    "second_sentence",  # in the second cited sentence
    *(f"{t}*{s}" for t in QUESTION_TYPES for s in SHAPES),
    *(f"left={w}" for w in CONTEXT_WORDS),
    *(f"right={w}" for w in CONTEXT_WORDS),
    *(f"{t}*left={w}" for t in QUESTION_TYPES for w in CONTEXT_WORDS),
    *(f"{t}*right={w}" for t in QUESTION_TYPES for w in CONTEXT_WORDS),
)


def question_type(question: str) -> str:
    """What ``question`` asks for (one of ``QUESTION_TYPES``), or "" when its words do not say."""
    words = question.strip().split()
    while words and words[0].lower().strip(",") in OPENERS:
        words = words[1:]
    text = " ".join(words)
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(text):
            return kind
    return ""


@dataclass(frozen=True)
class Tokens:
    """A sentence's words and marks with their character offsets and what each one is."""

    text: str
    starts: np.ndarray
    ends: np.ndarray
    words: list[str]
    punct: np.ndarray
    asked: np.ndarray
    stop: np.ndarray
    capital: np.ndarray
    number: np.ndarray
    date: np.ndarray
    quote: np.ndarray

    @classmethod
    def of(cls, text: str, asked_terms: frozenset[str]) -> Tokens:
        found = list(_TOKEN.finditer(text))
        words = [m.group() for m in found]
        lower = [w.lower() for w in words]
        punct = [not any(c.isalnum() for c in w) for w in words]
        return cls(
            text=text,
            starts=np.array([m.start() for m in found], dtype=np.int64),
            ends=np.array([m.end() for m in found], dtype=np.int64),
            words=words,
            punct=np.array(punct, dtype=bool),
            asked=np.array(
                [
                    not p and bool(set(terms(w)) & asked_terms)
                    for w, p in zip(words, punct, strict=True)
                ],
                dtype=bool,
            ),
            stop=np.array([is_stopword(w) for w in lower], dtype=bool),
            capital=np.array([i > 0 and w[:1].isupper() for i, w in enumerate(words)], dtype=bool),
            number=np.array(
                [
                    any(c.isdigit() for c in w) or w in NUMBER_WORDS
                    for w, w0 in zip(lower, words, strict=True)
                ],
                dtype=bool,
            ),
            date=np.array([w in _DATE_WORDS or bool(_YEAR.match(w)) for w in lower], dtype=bool),
            quote=np.array([w in _QUOTES for w in words], dtype=bool),
        )


def _spans(tokens: Tokens) -> tuple[np.ndarray, np.ndarray]:
    """``(first, last)`` token of every candidate: word spans of up to ``MOST_WORDS`` that
    start and end on a word, and every clause between marks."""
    n = len(tokens.words)
    word = ~tokens.punct
    # A span never cuts a quotation in half ('as “benign' of 'as “benign”'): the double
    # quotation marks inside it pair up.
    marks = np.cumsum([w in _DOUBLE_QUOTES for w in tokens.words])
    first, last = [], []
    for i in range(n):
        if not word[i]:
            continue
        for j in range(i, min(n, i + MOST_WORDS)):
            if word[j] and (marks[j] - marks[i]) % 2 == 0:
                first.append(i)
                last.append(j)
    # Clauses: runs of words between marks, longer than the word spans reach.
    bounds = [-1, *np.flatnonzero(tokens.punct & ~tokens.quote).tolist(), n]
    for a, b in itertools.pairwise(bounds):
        i, j = a + 1, b - 1
        while i <= j and not word[i]:
            i += 1
        while j >= i and not word[j]:
            j -= 1
        if i <= j and j - i + 1 > MOST_WORDS and (marks[j] - marks[i]) % 2 == 0:
            first.append(i)
            last.append(j)
    if n and word.any():
        words = np.flatnonzero(word)
        if words[-1] - words[0] + 1 > MOST_WORDS:
            first.append(int(words[0]))
            last.append(int(words[-1]))
    return np.array(first, dtype=np.int64), np.array(last, dtype=np.int64)


def _nearest(marks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position, the index of the nearest marked token at or before it (-inf none)
    and at or after it (+inf none)."""
    n = len(marks)
    before = np.full(n, -np.inf)
    after = np.full(n, np.inf)
    last = -np.inf
    for i in range(n):
        if marks[i]:
            last = i
        before[i] = last
    nxt = np.inf
    for i in range(n - 1, -1, -1):
        if marks[i]:
            nxt = i
        after[i] = nxt
    return before, after


def _words_after(before: np.ndarray, first: np.ndarray) -> np.ndarray:
    """For spans starting at token ``first``, how far each starts after the nearest marked
    token before it (``before``: ``_nearest``'s first half; inf when none is)."""
    return np.where(first > 0, first - before[np.maximum(first - 1, 0)], np.inf)


def span_features(
    question: str, sentence: str, asked_terms: frozenset[str], second: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, X, lo, hi)``: the character span of every candidate in ``sentence``,
    its row of ``FEATURES`` and the range of its scored words (CoQA's F1 counts neither marks
    nor a/an/the)."""
    tokens = Tokens.of(sentence, asked_terms)
    first, last = _spans(tokens)
    x = np.zeros((len(first), len(FEATURES)), dtype=np.float32)
    if not len(first):
        empty = np.zeros(0, np.int64)
        return empty, empty, x, empty, empty
    col = {name: i for i, name in enumerate(FEATURES)}

    def total(mark: np.ndarray) -> np.ndarray:
        sums = np.concatenate([[0], np.cumsum(mark)])
        return sums[last + 1] - sums[first]

    words = total(~tokens.punct)
    length = last - first + 1
    for name, lo, hi in (
        ("bias_length_1", 1, 1), ("length_2", 2, 2), ("length_3", 3, 3), ("length_4", 4, 4),
        ("length_5_6", 5, 6), ("length_7_10", 7, 10), ("length_over_10", 11, 10**6),
    ):  # fmt: skip
        x[:, col[name]] = (words >= lo) & (words <= hi)
    content = np.maximum(total(~tokens.punct & ~tokens.stop), 1)
    n = len(tokens.words)
    opener = [tokens.words[i].lower() for i in first]
    before = np.where(first > 0, tokens.punct[np.maximum(first - 1, 0)], True)
    after = np.where(last < n - 1, tokens.punct[np.minimum(last + 1, n - 1)], True)
    shapes = {
        "capitals": total(tokens.capital & ~tokens.stop & ~tokens.asked) / content,
        "number": total(tokens.number) > 0,
        "date": total(tokens.date) > 0,
        "opens_with_preposition": np.array([w in PREPOSITIONS for w in opener]),
        "opens_with_reason": np.array([w in REASONS for w in opener]),
        "short": words <= 2,
        "long": words >= 6,
        "clause": before & after,
        "question_words": total(tokens.asked) / content,
    }
    for name, values in shapes.items():
        x[:, col[name]] = values
    has_asked = total(tokens.asked) > 0
    x[:, col["any_question_word"]] = has_asked
    left, right = _nearest(tokens.asked)
    gap_left = _words_after(left, first)
    gap_right = np.where(last < n - 1, right[np.minimum(last + 1, n - 1)] - last, np.inf)
    gap = np.minimum(gap_left, gap_right)
    x[:, col["only_question_words"]] = total(tokens.asked) >= content
    head = head_terms(question)
    if head:
        is_head = np.array([bool(set(terms(w)) & head) for w in tokens.words], dtype=bool)
        h_left, h_right = _nearest(is_head)
        from_head = _words_after(h_left, first)
        to_head = np.where(last < n - 1, h_right[np.minimum(last + 1, n - 1)] - last, np.inf)
        x[:, col["after_head"]] = from_head <= 2
        x[:, col["before_head"]] = to_head == 1
    x[:, col["after_question_word"]] = gap_left <= 2
    x[:, col["before_question_word"]] = gap_right <= 2
    x[:, col["next_to_question_word"]] = gap <= 1
    x[:, col["near_question_word"]] = gap <= 3
    x[:, col["log_distance"]] = np.log1p(np.minimum(gap, 40))
    x[:, col["no_question_word_in_sentence"]] = not tokens.asked.any()
    x[:, col["starts_with_stopword"]] = tokens.stop[first] & ~np.isin(opener, list(PREPOSITIONS))
    x[:, col["ends_with_stopword"]] = tokens.stop[last]
    opened = np.concatenate([[0], np.cumsum(tokens.quote)])[first] % 2 == 1
    x[:, col["in_quotation"]] = opened
    x[:, col["whole_sentence"]] = (words == (~tokens.punct).sum()) & (length > 0)
    lower = [w.lower() for w in tokens.words]
    cap = tokens.capital | (np.arange(n) == 0) & ~tokens.stop
    left_cap = np.where(first > 0, cap[np.maximum(first - 1, 0)], False)
    right_cap = np.where(last < n - 1, cap[np.minimum(last + 1, n - 1)], False)
    x[:, col["whole_name"]] = (total(cap) == words) & ~left_cap & ~right_cap
    x[:, col["full_name"]] = x[:, col["whole_name"]] * (words >= 2)
    x[:, col["place"]] = total(np.isin(lower, list(PLACES))) == words
    verb = asked_verb(question)
    if verb:
        is_verb = np.array([bool(set(_terms(w)) & verb) for w in tokens.words], dtype=bool)
        x[:, col["after_asked_verb"]] = _words_after(_nearest(is_verb)[0], first) <= OBJECT_WITHIN
    if not _ASKS_WHAT_IT_IS.match(question):
        asked_name = tokens.asked & tokens.capital
        x[:, col["title_of_asked_name"]] = np.where(
            last < n - 1, asked_name[np.minimum(last + 1, n - 1)], False
        )
    x[:, col["after_role"]] = np.array([f > 0 and lower[f - 1] in ROLES for f in first])
    dateline = _DATELINE.match(sentence)
    if dateline is not None:
        x[:, col["in_dateline"]] = tokens.ends[last] <= dateline.end()
    left_num = np.where(first > 0, tokens.number[np.maximum(first - 1, 0)], False)
    # The number phrase itself: numbers, and at most a last word saying what they count.
    unit = np.isin(lower, list(UNITS))
    numeric = total(tokens.number | unit) == words
    right_num = np.where(last < n - 1, tokens.number[np.minimum(last + 1, n - 1)], False)
    x[:, col["whole_number"]] = (
        tokens.number[first] & ~left_num & ~right_num & numeric & (words <= 4)
    )
    starts, ends = tokens.starts[first], tokens.ends[last]
    item = asked_item(question, sentence)
    if item is not None:
        x[:, col["asked_item"]] = (starts == item[0]) & (ends == item[1])
    x[:, col["second_sentence"]] = second
    kind = question_type(question)
    if kind:
        for shape in SHAPES:
            x[:, col[f"{kind}*{shape}"]] = x[:, col[shape]]
    for side, at in (("left", first - 1), ("right", last + 1)):
        for i, t in enumerate(at):
            if 0 <= t < n and f"{side}={lower[t]}" in col:
                x[i, col[f"{side}={lower[t]}"]] = 1.0
                if kind:
                    x[i, col[f"{kind}*{side}={lower[t]}"]] = 1.0
    scored = np.concatenate([[0], np.cumsum(~tokens.punct & ~np.isin(lower, ["a", "an", "the"]))])
    return starts, ends, x, scored[first], scored[last + 1]


_HEAD = re.compile(
    r"\b(?:what|which|whose|how many|how much)\s+(?:kind of\s+|type of\s+|sort of\s+)?"
    r"([a-z][\w-]*)",
    re.I,
)


def head_terms(question: str) -> frozenset[str]:
    """The stems of the thing the question names as what it wants ("what *role*", "how many
    *seats*"), when it names one."""
    m = _HEAD.search(question)
    if m is None or is_stopword(m.group(1).lower()):
        return frozenset()
    return frozenset(terms(m.group(1)))


def _terms(text: str) -> list[str]:
    """``terms`` with irregular past forms as their verb ("met" matches "meet")."""
    words = [IRREGULAR_PAST.get(w.lower(), w) for w in text.split()]
    return terms(" ".join(words))


def asked_terms(question: str, standalone: str) -> frozenset[str]:
    """The question's content words, with those of its rewrite."""
    return frozenset(_terms(question)) | frozenset(_terms(standalone))
