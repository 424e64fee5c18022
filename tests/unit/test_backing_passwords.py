"""Secret generation: every GenerateSecretString option, with GetRandomPassword's rules."""

from __future__ import annotations

import json
import random
import secrets
import string
from collections.abc import MutableSequence

import pytest

from albfargate.backing.passwords import (
    PUNCTUATION,
    PasswordError,
    RandomSource,
    character_types,
    generated_secret_string,
    random_password,
)
from albfargate.model.backing import GenerateSecretString as G

LOWER, UPPER, DIGITS = set(string.ascii_lowercase), set(string.ascii_uppercase), set(string.digits)
PUNCT = set(PUNCTUATION)


def test_punctuation_is_the_32_ascii_punctuation_characters() -> None:
    assert len(PUNCTUATION) == 32 and set(PUNCTUATION) == set(string.punctuation)


@pytest.mark.parametrize(
    ("options", "allowed", "required"),
    [
        (G(), LOWER | UPPER | DIGITS | PUNCT, [LOWER, UPPER, DIGITS, PUNCT]),
        (G(exclude_lowercase=True), UPPER | DIGITS | PUNCT, [UPPER, DIGITS, PUNCT]),
        (G(exclude_uppercase=True), LOWER | DIGITS | PUNCT, [LOWER, DIGITS, PUNCT]),
        (G(exclude_numbers=True), LOWER | UPPER | PUNCT, [LOWER, UPPER, PUNCT]),
        (G(exclude_punctuation=True), LOWER | UPPER | DIGITS, [LOWER, UPPER, DIGITS]),
        (G(include_space=True), LOWER | UPPER | DIGITS | PUNCT | {" "}, [LOWER, UPPER, DIGITS, PUNCT]),
        (
            G(exclude_characters=" %+~`#$&*()|[]{}:;<>?!'/@\"\\"),  # what the CDK's DatabaseSecret excludes
            (LOWER | UPPER | DIGITS | PUNCT) - set(" %+~`#$&*()|[]{}:;<>?!'/@\"\\"),
            [LOWER, UPPER, DIGITS, PUNCT - set(" %+~`#$&*()|[]{}:;<>?!'/@\"\\")],
        ),
        (G(exclude_characters="abc0123456789"), (LOWER - set("abc")) | UPPER | PUNCT, [UPPER, PUNCT]),
        (
            G(exclude_lowercase=True, exclude_uppercase=True, exclude_punctuation=True),
            DIGITS,
            [DIGITS],
        ),
    ],
)
def test_characters_and_required_types(options: G, allowed: set[str], required: list[set[str]]) -> None:
    for seed in range(200):
        pw = random_password(options, random.Random(seed))
        assert len(pw) == options.password_length
        assert set(pw) <= allowed
        for kind in required:
            assert set(pw) & kind, (seed, pw, kind)


@pytest.mark.parametrize("length", [1, 4, 5, 30, 128, 4096])
def test_password_length(length: int) -> None:
    opts = G(password_length=length, require_each_included_type=length >= 4)
    assert len(random_password(opts, random.Random(1))) == length


def test_require_each_included_type_off_allows_a_password_without_some_type() -> None:
    opts = G(password_length=4, require_each_included_type=False)
    seen_without_digit = any(not set(random_password(opts, random.Random(s))) & DIGITS for s in range(300))
    assert seen_without_digit


def test_space_is_never_required() -> None:
    opts = G(password_length=8, include_space=True)
    assert any(" " not in random_password(opts, random.Random(s)) for s in range(50))
    assert any(
        " " in random_password(G(password_length=64, include_space=True), random.Random(s)) for s in range(50)
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (G(password_length=0), "between 1 and 4096"),
        (G(password_length=4097), "between 1 and 4096"),
        (G(password_length=3), "too short"),
        (
            G(exclude_lowercase=True, exclude_uppercase=True, exclude_numbers=True, exclude_punctuation=True),
            "every character is excluded",
        ),
    ],
)
def test_invalid_options(options: G, message: str) -> None:
    with pytest.raises(PasswordError, match=message):
        random_password(options, random.Random(0))


def test_a_type_whose_characters_are_all_excluded_is_not_included() -> None:
    assert len(character_types(G(exclude_characters=string.digits))) == 3


def test_randomness_is_injected() -> None:
    assert random_password(G(), random.Random(7)) == random_password(G(), random.Random(7))
    assert random_password(G(), random.Random(7)) != random_password(G(), random.Random(8))


class ScriptedSource:
    """A random source with no randomness: ``choice`` takes the first character, ``shuffle`` reverses."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def choice(self, seq: str, /) -> str:
        self.calls.append(seq)
        return seq[0]

    def shuffle(self, x: MutableSequence[str], /) -> None:
        x.reverse()


def test_the_core_draws_only_from_the_source_it_is_given() -> None:
    src = ScriptedSource()
    pw = random_password(G(password_length=6), src)
    # one draw per required type (lower, upper, digit, punctuation), then the rest from the whole pool,
    # then the shuffle: a fixed password with no randomness anywhere
    assert pw == "aa!0Aa"
    assert src.calls[:4] == [string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION]
    assert len(src.calls) == 6


def test_system_random_and_a_seeded_random_are_random_sources() -> None:
    sources: list[RandomSource] = [secrets.SystemRandom(), random.Random(1)]
    for s in sources:
        assert len(random_password(G(), s)) == 32


def test_template_and_key_make_compact_json_with_the_template_keys_first() -> None:
    opts = G(
        secret_string_template='{"username": "notes"}', generate_string_key="password", password_length=30
    )
    text = generated_secret_string(opts, random.Random(3))
    doc = json.loads(text)
    assert list(doc) == ["username", "password"] and doc["username"] == "notes" and len(doc["password"]) == 30
    assert ", " not in text and '": ' not in text


def test_without_template_the_secret_is_the_password() -> None:
    text = generated_secret_string(G(password_length=12), random.Random(3))
    assert len(text) == 12 and not text.startswith("{")


def test_template_key_overrides_an_existing_key() -> None:
    opts = G(secret_string_template='{"password": "x", "a": 1}', generate_string_key="password")
    doc = json.loads(generated_secret_string(opts, random.Random(3)))
    assert doc["a"] == 1 and doc["password"] != "x"
