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
