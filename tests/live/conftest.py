"""Fixtures of the live test (tests/live/test_lab.py): one JupyterLab server and one headless Chromium for the
session; each test's outcome is kept on its item, so a failing test can show the server's log."""

from __future__ import annotations

import pytest

#: seconds measured by the tests ("Lab answered", "00_...: Run All", ...), printed at the end of the run
TIMES: dict = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_terminal_summary(terminalreporter):
    if TIMES:
        terminalreporter.section("live test: measured seconds")
        for what, seconds in TIMES.items():
            terminalreporter.write_line(f"{what:55s} {seconds:7.1f}")
