"""Label printers: the driver, profile spec, status codes, the label model, label languages, preview and the emulator."""
