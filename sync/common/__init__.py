"""Helpers shared by the station, the hub and the reference upstream: SQLite, pools, PINs, notifications, settings, ids, JSON bytes, HTTP."""
