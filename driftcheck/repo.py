"""Where the repository is, so reports can name spec files relative to its root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def repository_root(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Path:
    """GITHUB_WORKSPACE if set, else the nearest directory up holding .git, else cwd."""
    environ = os.environ if environ is None else environ
    here = Path(os.path.abspath(Path.cwd() if cwd is None else cwd))
    workspace = environ.get("GITHUB_WORKSPACE")
    if workspace:
        return Path(os.path.abspath(here / workspace))
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


def relative_to_root(file: str, root: Path) -> str | None:
    """`file` relative to `root` with forward slashes, or None when outside it."""
    path = Path(os.path.abspath(file))
    for candidate, base in ((path, root), (_resolve(path), _resolve(root))):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, UnicodeError):
        return path


def blob_url_base(environ: Mapping[str, str] | None = None) -> str:
    """The web address spec files have at this commit, when run in GitHub Actions.

    Links in job summaries and PR comments resolve against the page they are shown
    on, so a relative `file#L12` link would point nowhere; this base fixes that.
    """
    environ = os.environ if environ is None else environ
    server = environ.get("GITHUB_SERVER_URL", "").rstrip("/")
    repository = environ.get("GITHUB_REPOSITORY", "")
    sha = environ.get("GITHUB_SHA", "")
    if not (server.startswith("https://") and repository and sha):
        return ""
    return f"{server}/{repository}/blob/{sha}/"
