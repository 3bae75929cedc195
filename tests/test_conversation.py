"""Conversations over a library of look-alike news stories, end to end (real model, real Chroma
store): a chat keeps to the story of its answers until a question names something only another
article has, answers a focused follow-up from the whole story article, states the asked-for
item first, and answers from a body sentence rather than a photo caption.

The library is the two sample articles plus three short articles written here: two more
trade-minister visits with other names and numbers, and a port strike."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer import Answer
from rag.assistant import Assistant
from rag.choice import is_aside
from rag.config import Config
from rag.retrieve import Filters, Retriever

from .conftest import SAMPLES

pytestmark = pytest.mark.slow

MENDES = """date 2023-09-12 Brazil and India pledge closer trade ties

New Delhi [India], September 12 : Brazilian Trade Minister Carlos Mendes met his Indian \
counterpart Priya Raman on Tuesday and said that ties between Brasilia and New Delhi are \
"deeply important", Reuters reported.

"The economic relationship between Brazil and India is one of the fastest growing in the world. \
We share over USD 15 billion of trade," Mendes said in New Delhi.

Ahead of the visit, 12 Indian pharmaceutical companies were removed from a Brazilian import \
watch list, a signal that Brasilia wanted the talks to be about cooperation.

Mendes said he would not negotiate on matters of food safety, but that most of the trade between \
the two countries had nothing to do with food safety.

Raman agreed, saying she saw most of that trade as "healthy."

The two ministers set up a joint working group on ethanol and sugar, which will meet every six \
months.

Brazil hopes to sell more soybeans, beef and aircraft to India, while India wants wider access \
for its generic medicines and software services.

After the talks, the minister flew on to Mumbai, where he is due to open a coffee trade fair at \
the Bombay Exhibition Centre on Friday.
"""

BERG = """date 2023-10-05 EU and Japan talk chips and minerals

Tokyo [Japan], October 5 : EU Trade Commissioner Anna Berg met Japanese Economy Minister Kenji \
Sato in Tokyo on Thursday to discuss export controls on semiconductors.

"Europe and Japan share over EUR 130 billion of trade every year," Berg said after the meeting.

Ahead of the meeting, 9 European chemical firms were taken off a Japanese export blacklist.

Sato said Japan would keep its controls on chip-making equipment, but added that the vast \
majority of trade with Europe was not related to national security.

The two officials agreed to hold a dialogue on critical minerals such as lithium and cobalt \
twice a year.
"""

PORT = """date 2023-07-20 Rotterdam dock workers strike over pay

Rotterdam [Netherlands], July 20 : Dock workers at the Port of Rotterdam walked out on Thursday \
in a dispute over pay, halting most container traffic at Europe's largest port.

The FNV union said about 1,400 workers joined the strike, which is set to last 48 hours.

Union negotiator Pieter de Vries said the port operators had offered a pay rise of 3 percent, \
far below the 9 percent the workers demand.

Shipping companies diverted at least 20 vessels to Antwerp and Hamburg.
"""

CAPTION = (
    "U.S. Commerce Secretary Gina Raimondo arrives for a meeting with her Chinese counterpart "
    "Wang Wentao"
)
BODY = (
    "But Commerce Secretary Gina Raimondo said that she and her Chinese counterpart, Wang Wentao, "
    "made significant strides toward changing that when they met in Beijing on Monday."
)


class Library:
    """The module's library and the ids of its articles by a short name."""

    def __init__(self, qa: Assistant) -> None:
        self.qa = qa
        self.ids: dict[str, str] = {}
        for doc in qa.documents():
            text = self.text(doc.id)
            for name, mark in (
                ("mendes", "Carlos Mendes"),
                ("berg", "Anna Berg"),
                ("port", "Pieter de Vries"),
                ("raimondo", "Mao Ning"),  # data/articles/000
                ("gzero", "GZERO Media"),  # data/articles/004
            ):
                if mark in text:
                    self.ids[name] = doc.id
        assert len(self.ids) == 5, self.ids
        self.names = {v: k for k, v in self.ids.items()}

    def text(self, article_id: str) -> str:
        article = self.qa.article(article_id)
        assert article is not None
        return article.text

    def check(self, answer: Answer) -> None:
        """Every quote is where its citation says; the answer is not a refusal."""
        assert not answer.refused, (answer.question, answer.standalone, answer.text)
        assert answer.citations, answer.text
        for c in answer.citations:
            assert self.text(c.article_id)[c.start : c.end] == c.quote
            assert f"[{c.n}]" in answer.text

    def cited(self, answer: Answer) -> list[str]:
        return [self.names[c.article_id] for c in answer.citations]

    def story(self, answer: Answer) -> list[str]:
        return [self.names[a] for a in answer.story]


def describe(answer: Answer, lib: Library) -> str:
    return (
        f"\n  question:   {answer.question}\n  standalone: {answer.standalone}"
        f"\n  text:       {answer.text}\n  cited:      {lib.cited(answer)}"
        f"\n  story:      {lib.story(answer)}\n  short:      {answer.short}"
    )


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory, embedder) -> Library:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("look-alikes")
    for name, text in (("mendes", MENDES), ("berg", BERG), ("port", PORT)):
        (folder / f"{name}.txt").write_text(text, "utf-8")
    home: Path = tmp_path_factory.mktemp("conversation") / "lib"
    qa = Assistant.open(Config.from_env(home=home))
    report = qa.ingest(SAMPLES, folder)
    assert report.ok
    return Library(qa)


# --- follow-ups that lean back stay on the story ---------------------------------------


def test_follow_ups_that_lean_back_stay_on_the_story(lib: Library) -> None:
    chat = lib.qa.chat()
    first = chat.ask("Who did Carlos Mendes meet in New Delhi?")
    lib.check(first)
    assert lib.story(first) == ["mendes"], describe(first, lib)
    assert "Priya Raman" in first.citations[0].quote

    pronoun = chat.ask("What did he say about food safety?")
    lib.check(pronoun)
    assert pronoun.standalone == "What did Carlos Mendes say about food safety?"
    assert lib.cited(pronoun) == ["mendes"] * len(pronoun.citations), describe(pronoun, lib)
    assert lib.story(pronoun) == ["mendes"]
    assert "food safety" in pronoun.citations[0].quote

    # Asked alone, this fragment finds the 27 Chinese companies of the sample articles.
    fragment = chat.ask("And how many companies?")
    lib.check(fragment)
    assert lib.cited(fragment) == ["mendes"] * len(fragment.citations), describe(fragment, lib)
    assert lib.story(fragment) == ["mendes"]
    assert fragment.text.startswith("12: "), describe(fragment, lib)
    assert "27" not in fragment.text and "9 European" not in fragment.text

    why = chat.ask("Why?")
    lib.check(why)
    assert lib.cited(why) == ["mendes"] * len(why.citations), describe(why, lib)
    assert lib.story(why) == ["mendes"]
    assert "signal that Brasilia wanted the talks to be about cooperation" in why.text


def test_follow_ups_stay_on_a_story_of_two_articles(lib: Library) -> None:
    chat = lib.qa.chat()
    first = chat.ask("Who did Raimondo meet in Beijing?")
    lib.check(first)
    story = set(first.story)
    assert story and set(lib.story(first)) <= {"raimondo", "gzero"}, describe(first, lib)

    for question in ("What did she say about national security?", "And how many companies?"):
        answer = chat.ask(question)
        lib.check(answer)
        assert {c.article_id for c in answer.citations} <= story, describe(answer, lib)
        assert set(answer.story) <= story, describe(answer, lib)
    assert answer.text.startswith("27: "), describe(answer, lib)
    assert "12 Indian" not in answer.text and "9 European" not in answer.text


# --- a name only a look-alike article has moves the chat -------------------------------

ON_MENDES = [
    "Who did Carlos Mendes meet in New Delhi?",
    "What did he say about food safety?",
    "And how many companies?",
    "Why?",
]


@pytest.mark.parametrize(
    ("move", "article", "quoted", "then", "then_quoted"),
    [
        (
            "Who did Anna Berg meet in Tokyo?",
            "berg",
            "Kenji Sato",
            "And how many firms were taken off the blacklist?",
            "9 European chemical firms",
        ),
        (
            "What did Pieter de Vries say?",
            "port",
            "3 percent",
            "How many workers joined?",
            "1,400 workers",
        ),
    ],
    ids=["person-and-place", "person"],
)
@pytest.mark.parametrize("turns_before", [1, 4], ids=["after-1-turn", "after-4-turns"])
def test_a_name_only_a_look_alike_article_has_moves_the_chat(
    request: pytest.FixtureRequest,
    lib: Library,
    turns_before: int,
    move: str,
    article: str,
    quoted: str,
    then: str,
    then_quoted: str,
) -> None:
    if turns_before == 4 and article == "berg":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="known limit: the four Mendes turns' searches kept finding the GZERO "
                "blacklist article, and that evidence, halved at the move, still switches "
                "the next blacklist question there",
            )
        )
    chat = lib.qa.chat()
    for question in ON_MENDES[:turns_before]:
        before = chat.ask(question)
        assert lib.story(before) == ["mendes"], describe(before, lib)

    moved = chat.ask(move)
    lib.check(moved)
    assert lib.cited(moved) == [article] * len(moved.citations), describe(moved, lib)
    assert quoted in moved.citations[0].quote
    # The chat is now on the new article: it leads the story.
    assert lib.story(moved)[0] == article, describe(moved, lib)

    # And a follow-up stays there.
    after = chat.ask(then)
    lib.check(after)
    assert lib.cited(after) == [article] * len(after.citations), describe(after, lib)
    assert then_quoted in after.citations[0].quote, describe(after, lib)
    assert lib.story(after)[0] == article, describe(after, lib)


# --- a focused follow-up is answered from the whole article ----------------------------


@pytest.mark.parametrize(
    "follow_up",
    [
        "What will he open on Friday?",
        pytest.param(
            "Where did he go after the talks?",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known limit: the fitted choice prefers the dateline lead, which holds "
                "the name and a place, over the Mumbai sentence",
            ),
        ),
        pytest.param(
            "Which city did he fly to after the talks?",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known limit: in this five-article library no article uses 'city' or "
                "'fly', and the unknown-word penalty refuses",
            ),
        ),
    ],
)
def test_a_follow_up_is_answered_from_the_story_beyond_the_retrieved_chunk(
    lib: Library, follow_up: str
) -> None:
    # One passage a turn: the answer (the last sentence of the article, about Mumbai) lies
    # outside the chunk retrieved for the follow-up, but the chat is on this article, so
    # every sentence of it is a candidate.
    chat = lib.qa.chat(k=1)
    first = chat.ask("Who did Carlos Mendes meet in New Delhi?")
    lib.check(first)
    assert lib.story(first) == ["mendes"]

    answer = chat.ask(follow_up)
    assert len(answer.passages) == 1
    lib.check(answer)
    c = answer.citations[0]
    assert c.article_id == lib.ids["mendes"] and c.article_id in answer.story
    assert "Mumbai" in c.quote, describe(answer, lib)
    assert lib.text(c.article_id)[c.start : c.end] == c.quote
    for p in answer.passages:
        inside = p.article_id == c.article_id and p.start <= c.start and c.end <= p.end
        assert not inside, f"the cited sentence was in a retrieved passage: {describe(answer, lib)}"


# --- the short answer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conversation", "item"),
    [
        (["Who did Carlos Mendes meet in New Delhi?"], "Priya Raman"),
        (["How many Indian companies were removed from the watch list?"], "12"),
        # The quote says "over EUR 130 billion": with or without its "over", the amount.
        (
            ["How much trade do Europe and Japan share?"],
            ("EUR 130 billion", "over EUR 130 billion"),
        ),
        (["How many workers joined the strike in Rotterdam?"], "1,400"),
        (["Who did Raimondo meet in Beijing?"], "Wang Wentao"),
        (["When did Anna Berg meet Kenji Sato?"], None),
        (["Who did Carlos Mendes meet in New Delhi?", "And how many companies?"], "12"),
        (["When did Anna Berg meet Kenji Sato?", "Where did they meet?"], "Tokyo"),
    ],
    ids=[
        "who",
        "how-many",
        "how-much",
        "how-many-workers",
        "who-raimondo",
        "when",
        "follow-up-how-many",
        "follow-up-where",
    ],
)
def test_the_short_answer_is_a_span_of_the_cited_quote(
    lib: Library, conversation: list[str], item: str | tuple[str, ...] | None
) -> None:
    chat = lib.qa.chat()
    for question in conversation:
        answer = chat.ask(question)
    lib.check(answer)
    stated = answer.short
    assert stated is not None, describe(answer, lib)
    if item is not None:
        assert stated.text in ((item,) if isinstance(item, str) else item), describe(answer, lib)
    assert answer.text.startswith(f"{stated.text}: "), answer.text
    c = answer.citation(stated.n)
    assert lib.text(c.article_id)[stated.start : stated.end] == stated.text
    assert c.start <= stated.start < stated.end <= c.end
    assert c.quote[stated.start - c.start : stated.end - c.start] == stated.text


def test_a_why_question_is_answered_with_the_reason(lib: Library) -> None:
    answer = lib.qa.ask("Why were the Indian pharmaceutical companies removed from the watch list?")
    lib.check(answer)
    assert answer.short is not None and answer.short.kind == "span", describe(answer, lib)
    assert len(answer.short.text.split()) >= 2
    assert answer.text == f"{answer.short.text}: {answer.citations[0].quote} [1]" or (
        answer.text.startswith(f"{answer.short.text}: {answer.citations[0].quote} [1] ")
    )


# --- a body sentence, not the photo caption ---------------------------------------------

SCOPES = pytest.mark.parametrize("scope", ["library", "gzero-only"])


def scoped_ask(lib: Library, scope: str, question: str) -> Answer:
    filters = Filters(article_ids=(lib.ids["gzero"],)) if scope == "gzero-only" else None
    return lib.qa.ask(question, filters=filters)


@SCOPES
def test_raimondo_meeting_is_answered_from_a_body_sentence(lib: Library, scope: str) -> None:
    assert lib.text(lib.ids["gzero"]).count(CAPTION) == 2
    answer = scoped_ask(lib, scope, "Who did Raimondo meet in Beijing?")
    lib.check(answer)
    first = answer.citations[0]
    assert not is_aside(first.quote), describe(answer, lib)
    assert "Wang Wentao" in first.quote
    if scope == "gzero-only":
        assert first.quote == BODY, describe(answer, lib)
    assert answer.short is not None and answer.short.text == "Wang Wentao"


@SCOPES
def test_the_caption_is_not_cited_beside_the_body_sentence(lib: Library, scope: str) -> None:
    # The caption says what the body sentence says: citing it as well adds nothing.
    answer = scoped_ask(lib, scope, "Who did Raimondo meet in Beijing?")
    lib.check(answer)
    assert all(CAPTION not in c.quote for c in answer.citations), describe(answer, lib)


# --- undo and leaving the story (the page's Undo and "Leave this story") -----------------


def test_undo_takes_back_a_turn_and_its_story_and_leaving_the_story_frees_the_chat(
    lib: Library,
) -> None:
    chat = lib.qa.chat()
    first = chat.ask("Who did Carlos Mendes meet in New Delhi?")
    moved = chat.ask("Who did Anna Berg meet?")
    assert lib.story(moved)[0] == "berg", describe(moved, lib)
    assert chat.undo() == moved and chat.history == [first]
    assert chat.story.articles == first.story
    # As if the undone turn had never been asked: the follow-up is on Mendes's story.
    again = chat.ask("What did he say about food safety?")
    assert lib.cited(again) == ["mendes"] * len(again.citations), describe(again, lib)
    chat.leave_story()
    fragment = chat.ask("And how many companies?")
    # Off the story, the whole library answers: the sample article's 27 companies lead.
    assert lib.cited(fragment)[0] != "mendes", describe(fragment, lib)
    assert chat.undo() == fragment and chat.undo() == again and chat.undo() == first
    assert chat.undo() is None and chat.history == []


# --- what a turn costs -----------------------------------------------------------------


def test_a_turn_searches_the_library_once_and_embeds_each_question_once(
    lib: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    searches: list[tuple[str, tuple[str, ...]]] = []
    embedded: list[str] = []
    search, embed = Retriever.search, lib.qa.embedder.embed

    def counted_search(self, question, k=5, filters=None):  # type: ignore[no-untyped-def]
        searches.append((question, filters.article_ids if filters else ()))
        return search(self, question, k, filters)

    def counted_embed(texts):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return embed(texts)

    monkeypatch.setattr(Retriever, "search", counted_search)
    monkeypatch.setattr(lib.qa.embedder, "embed", counted_embed)
    lib.qa.scorer.clear()
    chat = lib.qa.chat()
    first = chat.ask("Who did Carlos Mendes meet in New Delhi?")
    assert searches == [(first.question, ())]
    assert embedded.count(first.question) == 1
    searches.clear()
    embedded.clear()
    follow = chat.ask("What did he say about food safety?")
    # The library for the question as typed (does it move away?), then the story for its
    # rewrite; each text embedded once for both searches and the sentence scores.
    assert follow.standalone != follow.question
    assert searches == [(follow.question, ()), (follow.standalone, tuple(first.story))]
    assert embedded.count(follow.question) == embedded.count(follow.standalone) == 1
