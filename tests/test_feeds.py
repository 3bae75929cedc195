"""Following feeds and folders: a news site on 127.0.0.1 that the tests script (a normal feed,
a broken one, a redirect, an entry that changes, 304 answers), the real store and model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.feeds import Watcher, canonical_url
from ingest.subscriptions import Subscriptions
from rag.assistant import Assistant
from rag.config import Config
from rag.store import Store

from .conftest import ROOT
from .feed_site import FeedSite, Route, feed_site
from .store_checks import assert_whole

pytestmark = pytest.mark.slow

INTERVAL = 60.0
STORIES = {
    "/news/bridge": (
        "Tarn bridge opens to traffic",
        "The new Tarn bridge opened to traffic on Monday, the county engineer Lea Brandt said.",
        "The bridge cost 48 million euros and took three years to build.",
    ),
    "/news/orchestra": (
        "Harwick orchestra names conductor",
        "The Harwick Philharmonic named Tomas Ilves as its principal conductor on Friday.",
        "Ilves, 39, will lead his first concert in March.",
    ),
}


def entries(site: FeedSite, **dates: str) -> list[dict[str, str]]:
    out = []
    for path, (title, *paras) in STORIES.items():
        site.page(path, title, *paras)
        date = dates.get(path.rsplit("/", 1)[1], "Mon, 30 Nov 2026 08:00:00 GMT")
        out.append({"guid": f"tag:site,{path}", "link": site.base + path, "title": title,
                    "date": date})  # fmt: skip
    return out


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with feed_site() as s:
        yield s


@pytest.fixture
def qa(tmp_path: Path, embedder) -> Assistant:  # type: ignore[no-untyped-def]
    config = Config.from_env(home=tmp_path / "lib").with_(
        allow_private_urls=True, watch_interval=INTERVAL
    )
    return Assistant.open(config)


@pytest.fixture
def watcher(qa: Assistant) -> Watcher:
    return Watcher(qa.store, qa.embedder, qa.config)


def test_a_feeds_entries_are_ingested_with_its_title_date_source_and_link(
    site: FeedSite, qa: Assistant, watcher: Watcher
) -> None:
    url = site.feed("/rss", "Valley Courier", entries(site))
    watcher.follow(url)
    [result] = watcher.poll_due()
    assert (result.added, result.failed, result.error) == (2, [], "")
    docs = {d.url: d for d in qa.documents()}
    bridge = docs[site.base + "/news/bridge"]
    assert (bridge.title, bridge.published, bridge.source) == (
        "Tarn bridge opens to traffic",
        "2026-11-30",
        "Valley Courier",
    )
    answer = qa.ask("Who did the Harwick Philharmonic name as principal conductor?")
    assert "Tomas Ilves" in answer.text
    assert answer.citations[0].url == site.base + "/news/orchestra"


def test_a_second_poll_sends_the_validators_and_a_304_fetches_nothing_more(
    site: FeedSite, watcher: Watcher
) -> None:
    url = site.feed("/rss", "Valley Courier", entries(site))
    sub = watcher.follow(url)
    watcher.poll(sub)
    served = len(site.requests)
    [again] = watcher.poll_due(force=True)
    assert again.not_modified
    assert len(site.requests) == served + 1  # the feed only
    path, headers = site.requests[-1]
    assert path == "/rss"
    assert headers["if-none-match"] == site.routes["/rss"].etag
    assert headers["if-modified-since"] == site.routes["/rss"].last_modified


def test_an_entry_seen_before_is_never_fetched_again_by_guid_or_canonical_url(
    site: FeedSite, qa: Assistant, watcher: Watcher
) -> None:
    items = entries(site)
    url = site.feed("/rss", "Valley Courier", items, validators=False)
    watcher.poll(watcher.follow(url))
    # The same stories again, one under a new GUID with a tracking parameter on its link.
    items[1] = dict(items[1], guid="tag:site,moved", link=items[1]["link"] + "?utm_source=rss")
    site.feed("/rss", "Valley Courier", items, validators=False)
    [result] = watcher.poll_due(force=True)
    assert (result.added, result.replaced, result.unchanged) == (0, 0, 0)
    assert site.fetched("/news/bridge") == 1
    assert site.fetched("/news/orchestra") == 1
    assert canonical_url(items[1]["link"]) == canonical_url(site.base + "/news/orchestra")
    assert len(qa.documents()) == 2


def test_a_changed_entry_replaces_its_old_version(
    site: FeedSite, qa: Assistant, watcher: Watcher
) -> None:
    url = site.feed("/rss", "Valley Courier", entries(site), validators=False)
    watcher.poll(watcher.follow(url))
    old = {d.url: d.id for d in qa.documents()}[site.base + "/news/bridge"]
    changed = entries(site, bridge="Tue, 01 Dec 2026 09:30:00 GMT")
    title, first, _ = STORIES["/news/bridge"]
    site.page("/news/bridge", title, first, "The bridge cost 52 million euros, not 48 million.")
    site.feed("/rss", "Valley Courier", changed, validators=False)
    [result] = watcher.poll_due(force=True)
    assert (result.added, result.replaced, result.unchanged) == (0, 1, 0)
    docs = {d.url: d for d in qa.documents()}
    assert len(docs) == 2 and docs[site.base + "/news/bridge"].id != old
    assert docs[site.base + "/news/bridge"].published == "2026-12-01"
    answer = qa.ask("How much did the Tarn bridge cost?")
    assert "52 million" in answer.text
    assert all("48 million euros and took" not in c.quote for c in answer.citations)


def test_failing_feeds_are_reported_backed_off_and_never_stop_the_others(
    site: FeedSite, qa: Assistant, watcher: Watcher
) -> None:
    site.routes["/broken"] = Route(status=500, body=b"oops")
    site.routes["/not-a-feed"] = Route(body=b"<html><body>no feed here</body></html>")
    good = site.feed("/rss", "Valley Courier", entries(site))
    for path in ("/broken", "/not-a-feed"):
        watcher.follow(site.base + path)
    watcher.follow(good)
    results = {r.ref.rsplit("/", 1)[1]: r for r in watcher.poll_due()}
    assert results["broken"].error == "HTTP 500 Internal Server Error"
    assert "not an RSS or Atom feed" in results["not-a-feed"].error
    assert results["rss"].added == 2 and not results["rss"].error
    # What each poll found is kept in the library: a fresh process reads it back.
    subs = {s.ref.rsplit("/", 1)[1]: s for s in Subscriptions(Store.open(qa.config)).all()}
    broken = subs["broken"]
    assert (broken.failures, broken.last_error) == (1, "HTTP 500 Internal Server Error")
    assert broken.next_poll - broken.last_poll == 2 * INTERVAL
    assert subs["rss"].next_poll - subs["rss"].last_poll == INTERVAL
    assert subs["rss"].last_error == "" and len(subs["rss"].seen) == 4  # GUIDs and links
    # Not due yet: nothing is polled. Polled anyway, the wait doubles again.
    assert watcher.poll_due() == []
    watcher.poll(broken)
    broken = Subscriptions(qa.store).get(site.base + "/broken")
    assert broken is not None and broken.failures == 2
    assert broken.next_poll - broken.last_poll == 4 * INTERVAL
    # Mended, it is back to the normal interval.
    site.feed("/broken", "Mended", [])
    watcher.poll(broken)
    mended = Subscriptions(qa.store).get(site.base + "/broken")
    assert mended is not None and (mended.failures, mended.last_error) == (0, "")


def test_a_redirected_feed_is_followed_and_the_private_address_guard_applies(
    site: FeedSite, qa: Assistant, watcher: Watcher
) -> None:
    site.feed("/rss", "Valley Courier", entries(site))
    site.routes["/old-rss"] = Route(status=301, location=site.base + "/rss")
    [result] = [watcher.poll(watcher.follow(site.base + "/old-rss"))]
    assert result.added == 2
    guarded = Watcher(qa.store, qa.embedder, qa.config.with_(allow_private_urls=False))
    [refused] = [guarded.poll(guarded.follow(site.base + "/rss"))]
    assert "private or loopback address" in refused.error


def test_an_entry_whose_page_fails_is_retried_then_given_up(
    site: FeedSite, qa: Assistant, watcher: Watcher
) -> None:
    items = entries(site)
    items.append({"guid": "gone", "link": site.base + "/news/gone", "title": "Gone", "date": ""})
    # With validators: the feed answers 304 unless the watcher asks for it whole, as it must
    # while an entry is still to be tried again.
    url = site.feed("/rss", "Valley Courier", items)
    sub = watcher.follow(url)
    first = watcher.poll(sub)
    assert first.added == 2 and len(first.failed) == 1 and "HTTP 404" in first.failed[0]
    for _ in range(3):
        watcher.poll_due(force=True)
    assert site.fetched("/news/gone") == 3  # MAX_ENTRY_TRIES, then never again
    assert len(qa.documents()) == 2
    # Given up on, the feed is asked for with its validators again: a 304.
    [last] = watcher.poll_due(force=True)
    assert last.not_modified


def test_a_folder_is_followed_for_new_and_changed_files(
    tmp_path: Path, qa: Assistant, watcher: Watcher
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.txt").write_text("Mill reopens\n\nThe Ostrava mill reopened on Sunday.\n")
    watcher.follow(str(folder))
    [first] = watcher.poll_due()
    assert first.added == 1
    (folder / "b.md").write_text("# Ferry\n\nThe Lund ferry resumed sailing on Monday.\n")
    (folder / "a.txt").write_text("Mill reopens\n\nThe Ostrava mill reopened on Saturday.\n")
    [second] = watcher.poll_due(force=True)
    assert (second.added, second.replaced) == (1, 1)
    [third] = watcher.poll_due(force=True)
    assert (third.added, third.replaced, third.unchanged) == (0, 0, 0)
    texts = sorted(qa.store.article(d.id).text for d in qa.documents())  # type: ignore[union-attr]
    assert any("Saturday" in t for t in texts) and not any("Sunday" in t for t in texts)


def test_follow_refuses_what_is_neither_a_feed_nor_a_folder(watcher: Watcher) -> None:
    with pytest.raises(ValueError, match="neither a feed URL"):
        watcher.follow("/no/such/folder")
    with pytest.raises(ValueError, match="http or https"):
        watcher.follow("ftp://example.com/rss")
    assert watcher.subscriptions.all() == []


def _rag(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "RAG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env["RAG_ALLOW_PRIVATE_URLS"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_rag_watch_remembers_its_feeds_and_ctrl_c_stops_with_nothing_half_written(
    tmp_path: Path, site: FeedSite, embedder
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "lib"
    items = []
    for i in range(8):
        title = f"Regatta day {i}"
        text = f"Crew {i} of the Saale regatta finished in place {i + 1} on race day {i}."
        site.page(f"/news/{i}", title, text, f"The crew trained for {i + 2} months.")
        items.append({"link": f"{site.base}/news/{i}", "title": title, "date": ""})
    url = site.feed("/rss", "Saale Post", items)
    site.page_delay = 0.4
    proc = _rag(home, "watch", url, "--interval", "3600")
    while site.fetched("/news/2") == 0:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "stopped; every article stored is complete" in out
    store = Store.open(Config.from_env(home=home))
    stored = {d.url: d.id for d in store.documents()}
    assert 1 <= len(stored) < 8
    assert_whole(store, stored.values())
    # The subscription was remembered: a plain `rag watch --once` carries on from there,
    # fetching only the pages it had not stored.
    site.page_delay = 0.0
    before = {p: site.fetched(p) for p in (f"/news/{i}" for i in range(8))}
    done = _rag(home, "watch", "--once")
    out, _ = done.communicate(timeout=300)
    assert done.returncode == 0, out
    assert f"{url}: {8 - len(stored)} added" in out
    for i in range(8):
        fetched_again = site.fetched(f"/news/{i}") - before[f"/news/{i}"]
        assert fetched_again == (0 if f"{site.base}/news/{i}" in stored else 1)
    listing = _rag(home, "watch", "--list")
    out, _ = listing.communicate(timeout=120)
    assert url in out and "'Saale Post'" in out and "8 articles" in out
