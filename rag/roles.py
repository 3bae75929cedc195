"""The roles a text gives the people it names ("Treasury Secretary Janet Yellen", "Yellen, the
finance minister", "The climate envoy is John Kerry"), so that the gate can tell a claim that
gives a person another's role: a small model that reads "Treasury Secretary Janet Yellen and
Climate Envoy John Kerry" may write "The climate envoy is Janet Yellen", and every word of that
claim is in its passage."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

from rag.terms import is_stopword
from rag.words import PLACES, ROLES

#: A run of capitalised words: a name, or a title and a name ("US Commerce Secretary Gina
#: Raimondo"), split where its last role word ends.
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")
_WORD = re.compile(r"[\w'’.-]+")
#: "SUBJECT is NAME" / "NAME is the ROLE": a role given by a copula.
_COPULA = re.compile(r"\s(?:is|was|are|were)\s(?:the\s|a\s|an\s)?", re.I)
#: What stands between two names of one list ("A and B", "A, B").
_LIST_GAP = re.compile(r"\s*(?:,\s*(?:and\s+)?|and\s+)")
#: Words before a name that may carry its role ("the minister, Wang"; "the chief, Yellen").
BEFORE = 3
#: Words of ``ROLES`` that say how one person stands to another, not what office they hold:
#: "her counterpart Wang Wentao" does not deny that he is the commerce minister.
RELATIONS = frozenset(
    [
        "counterpart",
        "colleague",
        "friend",
        "partner",
        "rival",
        "teammate",
        "father",
        "mother",
        "son",
        "daughter",
        "wife",
        "husband",
        "brother",
        "sister",
        "uncle",
        "aunt",
        "cousin",
        "boyfriend",
        "girlfriend",
    ]
)
OFFICES = ROLES - RELATIONS


def _office(word: str) -> str | None:
    """The office ``word`` names, its plural too ("executives", "secretaries")."""
    w = word.lower().rstrip(".,")
    for form in (w, w.removesuffix("s"), w.removesuffix("es"), w.removesuffix("ies") + "y"):
        if form in OFFICES:
            return form
    return None


def _role_words(words: Iterable[str]) -> set[str]:
    return {o for o in map(_office, words) if o is not None}


def roles(text: str) -> dict[str, set[str]]:
    """Each person's surname -> the role words the text attaches to them."""
    found: dict[str, set[str]] = defaultdict(set)
    # "The ROLES ... are NAME and NAME": a list after the copula shares its role.
    listed: set[str] = set()
    listed_end = -1
    for run in _CAPITALISED.finditer(text):
        words = run.group().split()
        last_role = max((i for i, w in enumerate(words) if _role_words([w])), default=-1)
        name = words[last_role + 1 :]
        if not name or _role_words(name) or name[-1].lower() in ("the", "a", "an"):
            continue
        surname = name[-1].rstrip(".,'’s").lower()
        if surname in PLACES:
            continue
        attached = _role_words(words[: last_role + 1])
        before = _WORD.findall(text[: run.start()])[-BEFORE:]
        if not attached and not any(w.endswith(",") for w in before[-1:]):
            attached = _role_words(before)
        after = text[run.end() :]
        said = _COPULA.match(after)
        if said:  # "NAME is the ROLE ..."
            attached |= _role_words(_WORD.findall(after[said.end() :])[:BEFORE])
        elif after.startswith(", "):  # "NAME, the ROLE, ..."
            attached |= _role_words(_WORD.findall(after)[:BEFORE])
        ahead = text[: run.start()]
        copula = list(_COPULA.finditer(ahead))
        if copula and copula[-1].end() == len(ahead):  # "The ROLE ... is NAME"
            listed = _role_words(_WORD.findall(ahead[: copula[-1].start()]))
            attached |= listed
        elif listed and _LIST_GAP.fullmatch(text[listed_end : run.start()]):
            attached |= listed
        else:
            listed = set()
        listed_end = run.end()
        if attached:
            found[surname] |= attached
    return dict(found)


def known_roles(sources: Iterable[str]) -> dict[str, set[str]]:
    """Each surname -> every role word the sources attach to it."""
    theirs: dict[str, set[str]] = defaultdict(set)
    for text in sources:
        for surname, words in roles(text).items():
            theirs[surname] |= words
    return dict(theirs)


def swapped(claim: str, known: dict[str, set[str]]) -> bool:
    """Whether ``claim`` gives someone a role that no source gives them while a source gives
    them another one (``known``: from ``known_roles`` of the sources)."""
    return any(
        surname in known and not (words & known[surname]) for surname, words in roles(claim).items()
    )


#: Words between two names that make their order free ("Raimondo and Wang", "Raimondo met Wang").
_SYMMETRIC = frozenset(
    ["and", "met", "meet", "meets", "meeting", "with", "between", "talked", "spoke", "agreed", "or"]
)
_NAME_WORD = re.compile(r"\b[A-Z][\w’'-]*")


def _names(text: str) -> list[str]:
    """The capitalised words of ``text`` (a sentence's first word only when it is capitalised
    mid-sentence elsewhere too), lower-cased, possessives dropped."""
    out = []
    for m in _NAME_WORD.finditer(text):
        word = m.group().lower().removesuffix("’s").removesuffix("'s")
        if word in ("the", "a", "an", "it", "he", "she", "they", "this", "in", "on", "as"):
            continue
        out.append(word)
    return out


def _between(text: str, a: str, b: str) -> str | None:
    """The text between the first ``a`` and the first ``b`` after it (lower-cased names)."""
    lower = text.lower()
    start = lower.find(a)
    end = lower.find(b, start + len(a)) if start >= 0 else -1
    return text[start + len(a) : end] if start >= 0 and end >= 0 else None


def reorders(claim: str, sentence: str) -> bool:
    """Whether ``claim`` names two of ``sentence``'s names the other way round where the
    sentence links them by a word that gives them roles ("Washington described the relations
    between Raimondo and Beijing" of "Raimondo described the relations between Washington
    and Beijing"): who did what to whom is in the order of the names. The order is free
    across a comma or quote ("Ahead of Raimondo's trip, 27 Chinese companies ...", "..., The
    Times reported"), inside one name or title ("National Security Advisor Jake Sullivan"),
    across symmetric words ("Raimondo met Wang"), and in a claim that says who is what."""
    said = _names(claim)
    theirs = _names(sentence)
    shared = [w for w in dict.fromkeys(said) if theirs.count(w) == 1 and said.count(w) == 1]
    for i, a in enumerate(shared):
        for b in shared[i + 1 :]:
            if theirs.index(a) < theirs.index(b):
                continue
            linking = _between(sentence, b, a)
            if linking is None or re.search(r"[,;:“”\"]", linking):
                continue
            words = set(re.findall(r"\b[a-z]+\b", linking))  # lower-case: not part of a name
            if not words - _SYMMETRIC:
                continue
            in_claim = _between(claim, a, b) or ""
            if re.search(r"\b(?:is|was|are|were)\b|[,;:“”\"]", in_claim):
                # A claim that says who is what, or fronts a phrase across a comma ("Since the
                # Chinese spy balloon incident, relations between China and ..."), keeps roles.
                continue
            return True
    return False


_TOKEN = re.compile(r"[’']s\b|[\w-]+(?:[’'](?!s\b)\w+)*")


def _tokens(text: str) -> list[tuple[str, bool]]:
    """``text``'s words, lower-cased, a possessive "'s" a word of its own, each with whether
    it is a name (a capitalised word that ``_names`` keeps)."""
    names = set(_names(text))
    out = []
    for m in _TOKEN.finditer(text):
        word = m.group().lower().replace("’", "'")
        out.append((word, word in names and m.group()[0].isupper()))
    return out


def misplaces(claim: str, sentence: str) -> bool:
    """Whether ``claim`` puts one of ``sentence``'s names where the sentence has another of
    them: beside a word that the sentence puts beside the other name and never beside this
    one ("Beijing's visit to Raimondo" of "Raimondo's visit to Beijing"; "Chinese met with her
    Gina Raimondo counterpart" of "Gina Raimondo met with her Chinese counterpart"). Who does
    what is in which name stands next to which word; a word that makes the order free
    ("and", "with") says nothing of it."""
    said, theirs = _tokens(claim), _tokens(sentence)
    shared = {w for w, name in said if name} & {w for w, name in theirs if name}
    pairs = {(a, b) for (a, _), (b, _) in pairwise(theirs)}
    kept = {(a, b) for (a, _), (b, _) in pairwise(said)}
    for i, (word, name) in enumerate(said):
        if not name or word not in shared:
            continue
        for j in (i - 1, i + 1):
            if not 0 <= j < len(said) or said[j][1] or said[j][0] in _SYMMETRIC:
                continue
            other = said[j][0]
            if ((other, word) if j < i else (word, other)) in pairs:
                continue
            # The name whose place this is, in the sentence, has lost it in the claim.
            for m in shared - {word}:
                theirs_pair = (other, m) if j < i else (m, other)
                if theirs_pair in pairs and theirs_pair not in kept:
                    return True
    return False


def reverses_pair(claim: str, sentence: str) -> bool:
    """Whether ``claim`` has two words side by side that ``sentence`` has the other way round
    and never in the claim's order ("Mao Ning's China" of "China's ... Mao Ning"): words,
    not stopwords, a possessive "'s" among them; a word that makes the order free ("and")
    is never one of them."""
    said, theirs = _tokens(claim), _tokens(sentence)
    pairs = {(a, b) for (a, _), (b, _) in pairwise(theirs)}

    def telling(word: str) -> bool:
        return word == "'s" or (not is_stopword(word) and word not in _SYMMETRIC)

    return any(
        a != b and telling(a) and telling(b) and (a, b) not in pairs and (b, a) in pairs
        for (a, _), (b, _) in pairwise(said)
    )
