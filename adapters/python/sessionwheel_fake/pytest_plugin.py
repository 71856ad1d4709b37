"""pytest fixtures: a twilio.rest.Client whose Proxy API is sessionwheel-fake.

Load it in a conftest.py at the root of the tests:

    pytest_plugins = ["sessionwheel_fake.pytest_plugin"]

Fixtures, one fake process per test:

    proxy_fake     the FakeHttpClient: clock controls advance() and now();
                   clock at 2030-01-01T00:00:00Z, seed 1; stopped after the
                   test, which fails if the tool did not exit 0
    proxy_client   a twilio.rest.Client that sends its requests there
    proxy_service  a Service created through proxy_client, unique name
                   "test-service"

The mark `@pytest.mark.sessionwheel_fake(**options)` gives the fake other
options (those of FakeProcess: seed, start_time, max_sessions_per_service,
auto_services...). The tool is the one named by `--sessionwheel-fake PATH`,
else found as find_binary() finds it ($SESSIONWHEEL_FAKE, the install, the
PATH).
"""

import pytest

START_TIME = "2030-01-01T00:00:00Z"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "sessionwheel-fake"


def pytest_addoption(parser):
    parser.addoption(
        "--sessionwheel-fake", metavar="PATH", default=None,
        help="the sessionwheel-fake binary (default: $SESSIONWHEEL_FAKE, the "
        "one installed with sessionwheel_fake, or the PATH's)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sessionwheel_fake(**options): options of the fake behind "
        "proxy_fake (sessionwheel_fake.FakeProcess's arguments)")


@pytest.fixture
def proxy_fake(request):
    from sessionwheel_fake import FakeHttpClient

    options = {"seed": 1, "start_time": START_TIME}
    mark = request.node.get_closest_marker("sessionwheel_fake")
    if mark is not None:
        options.update(mark.kwargs)
    fake = FakeHttpClient(request.config.getoption("--sessionwheel-fake"),
                          **options)
    yield fake
    assert fake.close() == 0, "sessionwheel-fake did not exit cleanly"


@pytest.fixture
def proxy_client(proxy_fake):
    from twilio.rest import Client

    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=proxy_fake)


@pytest.fixture
def proxy_service(proxy_client):
    return proxy_client.proxy.v1.services.create(unique_name="test-service")
