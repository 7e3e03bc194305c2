"""What every screen is handed (attributes down) and the message a failed service call posts (messages up)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from textual.message import Message


@dataclass(slots=True)
class Session:
    """The command line's choices: the schema to plan from, the plans directory and the database.

    `database_url` is None until the embedded server's URL is known (when no URL was given at all).
    """

    schema: str | None
    plans_dir: str
    database_url: str | None
    database_label: str = "the database"  # the URL with its password hidden, once the dashboard knows it
    targets_file: str | None = None  # the fleet's targets file, for the fleet view

    @property
    def needs_embedded(self) -> bool:
        """True when no URL was given and none is in the environment: the embedded server must be started."""
        return self.database_url is None and not os.environ.get("DATABASE_URL")


class ServiceFailed(Message):
    """A service call raised. A screen that shows the failure as state stops it; the app shows the rest."""

    def __init__(self, action: str, error: Exception) -> None:
        super().__init__()
        self.action = action
        self.error = error
