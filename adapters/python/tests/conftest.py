"""The adapter's own tests load its fixtures as a user's tests would."""

import pytest

from sessionwheel_fake import find_binary

pytest_plugins = ["sessionwheel_fake.pytest_plugin"]


@pytest.fixture
def fake_binary(request):
    """The path of the sessionwheel-fake under test."""
    return find_binary(request.config.getoption("--sessionwheel-fake"))
