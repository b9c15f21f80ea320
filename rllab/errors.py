"""The one exception type for user mistakes."""


class UsageError(ValueError):
    """A user mistake: a bad flag value, unknown dataset or env, a missing or unreadable file.

    The message is one line naming the bad value and what would be accepted. The CLI prints it as
    ``rllab: error: <message>`` and exits with status 2, without a traceback.
    """
