"""Read a policy YAML file and report a bad one with its line and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.domain.policy import ApprovalPolicy
from bot.domain.policy_check import policy_problems

DEFAULT_POLICY = Path(__file__).parent / "policy" / "default.yaml"


class PolicyFileError(Exception):
    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


def _line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """Walk the YAML node tree along pydantic's error location; the deepest node found wins."""
    key_node: yaml.Node | None = None
    for key in loc:
        if key == "[key]" and key_node is not None:
            return key_node.start_mark.line + 1  # a bad mapping key: point at the key itself
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if pair is None:
                break
            key_node, node = pair
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node.start_mark.line + 1


def _compose(text: str, path: Path) -> tuple[yaml.Node, Any]:
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PolicyFileError(
            path, line, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(data, dict) or node is None:
        raise PolicyFileError(
            path, 1, "a policy file is a mapping with version, roles, approval_matrix"
        )
    return node, data


def policy_errors(text: str, path: Path) -> tuple[ApprovalPolicy | None, list[PolicyFileError]]:
    """Every problem of a policy file, each with its line (`rollbot policy check`)."""
    try:
        node, data = _compose(text, path)
    except PolicyFileError as exc:
        return None, [exc]
    try:
        policy = ApprovalPolicy.model_validate(data)
    except ValidationError as exc:
        found = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            found.append(PolicyFileError(path, _line_of(node, loc), f"{field}: {err['msg']}"))
        return None, found
    problems = [
        PolicyFileError(path, _line_of(node, p.path), f"{p.field}: {p.reason}")
        for p in policy_problems(policy)
    ]
    return (None, problems) if problems else (policy, [])


def parse_policy(text: str, path: Path) -> ApprovalPolicy:
    policy, errors = policy_errors(text, path)
    if errors:
        raise errors[0]
    assert policy is not None
    return policy


def load_policy(path: Path | None) -> ApprovalPolicy:
    chosen = path or DEFAULT_POLICY
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(
            chosen, None, f"cannot read the policy file: {exc.strerror}"
        ) from None
    return parse_policy(text, chosen)
