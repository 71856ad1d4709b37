"""What several test files share."""

import datetime

START = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def at(**delta):
    """START moved by a timedelta's arguments: at(minutes=1)."""
    return START + datetime.timedelta(**delta)
