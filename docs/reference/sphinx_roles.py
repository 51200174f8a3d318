"""A griffe extension for the API reference: Sphinx roles in docstrings as inline code.

The code's docstrings name other objects Sphinx-style (``:class:`Check```,
``:func:`~crm_audit_core.read_tenant```); mkdocstrings would print the role as text.
This turns each into inline code (with ``~``, the last name only). mkdocs.yml loads it
with ``extensions: [docs/reference/sphinx_roles.py]`` and leaves it out of the site.
"""

from __future__ import annotations

import re

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|obj|exc|data|const):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """``:class:`~a.b.C``` -> ```C```, ``:meth:`a.b``` -> ```a.b```."""
    return ROLE.sub(lambda m: f"``{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}``", text)


try:
    import griffe
except ImportError:  # the tests import plain_roles without mkdocs installed
    griffe = None

if griffe is not None:

    class SphinxRoles(griffe.Extension):
        """Rewrite the roles of every docstring griffe loads."""

        def on_instance(self, *, obj, **kwargs) -> None:
            if obj.docstring is not None:
                obj.docstring.value = plain_roles(obj.docstring.value)
