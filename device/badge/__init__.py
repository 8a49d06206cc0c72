"""Badge readers: NFC through nfcpy, keyboard-wedge readers, and the NFC badge emulator."""
