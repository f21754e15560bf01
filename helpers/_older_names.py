"""Older module names that point to the modules by concern (issue 15), so that code written before keeps working.

Until 2026-11 chapter-named modules (`helpers.search`, `helpers.devise`, `helpers.captioning`,
`helpers.attention`) held generic utilities. Each name now has one home; the old modules are aliases built by
`alias_module`: reading a name gives the object from its home (the same object, not a copy) and warns once with
a `DeprecationWarning` that says where it lives now. A name that did not move, or never existed, raises
AttributeError. Nothing here is taught: new code imports from the homes (book/helpers_reference.md).
"""

from __future__ import annotations

import importlib
import warnings


def alias_module(old: str, homes: dict, older_module: bool = True):
    """A module `__getattr__` for the older module `helpers.<old>`: `homes` maps an old name to `"module"` or
    `"module.new_name"` in `helpers`. Raises AttributeError for names it does not know. `older_module=False`:
    `helpers.<old>` is a current module that keeps a few older names (e.g. an older spelling)."""
    where = " (it is an older name: see book/helpers_reference.md for where each helper lives now)"
    kept = f"; helpers.{old} is an older name kept for old code"

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module 'helpers.{old}' has no attribute {name!r}{where if older_module else ''}")
        module, _, new = homes[name].partition(".")
        warnings.warn(
            f"helpers.{old}.{name} is now helpers.{module}.{new or name}{kept if older_module else ''}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(f"helpers.{module}"), new or name)

    return __getattr__
