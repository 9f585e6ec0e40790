"""The error of a job that failed for a reason its user can fix."""

from __future__ import annotations


class CommandError(Exception):
    """A job failed for a reason the user can fix; the message says how.

    ``tarozu`` prints it as ``tarozu <command>: error: <message>`` and exits with code 2.
    """
