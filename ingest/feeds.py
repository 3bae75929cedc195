"""Following RSS/Atom feeds and folders (``rag watch``, the page's feed list).

Each poll of a feed is one conditional GET (If-None-Match / If-Modified-Since: a 304 costs
nothing more). Each entry not seen before, by GUID or canonical URL, has its page fetched (the
private-address guard applies, redirects included) and ingested with the feed's title, date,
source and link; an entry seen before is fetched again only when its date changed, and its new
text replaces the old version (same canonical URL). A folder is polled for new or changed
files. A failing subscription is reported and retried with a doubling wait, never holding up
the others; a stop request ends the poll between articles, so nothing is half-written."""

from __future__ import annotations

import calendar
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ingest.loaders import SUPPORTED, LoadError, Source, expand
from ingest.loaders.web import fetch_response, load_url
from ingest.pipeline import Ingestor
from ingest.progress import Progress
from ingest.subscriptions import Subscription, Subscriptions, is_feed_url, normalise_ref
from rag.config import Config
from rag.embeddings import Embedder
from rag.records import Article
from rag.store import Store, StoreError

#: The longest wait before retrying a failing subscription (seconds).
MAX_BACKOFF = 3600.0
#: Fetches of one entry's page that may fail before the entry is given up on.
MAX_ENTRY_TRIES = 3
#: A folder's changed files are stored in groups of this many, so that a stop request is
#: honoured within one group.
FOLDER_GROUP = 32
#: Query parameters that only track the reader: two links that differ in them are one article.
TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ref_src")

log = logging.getLogger(__name__)


def canonical_url(url: str) -> str:
    """``url`` with the scheme and host lower-cased, the fragment and tracking parameters
    dropped: the key that tells two links to one article apart from two articles."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(k, v) for k, v in query if not k.lower().startswith(TRACKING)]
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(kept), ""))


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed, as much of it as deciding and ingesting need."""

    key: str  # the GUID, or the canonical link when the feed gives none
    link: str
    canonical: str
    title: str
    published: str  # ISO date or ""
    version: str  # the entry's updated (or published) stamp: a change means a new version


def _iso_day(parsed: time.struct_time | None) -> str:
    if not parsed:
        return ""
    return time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(parsed)))


def parse_feed(
    body: bytes, url: str, headers: dict[str, str] | None = None
) -> tuple[str, list[FeedEntry]]:
    """The feed's title and its entries that link to a page; a body that is not a feed
    raises ``LoadError``."""
    import feedparser

    parsed = feedparser.parse(body, response_headers={**(headers or {}), "content-location": url})
    if not parsed.entries and (parsed.bozo or not parsed.feed):
        reason = getattr(parsed, "bozo_exception", None) or "no entries"
        raise LoadError(url, f"not an RSS or Atom feed ({reason})")
    entries = []
    for e in parsed.entries:
        e = dict(e)  # the fields the feed has, without feedparser's aliases between them
        link = str(e.get("link") or "")
        if not is_feed_url(link):
            continue
        canonical = canonical_url(link)
        stamp = e.get("updated") or e.get("published") or ""
        entries.append(
            FeedEntry(
                key=str(e.get("id") or canonical),
                link=link,
                canonical=canonical,
                title=" ".join(str(e.get("title") or "").split()),
                published=_iso_day(e.get("published_parsed") or e.get("updated_parsed")),
                version=str(stamp),
            )
        )
    return " ".join(str(parsed.feed.get("title") or "").split()), entries


@dataclass
class PollResult:
    """What one poll of one subscription did."""

    ref: str
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)
    not_modified: bool = False
    #: Why the whole poll failed ("" when it did not).
    error: str = ""

    def line(self) -> str:
        if self.error:
            return f"{self.ref}: failed: {self.error}"
        if self.not_modified:
            return f"{self.ref}: not modified"
        text = (
            f"{self.ref}: {self.added} added, {self.replaced} replaced, "
            f"{self.unchanged} unchanged, {len(self.failed)} failed"
        )
        return text + "".join(f"\n  failed: {f}" for f in self.failed)


class Watcher:
    """Polls a library's subscriptions and ingests what is new in them."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: Config,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.progress = progress
        self.clock = clock
        self.subscriptions = Subscriptions(store)
        #: One poll at a time in this process (the page's "poll now" beside the loop).
        self._polling = threading.Lock()

    # -- subscriptions -------------------------------------------------------------------------

    def follow(self, ref: str) -> Subscription:
        """Follow a feed URL or a folder (already followed: the subscription as it is)."""
        if "://" in ref and not is_feed_url(ref.strip()):
            raise ValueError(f"{ref}: a feed must be an http or https URL")
        ref = normalise_ref(ref)
        if not is_feed_url(ref) and not Path(ref).is_dir():
            raise ValueError(f"{ref}: neither a feed URL (http, https) nor a folder")
        found = self.subscriptions.get(ref)
        if found is not None:
            return found
        sub = Subscription(ref, "feed" if is_feed_url(ref) else "folder", added_at=self.clock())
        self.subscriptions.save(sub)
        return sub

    def unfollow(self, ref: str) -> bool:
        return self.subscriptions.remove(ref)

    # -- polling -------------------------------------------------------------------------------

    def poll_due(
        self, stop: threading.Event | None = None, force: bool = False
    ) -> list[PollResult]:
        """Poll every subscription whose time has come (all of them with ``force``)."""
        results = []
        for sub in self.subscriptions.all():
            if stop is not None and stop.is_set():
                break
            if force or sub.next_poll <= self.clock():
                results.append(self.poll(sub, stop))
        return results

    def poll(self, sub: Subscription, stop: threading.Event | None = None) -> PollResult:
        """Poll one subscription now and save its new state."""
        stop = stop or threading.Event()
        with self._polling:
            result = PollResult(sub.ref)
            sub.last_poll = self.clock()
            try:
                if sub.kind == "feed":
                    self._poll_feed(sub, result, stop)
                else:
                    self._poll_folder(sub, result, stop)
            except LoadError as exc:
                result.error = exc.reason
            except Exception as exc:  # one broken subscription must not stop the others
                result.error = f"{type(exc).__name__}: {exc}"
            interval = self.config.watch_interval
            if result.error:
                sub.failures += 1
                sub.last_error = result.error
                wait = min(MAX_BACKOFF, interval * 2**sub.failures)
            else:
                sub.failures, sub.last_error, sub.last_ok = 0, "", sub.last_poll
                wait = interval
            sub.next_poll = sub.last_poll + max(wait, interval)
            sub.articles += result.added + result.replaced
            self.subscriptions.save(sub)
            return result

    def next_due(self) -> float:
        """Seconds until the next subscription is due (the interval when there is none)."""
        subs = self.subscriptions.all()
        if not subs:
            return self.config.watch_interval
        return max(0.0, min(s.next_poll for s in subs) - self.clock())

    def run(
        self, stop: threading.Event, on_result: Callable[[PollResult], None] | None = None
    ) -> None:
        """Poll whatever is due until ``stop`` is set."""
        while not stop.is_set():
            try:
                for result in self.poll_due(stop):
                    if on_result is not None:
                        on_result(result)
                wait = min(self.next_due(), self.config.watch_interval, 30.0)
            except StoreError as exc:
                # The library itself failed (a Chroma server restarting): try again shortly.
                log.warning("rag watch: %s; trying again", exc)
                wait = min(self.config.watch_interval, 30.0)
            # Waits are capped so that a subscription added by another process is seen soon.
            stop.wait(wait + 0.05)

    # -- feeds ---------------------------------------------------------------------------------

    def _poll_feed(self, sub: Subscription, result: PollResult, stop: threading.Event) -> None:
        headers = {}
        if sub.etag:
            headers["If-None-Match"] = sub.etag
        if sub.modified:
            headers["If-Modified-Since"] = sub.modified
        got = fetch_response(
            sub.ref,
            self.config.fetch_timeout,
            self.config.max_article_bytes,
            self.config.allow_private_urls,
            headers,
        )
        if got.status == 304:
            result.not_modified = True
            return
        title, entries = parse_feed(got.body, got.url, got.headers)
        sub.title = title or sub.title
        todo = [e for e in entries if self._is_new(sub, e)]
        source = title or urlsplit(got.url).hostname or ""
        stored: dict[str, list[FeedEntry]] = {}
        tried: list[FeedEntry] = []
        articles = self._articles(todo, source, stored, tried, stop)
        report = self._ingestor().take(articles, len(todo))
        kept = set(report.added) | set(report.replaced) | set(report.unchanged)
        for article_id, same in stored.items():
            for entry in same if article_id in kept else []:
                sub.remember(entry.key, entry.version)
                sub.remember(entry.canonical, entry.version)
        for entry in tried:
            if sub.seen.get(entry.key) != entry.version:
                self._tried(sub, entry)
        # The validators are kept only once every entry is stored or given up: a poll cut
        # short by a stop request, or an entry whose page is to be tried again, asks for the
        # whole feed next time (a 304 would hide them).
        pending = any(sub.seen.get(e.key) != e.version for e in todo)
        done = not stop.is_set() and not pending
        sub.etag = got.headers.get("etag", "") if done else ""
        sub.modified = got.headers.get("last-modified", "") if done else ""
        result.added, result.replaced = len(report.added), len(report.replaced)
        result.unchanged = len(report.unchanged)
        result.failed = [str(f) for f in report.failed]

    def _is_new(self, sub: Subscription, entry: FeedEntry) -> bool:
        for key in (entry.key, entry.canonical):
            if key in sub.seen:
                return sub.seen[key] != entry.version
        # First sight in this subscription: another feed may have brought the article already.
        if self.store.by_identity(entry.canonical):
            sub.remember(entry.key, entry.version)
            sub.remember(entry.canonical, entry.version)
            return False
        return True

    def _tried(self, sub: Subscription, entry: FeedEntry) -> None:
        sub.tries[entry.key] = sub.tries.get(entry.key, 0) + 1
        if sub.tries[entry.key] >= MAX_ENTRY_TRIES:
            sub.remember(entry.key, entry.version)  # given up: not fetched again

    def _articles(
        self,
        entries: list[FeedEntry],
        source: str,
        stored: dict[str, list[FeedEntry]],
        tried: list[FeedEntry],
        stop: threading.Event,
    ) -> Iterator[Article | LoadError]:
        """Each entry's page as an article carrying the feed's title, date, source and link."""
        for entry in entries:
            if stop.is_set():
                return
            tried.append(entry)
            try:
                page = load_url(
                    entry.link,
                    self.config.max_article_bytes,
                    self.config.fetch_timeout,
                    self.config.allow_private_urls,
                )
            except LoadError as exc:
                yield exc
                continue
            article = replace(
                page,
                title=entry.title or page.title,
                published=entry.published or page.published,
                source=source or page.source,
                url=entry.link,
                origin=entry.link,
                key=entry.canonical,
            )
            stored.setdefault(article.id, []).append(entry)
            yield article

    # -- folders -------------------------------------------------------------------------------

    def _poll_folder(self, sub: Subscription, result: PollResult, stop: threading.Event) -> None:
        folder = Path(sub.ref)
        if not folder.is_dir():
            raise LoadError(sub.ref, "no such folder")
        stamps = {}
        for item in expand([folder]):
            if isinstance(item, Source) and item.suffix in SUPPORTED:
                stat = Path(item.ref).stat()
                stamps[item.ref] = f"{stat.st_mtime_ns}:{stat.st_size}"
        changed = [ref for ref, stamp in stamps.items() if sub.seen.get(ref) != stamp]
        for lo in range(0, len(changed), FOLDER_GROUP):
            if stop.is_set():
                return
            group = changed[lo : lo + FOLDER_GROUP]
            report = self._ingestor().run(group)
            failed = {f.source.split("#")[0] for f in report.failed}
            for ref in group:
                if ref in failed:
                    sub.tries[ref] = sub.tries.get(ref, 0) + 1
                    if sub.tries[ref] < MAX_ENTRY_TRIES:
                        continue
                sub.remember(ref, stamps[ref])
            result.added += len(report.added)
            result.replaced += len(report.replaced)
            result.unchanged += len(report.unchanged)
            result.failed += [str(f) for f in report.failed]

    def _ingestor(self) -> Ingestor:
        return Ingestor(self.store, self.embedder, self.config, self.progress)
