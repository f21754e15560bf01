"""Small fixes to the HTML that Jupyter Book 1.x writes: pages load without console errors, and each page
numbers its own exercises and figures from 1.

Numbering (issue 16: "exercise 2 renders as Exercise 8"): the book's table of contents is not numbered (the
notebooks carry their own numbers, 00-04), and Sphinx then counts figures, tables and sphinx-exercise's
exercises across the whole book, so chapter 03's first exercise was Exercise 11. After Sphinx has assigned
the numbers, `number_per_page` renumbers each page's items of each kind 1, 2, ... in their order; an
exercise number continues after the page's hand-numbered exercise headings ("Exercise 7: ..." in chapter
04, whose step-by-step exercises are sections, not directives). References ({numref}, a solution's "Solution
to Exercise N") read the same table, so they follow.

sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = ...``) once per
``env-before-read-docs`` event, and another copy reaches each page with filename ``''`` instead of ``None``
(sphinx-togglebutton's snippet too), so Sphinx does not see them as equal: the second is a ``SyntaxError`` in
the browser console on every page. Each page keeps one copy of each script.

(Docstrings need no converter: they are reStructuredText read by napoleon, and ``default_role: literal`` in
``_config.yml`` renders a single-backtick span, as the docstrings write code, as code. The ``-W`` build fails on
a docstring that is not valid reStructuredText.)
"""

from __future__ import annotations

import re

HAND_NUMBERED = re.compile(r"^Exercise (\d+)\b")


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


def _hand_numbered_exercises(doctree) -> int:
    """The largest N of the page's section titles "Exercise N ..." (0 if none)."""
    from docutils import nodes

    numbers = [int(m.group(1)) for t in doctree.findall(nodes.title) if (m := HAND_NUMBERED.match(t.astext()))]
    return max(numbers, default=0)


def number_per_page(app, env) -> list:
    """Restart the numbers of every kind (figure, table, exercise, ...) on each page; returns the pages changed.

    `env.toc_fignumbers[page][kind][id]` holds number tuples; Sphinx gives one-element tuples counted across
    the book when no toctree is numbered. A numbered toctree (tuples of section numbers) is left as it is.
    """
    changed = []
    for docname, kinds in env.toc_fignumbers.items():
        offset = None
        for kind, numbers in kinds.items():
            if any(len(n) != 1 for n in numbers.values()):
                continue
            start = 0
            if kind == "exercise":
                if offset is None:
                    offset = _hand_numbered_exercises(env.get_doctree(docname))
                start = offset
            ordered = sorted(numbers, key=numbers.get)
            renumbered = {ident: (start + k,) for k, ident in enumerate(ordered, start=1)}
            if renumbered != numbers:
                kinds[kind] = renumbered
                changed.append(docname)
    return sorted(set(changed))


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    # after Sphinx's own numbering (the toctree collector listens at the default priority, 500)
    app.connect("env-get-updated", number_per_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
