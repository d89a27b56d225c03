"""Debian's chromium, headless, for the tests that check what a real browser makes of a page.

Use: `from browser import chromium, dump_dom, screenshot, needs_chromium` and set
`pytestmark = needs_chromium` so the test file is skipped, saying why, on a host without it.
Screenshots go to <build dir>/tests/artifacts/ (or $SPATE_ARTIFACTS) for a person to look at.
"""
import os
import subprocess

import pytest

from conftest import BIN

CHROMIUM = "/usr/bin/chromium"

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="%s is not installed (apt-get install chromium; ./tools/test installs it)" % CHROMIUM)

# no sandbox (tests may run as root), no GPU, nothing fetched or shown on a first run
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"]


def artifact_dir():
    d = os.environ.get("SPATE_ARTIFACTS") or os.path.join(
        os.path.dirname(os.path.abspath(BIN)), "tests", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def chromium(profile, *args, timeout=90):
    """Runs chromium with the common flags and its own profile directory; returns its stdout.

    A crash or a non-zero exit fails the test with the end of chromium's stderr."""
    cmd = [CHROMIUM] + FLAGS + ["--user-data-dir=%s" % profile] + list(args)
    r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout


def dump_dom(profile, url, *args, timeout=90):
    """The DOM chromium built for url (after scripts), as text; args go before --dump-dom."""
    return chromium(profile, *args, "--dump-dom", url, timeout=timeout).decode("utf-8")


def screenshot(profile, url, name, *args, size="1000,700", timeout=90):
    """Saves url as artifact_dir()/name (a PNG) and returns its path; fails if it is empty."""
    shot = os.path.join(artifact_dir(), name)
    if os.path.exists(shot):
        os.unlink(shot)  # a stale file from an earlier run must not pass for this one
    chromium(profile, *args, "--window-size=%s" % size, "--hide-scrollbars",
             "--screenshot=%s" % shot, url, timeout=timeout)
    assert os.path.getsize(shot) > 1000, shot
    return shot
