"""A template's ``Rules`` section, evaluated as CloudFormation does before it creates or updates anything
(CreateStack, UpdateStack, CreateChangeSet): for every rule whose ``RuleCondition`` holds (or that has
none), every ``Assert`` of its ``Assertions`` must hold; the first that does not refuses the operation
with ``ValidationError`` and its ``AssertDescription`` (the CDK's ``CheckBootstrapVersion``: "CDK
bootstrap stack version 6 required. Please run 'cdk bootstrap' with a recent version of the CDK CLI.").

The rule functions: ``Fn::And``, ``Fn::Or``, ``Fn::Not``, ``Fn::Equals``, ``Fn::Contains``,
``Fn::EachMemberEquals``, ``Fn::EachMemberIn``, ``Fn::RefAll``, ``Fn::ValueOf``, ``Fn::ValueOfAll`` and
``Ref`` (of a parameter or a pseudo parameter; a list-typed parameter is its list of values). Anything
else in a rule is a template format error.

*Inferred* (AWS documents no wording for them): an assertion without ``AssertDescription`` fails with
:data:`NO_DESCRIPTION`; a rule that is not an object or has no ``Assertions`` list, an unknown function
and a wrong argument count are template format errors. ``Fn::RefAll`` (every value of an
AWS-specific parameter type in the account) and ``Fn::ValueOf`` / ``Fn::ValueOfAll`` (an attribute of
the resource a parameter names, such as a subnet's ``VpcId``) need the account's EC2 resources, which do
not exist locally: they are answered by the ``lookup`` given (none by default), and an assertion that
needs an answer nobody has is *skipped* (reported by :func:`evaluate_rules`), never failed, so a
template that AWS accepts is not refused locally.

Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RULE_FUNCTIONS = (
    "Fn::And",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::Equals",
    "Fn::Not",
    "Fn::Or",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Ref",
)

#: the message of a failed assertion without AssertDescription (inferred)
NO_DESCRIPTION = "Template validation error: Assertion failed for rule {rule}"

#: (function, parameter type or parameter name, attribute or None) -> values, or None when unknown
Lookup = Callable[[str, str, str | None], Any]


class RuleFormatError(Exception):
    """The Rules section is malformed (a template format error)."""


class Unknown(Exception):
    """A value the local system cannot know (the account's EC2 resources)."""


@dataclass(frozen=True)
class RuleParameter:
    value: str
    type: str = "String"

    @property
    def is_list(self) -> bool:
        return self.type == "CommaDelimitedList" or self.type.startswith("List<")

    def ref(self) -> Any:
        if self.is_list:
            return [v.strip() for v in self.value.split(",")] if self.value else []
        return self.value


@dataclass(frozen=True)
class RuleOutcome:
    """The result of the section: ``failed`` is the refusal's message (None: every assertion held);
    ``skipped`` names the assertions that could not be evaluated locally, with why."""

    failed: str | None
    skipped: tuple[str, ...] = ()


def _no_lookup(function: str, subject: str, attribute: str | None) -> Any:
    return None


class _Evaluator:
    def __init__(
        self, parameters: Mapping[str, RuleParameter], pseudo: Mapping[str, Any], lookup: Lookup
    ) -> None:
        self.parameters = parameters
        self.pseudo = pseudo
        self.lookup = lookup

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if isinstance(node, dict):
            if len(node) != 1:
                raise RuleFormatError("Template format error: Every Rules function must be one key")
            ((name, arg),) = node.items()
            return self.call(name, arg)
        if isinstance(node, bool):
            return "true" if node else "false"
        if isinstance(node, int | float):
            return str(node)
        return node

    def condition(self, node: Any) -> bool:
        value = self.value(node)
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return bool(value == "true")
        raise RuleFormatError("Template format error: a rule condition or assertion must be a boolean")

    def _args(self, name: str, arg: Any, count: int) -> list[Any]:
        if not isinstance(arg, list) or len(arg) != count:
            raise RuleFormatError(
                f"Template format error: {name} takes a list of {count} arguments in the Rules section"
            )
        return arg

    def _list(self, name: str, value: Any) -> list[Any]:
        if isinstance(value, str):  # a comma-delimited value used as a list
            return [v.strip() for v in value.split(",")] if value else []
        if not isinstance(value, list):
            raise RuleFormatError(f"Template format error: {name} needs a list")
        return value

    def call(self, name: str, arg: Any) -> Any:
        if name == "Ref":
            if not isinstance(arg, str):
                raise RuleFormatError("Template format error: Ref in Rules takes a parameter name")
            if arg in self.parameters:
                return self.parameters[arg].ref()
            if arg in self.pseudo:
                return self.pseudo[arg]
            raise RuleFormatError(
                f"Template format error: Unresolved dependencies [{arg}]. Cannot reference resources in "
                "the Rules block of the template"
            )
        if name in ("Fn::And", "Fn::Or"):
            if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
                raise RuleFormatError(f"Template format error: {name} takes between 2 and 10 conditions")
            results = (self.condition(c) for c in arg)
            return all(results) if name == "Fn::And" else any(results)
        if name == "Fn::Not":
            return not self.condition(self._args(name, arg, 1)[0])
        if name == "Fn::Equals":
            a, b = (self.value(v) for v in self._args(name, arg, 2))
            return _same(a, b)
        if name == "Fn::Contains":
            items, item = (self.value(v) for v in self._args(name, arg, 2))
            return any(_same(i, item) for i in self._list(name, items))
        if name == "Fn::EachMemberEquals":
            items, item = (self.value(v) for v in self._args(name, arg, 2))
            return all(_same(i, item) for i in self._list(name, items))
        if name == "Fn::EachMemberIn":
            items, allowed = (self._list(name, self.value(v)) for v in self._args(name, arg, 2))
            return all(any(_same(i, a) for a in allowed) for i in items)
        if name == "Fn::RefAll":
            subject = self.value(arg)
            return self._looked_up(name, str(subject), None)
        if name in ("Fn::ValueOf", "Fn::ValueOfAll"):
            subject, attribute = (self.value(v) for v in self._args(name, arg, 2))
            return self._looked_up(name, str(subject), str(attribute))
        supported = ", ".join(RULE_FUNCTIONS)
        raise RuleFormatError(
            f"Template format error: Encountered unsupported function: {name} Supported functions are: "
            f"[{supported}]"
        )

    def _looked_up(self, name: str, subject: str, attribute: str | None) -> Any:
        if name == "Fn::ValueOf" and subject not in self.parameters:
            raise RuleFormatError(
                f"Template format error: Fn::ValueOf names {subject}, which is not a parameter"
            )
        found = self.lookup(name, subject, attribute)
        if found is None:
            what = f"{name} {subject}" + (f" {attribute}" if attribute else "")
            raise Unknown(f"{what}: the account's resources are not emulated")
        return found


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return bool(a == b)
    return str(a) == str(b)


def evaluate_rules(
    template: Mapping[str, Any],
    parameters: Mapping[str, RuleParameter],
    *,
    pseudo: Mapping[str, Any] | None = None,
    lookup: Lookup = _no_lookup,
) -> RuleOutcome:
    """Evaluate ``template``'s ``Rules`` with the effective parameter values (SSM-typed ones resolved).
    Raises :class:`RuleFormatError` for a malformed section."""
    rules = template.get("Rules")
    if rules is None:
        return RuleOutcome(None)
    if not isinstance(rules, dict):
        raise RuleFormatError("Template format error: Rules must be an object")
    ev = _Evaluator(parameters, pseudo or {}, lookup)
    skipped: list[str] = []
    for rule_name, rule in rules.items():
        if not isinstance(rule, dict) or not isinstance(rule.get("Assertions"), list):
            raise RuleFormatError(
                f"Template format error: [/Rules/{rule_name}] Every Rules object must contain an "
                "Assertions member."
            )
        try:
            if "RuleCondition" in rule and not ev.condition(rule["RuleCondition"]):
                continue
        except Unknown as exc:
            skipped.append(f"{rule_name}: {exc}")
            continue
        for assertion in rule["Assertions"]:
            if not isinstance(assertion, dict) or "Assert" not in assertion:
                raise RuleFormatError(
                    f"Template format error: [/Rules/{rule_name}/Assertions] Every assertion must contain "
                    "an Assert member."
                )
            try:
                held = ev.condition(assertion["Assert"])
            except Unknown as exc:
                skipped.append(f"{rule_name}: {exc}")
                continue
            if not held:
                description = assertion.get("AssertDescription")
                if isinstance(description, str) and description:
                    return RuleOutcome(description, tuple(skipped))
                return RuleOutcome(NO_DESCRIPTION.format(rule=rule_name), tuple(skipped))
    return RuleOutcome(None, tuple(skipped))


def rule_parameters(
    declared: Mapping[str, Mapping[str, Any]], values: Sequence[tuple[str, str]]
) -> dict[str, RuleParameter]:
    """The parameters as the rules see them: (name, effective value) with the declared type."""
    out: dict[str, RuleParameter] = {}
    for name, value in values:
        decl = declared.get(name) or {}
        ptype = str(decl.get("Type", "String"))
        if ptype.startswith("AWS::SSM::Parameter::Value<"):
            ptype = ptype[len("AWS::SSM::Parameter::Value<") : -1]
        out[name] = RuleParameter(value, ptype)
    return out
