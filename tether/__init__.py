"""tether: finds asyncio tasks that can be orphaned and rewrites them into structured forms."""

__version__ = "0.1.0"
