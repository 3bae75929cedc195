"""How well the HTML loader reads news pages: article text, title and date.

Two measurements, each optional:

- Extraction: the article-extraction benchmark pages (gzipped HTML and a hand-made
  ``ground-truth.json`` of each article body). Scored as the benchmark's ``evaluate.py`` scores
  them: words are ``\\w+`` runs, shingles are 4 consecutive words, true/false positives and false
  negatives are counted over shingle multisets and normalised per page; precision and recall are
  the means over pages and F1 is computed from the two means.
- Metadata: labelled pages laid out as newspaper4k's test fixtures are (``metadata/<name>.json``
  holding ``title`` and ``publish_date``, the page in ``html/<name>.html`` beside that folder).
  It reports title exact match (after whitespace normalisation) and date accuracy (same
  ``YYYY-MM-DD``, over the pages whose label has a date), and lists every miss.

Run: ``python -m eval.pages [--extraction DIR] [--metadata DIR] [--no-extraction] [-v]``.
The newspaper4k fixtures come from its sdist (``pip download newspaper4k --no-deps
--no-binary :all:``; ``--metadata <sdist>/tests/data/metadata``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders.base import LoadError
from ingest.loaders.html import article_from_html
from rag.records import Article

DEFAULT_EXTRACTION = (
    Path(__file__).resolve().parents[1].parent / "shared/datasets/article-extraction"
)
#: Generous: the benchmark's pages are whole saved pages, some of them large.
LIMIT = 50_000_000
SHINGLE = 4
_TOKEN = re.compile(r"\w+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def shingles(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """The multiset of n-word shingles, as the benchmark counts them."""
    words = _TOKEN.findall(text)
    return Counter(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)) if words)


def page_counts(true: str, pred: str) -> tuple[float, float, float]:
    """TP, FP and FN of one page over shingles, normalised to sum to one."""
    want, got = shingles(true), shingles(pred)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


@dataclass
class Extraction:
    """Benchmark scores over pages, and each page's F1 for a look at the worst."""

    precision: float
    recall: float
    pages: int
    per_page: dict[str, float] = field(default_factory=dict)

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def load_page(raw: bytes, name: str, url: str) -> Article | None:
    """The loader's article of one page, or None where it finds none."""
    try:
        return article_from_html(raw, name, LIMIT, url=url)
    except LoadError:
        return None


def score_extraction(folder: Path) -> Extraction:
    """Shingle precision, recall and F1 of the loader's text over the benchmark's pages."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    counts: dict[str, tuple[float, float, float]] = {}
    for key, item in sorted(truth.items()):
        raw = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        article = load_page(raw, key, item.get("url", ""))
        counts[key] = page_counts(item.get("articleBody", ""), article.text if article else "")
    precision = statistics.mean(_precision(*c) for c in counts.values() if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts.values() if c[0] + c[2] > 0)
    per_page = {
        k: 2 * c[0] / (2 * c[0] + c[1] + c[2]) if any(c) else 0.0 for k, c in counts.items()
    }
    return Extraction(precision, recall, len(counts), per_page)


@dataclass
class Metadata:
    """Title and date matches over labelled pages, and what each miss was."""

    titles: int = 0
    titles_right: int = 0
    dates: int = 0
    dates_right: int = 0
    misses: list[str] = field(default_factory=list)


def _labelled(folder: Path) -> Iterator[tuple[str, dict[str, object], Path]]:
    """Each label file with the page it describes (beside it or in ``../html``)."""
    for label in sorted(folder.glob("*.json")):
        for page in (folder / f"{label.stem}.html", folder.parent / "html" / f"{label.stem}.html"):
            if page.is_file():
                yield label.stem, json.loads(label.read_text(encoding="utf-8")), page
                break


def _clean(text: object) -> str:
    return " ".join(str(text or "").split())


def _label_date(value: object) -> str:
    match = _DATE.search(str(value or ""))
    return match.group() if match else ""


def score_metadata(folder: Path) -> Metadata:
    """Title exact match and same-day date over pages labelled as newspaper4k's fixtures are."""
    result = Metadata()
    for name, label, page in _labelled(folder):
        article = load_page(page.read_bytes(), name, str(label.get("url") or ""))
        title, date = (article.title, article.published) if article else ("", "")
        if want := _clean(label.get("title")):
            result.titles += 1
            if _clean(title) == want:
                result.titles_right += 1
            else:
                result.misses.append(f"{name}: title {title!r}, label {want!r}")
        if want := _label_date(label.get("publish_date")):
            result.dates += 1
            if date == want:
                result.dates_right += 1
            else:
                result.misses.append(f"{name}: date {date or '-'}, label {want}")
    return result


def _share(right: int, total: int) -> str:
    return f"{right}/{total} = {right / total:.3f}" if total else "no labelled pages"


def main(argv: list[str] | None = None) -> int:
    """Score the loader on the folders given and print the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m eval.pages", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--extraction", type=Path, default=DEFAULT_EXTRACTION)
    parser.add_argument("--no-extraction", action="store_true", help="skip the extraction score")
    parser.add_argument("--metadata", type=Path, help="folder of newspaper4k-style label files")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the weakest pages")
    args = parser.parse_args(argv)
    if not args.no_extraction:
        ex = score_extraction(args.extraction)
        print(
            f"extraction ({ex.pages} pages): F1 {ex.f1:.4f}  "
            f"precision {ex.precision:.4f}  recall {ex.recall:.4f}"
        )
        if args.verbose:
            for key, f1 in sorted(ex.per_page.items(), key=lambda kv: kv[1])[:10]:
                print(f"  {f1:.3f} {key}")
    if args.metadata:
        meta = score_metadata(args.metadata)
        print(f"titles: {_share(meta.titles_right, meta.titles)}")
        print(f"dates:  {_share(meta.dates_right, meta.dates)}")
        for miss in meta.misses:
            print(f"  {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
