"""Emulators that speak the real device bytes over a pty, TCP or nfcpy's udp driver."""
