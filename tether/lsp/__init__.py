"""tether as a language server (``tether lsp``): diagnostics, quick fixes and fix-all in editors.

The server is a thin door onto the same engine the command line uses (``tether.engine``):
findings come from ``analyse`` and every edit from ``render_one_fix`` / ``fix_text``, so an
editor never sees a rule behave differently from ``tether check`` and ``tether fix``. pygls is
imported only by ``tether.lsp.server``, which only ``tether lsp`` loads.
"""
