"""Template files: JSON, YAML with CloudFormation's short-form tags, and the errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from albfargate.assembly.template import parse_template_text, read_template
from albfargate.errors import AssemblyError

YAML = """
AWSTemplateFormatVersion: 2010-09-09
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Both: !And [!Condition IsProd, !Not [!Condition IsProd]]
  Either: !Or [!Condition IsProd, !Equals [a, b]]
Resources:
  R:
    Type: AWS::Test::Thing
    Properties:
      A: !Ref Env
      B: !Sub "${AWS::Region}-x"
      C: !Sub ["${X}", {X: !Ref Env}]
      D: !GetAtt LB.DNSName
      E: !GetAtt [LB, DNSName]
      F: !GetAtt Db.Endpoint.Address
      G: !Join [",", [a, b]]
      H: !Select [0, !GetAZs ""]
      I: !Split [",", "a,b"]
      J: !If [IsProd, 1, !Ref AWS::NoValue]
      K: !FindInMap [M, k, v]
      L: !ImportValue Other-Export
      M: !Base64 hello
      N: !Cidr [10.0.0.0/16, 2, 8]
      O: !GetAZs us-east-1
"""


def test_yaml_short_forms_become_long_forms() -> None:
    t = parse_template_text(YAML, source="t.yaml")
    assert t["AWSTemplateFormatVersion"] == "2010-09-09"
    assert t["Conditions"] == {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Not": [{"Condition": "IsProd"}]}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]},
    }
    p = t["Resources"]["R"]["Properties"]
    assert p == {
        "A": {"Ref": "Env"},
        "B": {"Fn::Sub": "${AWS::Region}-x"},
        "C": {"Fn::Sub": ["${X}", {"X": {"Ref": "Env"}}]},
        "D": {"Fn::GetAtt": ["LB", "DNSName"]},
        "E": {"Fn::GetAtt": ["LB", "DNSName"]},
        "F": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "G": {"Fn::Join": [",", ["a", "b"]]},
        "H": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "I": {"Fn::Split": [",", "a,b"]},
        "J": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
        "K": {"Fn::FindInMap": ["M", "k", "v"]},
        "L": {"Fn::ImportValue": "Other-Export"},
        "M": {"Fn::Base64": "hello"},
        "N": {"Fn::Cidr": ["10.0.0.0/16", 2, 8]},
        "O": {"Fn::GetAZs": "us-east-1"},
    }


def test_json_and_yaml_files(tmp_path: Path) -> None:
    j = tmp_path / "a.template.json"
    j.write_text('{"Resources": {"R": {"Type": "AWS::SNS::Topic"}}}')
    y = tmp_path / "b.yaml"
    y.write_text("Resources:\n  R:\n    Type: AWS::SNS::Topic\n")
    assert read_template(j) == read_template(y) == {"Resources": {"R": {"Type": "AWS::SNS::Topic"}}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("Resources: [a, b", "invalid YAML"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("Resources: [a]\n", "section Resources must be a mapping"),
    ],
)
def test_bad_templates(text: str, message: str) -> None:
    with pytest.raises(AssemblyError, match=message) as info:
        parse_template_text(text, source="bad.yaml")
    assert "bad.yaml" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match="cannot read template"):
        read_template(tmp_path / "nope.json")
