"""Secrets Manager's GetRandomPassword and ``GenerateSecretString`` (pure; the randomness is injected).

The random source is a :class:`RandomSource` the I/O shell passes in (``secrets.SystemRandom()`` in
``backing.manager`` and the CloudFormation system); tests pass a seeded or scripted one, so the output is
deterministic. Nothing here imports ``random`` (the pure-core import contract forbids it).

Rules (Secrets Manager API reference, GetRandomPassword): the character types are lower-case letters,
upper-case letters, digits and the 32 ASCII punctuation characters, plus the space when ``IncludeSpace``;
``Exclude*`` removes a whole type and ``ExcludeCharacters`` single characters; ``PasswordLength`` is 1 to
4096 (default 32); with ``RequireEachIncludedType`` (default true) the password holds at least one
character of each type still included (the space is not a required type). A type whose every character is
excluded counts as not included (inferred: AWS documents no error for it). With ``SecretStringTemplate``
and ``GenerateStringKey`` the password is added under that key to the template's JSON object."""

from __future__ import annotations

import json
import string
from collections.abc import MutableSequence
from typing import Protocol

from albfargate.model.backing import GenerateSecretString

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


class RandomSource(Protocol):
    """What the password rules draw from: ``random.Random``'s ``choice`` and ``shuffle`` (a
    ``secrets.SystemRandom()`` in the I/O shells, a seeded ``random.Random`` or a script in tests)."""

    def choice(self, seq: str, /) -> str: ...
    def shuffle(self, x: MutableSequence[str], /) -> None: ...


class PasswordError(ValueError):
    """The options cannot make a password (Secrets Manager's InvalidParameterException)."""


def character_types(options: GenerateSecretString) -> list[str]:
    """The included character types, each as its allowed characters (exclusions applied)."""
    excluded = set(options.exclude_characters)
    types = []
    for skip, chars in (
        (options.exclude_lowercase, string.ascii_lowercase),
        (options.exclude_uppercase, string.ascii_uppercase),
        (options.exclude_numbers, string.digits),
        (options.exclude_punctuation, PUNCTUATION),
    ):
        if skip:
            continue
        allowed = "".join(c for c in chars if c not in excluded)
        if allowed:
            types.append(allowed)
    return types


def random_password(options: GenerateSecretString, rng: RandomSource) -> str:
    """A password following GetRandomPassword's rules for ``options``."""
    length = options.password_length
    if not 1 <= length <= 4096:
        raise PasswordError(f"PasswordLength must be between 1 and 4096, got {length}")
    types = character_types(options)
    pool = "".join(types)
    if options.include_space and " " not in options.exclude_characters:
        pool += " "
    if not pool:
        raise PasswordError("every character is excluded: the password cannot be generated")
    chars: list[str] = []
    if options.require_each_included_type:
        if length < len(types):
            raise PasswordError(
                f"PasswordLength {length} is too short to include each of the {len(types)} character types"
            )
        chars = [rng.choice(t) for t in types]
    chars += [rng.choice(pool) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def generated_secret_string(options: GenerateSecretString, rng: RandomSource) -> str:
    """The ``SecretString`` a ``GenerateSecretString`` makes: the password, or the template's JSON with
    the password under ``GenerateStringKey`` (compact, as Secrets Manager writes it)."""
    password = random_password(options, rng)
    if options.secret_string_template is None or options.generate_string_key is None:
        return password
    doc = json.loads(options.secret_string_template)
    if not isinstance(doc, dict):
        raise PasswordError("SecretStringTemplate must be a JSON object")
    doc[options.generate_string_key] = password
    return json.dumps(doc, separators=(",", ":"))
