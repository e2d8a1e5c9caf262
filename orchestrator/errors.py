"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input: the message names the problem and the fix."""


def first_line(error: Exception) -> str:
    """A library error's first line, for the reason in a one-line message (its type where it says nothing)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
