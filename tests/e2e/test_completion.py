"""Shell completion (issue 12, item 21): ``albfargate completion bash|zsh`` prints a script generated from
the parser; it is valid (``bash -n``, ``zsh -n``) and completes subcommands, options, option choices and
paths when driven by the real shells (bash's completion function with COMP_WORDS; an interactive zsh in a
pseudo-terminal, through zsh/zpty, pressing TAB)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.up_support import PY, cli

pytestmark = pytest.mark.integration

COMMANDS = {"up", "down", "status", "logs", "scale", "redeploy", "stop-task", "env", "completion", "synth"}


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "albfargate.bash"
    path.write_text(cli("completion", "bash").stdout)
    return path


def complete_bash(script: Path, line: str, cwd: Path | None = None) -> list[str]:
    """What bash's completion function offers for ``line`` (the word under the cursor is its last)."""
    words = line.split(" ")
    code = (
        f"source {shlex.quote(str(script))}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_albfargate\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    p = subprocess.run(["bash", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=30, check=True)
    return [w for w in p.stdout.splitlines() if w]


def test_the_bash_script_is_valid(bash_script: Path) -> None:
    subprocess.run(["bash", "-n", str(bash_script)], check=True, timeout=30)
    assert "complete -F _albfargate albfargate" in bash_script.read_text()


def test_bash_completes_subcommands_options_and_choices(bash_script: Path, tmp_path: Path) -> None:
    assert set(complete_bash(bash_script, "albfargate ")) >= COMMANDS
    assert complete_bash(bash_script, "albfargate st") == ["status", "stop-task"]
    assert complete_bash(bash_script, "albfargate --ver") == ["--version"]
    assert complete_bash(bash_script, "albfargate up --dr") == ["--driver"]
    assert complete_bash(bash_script, "albfargate up --detach --api") == ["--api-port"]
    assert complete_bash(bash_script, "albfargate up --driver ") == ["auto", "process", "docker"]
    assert complete_bash(bash_script, "albfargate env --shell f") == ["fish"]
    assert complete_bash(bash_script, "albfargate completion ") == ["bash", "zsh"]
    assert "--json" in complete_bash(bash_script, "albfargate status --")
    (tmp_path / "apps").mkdir()
    (tmp_path / "apple.json").write_text("{}")
    assert complete_bash(bash_script, "albfargate status --state-dir ap", cwd=tmp_path) == ["apps"]
    assert complete_bash(bash_script, "albfargate up ap", cwd=tmp_path) == ["apps"]  # APP_DIR: folders
    assert sorted(complete_bash(bash_script, "albfargate up --template ap", cwd=tmp_path)) == [
        "apple.json",
        "apps",
    ]
    assert complete_bash(bash_script, "albfargate up --port ") == []  # a value: nothing to offer


ZSH_DRIVER = r"""
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "PS1='> '; SETUP; autoload -Uz compinit; compinit -u -D; LOAD"
for line in "${TYPED[@]}"; do
  zpty -w -n z "$line"$'\t'
  sleep 0.7
  zpty -w -n z $'\x01print -r -- RESULT:\n'
  sleep 0.7
done
zpty -w z 'exit'
sleep 0.3
local out chunk
while zpty -r -t z chunk; do out+=$chunk; done
zpty -d z
print -r -- "$out"
"""


def complete_zsh(tmp_path: Path, lines: list[str], *, via: str) -> list[str]:
    """The command line after TAB for each of ``lines``, in an interactive zsh with the script loaded
    ``via`` fpath (as a file _albfargate) or eval."""
    script = cli("completion", "zsh").stdout
    fp = tmp_path / "fpath"
    fp.mkdir(exist_ok=True)
    (fp / "_albfargate").write_text(script)
    (tmp_path / "c.zsh").write_text(script)
    setup = f"fpath=({fp} $fpath)" if via == "fpath" else ":"
    load = f"source {tmp_path / 'c.zsh'}" if via == "eval" else ":"
    driver = ZSH_DRIVER.replace("SETUP", setup).replace("LOAD", load)
    driver = "TYPED=(" + " ".join(shlex.quote(x) for x in lines) + ")\n" + driver
    p = subprocess.run(
        ["zsh", "-f", "-c", driver], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    text = p.stdout.replace("\r", "")
    results = []
    for piece in text.split("RESULT:")[1:]:
        line = piece.split("\n", 1)[0].strip()
        if line.startswith("albfargate"):
            results.append(line)
    return results


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (.ci/run installs it)")
def test_the_zsh_script_is_valid_and_completes(tmp_path: Path) -> None:
    script = tmp_path / "_albfargate"
    script.write_text(cli("completion", "zsh").stdout)
    subprocess.run(["zsh", "-n", str(script)], check=True, timeout=30)
    (tmp_path / "apps").mkdir()
    (tmp_path / "apple.json").write_text("{}")  # a file: not offered where a directory is asked for
    lines = [
        "albfargate u",
        "albfargate up --dri",
        "albfargate up --driver pro",
        "albfargate env --sh",
        "albfargate completion z",
        "albfargate status --state-dir ap",
    ]
    expected = [
        "albfargate up",
        "albfargate up --driver",
        "albfargate up --driver process",
        "albfargate env --shell",
        "albfargate completion zsh",
        "albfargate status --state-dir apps",  # (zle drops the auto-added "/" when the cursor moves)
    ]
    for via in ("fpath", "eval"):
        assert complete_zsh(tmp_path, lines, via=via) == expected, via


def test_completion_needs_a_known_shell() -> None:
    p = subprocess.run([PY, "-m", "albfargate.cli", "completion", "tcsh"], capture_output=True, text=True)
    assert p.returncode == 2 and "invalid choice" in p.stderr
