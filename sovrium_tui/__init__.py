"""sovrium-tui: schema migrations for Sovrium apps on PostgreSQL."""

__version__ = "0.1.0"
