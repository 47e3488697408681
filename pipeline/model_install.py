"""Getting spaCy's de_core_news_sm onto a machine, without ever hanging a run.

The model is a wheel on spaCy's GitHub releases (not on PyPI); `spacy download`
installs the release that matches the installed spaCy's major.minor version. The
same pinned wheel is installed here with the running interpreter's pip, with
short network timeouts and an overall time limit, so a machine without internet
(CI, an office behind a proxy) fails within seconds and the pipeline falls back
to its own trained model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.messages import say

RELEASES = "https://github.com/explosion/spacy-models/releases/download"


def python_command() -> str:
    """The interpreter running now, as a user would type it (`.venv/bin/python`
    rather than an absolute path when it lives below the working directory)."""
    executable = Path(sys.executable)
    try:
        relative = executable.relative_to(Path.cwd())
    except ValueError:
        return str(executable)
    return str(relative) if relative.parts[0] != ".." else str(executable)


def download_command(name: str) -> str:
    return f"{python_command()} -m spacy download {name}"


def model_wheel_url(name: str, spacy_version: str) -> str:
    """The release wheel `spacy download` picks for this spaCy (models are
    versioned by spaCy's major.minor: spaCy 3.8.x → de_core_news_sm 3.8.0)."""
    major, minor = spacy_version.split(".")[:2]
    version = f"{major}.{minor}.0"
    return f"{RELEASES}/{name}-{version}/{name}-{version}-py3-none-any.whl"


def pip_failure(stderr: str) -> str:
    """The gist of pip's error output, in a few words for one log line."""
    errno = re.search(r"\[Errno [^\]]*\] [^'\")]+", stderr)  # no network: "[Errno -2] Name or service not known"
    if errno:
        return errno.group(0).strip()
    http = re.search(r"\b(?:HTTP error )?(4\d\d|5\d\d) Client Error[^\n]*|\b404\b[^\n]*", stderr)
    if http:
        return http.group(0).strip()[:160]
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR:")]
    return (errors[0] if errors else "pip failed")[:160]


def is_installed(name: str) -> bool:
    import spacy.util

    return bool(spacy.util.is_package(name))


def install_model(name: str, time_limit_s: float = 120.0, log: Callable[[str], None] = print) -> bool:
    """Install `name` into the running environment unless it is there; True when it is
    installed afterwards. Never raises for network trouble; never runs past the limit."""
    if is_installed(name):
        log(say("model.installed", name=name))
        return True
    import spacy

    url = model_wheel_url(name, spacy.__version__)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--timeout",
        "15",
        "--retries",
        "1",
        url,
    ]
    log(say("model.installing", name=name, url=url))
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=time_limit_s,
            env={**os.environ, "PIP_NO_INPUT": "1"},
        )
    except subprocess.TimeoutExpired:
        log(say("model.install_slow", name=name, seconds=f"{time_limit_s:.0f}"))
        return False
    if result.returncode != 0:
        log(say("model.install_failed", name=name, reason=pip_failure(result.stderr)))
        return False
    import importlib

    importlib.invalidate_caches()
    installed = is_installed(name)
    if installed:
        log(say("model.install_done", name=name))
    return installed
