"""Numbers in the chapters' prose come from the run (issue 16): the markdown says what the code shows.

A result typed into a markdown cell ("Recall@5 0.660", "97% of the words") goes stale the day the code, the
data or a library changes, and nothing notices: the number of the printed output moves, the prose's does not.
So in the markdown cells of every notebook, outside

* inline code spans (`` `lr = 0.01` ``), fenced and indented code blocks,
* math (``$0.5$``, ``$$ ... $$``),
* the syntax of MyST roles and directives (a role's `` `content` ``, a directive's ``:option: value`` lines, a
  figure's path, ``(label)=`` targets), link targets, URLs and HTML tags,

there is no number with a decimal point (0.66, 3.09, 4.5) and no percentage (15%, 97 %). A setting is written
as code, ideally naming its variable (`` `HOLDOUT_FRACTION = 0.15` ``); a result is printed by a code cell (or
glued with myst-nb's ``{glue:text}``), or the prose says what it means without the number.

Version numbers are not results: a number right after one of the words of ``VERSIONED`` and a space
("Python 3.11", "Lasagne 0.1"), or joined to a name by a hyphen ("Apache-2.0", "OFL-1.1"), is exempt. Keep the
list short and explicit.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# Product names whose version number may follow them in prose ("Python 3.11").
VERSIONED = ("Lasagne", "Python", "Theano", "Apache", "OFL", "CUDA", "Jupyter", "torch", "version")

NUMBER_RE = re.compile(
    r"(?P<percent>(?<![\w.])\d+(?:[.,]\d+)*\s?%)"  # 15%, 97 %, 2.5%
    r"|(?P<decimal>(?<![\w.])\d*\.\d+(?:\.\w+)*)"  # 0.66, .5, 3.09, 0.2.dev1
)
# "Python 3.11" (any case: "version 2.1"), or a capitalized name and a hyphen: "Apache-2.0", "OFL-1.1".
VERSION_BEFORE_RE = re.compile(r"(?i:\b(?:" + "|".join(VERSIONED) + r") )$|\b[A-Z]\w*-$")
FENCE_RE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
# Directives whose content is code or math, not prose.
CODE_DIRECTIVES = ("code", "code-block", "code-cell", "sourcecode", "literalinclude", "math")
# Directives whose argument is a path, not a title.
PATH_DIRECTIVES = ("figure", "image", "include", "literalinclude")


def prose_of(markdown: str) -> str:
    """`markdown` with everything that is not prose removed (code, math, MyST syntax, URLs, HTML)."""
    lines, stack = [], []  # stack: (fence, is_code) of the open fences
    indented_code = False  # inside an indented code block (4 spaces after a blank line)
    for line in markdown.split("\n"):
        fence = FENCE_RE.match(line)
        if not (stack and stack[-1][1]):
            if line.strip() and re.match(r"^(    |\t)", line) and (indented_code or not lines or not lines[-1].strip()):
                indented_code = True
                continue
            if line.strip():
                indented_code = False
        if stack and stack[-1][1]:  # inside a code block: only its closing fence counts
            if fence and not fence["info"] and fence["fence"][0] == stack[-1][0][0]:
                if len(fence["fence"]) >= len(stack[-1][0]):
                    stack.pop()
            continue
        if fence:
            opening, info = fence["fence"], fence["info"].strip()
            if not info and stack and opening[0] == stack[-1][0][0] and len(opening) >= len(stack[-1][0]):
                stack.pop()  # closes a directive
                continue
            directive = re.match(r"\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)$", info)
            if directive:
                name = directive["name"]
                stack.append((opening, name in CODE_DIRECTIVES))
                if name not in PATH_DIRECTIVES and name not in CODE_DIRECTIVES:
                    lines.append(directive["argument"])  # a title is prose
            else:
                stack.append((opening, True))  # ```python: code
            continue
        if re.match(r"^\s*:[\w-]+:(\s|$)", line) or re.match(r"^\s*\([\w.:-]+\)=\s*$", line):
            continue  # a directive's option, a MyST target
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"(`+)(?:(?!\1).)+?\1", " ", text, flags=re.DOTALL)  # code spans, role contents
    text = re.sub(r"\$\$.+?\$\$", " ", text, flags=re.DOTALL)  # display math
    text = re.sub(r"(?<!\\)\$[^$\n]+?(?<!\\)\$", " ", text)  # inline math
    text = re.sub(r"\]\([^)\s]*\)", "] ", text)  # link targets
    text = re.sub(r"<?https?://[^\s>)]+>?", " ", text)  # URLs
    text = re.sub(r"<[^<>\n]+>", " ", text)  # HTML tags
    return text


def typed_numbers(markdown: str) -> list[str]:
    """The typed results of `markdown`: each with a little of its context."""
    text = prose_of(markdown)
    found = []
    for m in NUMBER_RE.finditer(text):
        if m["decimal"] and VERSION_BEFORE_RE.search(text[: m.start()]):
            continue
        start, end = max(0, m.start() - 30), min(len(text), m.end() + 30)
        context = " ".join(text[start:end].split())
        found.append(f"{m.group(0)!r} in '...{context}...'")
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_typed_numbers_in_prose(notebook):
    nb = nbformat.read(notebook, as_version=4)
    offenders = [
        f"{notebook.name} cell {index}: {hit}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for hit in typed_numbers(cell.source)
    ]
    if offenders:
        pytest.fail(
            "numbers typed into the prose (write a setting as code, print a result from a code cell or glue "
            "it, or say it without the number):\n" + "\n".join(offenders),
            pytrace=False,
        )


def test_the_rule_on_a_toy_cell():
    caught = typed_numbers("The best model reaches R@5 0.660, and 97% of the words are known.")
    assert [hit.split(" in ")[0] for hit in caught] == ["'0.660'", "'97%'"]
    assert len(typed_numbers("Also 15 % of the classes, a loss of .5 and a top-0.5 threshold.")) == 3
    fine = (
        "Train with `lr=0.01` and a margin $0.5$ (or $$m = 0.5$$) on Python 3.11 with Lasagne 0.2.dev1;\n"
        "fonts under OFL-1.1, code under Apache-2.0; see {cite}`xu2015show` and {glue:text}`r5:.3f`.\n"
        "[a paper](https://arxiv.org/abs/1502.03044), 10,000 words, 4 epochs.\n"
        "```python\nlr = 0.01  # 15%\n```\n"
        "A solution:\n\n    def loss(margin=0.2):\n        return 0.5\n\nand more prose.\n"
        "```{figure} figures/plot_1.5.png\n:width: 80%\n\nA caption.\n```\n"
    )
    assert typed_numbers(fine) == []
    # A directive's content is prose and is checked; its options are not.
    assert typed_numbers("````{exercise} A title\n:label: x\n\nTry 0.5.\n````") != []
