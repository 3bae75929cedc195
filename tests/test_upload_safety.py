"""Uploaded file names never escape the upload folder, whatever the browser sends."""

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
    assert [p.name for p in uploads.iterdir()] == ["outside.txt"]
    assert not (tmp_path / "outside.txt").exists() and not (uploads.parent / "outside.txt").exists()
    assert "1 added" in log
