"""Small fixes to the HTML that Jupyter Book 1.x writes, so that pages load without console errors.

* Docstrings of the ``helpers`` package are written for readers of the source, often in Markdown style.
  Before autodoc renders one, it is checked with docutils: if it is valid reStructuredText, Markdown
  ```code``` spans become RST ````code````; if not, it is shown as preformatted text, as written, instead of
  failing the ``-W`` build over an indentation.
* sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = ...``) once per
  ``env-before-read-docs`` event, and another copy reaches each page with filename ``''`` instead of
  ``None`` (sphinx-togglebutton's snippet too), so Sphinx does not see them as equal: the second is a
  ``SyntaxError`` in the browser console on every page. Each page keeps one copy of each script.
"""
from __future__ import annotations

import io
import re

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import directives, roles

# docutils' own look-up functions, saved before Sphinx swaps in its domain-aware ones while reading.
_DOCUTILS_LOOKUPS = (directives.directive, roles.role)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # The same script can come once with filename None and once with '': compare them as equal.
        filename = getattr(script, "filename", script) or ""
        attributes = tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))
        key = (str(filename), attributes)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique



_SINGLE_BACKTICKS = re.compile(r"(?<![`:\w])`([^`\n]+)`(?![`_\w])")
_SPHINX_ONLY = ("Unknown interpreted text role", "Unknown directive type", "No role entry", "No directive entry")


def _rst_problems(text: str) -> list[str]:
    """Problems plain docutils finds in ``text`` (Sphinx-only roles and directives are not problems)."""
    settings = {"report_level": 5, "halt_level": 5, "warning_stream": io.StringIO(), "file_insertion_enabled": False}
    saved = (directives.directive, roles.role, dict(directives._directives), dict(roles._roles))
    directives.directive, roles.role = _DOCUTILS_LOOKUPS
    directives._directives.clear()
    roles._roles.clear()
    try:
        doctree = publish_doctree(text, settings_overrides=settings)
    finally:
        directives.directive, roles.role = saved[0], saved[1]
        directives._directives.clear()
        directives._directives.update(saved[2])
        roles._roles.clear()
        roles._roles.update(saved[3])
    problems = []
    for message in doctree.findall(nodes.system_message):
        words = message.astext()
        if message["level"] >= 2 and not any(s in words for s in _SPHINX_ONLY):
            problems.append(words)
    return problems


def _docstring_as_rst(app, what, name, obj, options, lines):
    if not lines:
        return
    converted = [_SINGLE_BACKTICKS.sub(r"``\1``", line) for line in lines]
    if not _rst_problems("\n".join(converted)):
        lines[:] = converted
        return
    literal = ["::", ""] + [f"    {line}" if line.strip() else "" for line in lines] + [""]
    lines[:] = literal


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("autodoc-process-docstring", _docstring_as_rst, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
