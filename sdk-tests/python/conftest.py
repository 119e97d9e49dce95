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
