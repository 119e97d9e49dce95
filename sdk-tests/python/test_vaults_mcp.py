"""client.beta.vaults through the official SDK, and a session whose agent calls an MCP server
with a vault credential it never sees.

The harness starts an MCP fixture that demands a bearer token and passes its URL and token in
MCP_URL and MCP_TOKEN.
"""

import json
import os

import anthropic
import pytest

from conftest import wait_idle

SECRETS = ["tok_sdk_static_9f8e7d", "at_sdk_oauth_6c5b4a", "rt_sdk_oauth_3d2e1f", "sv_sdk_env_0a9b8c"]


def test_vault_and_credential_crud(client: anthropic.Anthropic) -> None:
    vault = client.beta.vaults.create(display_name="sdk vault", metadata={"team": "qa"})
    assert vault.type == "vault" and vault.id.startswith("vlt_")
    assert client.beta.vaults.retrieve(vault.id).display_name == "sdk vault"
    renamed = client.beta.vaults.update(vault.id, display_name="renamed", metadata={"team": None})
    assert renamed.display_name == "renamed" and renamed.metadata == {}

    bearer = client.beta.vaults.credentials.create(
        vault.id,
        display_name="static",
        auth={"type": "static_bearer", "mcp_server_url": "https://mcp.example.com/mcp", "token": SECRETS[0]},
    )
    oauth = client.beta.vaults.credentials.create(
        vault.id,
        auth={
            "type": "mcp_oauth",
            "mcp_server_url": "https://oauth.example.com/mcp",
            "access_token": SECRETS[1],
            "expires_at": "2031-01-01T00:00:00Z",
            "refresh": {
                "client_id": "cid",
                "refresh_token": SECRETS[2],
                "token_endpoint": "https://auth.example.com/token",
                "token_endpoint_auth": {"type": "none"},
            },
        },
    )
    env = client.beta.vaults.credentials.create(
        vault.id,
        auth={
            "type": "environment_variable",
            "secret_name": "SERVICE_KEY",
            "secret_value": SECRETS[3],
            "networking": {"type": "limited", "allowed_hosts": ["api.example.com"]},
            "injection_location": {"header": True, "body": True},
        },
    )
    assert bearer.auth.type == "static_bearer" and bearer.auth.mcp_server_url == "https://mcp.example.com/mcp"
    assert oauth.auth.refresh.token_endpoint_auth.type == "none"
    assert env.auth.networking.allowed_hosts == ["api.example.com"]
    assert env.auth.injection_location.body is True

    rotated = client.beta.vaults.credentials.update(
        bearer.id, vault_id=vault.id, auth={"type": "static_bearer", "token": "tok_sdk_rotated_1a2b3c"}
    )
    assert rotated.auth.mcp_server_url == bearer.auth.mcp_server_url
    listed = list(client.beta.vaults.credentials.list(vault.id, limit=2))
    assert {c.id for c in listed} == {bearer.id, oauth.id, env.id}

    raw = client.beta.vaults.credentials.with_raw_response.list(vault.id).http_response.text
    raw += client.beta.vaults.credentials.with_raw_response.retrieve(oauth.id, vault_id=vault.id).http_response.text
    for secret in SECRETS + ["tok_sdk_rotated_1a2b3c"]:
        assert secret not in raw

    archived = client.beta.vaults.credentials.archive(env.id, vault_id=vault.id)
    assert archived.archived_at is not None
    deleted = client.beta.vaults.credentials.delete(oauth.id, vault_id=vault.id)
    assert deleted.id == oauth.id
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.credentials.retrieve(oauth.id, vault_id=vault.id)
    assert client.beta.vaults.archive(vault.id).archived_at is not None
    assert client.beta.vaults.delete(vault.id).id == vault.id
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.retrieve(vault.id)


def test_agent_calls_an_authenticated_mcp_server(client: anthropic.Anthropic, fake_model) -> None:
    url, token = os.environ["MCP_URL"], os.environ["MCP_TOKEN"]
    vault = client.beta.vaults.create(display_name="mcp creds")
    client.beta.vaults.credentials.create(
        vault.id, auth={"type": "static_bearer", "mcp_server_url": url, "token": token}
    )
    agent = client.beta.agents.create(
        name="mcp agent",
        model="claude-sonnet-4-6",
        mcp_servers=[{"type": "url", "name": "fixture", "url": url}],
        tools=[
            {
                "type": "mcp_toolset",
                "mcp_server_name": "fixture",
                "default_config": {"permission_policy": {"type": "always_allow"}},
            }
        ],
    )
    env = client.beta.environments.create(name="mcp env")
    session = client.beta.sessions.create(agent=agent.id, environment_id=env.id, vault_ids=[vault.id])
    fake_model.push(
        {"type": "tool_use", "id": "toolu_m1", "name": "mcp__fixture__echo", "input": {"text": "hello over MCP"}},
        {"type": "text", "text": "The server echoed."},
    )
    client.beta.sessions.events.send(
        session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "echo something"}]}]
    )
    events = wait_idle(client, session.id)
    use = next(e for e in events if e.type == "agent.mcp_tool_use")
    assert use.mcp_server_name == "fixture" and use.name == "echo"
    assert use.input == {"text": "hello over MCP"}
    result = next(e for e in events if e.type == "agent.mcp_tool_result")
    assert result.mcp_tool_use_id == use.id
    assert not result.is_error
    assert "hello over MCP" in result.content[0].text
    assert [e for e in events if e.type == "agent.message"][-1].content[0].text == "The server echoed."

    requests = fake_model.requests()
    tools = [t["name"] for t in requests[-1]["tools"]]
    assert "mcp__fixture__echo" in tools
    assert token not in json.dumps(requests)
    raw = client.beta.sessions.events.with_raw_response.list(session.id).http_response.text
    assert token not in raw
