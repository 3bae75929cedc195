"""A generated set of bad and hostile inputs for ingest: every one must be refused with one
clear error, and nothing from it stored."""

from __future__ import annotations

import json
import random
from pathlib import Path

#: Largest article the hostile tests allow (bytes), so "huge" inputs stay small on disk.
LIMIT = 200_000


def _pdf(text: str | None, encrypt: bool = False) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if text is not None:
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password="secret")
    return bytes(pdf.output())


def write_hostile_files(folder: Path, seed: int = 7) -> list[Path]:
    """Write the bad files into ``folder`` and return them (at least 100)."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for ext in ("txt", "md", "html", "htm", "pdf", "jsonl"):
        files[f"empty.{ext}"] = b""
    for ext in ("txt", "md", "html", "jsonl"):
        files[f"blank.{ext}"] = b" \n\t\n  \r\n"
    for i in range(10):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(64, 4096)))
        for ext in ("txt", "md", "html"):
            files[f"binary-{i}.{ext}"] = b"\x00" + noise
    files["png-as.txt"] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    files["elf-as.md"] = b"\x7fELF\x02\x01\x01\x00" + bytes(200)
    sentence = "Caf\u00e9 owners in S\u00e3o Paulo say the na\u00efve plan failed. "
    for i, codec in enumerate(("latin-1", "cp1252", "utf-16-le", "utf-16-be", "cp437")):
        data = (sentence * 20).encode(codec, errors="replace")
        files[f"encoding-{i}-{codec}.txt"] = data
        files[f"encoding-{i}-{codec}.md"] = data
    files["invalid-utf8.txt"] = b"Valid start then \xff\xfe\xfd broken bytes. " * 10
    files["deep.html"] = (
        b"<html><body>" + b"<div>" * 20_000 + b"</div>" * 20_000 + b"</body></html>"
    )
    files["huge.html"] = b"<html><body><p>" + b"word " * (LIMIT // 4) + b"</p></body></html>"
    files["script-only.html"] = (
        b"<html><head><script>alert('x');" + b"var a=1;" * 500 + b"</script>"
        b"<style>body{color:red}" * 50 + b"</style></head><body></body></html>"
    )
    files["style-only.htm"] = b"<html><style>" + b"p{margin:0}" * 500 + b"</style></html>"
    files["tags-only.html"] = (
        b"<html><body>" + b"<br/><img src=x onerror=alert(1)>" * 300 + b"</body></html>"
    )
    files["unclosed.html"] = b"<html><<<<>>>></bo dy>< p" * 50
    files["comment-only.html"] = b"<!-- " + b"hidden text " * 300 + b"-->"
    files["long-line.txt"] = b"a" * (LIMIT + 10)
    files["long-line.md"] = ("word " * (LIMIT // 4)).encode()
    files["corrupt.pdf"] = b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(3000))
    files["not-a.pdf"] = b"this is plain text pretending to be a PDF"
    files["truncated.pdf"] = _pdf("Harbour reopens after the storm. " * 20)[:400]
    files["blank-page.pdf"] = _pdf(None)
    files["encrypted.pdf"] = _pdf("A secret article about the harbour. " * 10, encrypt=True)
    files["html-as.pdf"] = b"<html><body><p>not a pdf</p></body></html>"
    bad_records: list[object] = [
        {"text": 123},
        {"text": None},
        {"text": ["a", "list"]},
        {"text": {"nested": "object"}},
        {"text": ""},
        {"text": "   "},
        {"title": "a title but no text"},
        {"body": 3.14},
        [1, 2, 3],
        "just a string",
        42,
        None,
        True,
    ]
    for i, record in enumerate(bad_records):
        files[f"record-{i}.jsonl"] = (json.dumps(record) + "\n").encode()
    broken = [
        "{",
        '{"text": "unterminated',
        "{'text': 'single quotes'}",
        "text: yaml",
        "}{",
        "\x00\x01",
    ]
    for i, line in enumerate(broken):
        files[f"broken-{i}.jsonl"] = (line + "\n").encode()
    files["long-line.jsonl"] = json.dumps({"text": "x" * (LIMIT + 10)}).encode() + b"\n"
    files["binary.jsonl"] = b"\x00\x01\x02" * 100
    files["latin1.jsonl"] = (
        json.dumps({"text": "x"}).encode()[:-2] + '\u00e9"}'.encode("latin-1") + b"\n"
    )
    files["front-matter.md"] = b"---\ntitle: [unclosed\ndate: :\n---\nBody text here."
    files["odd name $(rm -rf) ..txt"] = b""
    files["..hidden-dots..md"] = b"\x00binary"
    files["new\nline.txt"] = b""
    files["\u202eevil-rtl.txt"] = b"\xff\xfe"
    files["sp ace & quote'\".html"] = b""
    files["emoji-\U0001f4a5.md"] = b""
    out = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        out.append(path)
    return out


#: Refs that are not files at all: each must be refused with one error, and nothing read.
HOSTILE_REFS = [
    "../../../../etc/definitely-not-here.txt",
    "./no/such/../../folder/story.txt",
    "file:///etc/passwd",
    "ftp://127.0.0.1/story.txt",
    "javascript:alert(1)",
    "data:text/plain,hello",
    "gopher://example.invalid/",
]
