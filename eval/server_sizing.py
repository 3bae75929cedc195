"""What a library costs on a Chroma server: ``python -m eval.server_sizing LIBRARY`` serves an
embedded library's folder (``LIBRARY/chroma``, e.g. the one ``rag bench --live --library``
keeps) with a real ``chroma run``, then measures a `rag` process against it twice: a first
start, which builds its keyword index from the server, and a restart, which loads the saved
one. It prints the figures the README's deployment table is made of."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

QUESTIONS = [
    "Who won the NCAA championship?",
    "Who did Louisville beat?",
    "Where was the final played?",
    "What did the coach say?",
]


def _memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def client(url: str, home: str) -> dict[str, Any]:
    """One `rag` process's view: its first question, then latency, then its memory."""
    from eval.bench_live_worker import peak_mb
    from rag.assistant import Assistant
    from rag.config import Config

    began = time.perf_counter()
    qa = Assistant.open(Config.from_env(home=Path(home), chroma_url=url))
    qa.ask(QUESTIONS[0])
    first = time.perf_counter() - began
    latencies = []
    for question in QUESTIONS * 5:
        began = time.perf_counter()
        qa.ask(question)
        latencies.append((time.perf_counter() - began) * 1000)
    latencies.sort()
    return {
        "first_question_s": first,
        "p50_ms": latencies[len(latencies) // 2],
        "chunks": qa.store.count_chunks(),
        "peak_mb": peak_mb(),
    }


def measure(library: Path, port: int = 8011) -> dict[str, Any]:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    args = [exe, "run", "--path", str(library / "chroma"), "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*args, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        runs = {}
        with tempfile.TemporaryDirectory(prefix="rag-sizing-") as home:
            for label in ("first start", "restart"):
                done = subprocess.run(
                    [sys.executable, "-m", "eval.server_sizing", "--client", url, home],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[label] = json.loads(done.stdout.strip().splitlines()[-1])
                runs[label]["chroma_server_peak_mb"] = _memory_mb(server.pid)
            keyword = sum(f.stat().st_size for f in Path(home, "keyword").rglob("*") if f.is_file())
        disk = sum(f.stat().st_size for f in (library / "chroma").rglob("*") if f.is_file())
        return {"runs": runs, "keyword_disk_mb": keyword / 1e6, "chroma_disk_mb": disk / 1e6}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.server_sizing")
    parser.add_argument("library", nargs="?", help="a library folder (RAG_HOME) to serve")
    parser.add_argument("--client", nargs=2, metavar=("URL", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(client(*args.client)))
        return 0
    if not args.library:
        parser.error("give a library folder")
    print(json.dumps(measure(Path(args.library)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
