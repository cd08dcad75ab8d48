"""User-facing errors: each message says in plain words what is wrong and what would fix it."""


class PlaygroundError(Exception):
    """Base of every error the app shows to a person instead of a traceback."""


class ProjectError(PlaygroundError, ValueError):
    """A project file or spec that cannot be used as it is."""


class ShapeError(PlaygroundError, ValueError):
    """A network whose layers do not fit together."""


class DataError(PlaygroundError):
    """A dataset that cannot be made or read."""


class CheckpointError(PlaygroundError):
    """A weights or checkpoint file that cannot be read, or does not fit the network."""


class TrainingError(PlaygroundError):
    """Settings that cannot train together (loss vs. output vs. targets, device, batch size)."""
