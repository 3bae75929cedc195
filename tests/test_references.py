"""Fast tests of how a follow-up is read in the light of the conversation, with no model: the
pronouns of a question resolved to the names of earlier turns (``rag.references.resolve`` and
``rag.chat.condense``), the asked-for item of a sentence (``rag.items.asked_item``), caption
lines (``rag.choice.is_aside``) and the test of whether a question leaves the chat's story
(``rag.story``). The conversations are written by hand as ``Answer``/``Citation`` objects."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answer import Answer, Citation, Short
from rag.chat import condense
from rag.choice import is_aside
from rag.items import asked_item, asked_noun, names_asked_noun
from rag.references import LOOK_BACK, answered_name, names_in, resolve
from rag.story import Story, coverage, moves_away, named_terms

from .conftest import SAMPLES


@pytest.fixture(autouse=True)
def no_embedding_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests must never load the embedding model."""
    import rag.assistant
    import rag.embeddings

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a fast test loaded the embedding model")

    monkeypatch.setattr(rag.embeddings, "make_embedder", refuse)
    monkeypatch.setattr(rag.assistant, "make_embedder", refuse)


def turn(question: str, *quotes: str, article_id: str = "a1") -> Answer:
    """One finished turn of a chat whose answer quotes ``quotes``."""
    citations = [
        Citation(
            n=n,
            article_id=article_id,
            title="A story",
            source="Wire",
            url="https://example.org/story",
            published="2023-08-28",
            quote=quote,
            start=0,
            end=len(quote),
        )
        for n, quote in enumerate(quotes, start=1)
    ]
    text = " ".join(f"{q} [{c.n}]" for q, c in zip(quotes, citations, strict=True))
    return Answer(question=question, text=text, citations=citations, standalone=question)


RAIMONDO = (
    "Commerce Secretary Gina Raimondo met her Chinese counterpart Wang Wentao in Beijing on Monday."
)
WARE = "Louisville played the final without Kevin Ware, who broke his leg against Duke."
# coqa-cnn-dev, story 3lrliptpeq9vjp7ouf1uxgw48cikah, turns 5 and 6.
WARE_COQA = (
    "The Cardinals played without Kevin Ware, the sophomore guard who suffered one of the most "
    "grotesque injuries in college sports while playing Duke on March 31."
)
# The same story, turns 7 and 8.
HANCOCK_COQA = (
    "Ware's teammate Luke Hancock was named the tournament's Most Outstanding Player, helping "
    "pull Louisville out of a 12-point hole to lead the Cardinals with 22 points."
)
STRIKE = "Jane Doe, chief executive of Acme Corp, said the company would raise pay in Detroit."
WALKOUT = "Workers at Acme Corp walked out in Detroit on March 3, 2021."


# --- pronouns resolved to the names of earlier turns ------------------------------------


@pytest.mark.parametrize(
    ("previous", "quote", "follow_up", "expected"),
    [
        ("Who missed the final?", WARE, "Why didn't he play?", "Why didn't Kevin Ware play?"),
        (
            "Which sophomore guard did the Team play without?",
            WARE_COQA,
            "Why didn't he play?",
            "Why didn't Kevin Ware play?",
        ),
        (
            "who was named the tournament's Most Outstanding Player?",
            HANCOCK_COQA,
            "how many points did he have in the game?",
            "how many points did Luke Hancock have in the game?",
        ),
    ],
    ids=["plain-quote", "coqa-cardinals-quote", "coqa-hancock-quote"],
)
def test_he_is_the_person_the_earlier_turn_named(
    previous: str, quote: str, follow_up: str, expected: str
) -> None:
    history = [turn(previous, quote)]
    assert resolve(follow_up, history) == expected
    assert condense(follow_up, history) == expected


def test_his_becomes_the_possessive_of_the_name() -> None:
    history = [turn("Who missed the final?", WARE)]
    assert condense("What was his injury?", history) == "What was Kevin Ware's injury?"


def test_she_and_her_point_at_the_woman_of_the_turn() -> None:
    history = [turn("Who did Raimondo meet in Beijing?", RAIMONDO)]
    assert condense("What did she say?", history) == "What did Raimondo say?"
    # "her" as an object and as a possessive.
    assert condense("What did Wang Wentao tell her?", history) == (
        "What did Wang Wentao tell Raimondo?"
    )
    assert condense("What was her message?", history) == "What was Raimondo's message?"


def test_a_people_word_is_never_he() -> None:
    # A single country word ("American", "China") names no person a next "he" can be.
    history = [
        turn(
            "Who did Gina Raimondo meet in Beijing?",
            "Gina Raimondo said she was pleased.",
            "The American side asked for talks.",
        )
    ]
    rewritten = condense("How did he describe most trade?", history)
    assert rewritten == "How did he describe most trade? (following: " + history[0].question + ")"


def test_him_is_never_the_she_of_the_same_question() -> None:
    history = [
        turn(
            "Whose daughter was among the Americans killed?",
            "Abdelbeset al Megrahi died on Sunday; he had cancer.",
            "Susan Cohen, whose daughter was killed, said she felt no pity.",
        )
    ]
    assert condense("What did she call him?", history) == (
        "What did Susan Cohen call Abdelbeset al Megrahi?"
    )


@pytest.mark.parametrize(
    ("question", "quote", "named", "expected"),
    [
        # The articles call Beck "he", never Kanye West; the answer named Kanye West.
        (
            "Who crashed the stage after Beck won?",
            "Kanye West crashed the stage after Beck won, and Beck said he was happy.",
            "Kanye West",
            "Kanye West",
        ),
        # The answer was whom Mendes met; the next "he" is still Mendes.
        (
            "Who did Carlos Mendes meet in New Delhi?",
            "Carlos Mendes met his counterpart Priya Raman on Tuesday.",
            "Priya Raman",
            "Carlos Mendes",
        ),
    ],
    ids=["answer-named-him", "answer-was-whom-he-met"],
)
def test_he_after_an_answer_that_named_someone(
    question: str, quote: str, named: str, expected: str
) -> None:
    asked = turn(question, quote)
    start = quote.index(named)
    answered = replace(asked, short=Short(named, 1, start, start + len(named)))
    assert condense("What did he say next?", [answered]) == f"What did {expected} say next?"


def test_without_a_short_answer_the_articles_he_leads() -> None:
    asked = turn(
        "Who crashed the stage after Beck won?",
        "Kanye West crashed the stage after Beck won, and Beck said he was happy.",
    )
    assert condense("Who did he say should have won?", [asked]) == (
        "Who did Beck say should have won?"
    )


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which sophomore guard was missing from their lineup?", "person"),
        ("Which of his teammates was named the best player?", "person"),
        ("Which team did they beat?", "org"),
    ],
)
def test_a_which_question_about_a_person_names_a_person(question: str, kind: str) -> None:
    answer = replace(turn(question, WARE), short=Short("Kevin Ware", 1, 0, 10))
    named = answered_name(answer)
    assert named is not None and named.kind == kind


def test_he_is_a_person_not_a_flight_a_party_or_a_city() -> None:
    # "Pan Am Flight" comes later in the turn, and is never called "Flight" alone; Jim Swire
    # is "Swire" later. The alliance and the city are used as things ("the", "in").
    quote = (
        "Jim Swire lost his daughter on Pan Am Flight 103. Swire visited Libya. "
        "The United Progressive Alliance met in Toulouse."
    )
    history = [turn("Whose daughter died in the Lockerbie bombing?", quote)]
    assert condense("Where did he go?", history) == "Where did Jim Swire go?"
    party = [turn("Who met?", "The United Progressive Alliance met in Toulouse.")]
    assert "(following: " in condense("What did he say?", party)


def test_a_pronoun_never_becomes_a_name_the_question_already_says() -> None:
    # The latest person named is Wang Wentao, but the question is about what Wang said: "her"
    # is the other person of the turn, never "What did Wang say to Wang Wentao?".
    history = [turn("Who met Wang Wentao?", RAIMONDO)]
    resolved = condense("What did Wang say to her?", history)
    assert "Wentao" not in resolved, resolved
    assert "Raimondo" in resolved, resolved


def test_there_becomes_in_the_place_and_then_the_date() -> None:
    history = [turn("Who did Raimondo meet in Beijing?", RAIMONDO)]
    assert condense("What happened there?", history) == "What happened in Beijing?"
    assert condense("What else happened then?", history) == "What else happened on Monday?"
    assert condense("Who else was there then?", history) == "Who else was in Beijing on Monday?"
    history = [turn("When did the strike start?", WALKOUT)]
    assert condense("Who led the talks then?", history) == "Who led the talks on March 3, 2021?"


@pytest.mark.parametrize(
    "question",
    ["Was there a press conference?", "Is there a deal?", "Were there protests?"],
)
def test_an_existential_there_is_not_a_place(question: str) -> None:
    # "Was there ...?" asks whether something existed; "Was in Beijing a press conference?"
    # is not a question.
    history = [turn("Who did Raimondo meet in Beijing?", RAIMONDO)]
    rewritten = condense(question, history)
    assert rewritten.startswith(question), rewritten


def test_they_their_and_it_point_at_the_organisation_before_a_person() -> None:
    history = [turn("What did the strike achieve?", STRIKE)]
    assert [n.text for n in names_in(STRIKE)] == ["Jane Doe", "Acme Corp", "Detroit"]
    assert condense("What did they offer?", history) == "What did Acme Corp offer?"
    assert condense("What were their demands?", history) == "What were Acme Corp's demands?"
    assert condense("What is its biggest plant?", history) == "What is Acme Corp's biggest plant?"
    # The person is still the one for "she".
    assert condense("What did she say?", history) == "What did Jane Doe say?"


def test_the_company_is_the_organisation_named() -> None:
    history = [turn("When did the strike start?", WALKOUT)]
    assert resolve("What did the company offer?", history) == "What did Acme Corp offer?"
    # condense must rewrite it the same way: "the company" leans on the earlier turn.
    assert condense("What did the company offer?", history) == "What did Acme Corp offer?"


def test_the_latest_turn_names_first_and_old_turns_are_forgotten() -> None:
    ware = turn("Who missed the final?", WARE)
    raimondo = turn("Who did Raimondo meet in Beijing?", RAIMONDO)
    assert condense("Why didn't he play?", [raimondo, ware]) == "Why didn't Kevin Ware play?"
    assert condense("Where did she go?", [ware, raimondo]) == "Where did Raimondo go?"
    # Turns without names in between: the name is found up to LOOK_BACK turns back.
    quiet = turn("What happened next?", "The rain stopped.")
    assert condense("Why didn't he play?", [ware] + [quiet] * (LOOK_BACK - 1)) == (
        "Why didn't Kevin Ware play?"
    )
    too_old = [ware] + [quiet] * LOOK_BACK
    assert condense("Why didn't he play?", too_old) == (
        "Why didn't he play? (following: What happened next?)"
    )


def test_a_question_names_first_then_the_quotes_of_its_answer() -> None:
    # The turn's question names Raimondo; its quote names "Commerce Secretary Gina Raimondo"
    # and Wang Wentao. The question's name comes first.
    history = [turn("What did Raimondo do on Monday?", RAIMONDO)]
    assert condense("What did she say?", history) == "What did Raimondo say?"


# --- what is left as it is -------------------------------------------------------------


@pytest.mark.parametrize(
    "follow_up", ["Why?", "For what role?", "Since when?", "And how many companies?"]
)
def test_a_follow_up_with_nothing_to_resolve_keeps_the_previous_question(follow_up: str) -> None:
    history = [turn("Who did Raimondo meet in Beijing?", RAIMONDO)]
    assert condense(follow_up, history) == (
        f"{follow_up} (following: Who did Raimondo meet in Beijing?)"
    )
    assert resolve(follow_up, history) == ""


def test_a_pronoun_with_no_name_to_point_at_keeps_the_following_form() -> None:
    history = [turn("What happened?", "The bridge collapsed in the storm.")]
    assert condense("Why did he leave?", history) == "Why did he leave? (following: What happened?)"


@pytest.mark.parametrize(
    "question",
    [
        "How many Chinese companies were removed from a blacklist?",
        "What did Jake Sullivan call export controls?",
        "Which elements did China restrict exports of?",
    ],
)
def test_a_standalone_question_is_unchanged(question: str) -> None:
    history = [turn("Who did Raimondo meet in Beijing?", RAIMONDO)]
    assert condense(question, history) == question
    assert condense(question, []) == question


def test_sentence_initial_ordinary_words_are_never_names() -> None:
    shortly = "Shortly before noon the bridge collapsed."
    featured = "Featured on CNN, the video shows the bridge falling."
    assert names_in(shortly) == []
    assert [n.text for n in names_in(featured)] == ["CNN"]
    history = [turn("What happened?", shortly, featured)]
    rewritten = condense("Why did he leave?", history)
    assert "Shortly" not in rewritten and "Featured" not in rewritten
    assert rewritten == "Why did he leave? (following: What happened?)"
    # A name later in such a sentence is still found.
    history = [turn("What happened?", "Shortly before halftime, Kevin Ware landed awkwardly.")]
    assert condense("Why didn't he play?", history) == "Why didn't Kevin Ware play?"
    history = [turn("Who was hurt?", "Featured on CNN, Kevin Ware broke his leg.")]
    assert condense("Why didn't he play?", history) == "Why didn't Kevin Ware play?"


def test_a_name_that_opens_a_sentence_with_said_is_kept() -> None:
    assert [n.text for n in names_in("Kelley, 32, said the team lost.")] == ["Kelley"]
    assert [n.text for n in names_in("Obama said he would go.")] == ["Obama"]


# --- the asked-for item of a sentence --------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sentence", "item"),
    [
        ("Who did Raimondo meet in Beijing?", RAIMONDO, "Wang Wentao"),
        ("When did Raimondo meet Wang Wentao?", RAIMONDO, "Monday"),
        ("When did the workers walk out?", WALKOUT, "March 3, 2021"),
        ("What year did the workers walk out?", "They walked out in 2021 over pay.", "2021"),
        (
            "How many companies were removed from a blacklist?",
            "Ahead of the trip, 27 Chinese companies were removed from a blacklist.",
            "27",
        ),
        (
            "How much trade do the two countries share?",
            "We share over USD 700 billion of trade, Raimondo said.",
            "700 billion",
        ),
        ("Where did the workers walk out?", WALKOUT, "Detroit"),
        ("Who said the company would raise pay?", STRIKE, "Jane Doe"),
        # "How old", "how much", "how long", "what time" ask for an age, money, a span of
        # time, a time of day: not the first number of the sentence.
        ("How old was Saari?", "In 2 years Saari, 22, had studied at 3 schools.", "22"),
        ("How old is Max?", "Max, one of 4 boys, is a 12-year-old actor.", "12"),
        ("How much did she make?", "Of the top 10 earners, she made $51 million.", "$51 million"),
        ("How long did the siege last?", "The 2 gunmen held out for 32 hours.", "32 hours"),
        (
            "What time were they called?",
            "On May 3, 2 officers came at 7:30 p.m. ET.",
            "7:30 p.m. ET",
        ),
    ],
    ids=[
        "who",
        "when-day",
        "when-date",
        "what-year",
        "how-many",
        "how-much",
        "where",
        "who-2",
        "age",
        "age-hyphen",
        "money",
        "duration",
        "time-of-day",
    ],
)
def test_asked_item_is_the_span_the_question_asks_for(
    question: str, sentence: str, item: str
) -> None:
    span = asked_item(question, sentence)
    assert span is not None
    a, b = span
    assert sentence[a:b] == item


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # Nothing of the kind asked for.
        ("Why did they meet?", RAIMONDO),
        ("What did Raimondo say?", RAIMONDO),
        ("How many companies were removed?", "Some companies were removed from the list."),
        # Only what the question already says.
        ("Who met Wang Wentao?", "Wang Wentao met officials on Monday."),
        ("When did it happen on Monday?", "It happened on Monday."),
        # A number, but not of the kind asked for.
        ("How old is he?", "He has won 3,497 votes in 2 races."),
        ("What time did it start?", "It started on Friday, 2 May."),
    ],
    ids=[
        "why",
        "what",
        "no-number",
        "only-the-asked-name",
        "only-the-asked-date",
        "not-an-age",
        "not-a-time",
    ],
)
def test_no_item_when_the_sentence_holds_nothing_new_of_the_kind(
    question: str, sentence: str
) -> None:
    assert asked_item(question, sentence) is None


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("In which arena in Atlanta was the game played?", "arena"),
        ("What is the name of his brother who called him innocent?", "brother"),
        ("What is the name of the second cousin who introduced them?", "cousin"),
        ("What is the officer's name?", "officer"),
        ("How many overs did he bowl?", "overs"),
        ("Which banks held the accounts?", "banks"),
        ("What was Barkley's blood-alcohol level?", "level"),
        ("What kind of acid did he use?", "acid"),
        # No noun: the question asks for a clause, or its words name nothing.
        ("What did he say?", None),
        ("What happened next?", None),
        ("What is his name?", None),
        ("Who is the harbour master?", None),
    ],
)
def test_asked_noun_is_the_thing_the_question_asks_about(question: str, noun: str | None) -> None:
    assert asked_noun(question) == noun


def test_a_sentence_names_the_asked_noun_or_not() -> None:
    assert names_asked_noun("How many overs did he bowl?", "He bowled 12 overs.") is True
    assert names_asked_noun("How many overs did he bowl?", "He took five for 34.") is False
    assert names_asked_noun("What did he say?", "He said nothing.") is None


# --- asides: captions, headlines and pointer lines --------------------------------------


def test_the_sample_caption_is_an_aside_and_its_body_sentence_is_not() -> None:
    text = (SAMPLES / "004_fe72f5ab7fd95617.txt").read_text("utf-8")
    caption = (
        "U.S. Commerce Secretary Gina Raimondo arrives for a meeting with her Chinese "
        "counterpart Wang Wentao"
    )
    lines = [line.strip() for line in text.splitlines()]
    assert lines.count(caption) == 2
    assert is_aside(caption)
    assert is_aside("US-China communications brighten over trade")  # the headline
    assert is_aside("REUTERS")
    assert is_aside("More from GZERO Media")
    body = (
        "But Commerce Secretary Gina Raimondo said that she and her Chinese counterpart, Wang "
        "Wentao, made significant strides toward changing that when they met in Beijing on "
        "Monday."
    )
    assert body in text
    assert not is_aside(body)


@pytest.mark.parametrize(
    ("line", "aside"),
    [
        ("Read more: China trade talks resume", True),
        ("Read more: How the talks went.", True),
        ("RELATED: Raimondo heads to Beijing.", True),
        ("Related: Chip export curbs explained.", True),
        ("Editor's note: This story has been updated.", True),
        ("Wang agreed, saying he saw most trade between the two economies as “benign.”", False),
        ("Raimondo met Wang in Beijing.", False),
        ("Did the talks work?", False),
        ("He read the report: it said trade had grown.", False),
    ],
)
def test_is_aside(line: str, aside: bool) -> None:
    assert is_aside(line) is aside


# --- whether a question leaves the story -----------------------------------------------


STORY = {"carlo", "mend", "priya", "raman", "new", "delhi", "trade", "compani", "say", "told"}
OTHER = {"anna", "berg", "kenji", "sato", "tokyo", "trade", "compani", "chemic", "firm"}
OTHER |= {"blacklist"}
IDF = {w: 3.0 for w in STORY | OTHER | {"tell", "mani", "taken", "meet", "blacklist", "happen"}}
IDF.update({"say": 0.5, "trade": 0.8, "compani": 0.8})


def test_named_terms_are_the_capitalised_words_after_the_first() -> None:
    assert named_terms("What did Carlos Mendes say in New Delhi?") == {
        "carlo",
        "mend",
        "new",
        "delhi",
    }
    assert named_terms("Why?") == set()
    assert named_terms("Tokyo is where?") == set()


def test_coverage_is_the_share_of_rare_word_weight_an_article_holds() -> None:
    assert coverage(["kenji", "sato"], IDF, OTHER) == 1.0
    assert coverage(["kenji", "sato"], IDF, STORY) == 0.0
    assert coverage(["say", "kenji"], IDF, STORY) == pytest.approx(0.5 / 3.5)


@pytest.mark.parametrize(
    ("question", "leans_back", "moves"),
    [
        # A name only the other article has moves the chat, leaning back or not.
        ("What did Kenji Sato say?", False, True),
        ("What did he tell Kenji Sato?", True, True),
        # A name the story has keeps it.
        ("What did Priya Raman say?", False, False),
        # A topic the story lacks moves a question that stands alone, not a follow-up.
        ("How many chemical firms were taken off the blacklist?", False, True),
        ("And how many chemical firms were taken off the blacklist?", True, False),
        ("Why?", True, False),
    ],
)
def test_moves_away(question: str, leans_back: bool, moves: bool) -> None:
    assert moves_away(question, leans_back, IDF, STORY, OTHER) is moves


def cited(article_id: str) -> list[Citation]:
    return turn("q", "A sentence.", article_id=article_id).citations


def test_story_keeps_the_articles_of_confident_answers() -> None:
    story = Story()
    assert story.articles == ()
    story.follow(cited("a"), moved=True)
    story.follow([*cited("b"), *cited("a")], moved=False)
    assert story.articles == ("a", "b")  # a 1.5, b 1.0: close enough to stay in the focus
    story.follow(cited("a"), moved=False)
    assert story.articles == ("a",)  # a 2.5, b 1.0: b falls out
    story.follow([], moved=True)  # a refusal or an answer without citations changes nothing
    assert story.articles == ("a",)
    story.clear()
    assert story.articles == ()


def test_the_story_remembers_which_articles_it_moved_away_from() -> None:
    # Only an article left by a move is "left"; one that fell out of the focus by its share
    # is still the story's, and a follow-up about what only it has may widen to it.
    story = Story()
    story.follow([*cited("a"), *cited("b")], moved=True)
    story.follow(cited("a"), moved=False)
    assert story.articles == ("a",) and story.left == set()
    story.follow(cited("c"), moved=True)
    assert story.articles == ("c",) and story.left == {"a", "b"}
    assert story.copy().left == {"a", "b"}
    story.clear()
    assert story.left == set()


@pytest.mark.parametrize("turns_before", [1, 2, 3, 4, 6])
def test_after_a_move_the_new_article_leads_the_story(turns_before: int) -> None:
    story = Story()
    for _ in range(turns_before):
        story.follow(cited("old"), moved=False)
    story.follow(cited("new"), moved=True)
    assert story.articles[0] == "new", story.weights
