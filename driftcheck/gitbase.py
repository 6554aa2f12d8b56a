"""Read the specs as they are at a git ref, without touching the working tree."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from driftcheck.errors import UsageError
from driftcheck.specs import SPEC_SUFFIXES, SpecSet, load_spec_data


def _git(args: Sequence[str], cwd: str, data: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=data,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError("--base-ref needs git, and git is not installed") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
        message = (fatal or lines or ["?"])[0]
        # In a container, git refuses a checkout owned by another user.
        trust = [line.strip() for line in lines if "--add safe.directory" in line]
        if trust:
            message += f"; to trust it, run: {trust[0]}"
        raise UsageError(f"git {args[0]} failed: {message}")
    return done.stdout


def load_base_specs(paths: Sequence[str], ref: str) -> SpecSet:
    """The specs under `paths` as committed at `ref`, named `ref:path`.

    Directories are searched for *.yaml and *.yml as in the working tree; a path
    that did not exist at `ref` simply contributes nothing (a new spec folder).
    """
    cwd = os.getcwd()
    if ref.startswith("-"):
        raise UsageError(f"--base-ref {ref!r} is not a git ref")
    try:
        root = _git(["rev-parse", "--show-toplevel"], cwd).decode().strip()
    except UsageError as exc:
        raise UsageError(
            f"--base-ref cannot read a git repository here: {exc}"
        ) from None
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd)
    except UsageError:
        raise UsageError(
            f"--base-ref {ref!r} is not a commit in this repository; fetch it first "
            "(in GitHub Actions: actions/checkout with fetch-depth: 0)"
        ) from None

    prefixes = []
    for path in paths:
        # git names the top level with symlinks resolved; so must the path.
        relative = os.path.relpath(os.path.realpath(path), root)
        if relative.startswith(".."):
            raise UsageError(f"{path} is outside the git repository at {root}")
        prefixes.append("" if relative == "." else relative.replace(os.sep, "/"))

    # git refuses an empty pathspec; "." is the whole tree (run from the root).
    pathspecs = [prefix or "." for prefix in prefixes]
    listed = _git(["ls-tree", "-r", "-z", "--name-only", ref, "--", *pathspecs], root)
    names = []
    for name in sorted(n for n in listed.decode("utf-8", "replace").split("\0") if n):
        explicit = name in prefixes
        if explicit or (name.endswith(SPEC_SUFFIXES) and _visible(name, prefixes)):
            names.append(name)

    sources = []
    for name in names:
        data = _git(["cat-file", "blob", f"{ref}:{name}"], root)
        shown = os.path.relpath(os.path.join(root, name), cwd)
        sources.append((f"{ref}:{shown}", data))
    return load_spec_data(sources)


def _visible(name: str, prefixes: Sequence[str]) -> bool:
    """Whether a directory search finds `name`: no hidden part below a given path.

    As in the working tree, a hidden directory that is itself given (e.g.
    `.deploy/endpoints`) is searched.
    """
    for prefix in prefixes:
        if prefix and not name.startswith(prefix + "/"):
            continue
        below = name[len(prefix) + 1 :] if prefix else name
        if not any(part.startswith(".") for part in below.split("/")):
            return True
    return False
