"""Hardware layer: transports, protocol parsers, readers and emulators.

Imports nothing from ``station`` or ``sync``.
"""
