"""Env values written as `${NAME}` in a spec, read from the environment at check time.

This keeps secrets out of git: the spec names the variable, CI provides the value,
and the value is treated as sensitive wherever it goes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from driftcheck.errors import Problem, SpecError
from driftcheck.model import DeclaredEndpoint

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# `$${NAME}` is the literal text `${NAME}`: one `$` more escapes a reference.
ESCAPED = re.compile(r"\$(\$+\{[A-Za-z_][A-Za-z0-9_]*\})")


def escape_reference(value: str) -> str:
    """`value` written so a spec reads it back literally, never as a reference."""
    if REFERENCE.fullmatch(value) or ESCAPED.fullmatch(value):
        return "$" + value
    return value


def resolve(
    endpoints: Sequence[DeclaredEndpoint],
    environ: Mapping[str, str],
    *,
    allow_unset: bool = False,
) -> set[str]:
    """Replace `${NAME}` env values in place; return the env keys that held one.

    `$${NAME}` stands for the literal text `${NAME}`.

    Every unset variable is reported, each at the line that references it. With
    `allow_unset` (the specs at a base ref, which may name a variable the pull
    request renamed), an unset reference is left as written and recorded in the
    endpoint's `unset` instead.
    """
    problems: list[Problem] = []
    resolved_keys: set[str] = set()

    for endpoint in endpoints:
        envs = endpoint.fields.get("envs")
        if not envs:
            continue
        for key, value in envs.items():
            escaped = ESCAPED.fullmatch(value)
            if escaped is not None:
                envs[key] = escaped.group(1)
                continue
            match = REFERENCE.fullmatch(value)
            if match is None:
                continue
            variable = match.group(1)
            if variable not in environ and allow_unset:
                endpoint.unset[f"envs.{key}"] = variable
                resolved_keys.add(key)
                continue
            if variable not in environ:
                location = endpoint.location_of(f"envs.{key}")
                problems.append(
                    Problem(
                        location.file,
                        location.line,
                        None,
                        f"environment variable {variable} is not set "
                        "(the spec reads this value from it)",
                        endpoint.name,
                        f"envs.{key}",
                    )
                )
                continue
            envs[key] = environ[variable]
            resolved_keys.add(key)

    if problems:
        raise SpecError(problems)
    return resolved_keys
