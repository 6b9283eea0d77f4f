"""The one exception type for mistakes a user can fix (bad file, unknown language, wrong size)."""


class InputError(ValueError):
    """A user-fixable problem. The CLI prints its message (which names the fix) and exits with 2."""
