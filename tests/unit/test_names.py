"""One resolver for the service and task names of every command (issue 12, item 19): the exact name or
ARN, else a unique prefix, else an error that lists the candidates."""

from __future__ import annotations

import pytest

from albfargate.names import Candidate, NameNotFound, resolve

SERVICES = [
    Candidate("web", "arn:aws:ecs:us-east-1:000000000000:service/c/web"),
    Candidate("web-admin", "arn:aws:ecs:us-east-1:000000000000:service/c/web-admin"),
    Candidate("Worker", "arn:aws:ecs:us-east-1:000000000000:service/c/Worker"),
]
TASKS = [Candidate("0123456789abcdef0123456789abcdef"), Candidate("01ff456789abcdef0123456789abcdef")]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("web", "web"),  # exact wins over being a prefix of web-admin
        ("arn:aws:ecs:us-east-1:000000000000:service/c/web-admin", "web-admin"),
        ("web-", "web-admin"),
        ("Wo", "Worker"),
        ("wo", "Worker"),  # ignoring case when nothing matches with it
    ],
)
def test_services(query: str, name: str) -> None:
    assert resolve(query, SERVICES, kind="service") == name


@pytest.mark.parametrize(
    ("query", "task"),
    [
        ("0123", "0123456789abcdef0123456789abcdef"),
        ("01f", "01ff456789abcdef0123456789abcdef"),
        ("arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef0123456789abcdef", TASKS[0].name),
    ],
)
def test_tasks(query: str, task: str) -> None:
    assert resolve(query, TASKS, kind="task") == task


def test_ambiguous_prefix_lists_the_matches() -> None:
    with pytest.raises(NameNotFound) as e:
        resolve("we", SERVICES, kind="service")
    assert str(e.value) == "service 'we' is ambiguous (web, web-admin); give more of the name"
    with pytest.raises(NameNotFound, match="task '01' is ambiguous"):
        resolve("01", TASKS, kind="task")


def test_unknown_lists_the_candidates_and_where_to_see_them() -> None:
    with pytest.raises(NameNotFound) as e:
        resolve("api", SERVICES, kind="service", hint="see `albfargate status`")
    assert (
        str(e.value) == "no service 'api'; the services are Worker, web, web-admin (see `albfargate status`)"
    )
    assert e.value.exit_code == 1


def test_nothing_to_choose_from() -> None:
    with pytest.raises(NameNotFound, match="no task 'x': there are no tasks"):
        resolve("x", [], kind="task")


def test_an_empty_query_is_no_prefix_of_everything() -> None:
    with pytest.raises(NameNotFound):
        resolve("", SERVICES[:1], kind="service")
