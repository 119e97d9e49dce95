"""Shared fixtures: a client for the Berth server the Rust harness started.

The harness passes the server's address and an admin key in BERTH_URL and BERTH_API_KEY.
"""

import os

import anthropic
import pytest


@pytest.fixture(scope="session")
def client() -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=os.environ["BERTH_URL"],
        api_key=os.environ["BERTH_API_KEY"],
        max_retries=0,
    )


@pytest.fixture(scope="session")
def other_tenant(client: anthropic.Anthropic) -> anthropic.Anthropic:
    """A client for a second tenant, created with the admin key."""
    created = client.post(
        "/v1/tenants", body={"name": "sdk-other"}, cast_to=object
    )
    return anthropic.Anthropic(
        base_url=os.environ["BERTH_URL"], api_key=created["api_key"], max_retries=0
    )


class FakeModel:
    """Scripts the fake model provider the harness started (see berth-test-support)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def push(self, *replies: dict) -> None:
        import json
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}/__fake/replies",
            data=json.dumps(list(replies)).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).close()

    def requests(self) -> list:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/__fake/requests") as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def fake_model() -> FakeModel:
    return FakeModel(os.environ["FAKE_MODEL_URL"])


@pytest.fixture()
def session_ids(client: anthropic.Anthropic):
    """A fresh agent and environment; returns (agent_id, environment_id)."""
    agent = client.beta.agents.create(name="sdk session agent", model="claude-sonnet-4-6")
    env = client.beta.environments.create(name="sdk session env")
    return agent.id, env.id


def wait_idle(client: anthropic.Anthropic, session_id: str, turns: int = 1, timeout: float = 15.0):
    """Polls until the session has gone idle `turns` times; returns the event list."""
    import time

    deadline = time.time() + timeout
    while True:
        events = list(client.beta.sessions.events.list(session_id, limit=1000))
        idles = [e for e in events if e.type == "session.status_idle"]
        if len(idles) >= turns:
            return events
        if time.time() > deadline:
            raise AssertionError(f"only {len(idles)} of {turns} turns finished")
        time.sleep(0.05)
