"""The local model's crash check: a llama.cpp that dies in a child process becomes a one-line
error, not a dead run (no llama-cpp-python needed: the child runs small stand-in scripts)."""

from __future__ import annotations

import sys
import types

import pytest

from sld.errors import ConfigError
from sld.llm import LocalChat, _local, probe_failure


def test_a_child_that_runs_clean_is_no_failure(tmp_path):
    assert probe_failure(tmp_path / "m.gguf", script="import sys; assert sys.argv[1]") is None


def test_a_child_killed_by_an_illegal_instruction_is_named(tmp_path):
    script = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
    failure = probe_failure(tmp_path / "m.gguf", script=script)
    assert failure is not None
    assert "SIGILL" in failure and "instructions this CPU lacks" in failure


def test_a_child_that_fails_gives_its_last_error_line(tmp_path):
    script = "import sys; sys.exit('cannot load ' + sys.argv[1].rsplit('/', 1)[-1])"
    assert probe_failure(tmp_path / "m.gguf", script=script) == "cannot load m.gguf"


def test_a_model_that_cannot_run_here_stops_the_run_with_the_rebuild_command(tmp_path, monkeypatch):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=object))
    monkeypatch.setitem(_local._PROBED, (str(model), _local._PROBE), "llama.cpp died with SIGILL")
    with pytest.raises(ConfigError) as caught:
        LocalChat(model_path=model)
    message = str(caught.value)
    assert "\n" not in message
    assert "m.gguf cannot run on this machine: llama.cpp died with SIGILL" in message
    assert "GGML_NATIVE=OFF" in message
