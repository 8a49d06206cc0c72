"""The SQLite outbox, the upstream client and the reference upstream server."""
