"""The gate of LLM mode (``rag.grounding``): what counts as a claim, how a reply is cut into
sentences with their markers, and (with the real embedding model) that its thresholds are the
ones ``python -m eval.grounding`` fits on the labelled claims."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

from rag import grounding
from rag.grounding import clean_claim, figures, is_claim, number_words, reply_sentences


def test_markers_after_a_full_stop_stay_with_their_sentence() -> None:
    reply = "They share USD 700 billion of trade. [1] Raimondo met Wang [2][3]. Done [4]."
    assert reply_sentences(reply) == [
        "They share USD 700 billion of trade [1].",
        "Raimondo met Wang [2][3].",
        "Done [4].",
    ]


@pytest.mark.parametrize(
    ("sentence", "claim"),
    [
        ("The passage states that 27 companies were removed [1].", "27 companies were removed."),
        ("According to the passages, Wang met Raimondo.", "Wang met Raimondo."),
        ("- Trade is benign [2] .", "Trade is benign."),
        ("The answer is: Wang met Raimondo [1].", "Wang met Raimondo."),
        ("The answer to this question is: 27 companies [1].", "27 companies."),
    ],
)
def test_the_claim_is_the_sentence_without_markers_or_talk_of_the_passages(
    sentence: str, claim: str
) -> None:
    assert clean_claim(sentence) == claim


@pytest.mark.parametrize(
    ("claim", "checked"),
    [
        ("Raimondo met Wang Wentao in Beijing.", True),
        ("Who did Raimondo meet in Beijing?", False),  # the question, echoed
        ("Question: When did the port close?", False),  # the prompt's own label
        ("HACKED.", False),  # one word: too little to check
        ("The passages do not mention the capital.", False),  # a refusal, not a claim
        # The model describing its passages, not the news:
        ("The passage is about the US-China trade and export controls.", False),
        ("It is a factual report about a meeting between Raimondo and Wang.", False),
        ("The article is about a visit to Beijing.", False),
        ("The passage is a report that tells you how the US uses export controls.", False),
        ("The passage contains a question about the use of export controls.", False),
        ("It mentions the US Commerce Secretary Gina Raimondo.", False),
        ("The contract contains a clause on export controls.", True),
        ("The passage of the bill is a victory for the senator.", True),
        ("It is a major step for the two countries.", True),
        ("The report is due on Monday.", True),
        ("It is about 40 km from Kyiv.", True),
        ("The report is about to be released.", True),
        ("It is an article of faith among Republicans that taxes are too high.", True),
        ("It is a text message scam.", True),
    ],
)
def test_what_counts_as_a_claim(claim: str, checked: bool) -> None:
    assert is_claim(claim) is checked


def test_numbers_in_digits_and_in_words() -> None:
    assert figures("27 companies, USD 700 billion and 3,497 votes") == {"27", "700", "3497"}
    assert number_words("Lai made five stops, one of them in New York") == {"five"}


@pytest.mark.slow
def test_the_gates_thresholds_are_the_ones_fitted_on_the_labelled_claims(embedder) -> None:  # type: ignore[no-untyped-def]
    from eval.grounding import ARTICLES, FITTED_ON, fit, judge_all, load_claims, shares
    from rag.assistant import Assistant
    from rag.config import Config

    claims = [c for c in load_claims() if c["origin"] in FITTED_ON]
    assert {c["origin"] for c in claims} == {"written", "smollm2"}
    with tempfile.TemporaryDirectory() as home:
        qa = Assistant.open(Config.from_env(home=Path(home) / "lib"))
        assert qa.ingest(ARTICLES).ok
        x = judge_all(qa, claims)
    label = np.array([bool(c["supported"]) for c in claims])
    assert fit(x, label) == (grounding.SUPPORTED_FROM, grounding.NOVEL_UP_TO)
    kept, dropped = shares(x, label, grounding.SUPPORTED_FROM, grounding.NOVEL_UP_TO)
    # The figures the README reports, as floors: a change to the gate that loses them fails.
    assert kept >= 0.75 and dropped >= 0.85


def test_a_figure_from_another_sentence_is_cited_there_and_a_figure_none_states_is_not(
    assistant,  # type: ignore[no-untyped-def]
) -> None:
    from eval.grounding import ARTICLES
    from rag.grounding import Grounding

    assert assistant.ingest(ARTICLES).ok
    question = "How much trade do the two countries share, and what did the secretaries commit to?"
    gate = Grounding(assistant.retriever.search(question, assistant.config.top_k), assistant.scorer)
    rest = (
        "of trade, and the two commerce secretaries committed to taking part in working groups "
        "and in information sharing about trade issues."
    )
    joined = gate.judge(f"We share over USD 700 billion {rest}")
    # The figure is in another passage than the sentence that backs most of the claim.
    assert joined.supported
    assert any("700 billion" in s.text for s in joined.backing)
    assert any("working groups" in s.text for s in joined.backing)
    assert gate.judge(f"We share over USD 900 billion {rest}").unstated_numbers


def test_a_figure_counts_what_the_passages_count_with_it() -> None:
    from rag.grounding import counts_another_thing
    from rag.terms import terms

    passages = [
        "We share over USD 700 billion of trade, Raimondo said in Beijing on August 28.",
        "She hopes to sell more agricultural products.",
    ]
    words = [re.findall(r"[\w'’]+", p.lower()) for p in passages]
    known = set(terms(" ".join(passages)))

    def wrong(claim: str, question: str = "") -> bool:
        return counts_another_thing(claim, words, known, set(terms(question)))

    assert wrong("The US exports over USD 700 billion of agricultural products.")
    assert not wrong("The two countries share USD 700 billion of trade.")
    assert not wrong("They share 700 billion dollars of trade.")
    # A word neither the passages nor the question use is left to the share of new words.
    assert not wrong("They share 700 billion of commerce.")
    # The thing counted may come from the question the model was asked.
    assert wrong("It sells 700 billion of wheat.", "How much wheat does it sell?")
    assert not wrong("It sells 700 billion of wheat.")
    # A date counts nothing.
    assert not wrong("On August 28 agricultural talks began.")


def test_a_quotation_is_the_passages_own_words(assistant) -> None:  # type: ignore[no-untyped-def]
    from eval.grounding import ARTICLES
    from rag.grounding import Grounding, quotations

    assert quotations('He said it was “benign.” and "new strategic asset"') == [
        "benign",
        "new strategic asset",
    ]
    assert assistant.ingest(ARTICLES).ok
    question = "How did Wang describe most trade between the two economies?"
    gate = Grounding(assistant.retriever.search(question, assistant.config.top_k), assistant.scorer)
    said = "Wang described most trade between the two economies as"
    assert not gate.judge(f"{said} “benign.”").misquotes
    assert gate.judge(f"{said} “benign.”").supported
    # "profound" is no quotation of "profoundly important", nor "harmless" of "benign".
    assert gate.judge(f'{said} "benign" or "profound."').misquotes
    assert not gate.judge(f'{said} "harmless."').supported
    # A quotation left open runs to the end: the passages quote "benign", not "benign or".
    assert quotations(f'{said} "benign or') == ["benign or"]
    assert gate.judge(f'{said} "benign or').misquotes
    assert not gate.judge(f'{said} "benign').misquotes


@pytest.mark.parametrize(
    ("question", "answer", "statement"),
    [
        (
            "Which Treasury Secretary visited China?",
            "John Kerry.",
            "Treasury Secretary John Kerry visited China",
        ),
        ("Which newspaper reported it?", "The Times", "newspaper The Times reported it"),
        ("Who is the envoy?", "John Kerry", "John Kerry is the envoy"),
        ("And who did Raimondo meet?", "Wang Wentao", "did Raimondo meet Wang Wentao"),
        ("When did she go?", "Monday", "Monday"),  # no who/which/what: the answer alone
    ],
)
def test_a_bare_answer_makes_a_statement_of_its_question(
    question: str, answer: str, statement: str
) -> None:
    from rag.grounding import as_statement

    assert as_statement(question, answer) == statement


@pytest.mark.parametrize(
    ("claim", "bare"),
    [
        ("The New York Times", True),
        ("John Kerry.", True),
        ("Beijing, August 28", True),
        ("US-China communications", False),
        ("The prime minister of Japan", False),
        ("Raimondo met Wang.", False),
    ],
)
def test_what_is_a_bare_answer(claim: str, bare: bool) -> None:
    from rag.grounding import is_bare_answer

    assert is_bare_answer(claim) is bare


def test_a_bare_answer_is_judged_with_its_question(assistant) -> None:  # type: ignore[no-untyped-def]
    from eval.grounding import ARTICLES
    from rag.grounding import Grounding

    assert assistant.ingest(ARTICLES).ok
    question = "Which newspaper reported on Biden's executive order on investments?"
    gate = Grounding(assistant.retriever.search(question, assistant.config.top_k), assistant.scorer)
    # Alone, a name states nothing the passages can back; as the answer to its question it
    # states that the Times reported it, which they do.
    assert not gate.judge("The New York Times").supported
    assert gate.judge("The New York Times", question=question).supported
    other = gate.judge("Washington Post", question=question)
    assert other.answer_unbacked and not other.supported
    question = "Which Treasury Secretary visited China before Raimondo?"
    gate = Grounding(assistant.retriever.search(question, assistant.config.top_k), assistant.scorer)
    assert gate.judge("Janet Yellen.", question=question).supported
    # Alone, "John Kerry." passes (both words are in the sentence that names the visitors);
    # with its question it makes the climate envoy the Treasury Secretary.
    assert gate.judge("John Kerry.").supported
    wrong = gate.judge("John Kerry.", question=question)
    assert wrong.swaps_roles and not wrong.supported


def test_the_page_says_what_was_held_back_and_shows_the_models_words_as_text() -> None:
    from rag.answer import Answer
    from ui.chat_tab import held_back_note
    from ui.render import answer_html

    assert held_back_note(Answer("q", "a [1].")) == ""
    answer = Answer(
        "q", "a [1].", mode="llm", unsupported=2, set_apart=('<img src=x onerror="alert(1)">',)
    )
    note = held_back_note(answer)
    assert note.startswith("2 sentence(s) of the model's reply held back")
    shown = answer_html(answer, note)
    assert "<img" not in shown and "&lt;img src=x" in shown


@pytest.mark.parametrize(
    ("sentence", "refusal"),
    [
        ("The passages do not mention the capital of Australia.", True),
        ("The articles in the library do not answer this question.", True),
        ("I cannot answer that from the text.", True),
        # News that says something is unknown is a claim, not the model declining.
        ("Police released no information about the suspect.", False),
        ("China does not provide subsidies to the port, Raimondo said.", False),
    ],
)
def test_only_the_model_declining_is_a_refusal(sentence: str, refusal: bool) -> None:
    from rag.grounding import is_refusal

    assert is_refusal(sentence) is refusal


def test_a_date_in_any_form_states_the_same_numbers() -> None:
    assert figures("2024-01-02") >= {"1", "2", "2024"} and figures("January 2, 2024") <= figures(
        "2024-01-02"
    )


VISITS = (
    "The US Commerce Secretary’s visit to Beijing and Shanghai that ends on Wednesday follows "
    "visits by Secretary of State Antony Blinken, Treasury Secretary Janet Yellen and Climate "
    "Envoy John Kerry."
)


@pytest.mark.parametrize(
    ("claim", "wrong"),
    [
        # Qwen2.5-Coder-0.5B wrote the first of these over the sentence above.
        ("The US Climate Envoy who visited China is Janet Yellen.", True),
        ("Climate Envoy Janet Yellen visited China before Raimondo.", True),
        ("John Kerry is the Treasury Secretary.", True),
        ("The US Climate Envoy who visited China is John Kerry.", False),
        ("Treasury Secretary Janet Yellen visited China before Raimondo.", False),
        ("Janet Yellen, the Treasury Secretary, visited China.", False),
        ("Yellen and Kerry visited China before Raimondo.", False),
        # A plural role is a role; a list after "are" shares the role it is given.
        ("The secretaries who visited China were Antony Blinken and John Kerry.", True),
        ("The envoys who visited China are Yellen and Kerry.", True),
        ("The secretaries who visited China were Antony Blinken and Janet Yellen.", False),
        ("The secretaries who visited China were Blinken, Yellen.", False),
    ],
)
def test_a_claim_that_gives_someone_anothers_role_is_told(claim: str, wrong: bool) -> None:
    from rag.roles import known_roles, swapped

    assert swapped(claim, known_roles([VISITS])) is wrong


def test_a_relation_is_not_an_office() -> None:
    from rag.roles import known_roles, swapped

    known = known_roles(["Raimondo met her Chinese counterpart Wang Wentao in Beijing."])
    assert not swapped("Commerce Minister Wang Wentao met Raimondo.", known)
    assert swapped(
        "Commerce Minister Gina Raimondo met Wang.",
        known_roles([VISITS, "US Commerce Secretary Gina Raimondo"]),
    )


@pytest.mark.parametrize(
    ("claim", "wrong"),
    [
        ("Washington described the relations between Raimondo and Beijing as important.", True),
        ("China visited Janet Yellen before Raimondo.", True),
        ("Raimondo described the relations between Washington and Beijing as important.", False),
        ("Wang Wentao met Raimondo on Monday.", False),  # meeting is mutual
        ("Raimondo said the relations between Washington and Beijing were important.", False),
        # A phrase fronted across a comma moves a name without changing who did what.
        ("Since the Chinese spy balloon incident, relations between China and the US sank.", False),
    ],
)
def test_names_the_other_way_round_are_told_where_the_order_carries_the_roles(
    claim: str, wrong: bool
) -> None:
    from rag.roles import reorders

    sentence = {
        "Since": "Relations between China and the US sank after the Chinese spy balloon incident.",
        "China": "Treasury Secretary Janet Yellen visited China before Raimondo.",
        "Wang": "Raimondo met Wang Wentao on Monday.",
    }
    said = next((s for k, s in sentence.items() if claim.startswith(k)), None) or (
        "Raimondo described the relations between Washington and Beijing as important."
    )
    assert reorders(claim, said) is wrong


MAO = "China's Foreign Ministry Spokesperson Mao Ning said China firmly opposes the visit."


@pytest.mark.parametrize(
    ("claim", "wrong"),
    [
        # Two words side by side that the sentence has the other way round.
        ("Foreign Ministry Spokesperson Mao Ning's China is the spokesperson of China's.", True),
        ("The Ministry Foreign Spokesperson of China is Mao Ning.", True),
        # The order of "and", of stopwords, or of words the sentence also has in this order.
        ("Mao Ning is the spokesperson of China's Foreign Ministry.", False),
        ("China firmly opposes the visit, said Mao Ning.", False),
        ("The visit is firmly opposed by China and its Foreign Ministry.", False),
    ],
)
def test_two_words_the_other_way_round_are_told(claim: str, wrong: bool) -> None:
    from rag.roles import reverses_pair

    assert reverses_pair(claim, MAO) is wrong


@pytest.mark.parametrize(
    ("claim", "wrong"),
    [
        # A name where the sentence has another: whose visit, who met whom.
        ("Beijing's visit to Raimondo lasted for four days.", True),
        ("Chinese met with her Gina Raimondo counterpart Wang Wentao on Monday.", True),
        ("27 Raimondo companies were removed from a blacklist ahead of Chinese's trip.", True),
        # Every name beside the words the sentence puts it beside, or order made free by "and".
        ("Raimondo's visit to Beijing lasted for four days.", False),
        ("Raimondo's four-day visit took in Shanghai and Beijing.", False),
        ("Raimondo met Wang Wentao, her Chinese counterpart.", False),
        ("Chinese companies were removed from a blacklist before Raimondo's trip.", False),
    ],
)
def test_a_name_put_in_the_place_of_another_is_told(claim: str, wrong: bool) -> None:
    from rag.roles import misplaces

    sentence = {
        "Raimondo's": "Raimondo's visit to Beijing and Shanghai lasted for four days.",
        "Beijing's": "Raimondo's visit to Beijing and Shanghai lasted for four days.",
        "Raimondo met": "Gina Raimondo met with her Chinese counterpart Wang Wentao on Monday.",
        "Chinese met": "Gina Raimondo met with her Chinese counterpart Wang Wentao on Monday.",
    }
    said = next((s for k, s in sentence.items() if claim.startswith(k)), None) or (
        "Ahead of Raimondo's trip, 27 Chinese companies were removed from a blacklist."
    )
    assert misplaces(claim, said) is wrong


@pytest.mark.parametrize(
    ("claim", "backing", "reversed_"),
    [
        # A denial added, doubled or dropped reverses what the sentence states.
        ("She would not not compromise.", ["She would not compromise."], True),
        (
            "The US has not used export controls to deny China access.",
            ["The US has used export controls to deny China access."],
            True,
        ),
        ("She would compromise.", ["She would not compromise."], True),
        ("She would not compromise.", ["She said she would compromise."], True),
        # The same denials, or a claim that leaves out a clause that denies, do not.
        ("She refused to compromise.", ["She would not compromise."], False),
        (
            "The US used export controls to deny China access.",
            ["The US has used export controls to deny China access."],
            False,
        ),
        ("No arrests were made.", ["She would not comment and no arrests were made."], False),
    ],
)
def test_a_claim_that_reverses_a_denial_is_told(
    claim: str, backing: list[str], reversed_: bool
) -> None:
    assert grounding.reverses_denial(claim, backing) is reversed_
