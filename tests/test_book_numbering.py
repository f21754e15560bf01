"""Each page of the book numbers its exercises and figures from 1 (book/_ext/book_html.py, issue 16)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("book_html", ROOT / "book" / "_ext" / "book_html.py")
book_html = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book_html)


def page(*titles: str) -> nodes.document:
    doc = new_document("page", get_default_settings(Parser))
    for t in titles:
        section = nodes.section()
        section += nodes.title(text=t)
        doc += section
    return doc


class Env:
    def __init__(self, fignumbers, doctrees):
        self.toc_fignumbers, self.doctrees = fignumbers, doctrees

    def get_doctree(self, docname):
        return self.doctrees[docname]


def test_numbers_restart_on_each_page_and_follow_hand_numbered_exercises():
    env = Env(
        {
            "ch01": {"exercise": {"a": (3,), "b": (4,)}, "figure": {"f": (2,)}},
            "ch03": {"exercise": {"c": (6,), "d": (5,)}},
            "ch04": {"exercise": {"e": (7,), "f": (8,)}},
        },
        {"ch01": page("Exercises"), "ch03": page("Exercises"), "ch04": page("Exercise 1: scores", "Exercise 7: start")},
    )
    changed = book_html.number_per_page(None, env)
    assert env.toc_fignumbers["ch01"] == {"exercise": {"a": (1,), "b": (2,)}, "figure": {"f": (1,)}}
    assert env.toc_fignumbers["ch03"]["exercise"] == {"d": (1,), "c": (2,)}  # the order on the page is kept
    assert env.toc_fignumbers["ch04"]["exercise"] == {"e": (8,), "f": (9,)}  # after the headings' 1..7
    assert changed == ["ch01", "ch03", "ch04"]


def test_a_numbered_toctree_is_left_alone():
    numbers = {"ch": {"figure": {"f": (2, 1), "g": (2, 2)}}}
    env = Env(numbers, {"ch": page()})
    assert book_html.number_per_page(None, env) == []
    assert env.toc_fignumbers["ch"]["figure"] == {"f": (2, 1), "g": (2, 2)}
