"""Barcode scanners: serial/USB-CDC scanners, what a scan means (GS1, EAN/UPC, site codes) and the emulator."""
