"""Cameras: barcode reading from frames, image decoders, the packing-video recorder and the camera emulator."""
