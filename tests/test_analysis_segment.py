"""ModuleInfo.segment must give exactly what ast.get_source_segment gives (it replaces it
because that re-splits the whole file per call, which made rule messages quadratic)."""

from __future__ import annotations

import ast

import pytest

from tether.analysis import ModuleInfo

SOURCES = [
    "x = f(a, b)\n",
    "héllo = ünïcode('ç', 'é')  # done\n",
    "value = call(\n    1,\n    'ü',\n)\n",
    "a = 1\r\nb = g(\r\n  2)\r\n",
    "a = 1\x0c\nb = h(3)\n",  # form feed is not a line break
    "if x:\n    y = [\n        'ünï',\n        z]\n",
]


@pytest.mark.parametrize("source", SOURCES)
def test_segment_matches_ast_get_source_segment(source):
    tree = ast.parse(source)
    module = ModuleInfo(source, tree)
    for node in ast.walk(tree):
        if hasattr(node, "end_col_offset"):
            assert module.segment(node) == (ast.get_source_segment(source, node) or ""), ast.dump(node)
