"""Which sentences of a model's reply the passages back.

The reply is held sentence by sentence as it streams. A sentence is *supported* when a sentence
of the passages backs it well enough (``SupportScorer.support``), it brings little that the
passages never say (its rare-word weight in words no passage uses), and every number it states
is one its passage states. A supported sentence is released with the marker of the passage
that backs it: its own marker where that passage does, else the best one's. A sentence no
passage supports is held back and counted, so that what a model knows of the world, or makes
up, never reaches the user as the answer.

The thresholds are fitted by ``python -m eval.grounding`` on written claims and on replies of a
real small model (SmolLM2-135M), each labelled supported or not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass, replace

import numpy as np

from rag.answer import MARKER, REFUSAL, Citation, strip_markers
from rag.choice import is_aside
from rag.extractive import citation, defuse_markers
from rag.retrieve import Passage
from rag.roles import known_roles, misplaces, reorders, reverses_pair, swapped
from rag.sentences import sentence_spans
from rag.support import Sentence, SupportScorer, sentences_of
from rag.terms import is_stopword, terms
from rag.words import AUXILIARIES, COUNTS, MONTHS, NEGATIONS, OPENERS, UNITS, alternation

#: A sentence is supported from this support (cosine + weighted word overlap) of its best
#: sentence in the passages, fitted by ``python -m eval.grounding``. The optimum is flat: 0.57
#: and 0.45 before "The passage is about ..." was no claim scored within 0.003 of this pair
#: (held out, the Qwen claims: supported kept 0.964 with both, unsupported dropped 0.841 ->
#: 0.848). 0.77 until a quotation had to be the passages' own words (``misquotes``): then
#: the refit moved here, which keeps two more right claims of the fitted set and shows three
#: more wrong ones.
SUPPORTED_FROM = 0.74
#: ... and when at most this share of its rare-word weight is in words no passage uses (0.40
#: before a denial and a swapped role were rejections of their own: the fit then had to keep
#: new words low to drop them).
NOVEL_UP_TO = 0.60
#: A second backing sentence is sought when the first lacks this share of the claim's rare-word
#: weight (``Grounding._second_source``): the share of new words a claim could hold when it
#: was set, kept apart from ``NOVEL_UP_TO`` so that refitting that does not move it.
SECOND_SOURCE_WHEN = 0.40

#: A sentence needs this many content words to be checked, and shown, at all.
MIN_WORDS = 2

#: What a model calls the passages it was given.
_PROMPT = r"(?:passages?|articles?|text|context)"
#: "The passage states that ...": the model speaking of its prompt, not of the news.
_ATTRIBUTION = re.compile(
    rf"^\s*(?:(?:the|this|these)\s+{_PROMPT}(?:\s+\[?\d+\]?)?\s+"
    r"(?:states?|says?|mentions?|notes?|indicates?|reports?|explains?|shows?|suggests?|"
    rf"describes?|highlights?|claims?)(?:\s+that)?|according\s+to\s+(?:the\s+)?"
    rf"{_PROMPT}(?:\s+\[?\d+\]?)?\s*,?|"
    r"the\s+answer(?:\s+to\s+(?:this|the|your)\s+question)?\s+is\s*:)\s*",
    re.I,
)
#: "The passage is about ...", "It is a factual report about ...": the model describing its
#: prompt instead of answering. SmolLM2 wrote these for questions it could not answer, and
#: they passed as backed (the passage's own words), standing in for the extractive answer.
#: Not "It is about 40 km from Kyiv", "The report is about to be released" or "It is an
#: article of faith that ...".
_ABOUT_THE_PASSAGES = re.compile(
    rf"^(?:(?:the|this|these)\s+(?:{_PROMPT}|reports?)\s+(?:is|are)\s+about\b"
    r"(?!\s+(?:to\b|\d|half\b|a\s+(?:third|quarter)\b))"
    r"|it\s+is\s+an?\s+(?:\w+\s+)?(?:report|article|passage|summary)\s+(?:about|on)\b"
    # "The passage is a report that tells you ...", "The passage contains a question about
    # ...", "It mentions ...": what the passages are, not what they say (SmolLM2, Qwen 1.5B).
    rf"|(?:the|this|these)\s+{_PROMPT}\s+(?:is|are)\s+an?\s+(?:\w+\s+)?"
    r"(?:report|article|passage|summary|story|text)\b"
    rf"|(?:the|this|these)\s+{_PROMPT}\s+contains?\b"
    r"|(?:it\s+)?mentions\b)",
    re.I,
)
#: A reply that says the passages do not answer, in the words small models use.
#: Only about the passages or the model itself: "Police released no information" is news.
_REFUSING = re.compile(
    rf"^(?:(?:the|these|this)\s+)?(?:{_PROMPT}|question|I)\b.{{0,40}}?"
    r"(?:do(?:es)?\s*n[o']t (?:answer|say|mention|contain|provide|state|know)|"
    r"(?:is|are) not (?:mentioned|stated|answered)|cannot (?:answer|find|be answered)|"
    r"can't (?:answer|find)|(?:has|have|contains?|gives?|provides?) no information|"
    r"unable to answer)",
    re.I,
)
#: Turn labels a small model writes before its reply (the history it was shown has them).
_ROLE = re.compile(r"^(?:(?:assistant|user|answer|a)\s*:\s*)+", re.I)
#: The prompt's labels, echoed by small models: "Question: ...", "Passages (untrusted ...".
_PROMPT_ECHO = re.compile(r"^(?:question|passages?|answer|example)\b\s*[:(]", re.I)
#: Markers after a sentence's end belong to it: "... trade. [1] Next" -> "... trade [1]. Next".
_MARKERS_AFTER_END = re.compile(
    r"([.!?][\"'”’)]*)([ \t]*)((?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\][ \t]*)+)"
)
#: What may still turn into a marker: "[", "[1", "[1, 2]".
_MARKERISH = re.compile(r"^[\[\]\d,\s]*$")
_SPACE_BEFORE_STOP = re.compile(r"\s+([.,;:!?])")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
#: Numbers in words ("one" is too often not a count).
_LETTER = re.compile(r"[^\W\d_]")
_WORD_DONE = re.compile(r"\S+\s")
_NUMBER_WORD = re.compile(alternation(COUNTS), re.I)
_END = re.compile(r"[.!?][\"'”’)]*$")


def _marker_before_end(m: re.Match[str]) -> str:
    markers = m.group(3)
    space = m.group(2) or markers[len(markers.rstrip()) :]
    return f" {markers.strip()}{m.group(1)}{space}"


def reply_sentences(text: str) -> list[str]:
    """The sentences of a reply, each with the markers that follow its full stop."""
    text = _MARKERS_AFTER_END.sub(_marker_before_end, text)
    return [text[a:b] for a, b in sentence_spans(text)]


def clean_claim(sentence: str) -> str:
    """The claim of a reply sentence: no markers, no "The passage states that"."""
    text = _SPACE_BEFORE_STOP.sub(r"\1", " ".join(strip_markers(sentence).split()))
    text = _ROLE.sub("", text.lstrip("-*•# ").replace("**", "")).strip()
    bare = _ATTRIBUTION.sub("", text, count=1)
    if bare != text and bare:
        text = bare[0].upper() + bare[1:]
    return text


def is_refusal(claim: str) -> bool:
    """Whether a reply sentence says that the passages do not answer."""
    return claim.strip() == REFUSAL or bool(_REFUSING.search(claim))


def is_claim(claim: str) -> bool:
    """Whether a reply sentence states something a passage could back: not a question (often
    the user's, echoed), not the prompt's own labels, and more than one word ("HACKED.",
    "Canberra.": too little to check against a passage)."""
    return (
        len(terms(claim)) >= MIN_WORDS
        and not claim.endswith("?")
        and not _PROMPT_ECHO.match(claim)
        and not _ABOUT_THE_PASSAGES.match(claim)
        and not is_refusal(claim)
    )


#: The question word that a bare answer stands in for ("Which newspaper reported ...?").
_ASKING = re.compile(rf"^(?:{alternation(OPENERS)}\s+)*(?:who|whom|whose|which|what)\b\s*", re.I)
_WORD_OF_ANSWER = re.compile(r"[^\W_][\w'’.&-]*")


def is_bare_answer(claim: str) -> bool:
    """Whether ``claim`` is a name or title alone ("The New York Times", "John Kerry."): each
    word capitalised, a figure or a stopword. Alone it states nothing; with its question it
    does."""
    words = _WORD_OF_ANSWER.findall(claim)
    return any(w[0].isupper() for w in words) and all(
        w[0].isupper() or w[0].isdigit() or is_stopword(w.lower()) for w in words
    )


def as_statement(question: str, answer: str) -> str:
    """The statement a bare answer makes of its question, the answer in the question word's
    place: "Which Treasury Secretary visited China?" + "John Kerry" -> "Treasury Secretary
    John Kerry visited China"; "Which newspaper reported ...?" + "The Times" -> "newspaper
    The Times reported ..."; "Who did Raimondo meet?" + "Wang" -> "did Raimondo meet Wang";
    ``answer`` as it is for a question that asks no who/which/what."""
    asked = question.strip().rstrip("?").strip()
    opening = _ASKING.match(asked)
    if opening is None:
        return answer
    words = asked[opening.end() :].split()
    answer = answer.strip().rstrip(".")
    if words and words[0].lower() in ("do", "does", "did"):
        # "Who did Raimondo meet?" asks for the verb's object: "... meet Wang Wentao".
        return " ".join([*words, answer])
    # The noun the question word asks for stays before the answer: a title ("Treasury
    # Secretary") is a role the answer is given, a common noun the kind of thing it is.
    n = 0
    while n < len(words) and words[n][0].isupper():
        n += 1
    if n == 0 and words and words[0].lower() not in AUXILIARIES:
        n = 1
    return " ".join([*words[:n], answer, *words[n:]])


def figures(text: str) -> set[str]:
    """The numbers ``text`` states in digits ("2024-01-02" and "January 2, 2024" share 2)."""
    return {n.replace(",", "").lstrip("0") or "0" for n in _DIGITS.findall(text)}


_WORDS = re.compile(r"[\w'’]+")


#: Words between a figure and what it counts ("700 billion of trade", "USD 700 billion").
_SCALE = UNITS | {"of", "usd", "us", "eur", "gbp", "rmb", "trillion", "%"}
#: How near a figure, in words, what it counts must be in the passages (before or after it:
#: "700 billion of trade", "trade worth 700 billion").
COUNTED_WITHIN = 4
_MONTH_WORDS = {m.lower() for m in MONTHS} | {m[:3].lower() for m in MONTHS}


def _counted(words: Sequence[str], i: int) -> str | None:
    """The stem of what the figure at ``words[i]`` counts: the first content word after it,
    past its scale and unit ("over USD 700 billion of trade" -> "trade"); ``None`` for a
    date, a year or a figure that ends its sentence."""
    if (i > 0 and words[i - 1] in _MONTH_WORDS) or re.fullmatch(r"(?:19|20)\d\d", words[i]):
        return None
    for w in words[i + 1 : i + 1 + COUNTED_WITHIN]:
        if w in _MONTH_WORDS or w[0].isdigit():
            return None
        if w in _SCALE or is_stopword(w):
            continue
        found = terms(w)
        return found[0] if found else None
    return None


def counts_another_thing(
    claim: str, passages: Sequence[Sequence[str]], known: Set[str], asked: Set[str] = frozenset()
) -> bool:
    """Whether a figure of ``claim`` counts something that the passages (``known``: their
    terms) or the question (``asked``) name, but the passages (``passages``: each one's
    lower-cased words) never with it: "USD 700 billion of agricultural products" where they
    have "USD 700 billion of trade" and the question asks about agricultural products (a
    figure and a thing joined from two places). The passages' words within
    ``COUNTED_WITHIN`` of the figure, either side, must have what the claim counts; a word
    neither uses ("27 firms" of "27 companies") is left to the share of new words."""
    said = _WORDS.findall(claim.lower())
    for i, w in enumerate(said):
        if not w[0].isdigit():
            continue
        counted = _counted(said, i)
        if counted is None or (counted not in known and counted not in asked):
            continue
        near: set[str] = set()
        for theirs in passages:
            for j, t in enumerate(theirs):
                if t == w:
                    window = theirs[max(0, j - COUNTED_WITHIN) : j + 1 + COUNTED_WITHIN]
                    near.update(terms(" ".join(window)))
        if near and counted not in near:
            return True
    return False


def denials(text: str) -> int:
    """How many words of denial ``text`` has ("not", "n't", "never", "refused" ...)."""
    return sum(w in NEGATIONS or w.endswith(("n't", "n’t")) for w in _WORDS.findall(text.lower()))


def reverses_denial(claim: str, backing: Sequence[str]) -> bool:
    """Whether ``claim`` denies what its backing sentences state, or states what they deny:
    it has no word of denial where they have one, or more of them than they have together
    ("would not not compromise"; "has not used export controls ... to deny China access" of
    "has used export controls ... to deny China access"). Fewer, but some, is no denial: a
    claim may leave out a clause that denies ("No arrests were made" of "She would not
    comment and no arrests were made")."""
    said = denials(claim)
    theirs = sum(denials(s) for s in backing)
    return (said == 0) != (theirs == 0) or said > theirs


_QUOTED = re.compile(r"[\"“”]([^\"“”]+)[\"“”]")


def _plain(text: str) -> str:
    """``text`` lower-cased, its words alone, one space apart: quotes compared as words."""
    return " ".join(re.findall(r"[\w'’-]+", text.lower().replace("’", "'")))


def quotations(claim: str) -> list[str]:
    """The words ``claim`` puts in double quotation marks, each as ``_plain`` gives it; a
    quotation left open runs to the claim's end ('"US President Joe Biden's executive order
    on foreign' is a quotation too, cut off)."""
    quoted = _QUOTED.findall(claim)
    marks = [m.start() for m in re.finditer(r"[\"“”]", claim)]
    if len(marks) % 2:
        quoted.append(claim[marks[-1] + 1 :])
    return [q for q in map(_plain, quoted) if q]


def number_words(text: str) -> set[str]:
    return {w.lower() for w in _NUMBER_WORD.findall(text)}


@dataclass(frozen=True)
class Verdict:
    """How the passages back one claim."""

    #: The sentences that back it (one per passage it is credited to), best first.
    backing: tuple[Sentence, ...]
    support: float
    #: Share of its rare-word weight in words no passage uses.
    novel: float
    #: Backed only by a headline, caption or credit line: the model repeating a heading, not
    #: stating the news. (Backed in part by one, "Raimondo hopes to export more of US-China
    #: communications brighten over trade", is no better, but a caption that the model cites
    #: beside the sentence that backs the whole claim is no echo: not yet told apart.)
    heading_only: bool
    #: Numbers it states that the passages do not: a figure that its backing passage lacks, or
    #: a number in words that no passage uses ("five stops" where they say "two stops").
    unstated_numbers: bool
    #: It denies what its backing sentences state, or states what they deny
    #: (``reverses_denial``). The words the support score weighs leave the words of denial
    #: out (stopwords), so a negated claim scores as well as the sentence it contradicts.
    negates: bool = False
    #: It gives someone a role that the passages give another ("The climate envoy is Janet
    #: Yellen" of "Treasury Secretary Janet Yellen and Climate Envoy John Kerry"), names
    #: two the other way round, or puts one in another's place ("Beijing's visit to Raimondo").
    #: The last moved the swapped claims dropped 0.38 -> 0.74 and no supported one; roles in
    #: the plural and shared along a list ("The envoys ... are Yellen and Kerry") then 0.74
    #: -> 0.77, all unsupported 0.91 -> 0.92, and two words the other way round ("Mao Ning's
    #: China") -> 0.81, again no supported one (``python -m eval.grounding``).
    swaps_roles: bool = False
    #: It quotes words ("...") that no passage has as they are quoted: a quotation is the
    #: passage's own words or none.
    misquotes: bool = False
    #: A bare answer ("The New York Times") whose words the sentences that back the statement
    #: it makes of its question do not have ("Washington Post" of "Which newspaper reported
    #: ...?" where the sentence that says who reported says "The New York Times").
    answer_unbacked: bool = False

    @property
    def rejected(self) -> bool:
        """Whether a rule rejects it whatever its support and new words."""
        return (
            self.unstated_numbers
            or self.heading_only
            or self.negates
            or self.swaps_roles
            or self.misquotes
            or self.answer_unbacked
        )

    @property
    def supported(self) -> bool:
        return (
            bool(self.backing)
            and self.support >= SUPPORTED_FROM
            and self.novel <= NOVEL_UP_TO
            and not self.rejected
        )


def _as_shown(p: Passage) -> str:
    return f"{p.title} {p.source} {p.published} {p.text}"


class Grounding:
    """Judges claims against one set of passages."""

    def __init__(self, passages: Sequence[Passage], scorer: SupportScorer) -> None:
        self.passages = list(passages)
        self.scorer = scorer
        self.sentences = sentences_of(self.passages)
        # The model sees each passage's title, source and date too.
        everything = " ".join(_as_shown(p) for p in self.passages)
        self._words = set(terms(everything))
        self._number_words = number_words(everything)
        self._roles = known_roles(_as_shown(p) for p in self.passages)
        self._shown = f" {_plain(everything)} "
        self._passage_words = [_WORDS.findall(p.text.lower()) for p in self.passages]

    def novel(self, claim: str) -> float:
        """Share of ``claim``'s rare-word weight in words no passage uses."""
        words = terms(claim)
        if not words:
            return 0.0
        idf = self.scorer.keyword.idf(words)
        # A word the library never saw gets the weight of the rarest word it did see.
        top = max(idf.values(), default=1.0) or 1.0
        weight = {w: idf.get(w) or top for w in set(words)}
        missing = sum(v for w, v in weight.items() if w not in self._words)
        return missing / (sum(weight.values()) or 1.0)

    def judge(self, claim: str, named: Sequence[int] = (), question: str = "") -> Verdict:
        """How well the passages back ``claim``; ``named`` are the passage numbers (1-based)
        the model gave it. A bare answer to ``question`` is judged as the statement it makes
        of it (``as_statement``), with the new words of the answer alone."""
        if not self.sentences or not claim:
            return Verdict((), 0.0, 1.0, False, False)
        if question and is_bare_answer(claim):
            stated = as_statement(question, claim)
            if stated != claim:
                v = self._judge(stated, named, question)
                have = {t for s in v.backing for t in terms(s.text)}
                return replace(
                    v, novel=self.novel(claim), answer_unbacked=not set(terms(claim)) <= have
                )
        return self._judge(claim, named, question)

    def _judge(self, claim: str, named: Sequence[int], question: str) -> Verdict:
        support = self.scorer.support(claim, [s.text for s in self.sentences])
        backing: list[tuple[float, Sentence]] = []
        for n in dict.fromkeys(named):
            own = [i for i, s in enumerate(self.sentences) if s.rank == n - 1]
            if own:
                i = max(own, key=lambda j: support[j])
                if support[i] >= SUPPORTED_FROM:
                    backing.append((float(support[i]), self.sentences[i]))
        if not backing:
            i = int(np.argmax(support))
            backing = [(float(support[i]), self.sentences[i])]
        backing.sort(key=lambda b: -b[0])
        extra = self._second_source(claim, [s for _, s in backing])
        stated = set().union(*(figures(_as_shown(s.passage)) for _, s in backing))
        claimed = figures(claim)
        if extra is None and claimed - stated:
            # A figure its backing lacks is a thing the claim says: the sentence that states
            # it may be the second source ("We share over USD 700 billion of trade, and the
            # two commerce secretaries committed to ..." joins two sentences).
            extra = self._second_source(claim, [s for _, s in backing], claimed - stated)
        if extra is not None:
            backing.append((float(support[self.sentences.index(extra)]), extra))
            stated |= figures(_as_shown(extra.passage))
        unstated = (
            claimed - stated
            or number_words(claim) - self._number_words
            or (
                bool(claimed)
                and counts_another_thing(
                    claim, self._passage_words, self._words, set(terms(question))
                )
            )
        )
        return Verdict(
            backing=tuple(s for _, s in backing),
            support=backing[0][0],
            novel=self.novel(claim),
            heading_only=all(is_aside(s.text) for _, s in backing),
            unstated_numbers=bool(unstated),
            negates=reverses_denial(claim, [s.text for _, s in backing]),
            misquotes=any(f" {q} " not in self._shown for q in quotations(claim)),
            swaps_roles=swapped(claim, self._roles)
            or all(
                reorders(claim, s.text) or misplaces(claim, s.text) or reverses_pair(claim, s.text)
                for _, s in backing
            ),
        )

    def _second_source(
        self, claim: str, backing: Sequence[Sentence], stating: set[str] | None = None
    ) -> Sentence | None:
        """The sentence that states most of what ``claim`` says and its backing sentences do
        not ("Lai, who stopped twice in the US, was going to Paraguay" joins two sentences),
        so that each thing a sentence says is cited where it is said. Sought only when what
        they lack is as large a share of the claim's rare-word weight as a claim may hold in
        new words (``SECOND_SOURCE_WHEN``), or, with ``stating``, among the sentences that
        state those figures whatever the share; taken when it states at least half of it."""
        idf = self.scorer.keyword.idf(terms(claim))
        have = {t for s in backing for t in terms(s.text)}
        weight = {w: v for w, v in idf.items() if w not in have}
        total = sum(weight.values())
        if total <= 0 or (stating is None and total < SECOND_SOURCE_WHEN * sum(idf.values())):
            return None
        best, covered = None, 0.0
        for s in self.sentences:
            if s in backing or (stating and not stating <= figures(s.text)):
                continue
            got = sum(v for w, v in weight.items() if w in set(terms(s.text)))
            if got > covered:
                best, covered = s, got
        return best if covered >= total / 2 else None


class SentenceGate:
    """Holds a streamed reply until each sentence ends, then lets through only the supported
    ones, each with its citation; the rest are counted (and kept, to be shown apart)."""

    def __init__(self, passages: Sequence[Passage], scorer: SupportScorer) -> None:
        self.grounding = Grounding(passages, scorer)
        self.citations: list[Citation] = []
        #: Markers that named no passage.
        self.dropped = 0
        #: Sentences no passage supports, as the model wrote them (markers removed).
        self.unsupported: list[str] = []
        self.text = ""
        self._held = ""
        self._seen: set[str] = set()
        self._by_quote: dict[tuple[str, int], int] = {}
        #: The question the reply now streaming answers: a bare answer is judged with it.
        self.question = ""

    def feed(self, piece: str) -> str:
        """The text that can be shown now: the sentences that ``piece`` completed."""
        self._held = _MARKERS_AFTER_END.sub(_marker_before_end, self._held + piece)
        spans = sentence_spans(self._held)
        if spans and _MARKERISH.match(self._held[spans[-1][0] :]):
            spans.pop()  # a marker on its way belongs to the sentence before it
        if spans and not _WORD_DONE.match(self._held[spans[-1][0] :]):
            # "... in the U.S. In" may yet be "U.S. Intelligence": wait for the whole word.
            spans.pop()
        if len(spans) < 2:
            return ""
        # Every sentence but the last is complete: the next one has begun.
        cut = spans[-1][0]
        done, self._held = self._held[:cut], self._held[cut:]
        return self._release([done[a:b] for a, b in spans[:-1]])

    def close(self) -> str:
        """The last sentence, once the reply has ended."""
        rest, self._held = self._held, ""
        spans = sentence_spans(rest)
        if spans and not _END.search(clean_claim(rest[spans[-1][0] : spans[-1][1]])):
            # Cut off by the token cap (or a stop sequence) mid-sentence: never shown.
            last = clean_claim(rest[spans.pop()[0] :])
            if _LETTER.search(last):
                self.unsupported.append(last)
        return self._release([rest[a:b] for a, b in spans])

    def quote(self, s: Sentence) -> str:
        """An article's own sentence shown as it stands, with its citation (nothing to judge),
        as the extractive answer shows it."""
        shown = len(self.text)
        self.text += f"{' ' if self.text else ''}{defuse_markers(s.text)} [{self._cite(s)}]"
        return self.text[shown:]

    def cites(self, s: Sentence) -> bool:
        """Whether a shown sentence already cites ``s``."""
        return (s.passage.article_id, s.start) in self._by_quote

    def _release(self, sentences: Sequence[str]) -> str:
        shown = len(self.text)
        for sentence in sentences:
            out = self._check(sentence)
            if out:
                self.text += (" " if self.text else "") + out
        return self.text[shown:]

    def _check(self, sentence: str) -> str:
        """The sentence as shown, with its marker(s); "" when it is held back."""
        claim = clean_claim(sentence)
        if not _LETTER.search(claim) or claim in self._seen:
            return ""  # "1.", a stray marker, a sentence said again: nothing to show
        self._seen.add(claim)
        if is_refusal(claim) or claim.endswith("?") or _PROMPT_ECHO.match(claim):
            return ""  # the model declining, the question or the prompt echoed: no claim
        given = len(self.grounding.passages)
        markers = [int(x) for m in MARKER.finditer(sentence) for x in m.group(1).split(",")]
        named = [n for n in markers if 1 <= n <= given]
        verdict = self.grounding.judge(claim, named, self.question)
        if not is_claim(claim) or not verdict.supported:
            self.dropped += len(markers)
            self.unsupported.append(claim)
            return ""
        # A marker stays only where its passage backs the sentence; the rest are dropped.
        backing = {s.rank + 1 for s in verdict.backing}
        self.dropped += sum(1 for n in markers if n not in backing)
        marks = "".join(f"[{self._cite(s)}]" for s in verdict.backing)
        end = _END.search(claim)
        if end:
            return f"{claim[: end.start()]} {marks}{claim[end.start() :]}"
        return f"{claim} {marks}"

    def _cite(self, s: Sentence) -> int:
        key = (s.passage.article_id, s.start)
        if key not in self._by_quote:
            self._by_quote[key] = len(self.citations) + 1
            self.citations.append(citation(self._by_quote[key], s))
        return self._by_quote[key]
