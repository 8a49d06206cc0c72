"""Scales: the reader thread, framing, the generic parser kinds, the reading type and the emulator."""
