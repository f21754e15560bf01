"""Small fixes to the HTML that Jupyter Book 1.x writes, so that pages load without console errors.

sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = ...``) once per
``env-before-read-docs`` event, and another copy reaches each page with filename ``''`` instead of ``None``
(sphinx-togglebutton's snippet too), so Sphinx does not see them as equal: the second is a ``SyntaxError`` in
the browser console on every page. Each page keeps one copy of each script.

(Docstrings need no converter: they are reStructuredText read by napoleon, and ``default_role: literal`` in
``_config.yml`` renders a single-backtick span, as the docstrings write code, as code. The ``-W`` build fails on
a docstring that is not valid reStructuredText.)
"""
from __future__ import annotations


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


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
