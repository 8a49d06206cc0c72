"""The one exception tree of the station package.

StationError
 ├── ConfigError         packgate.toml or a rules table (tolerance, escalation) has a bad value
 ├── ReferenceDataError  a reference-data row (sku, lot, packaging, employee, order) is malformed
 ├── PageParameterError  a list was asked for with a bad limit, cursor or filter (carries a verdict code)
 └── DatabaseFromTheFutureError  station.db was written by a newer packgate (station/migrations)

Refusals of the packing and picking workflow (item not in order, lot expired, ...) are *not*
exceptions: they come back as a ``Verdict`` so the person at the table is told what to do.
Exceptions are for bad data and programming errors only.
"""


class StationError(Exception):
    """Base of every error raised by the station."""


class ConfigError(StationError):
    """packgate.toml is unreadable or keys have bad values: ``problems`` lists each (each names its key), the
    message is all of them, one per line."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class ReferenceDataError(StationError, ValueError):
    """A reference-data row from upstream is malformed (the message names the row and the field)."""


class PageParameterError(StationError, ValueError):
    """A bad paging parameter: ``code`` is the verdict code (station/core/verdicts.py), ``data`` its fields."""

    def __init__(self, code: str, **data: object):
        super().__init__(f"{code}: {data}")
        self.code = code
        self.data = data


class DatabaseFromTheFutureError(StationError):
    """station.db was written by a newer packgate: ``part`` (a set of schema steps) is at version ``found``, this
    packgate knows up to ``known`` (0: not at all). Nothing was written; the agent does not start."""

    def __init__(self, path: str, part: str, found: int, known: int):
        super().__init__(f"{path} was written by a newer packgate: its {part} schema is at version {found}, "
                         f"this packgate knows up to version {known}; run that packgate or a newer one, "
                         "or restore a backup this version wrote")
        self.path, self.part, self.found, self.known = path, part, found, known

    def fields(self) -> dict[str, object]:
        """The fields of the ``db_from_the_future`` verdict text."""
        return {"path": self.path, "part": self.part, "found": self.found, "known": self.known}
