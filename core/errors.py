"""The root of the project's error family.

Every error meant for the user derives from `MegrezSearchError`; its message says what went
wrong and what to do. The CLI prints it as one line and exits with status 2; the UI and API
show it as a message and keep the conversation going.
"""


class MegrezSearchError(Exception):
    """An error whose message is fit to show to the user as is."""
