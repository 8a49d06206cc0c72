"""The one exception tree of the device package."""


class DeviceError(Exception):
    """Base of every error raised by the device layer."""


class ProfileError(DeviceError):
    """A firmware profile is missing, malformed or inconsistent (names file and key)."""


class FrameError(DeviceError):
    """Bytes that do not form a valid frame for the protocol (names the reason)."""


class PortError(DeviceError):
    """A port could not be opened, or went away."""


class ReaderError(DeviceError):
    """A reader (scale, scanner, badge) could not do its work."""


class PrinterError(DeviceError):
    """A label printer could not take a job or answer a status query."""


class PrinterTimeoutError(PrinterError):
    """The printer did not answer within the timeout (names what was awaited)."""


class PrinterNotReadyError(PrinterError):
    """The printer reports a condition that stops printing (paper out, head open, paused, ...)."""

    def __init__(self, message: str, status: object = None):
        super().__init__(message)
        self.status = status


class LabelError(DeviceError):
    """A label template or label field is unusable (names the template or field and the problem)."""


class CaptureError(DeviceError):
    """A capture file that cannot be read (names the line)."""


class DraftError(DeviceError):
    """A capture that does not show a protocol a profile can be drafted from (says why)."""
