"""The keyword index's filter language, evaluated in one place (``rag.keyword_where``) for the
base and the delta alike: each operator, a missing field, and ``$and``."""

from __future__ import annotations

import numpy as np
import pytest

from rag.keyword_where import Columns, filter_meta, where_mask

METAS = [
    {"article_id": "a", "source": "Coastal Times", "published_day": 19600},
    {"article_id": "a", "source": "Coastal Times", "published_day": 19600},
    {"article_id": "b", "source": "Daily", "published_day": 19500},
    {"article_id": "c"},  # no source, no date
]


@pytest.fixture
def columns() -> Columns:
    metas = [filter_meta(m) for m in METAS]
    fields = ("article_id", "source", "published_day")
    return Columns({f: [m.get(f) for m in metas] for f in fields}, len(metas))


@pytest.mark.parametrize(
    ("where", "passes"),
    [
        ({"source": "Coastal Times"}, [1, 1, 0, 0]),
        ({"source": {"$eq": "Daily"}}, [0, 0, 1, 0]),
        ({"source": {"$eq": "nowhere"}}, [0, 0, 0, 0]),
        ({"article_id": {"$in": ["a", "c", "zz"]}}, [1, 1, 0, 1]),
        ({"article_id": {"$in": ["zz"]}}, [0, 0, 0, 0]),
        ({"published_day": {"$gte": 19550}}, [1, 1, 0, 0]),
        ({"published_day": {"$lte": 19550}}, [0, 0, 1, 0]),
        (
            {
                "$and": [
                    {"source": {"$in": ["Daily", "Coastal Times"]}},
                    {"published_day": {"$lte": 19550}},
                ]
            },
            [0, 0, 1, 0],
        ),
    ],
)
def test_each_operator_and_a_missing_field(
    columns: Columns,
    where: dict,
    passes: list[int],  # type: ignore[type-arg]
) -> None:
    assert where_mask(columns, where).tolist() == [bool(p) for p in passes]


def test_an_unknown_operator_is_refused(columns: Columns) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        where_mask(columns, {"source": {"$ne": "Daily"}})


def test_no_chunks(columns: Columns) -> None:
    empty = Columns({}, 0)
    assert where_mask(empty, {"source": "Daily"}).shape == (0,)
    assert np.array_equal(where_mask(empty, {"published_day": {"$gte": 1}}), np.zeros(0, bool))
