"""Fit the reader's weights (``rag/reader.py``): which span of the cited sentences is the short
answer, on the free-form turns of the CoQA dev sets, and write ``rag/reader_weights.json``.

Every conversation is asked in one chat, as ``rag eval`` asks it; each free-form turn whose
answer cites sentences is one choice among the spans of its first two cited sentences, the gold
ones those whose CoQA F1 against the accepted answers is within ``GOLD_WITHIN`` of the best.
The fit is checked by 5-fold cross-validation *by conversation* (no conversation is in the
folds it is scored on): the report gives the held-out folds' CoQA F1 of the chosen span, never
the training fit, beside the best span there is (the ceiling) and the whole first sentence.

The chats' answers are kept under ``--cache`` (artifacts/fit-reader/ by default) so that a
refit with other features does not ask every conversation again; ``--recollect`` asks again.

Run: ``python -m eval.fit_reader [--dataset DIR ...] [--check]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eval.answer_f1 import UNKNOWN, best_f1
from eval.conditional_logit import fit
from eval.dataset import load_dataset
from rag import answerable, yesno
from rag.assistant import Assistant
from rag.config import Config
from rag.extractive import ExtractiveAnswerer
from rag.reader import FEATURES, WEIGHTS, Candidates, candidates, choose
from rag.span_model import Reading

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DEFAULT_DATASETS = (SHARED / "coqa-cnn-dev", SHARED / "coqa-wikipedia")
#: Questions the articles do not answer, beside CoQA's own unknown turns.
REFUSALS = (Path(__file__).resolve().parent / "datasets" / "near-miss",)
#: Share of answerable turns (of the training folds) the answerability threshold may refuse.
#: Measured held out, before the asked-noun features (near-miss refused / its answerable turns
#: refused / coqa-cnn-dev F1):
#: 0.01: 0.243 / 0.118 / 0.440; 0.02: 0.375 / 0.247 / 0.433; 0.03: 0.449 / 0.333 / 0.427.
#: More refuses near-misses only with as many answerable questions about the same stories.
MOST_REFUSED = 0.01
CACHE = Path("artifacts/fit-reader")
#: The reading model's held-out readings of the turns (``python -m eval.fit_span_model``).
READINGS = "readings.jsonl"
FOLDS = 5
#: A candidate is gold when its F1 is this close to the best one's (ties and near-ties: "the
#: Michigan Wolverines" and "Michigan Wolverines" score alike after normalising).
GOLD_WITHIN = 0.05
L2 = 1e-3
DECIMALS = 3


@dataclass
class Turn:
    """One turn as the chat answered it."""

    dataset: str
    conversation: str
    number: int
    question: str
    standalone: str
    answer_type: str
    answers: list[str]
    quotes: list[str]
    refused: bool
    #: What the answerer had of the chosen sentence's article (``rag.extractive.cited_text``).
    article: str = ""


def collect(folder: Path, cache: Path, again: bool = False) -> list[Turn]:
    """Every turn of the dataset in ``folder``, asked in one chat per conversation."""
    data = load_dataset(folder)
    path = cache / f"{data.name}.jsonl"
    if path.is_file() and not again:
        return [Turn(**json.loads(line)) for line in path.open(encoding="utf-8")]
    turns: list[Turn] = []
    with tempfile.TemporaryDirectory(prefix="rag-fit-reader-") as home:
        qa = Assistant.open(Config.from_env(home=Path(home), chroma_url=None, collection="fit"))
        qa.ingest(data.corpus)
        for n, item in enumerate(data.items, start=1):
            chat = qa.chat(mode="extractive")
            # Nothing refused for not answering: the judgement of that is what is fitted.
            answerer = ExtractiveAnswerer(qa.scorer, judge_answerable=False)
            chat.answerer = answerer
            for number, turn in enumerate(item.turns, start=1):
                answer = chat.ask(turn.question)
                # What the reader read (the cited sentences, and a spare one beside a lone
                # cited sentence: ``rag.extractive.READ_SPARE``), not only what was cited.
                turns.append(
                    Turn(data.name, item.id, number, turn.question, answer.standalone,
                         turn.answer_type, list(turn.answers), answerer.last_read,
                         answer.refused or not answerer.last_read, answerer.last_seen)
                )  # fmt: skip
            print(f"\r{data.name}: {n}/{len(data.items)} conversations", end="", file=sys.stderr)
    print(file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(t)) + "\n" for t in turns), "utf-8")
    return turns


@dataclass
class Choice:
    """A turn's candidates, their texts and their F1."""

    turn: Turn
    found: Candidates
    texts: list[str]
    f1: np.ndarray

    @property
    def x(self) -> np.ndarray:
        return self.found.x

    @property
    def fold(self) -> int:
        return fold_of(self.turn)


def key(t: Turn) -> str:
    """A turn's name among all the datasets' turns."""
    return f"{t.dataset}|{t.conversation}|{t.number}"


def load_readings(cache: Path = CACHE) -> dict[str, Reading]:
    """The reading model's held-out readings of the last cross-validation, by turn (``key``):
    each read by the model fitted without the turn's fold."""
    path = cache / READINGS
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run python -m eval.fit_span_model first")
    out = {}
    for line in path.open(encoding="utf-8"):
        data = json.loads(line)
        out[data.pop("key")] = Reading.from_dict(data)
    return out


def choices(turns: Sequence[Turn], readings: dict[str, Reading]) -> Iterator[Choice]:
    """The free-form turns answered with a citation, each with its candidate spans."""
    for t in turns:
        if t.answer_type != "free" or t.refused or not t.quotes or not t.answers:
            continue
        found = candidates(t.question, t.standalone, t.quotes[:2], readings.get(key(t)), False)
        if len(found):
            texts = [found.text(i, t.quotes) for i in range(len(found))]
            yield Choice(t, found, texts, np.array([best_f1(t.answers, s) for s in texts]))


def fit_weights(train: Sequence[Choice]) -> np.ndarray:
    """The weights that make the best spans of ``train`` most likely; each dataset weighs the
    same however many turns it has."""
    usable = [c for c in train if c.f1.max() > 0]
    per_set: dict[str, int] = {}
    for c in usable:
        per_set[c.turn.dataset] = per_set.get(c.turn.dataset, 0) + 1
    share = [len(usable) / (len(per_set) * per_set[c.turn.dataset]) for c in usable]
    groups = [(c.x, c.f1 >= c.f1.max() - GOLD_WITHIN) for c in usable]
    return fit(groups, L2, share)


def fold_weights(all_choices: Sequence[Choice]) -> list[np.ndarray]:
    """The span weights fitted without each fold in turn."""
    out = []
    for fold in range(FOLDS):
        out.append(fit_weights([c for c in all_choices if c.fold != fold]))
        print(f"\rspan fold {fold + 1}/{FOLDS}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def cross_validate(
    all_choices: Sequence[Choice], folds: Sequence[np.ndarray]
) -> dict[str, dict[str, float]]:
    """Held-out F1 per dataset and kind of turn, each turn scored by the fit of the other
    folds, beside the best span there is and the whole first sentence."""
    held: dict[str, list[tuple[float, float, float]]] = {}
    for c in all_choices:
        kind = "first" if c.turn.number == 1 else "follow-up"
        row = (
            float(c.f1[choose(c.found, folds[c.fold])]),
            float(c.f1.max()),
            best_f1(c.turn.answers, c.turn.quotes[0]),
        )
        for key in (c.turn.dataset, f"{c.turn.dataset} {kind}"):
            held.setdefault(key, []).append(row)
    return {
        k: {
            "turns": len(v),
            "held_out_f1": round(float(np.mean([r[0] for r in v])), 3),
            "best_span_f1": round(float(np.mean([r[1] for r in v])), 3),
            "first_sentence_f1": round(float(np.mean([r[2] for r in v])), 3),
        }
        for k, v in held.items()
    }


def fold_of(turn: Turn) -> int:
    return zlib.crc32(f"{turn.dataset}/{turn.conversation}".encode()) % FOLDS


def _logistic(x: np.ndarray, y: np.ndarray, balanced: bool = False) -> np.ndarray:
    """Weights (the bias first, as ``x``'s first column) of an L2 logistic regression;
    ``balanced``: the classes weigh alike however rare one is."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=1.0, class_weight="balanced" if balanced else None, fit_intercept=False, max_iter=5000
    )
    model.fit(x, y)
    return np.asarray(model.coef_[0])


def yes_no_rows(
    turns: Sequence[Turn], readings: dict[str, Reading]
) -> list[tuple[Turn, np.ndarray, bool]]:
    """CoQA's yes/no turns answered with a citation: features of the settling sentence."""
    return [
        (
            t,
            yesno.features(t.question, t.standalone, t.quotes[0], readings.get(key(t))),
            t.answer_type == "yes",
        )
        for t in turns
        if t.answer_type in ("yes", "no") and t.quotes and not t.refused
    ]


def yes_no_folds(turns: Sequence[Turn], readings: dict[str, Reading]) -> list[np.ndarray]:
    """The yes/no weights fitted without each fold in turn."""
    rows = yes_no_rows(turns, readings)
    out = []
    for fold in range(FOLDS):
        train = [(x, y) for t, x, y in rows if fold_of(t) != fold]
        out.append(_logistic(np.stack([x for x, _ in train]), np.array([y for _, y in train])))
    return out


def fit_yes_no(
    turns: Sequence[Turn], readings: dict[str, Reading]
) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """The yes/no weights, and their held-out CoQA F1 per dataset (by conversation)."""
    rows = yes_no_rows(turns, readings)
    held: dict[str, list[float]] = {}
    for fold, w in enumerate(yes_no_folds(turns, readings)):
        for t, x, _ in (r for r in rows if fold_of(r[0]) == fold):
            said = "Yes" if float(x @ w) >= 0 else "No"
            held.setdefault(t.dataset, []).append(best_f1(t.answers, said))
    w = _logistic(np.stack([x for _, x, _ in rows]), np.array([y for *_, y in rows]))
    always_yes = {
        d: float(np.mean([best_f1(t.answers, "Yes") for t, _, _ in rows if t.dataset == d]))
        for d in held
    }
    report = {
        d: {"turns": len(v), "held_out_f1": round(float(np.mean(v)), 3),
            "always_yes": round(always_yes[d], 3)}
        for d, v in held.items()
    }  # fmt: skip
    return w, report


def answerable_rows(
    turns: Sequence[Turn], span_w: np.ndarray, readings: dict[str, Reading]
) -> list[tuple[Turn, np.ndarray, bool]]:
    """Every turn the chat answered with a citation: the answerability features, and whether
    the dataset says it has an answer."""
    rows = []
    for t in turns:
        if t.refused or not t.quotes:
            continue
        reading = readings.get(key(t))
        found = candidates(t.question, t.standalone, t.quotes[:2], reading, False)
        yes_no = yesno.is_yes_no(t.question)
        x = answerable.features(
            t.question, t.standalone, t.quotes[:2], t.article, found, span_w, yes_no, reading
        )
        rows.append((t, x, t.answer_type != "unknown"))
    return rows


def threshold_for(scores: np.ndarray, most_refused: float) -> float:
    """The highest log-odds threshold that refuses at most ``most_refused`` of the answerable
    turns whose ``scores`` are given."""
    return float(np.quantile(scores, most_refused))


def fit_answerable(
    turns: Sequence[Turn],
    folds: Sequence[np.ndarray],
    span_w: np.ndarray,
    readings: dict[str, Reading],
) -> tuple[np.ndarray, float, dict[str, dict[str, float | None]], dict[str, bool]]:
    """The answerability weights and threshold, the held-out refusal rates per dataset (of
    its answerable turns, to stay rare, and of its unanswerable ones, near-misses), and
    whether the held-out judgement refuses each turn (by ``key``)."""
    held: dict[str, list[tuple[bool, bool]]] = {}
    refused: dict[str, bool] = {}
    for fold, fold_w in enumerate(folds):
        rows = answerable_rows(turns, fold_w, readings)
        train = [(x, y) for t, x, y in rows if fold_of(t) != fold]
        w = _logistic(np.stack([x for x, _ in train]), np.array([y for _, y in train]), True)
        cut = threshold_for(np.array([x @ w for x, y in train if y]), MOST_REFUSED)
        for t, x, y in (r for r in rows if fold_of(r[0]) == fold):
            held.setdefault(t.dataset, []).append((y, float(x @ w) < cut))
            refused[key(t)] = float(x @ w) < cut
        print(f"\ranswerable fold {fold + 1}/{FOLDS}", end="", file=sys.stderr)
    print(file=sys.stderr)
    rows = answerable_rows(turns, span_w, readings)
    w = _logistic(np.stack([x for _, x, _ in rows]), np.array([y for *_, y in rows]), True)
    cut = threshold_for(np.array([x @ w for _, x, y in rows if y]), MOST_REFUSED)
    report = {}
    for d, v in held.items():
        answerable_ = [refused for y, refused in v if y]
        unanswerable = [refused for y, refused in v if not y]
        report[d] = {
            "answerable_refused": round(float(np.mean(answerable_)), 3) if answerable_ else None,
            "unanswerable_refused": round(float(np.mean(unanswerable)), 3)
            if unanswerable
            else None,
        }
    return w, cut, report, refused


def end_to_end(
    turns: Sequence[Turn],
    readings: dict[str, Reading],
    span_folds: Sequence[np.ndarray],
    refused: dict[str, bool],
) -> dict[str, dict[str, float]]:
    """CoQA F1 of the short answer on every turn as the chat gives it (``rag.extractive``'s
    ``short_answer``), each part from the fits of the other folds: a turn the chat refused, or
    the held-out judgement refuses, answers "unknown"; a yes/no question the held-out yes/no;
    any other the held-out reader's span. Per dataset, all turns and first turns."""
    yes_no_w = yes_no_folds(turns, readings)
    scores: dict[str, list[float]] = {}
    for t in turns:
        if not t.answers and t.answer_type != "unknown":
            continue
        fold, reading = fold_of(t), readings.get(key(t))
        said = UNKNOWN
        if not t.refused and t.quotes and not refused.get(key(t), False):
            found = candidates(t.question, t.standalone, t.quotes[:2], reading, False)
            if yesno.is_yes_no(t.question) or not len(found):
                row = yesno.features(t.question, t.standalone, t.quotes[0], reading)
                said = "Yes" if float(row @ yes_no_w[fold]) >= 0 else "No"
            else:
                said = found.text(choose(found, span_folds[fold]), t.quotes)
        accepted = t.answers or [UNKNOWN]
        f1 = best_f1(accepted, said)
        scores.setdefault(t.dataset, []).append(f1)
        if t.number == 1:
            scores.setdefault(f"{t.dataset} first", []).append(f1)
    return {
        k: {"turns": len(v), "held_out_coqa_f1": round(float(np.mean(v)), 3)}
        for k, v in scores.items()
    }


def run(datasets: Sequence[Path], refusals: Sequence[Path], cache: Path, again: bool) -> dict:
    turns = [t for folder in datasets for t in collect(folder, cache, again)]
    more = [t for folder in refusals for t in collect(folder, cache, again)]
    readings = load_readings(cache)
    span_choices = list(choices(turns, readings))
    folds = fold_weights(span_choices)
    report = cross_validate(span_choices, folds)
    w = fit_weights(span_choices)
    yes_no_w, yes_no_report = fit_yes_no(turns, readings)
    answer_w, cut, answer_report, refused = fit_answerable([*turns, *more], folds, w, readings)
    whole = end_to_end(turns, readings, folds, refused)
    rounded = lambda v: [round(float(a), DECIMALS) for a in v]  # noqa: E731
    return {
        "command": "python -m eval.fit_reader",
        "cross_validated": {
            "short_answer": whole,
            "span": report,
            "yes_no": yes_no_report,
            "answerable": answer_report,
        },
        "span": {"features": list(FEATURES), "weights": rounded(w)},
        "yes_no": {"features": list(yesno.FEATURES), "weights": rounded(yes_no_w)},
        "answerable": {
            "features": list(answerable.FEATURES),
            "weights": rounded(answer_w),
            "threshold": round(cut, DECIMALS),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.fit_reader", description=__doc__)
    parser.add_argument("--dataset", type=Path, action="append", help="repeatable")
    parser.add_argument(
        "--refusals", type=Path, action="append", help="near-miss sets (repeatable)"
    )
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--recollect", action="store_true", help="ask the conversations again")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--check", action="store_true", help="fit, but only compare with --out")
    args = parser.parse_args(argv)
    result = run(
        args.dataset or DEFAULT_DATASETS, args.refusals or REFUSALS, args.cache, args.recollect
    )
    print(json.dumps(result["cross_validated"], indent=1))
    if args.check:
        kept = json.loads(args.out.read_text("utf-8"))
        same = all(kept[p] == result[p] for p in ("span", "yes_no", "answerable"))
        print("the committed weights are what the fit gives" if same else "the weights differ")
        return 0 if same else 1
    args.out.write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
