"""Uploaded file names never escape the upload folder, whatever the browser sends; two different
files of the same name are two articles; an upload that fails is not kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ui.upload import ingest_uploads, safe_name

HOSTILE_NAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\system32\\evil.txt",
    "/absolute/path/story.txt",
    "..",
    ".",
    "",
    ".hidden.txt",
    "....txt",
    "name\nwith\nnewlines.txt",
    "\u202eevil-rtl.txt",
    "$(rm -rf ~).txt",
    "a" * 500 + ".txt",
    "con:stream.txt",
    "nul\x00byte.txt",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_name_stays_inside_the_folder(tmp_path: Path, name: str) -> None:
    cleaned = safe_name(name)
    assert cleaned and len(cleaned) <= 120
    assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")
    assert all(c.isalnum() or c in "._-" for c in cleaned)
    assert (tmp_path / cleaned).resolve().parent == tmp_path.resolve()


@dataclass
class Uploaded:
    """What Gradio hands the upload handler: a temp file and the name the browser sent."""

    name: str
    orig_name: str


@pytest.mark.slow
def test_uploads_with_hostile_names_land_in_the_upload_folder(tmp_path: Path, assistant) -> None:  # type: ignore[no-untyped-def]
    sent = tmp_path / "browser-temp.txt"
    sent.write_text(
        "The harbour of Elling reopened to 42 fishing boats on Monday.", encoding="utf-8"
    )
    log = ingest_uploads(assistant, [Uploaded(str(sent), "../../../outside.txt")], "")
    uploads = Path(assistant.config.home) / "uploads"
    [kept] = [p for p in uploads.rglob("*") if p.is_file()]
    assert kept.name == "outside.txt" and kept.parent.parent == uploads
    assert not (tmp_path / "outside.txt").exists() and not (uploads.parent / "outside.txt").exists()
    assert "1 added" in log


def test_odd_names_keep_a_usable_extension() -> None:
    assert safe_name("..txt") == "upload.txt"
    assert safe_name(".md") == "upload.md"
    assert safe_name("report.final.html") == "report.final.html"


@pytest.mark.slow
def test_same_named_uploads_are_two_articles_and_a_failed_one_is_not_kept(
    tmp_path: Path, assistant
) -> None:  # type: ignore[no-untyped-def]
    first, second, broken = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    first.write_text("Ferry resumes\n\nThe Lund ferry resumed sailing on Monday.\n", "utf-8")
    second.write_text("Mill reopens\n\nThe Ostrava mill reopened on Sunday.\n", "utf-8")
    broken.write_bytes(b"\x00\x01binary")
    log = ingest_uploads(
        assistant,
        [Uploaded(str(first), "report.txt"), Uploaded(str(second), "sub/report.txt")],
        "",
    )
    assert "2 added" in log and "0 replaced" in log, log
    assert sorted(d.title for d in assistant.documents()) == ["Ferry resumes", "Mill reopens"]
    again = ingest_uploads(assistant, [Uploaded(str(first), "report.txt")], "")
    assert "0 added, 1 unchanged" in again, again
    uploads = Path(assistant.config.home) / "uploads"
    before = sorted(p.relative_to(uploads) for p in uploads.rglob("*"))
    failed = ingest_uploads(assistant, [Uploaded(str(broken), "report.txt")], "")
    assert "1 failed" in failed and "report\\.txt: binary" in failed, failed
    assert str(uploads) not in failed
    assert sorted(p.relative_to(uploads) for p in uploads.rglob("*")) == before
