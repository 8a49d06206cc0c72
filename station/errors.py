"""The one exception tree of the station package.

StationError
 ├── ConfigError         packgate.toml or a rules table (tolerance, escalation) has a bad value
 ├── ReferenceDataError  a reference-data row (sku, lot, packaging, employee, order) is malformed
 └── PageParameterError  a list was asked for with a bad limit, cursor or filter (carries a verdict code)

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
