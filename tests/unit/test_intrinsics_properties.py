"""Properties of the resolver and of generated names, over generated inputs."""

from __future__ import annotations

import ipaddress
import re

from hypothesis import given
from hypothesis import strategies as st

from albfargate.assembly.context import generated_name
from albfargate.assembly.intrinsics import Resolver

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(text, st.text(min_size=1, max_size=3))
def test_join_of_split_is_identity(s: str, delimiter: str) -> None:
    r = Resolver(stack_name="S")
    parts = r.resolve({"Fn::Split": [delimiter, s]}, "P")
    assert r.resolve({"Fn::Join": [delimiter, parts]}, "P") == s


@given(text.filter(lambda s: "${" not in s))
def test_sub_without_variables_is_identity(s: str) -> None:
    assert Resolver(stack_name="S").resolve({"Fn::Sub": s}, "P") == s


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True))
def test_sub_escape_keeps_literal(name: str) -> None:
    assert Resolver(stack_name="S").resolve({"Fn::Sub": "${!" + name + "}"}, "P") == "${" + name + "}"


@given(st.lists(text, min_size=1, max_size=8), st.data())
def test_select_picks_the_index(items: list[str], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(items) - 1))
    assert Resolver(stack_name="S").resolve({"Fn::Select": [i, items]}, "P") == items[i]


@given(st.integers(16, 24), st.integers(1, 16), st.integers(4, 8))
def test_cidr_blocks_are_disjoint_and_inside(prefix: int, count: int, bits: int) -> None:
    block = ipaddress.ip_network(f"10.0.0.0/{prefix}")
    if (32 - bits) < prefix or 2 ** ((32 - bits) - prefix) < count:
        return
    out = Resolver(stack_name="S").resolve({"Fn::Cidr": [str(block), count, bits]}, "P")
    nets = [ipaddress.ip_network(n) for n in out]
    assert len(nets) == count
    assert all(n.subnet_of(block) and n.prefixlen == 32 - bits for n in nets)  # type: ignore[arg-type]
    assert len({n.network_address for n in nets}) == count


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_generated_names_are_valid_load_balancer_names(stack: str, logical_id: str) -> None:
    name = generated_name(stack, logical_id)
    assert 1 <= len(name) <= 32
    assert re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?", name)
    assert not name.lower().startswith("internal-")
    assert name == generated_name(stack, logical_id)
