"""USB HID keyboard-wedge devices (scanners and badge readers) through evdev, keyboard layouts and the emulator."""
