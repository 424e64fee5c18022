"""A port that moved is always said (issue 12, item 2), and ``albfargate env`` prints lines a shell
evaluates into the running system's endpoint and credentials (POSIX shells, fish, PowerShell, unset)."""

from __future__ import annotations

import pytest

from albfargate.commands.env import NAMES, detect_shell, env_values, render
from albfargate.statusview import ListenerPort, port_notes


def lst(wanted: int, local: int, port: int = 80) -> ListenerPort:
    return ListenerPort("lb-web", "HTTP", port, wanted, local, f"http://127.0.0.1:{local}/")


def test_no_note_when_every_port_is_where_it_asked() -> None:
    assert port_notes([lst(8080, 8080)], api_wanted=4566, api_url="http://127.0.0.1:4566") == []


def test_a_moved_listener_is_noted() -> None:
    (note,) = port_notes([lst(8080, 8081), lst(9000, 9000, port=9000)])
    assert note == (
        "port 8080 is taken: listener HTTP:80 of lb-web is served on 8081 instead (http://127.0.0.1:8081/)"
    )


def test_an_ephemeral_override_is_not_a_move() -> None:
    assert port_notes([lst(0, 41234)]) == []


def test_a_moved_api_endpoint_is_noted_with_the_env_command() -> None:
    (note,) = port_notes(
        [], api_wanted=4566, api_url="http://127.0.0.1:4567", env_command="albfargate env --state-dir /s"
    )
    assert note.startswith("port 4566 is taken")
    assert "the AWS API endpoint is http://127.0.0.1:4567 instead" in note
    assert note.endswith('eval "$(albfargate env --state-dir /s)"')


def test_an_explicit_api_port_never_gets_a_note() -> None:  # it cannot move: taken is an error
    assert port_notes([], api_wanted=None, api_url="http://127.0.0.1:5000") == []


def test_env_values() -> None:
    v = env_values("http://127.0.0.1:4567/")
    assert list(v) == list(NAMES)
    assert v["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4567"
    assert v["AWS_DEFAULT_REGION"] == v["AWS_REGION"] == "us-east-1"
    assert v["AWS_ACCESS_KEY_ID"] and v["AWS_SECRET_ACCESS_KEY"]


def test_posix_lines() -> None:
    text = render(env_values("http://127.0.0.1:4567"), "bash", how_to="albfargate env")
    lines = text.splitlines()
    assert lines[0] == "export AWS_ENDPOINT_URL=http://127.0.0.1:4567"
    assert lines[3] == "export AWS_DEFAULT_REGION=us-east-1"
    assert lines[-1] == '# eval "$(albfargate env)"'
    assert all(line.startswith(("export ", "# ")) for line in lines)


def test_unset_lines() -> None:
    text = render(dict.fromkeys(NAMES), "zsh", how_to="albfargate env --unset")
    assert text.splitlines()[:5] == [f"unset {n}" for n in NAMES]
    assert "# To undo it, run:" in text


@pytest.mark.parametrize(
    ("shell", "line"),
    [
        ("fish", "set -gx AWS_ENDPOINT_URL 'http://127.0.0.1:4567';"),
        ("powershell", "$Env:AWS_ENDPOINT_URL = 'http://127.0.0.1:4567'"),
        ("sh", "export AWS_ENDPOINT_URL=http://127.0.0.1:4567"),
    ],
)
def test_other_shells(shell: str, line: str) -> None:
    assert render(env_values("http://127.0.0.1:4567"), shell).splitlines()[0] == line


def test_odd_values_are_quoted() -> None:
    assert render({"X": "a b'c"}, "sh") == "export X='a b'\"'\"'c'\n"
    assert render({"X": "a b'c"}, "fish") == "set -gx X 'a b\\'c';\n"
    assert render({"X": "a b'c"}, "powershell") == "$Env:X = 'a b''c'\n"


def test_detect_shell() -> None:
    assert detect_shell({"SHELL": "/usr/bin/fish"}) == "fish"
    assert detect_shell({"SHELL": "/bin/zsh"}) == "sh"
    assert detect_shell({}) == "sh"
