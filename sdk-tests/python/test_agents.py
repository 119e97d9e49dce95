"""client.beta.agents and .versions against Berth, method by method."""

from datetime import datetime, timedelta, timezone

import anthropic
import pytest


def test_create_retrieve_update_archive(client: anthropic.Anthropic) -> None:
    agent = client.beta.agents.create(
        name="sdk agent",
        model="claude-sonnet-4-6",
        system="Be brief.",
        tools=[
            {
                "type": "agent_toolset_20260401",
                "configs": [{"name": "bash", "permission_policy": {"type": "always_ask"}}],
            },
            {
                "type": "custom",
                "name": "lookup",
                "description": "Look something up",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        ],
        metadata={"team": "sdk"},
    )
    assert agent.id.startswith("agent_")
    assert agent.type == "agent"
    assert agent.version == 1
    assert agent.model.id == "claude-sonnet-4-6"
    assert agent.tools[0].type == "agent_toolset_20260401"
    assert agent.tools[0].configs[0].permission_policy.type == "always_ask"
    assert agent.tools[1].name == "lookup"
    assert agent.archived_at is None

    fetched = client.beta.agents.retrieve(agent.id)
    assert fetched.id == agent.id and fetched.system == "Be brief."

    updated = client.beta.agents.update(
        agent.id, version=1, system=None, metadata={"team": None, "owner": "me"}
    )
    assert updated.version == 2
    assert updated.system is None
    assert updated.metadata == {"owner": "me"}

    unchanged = client.beta.agents.update(agent.id, name="sdk agent")
    assert unchanged.version == 2

    old = client.beta.agents.retrieve(agent.id, version=1)
    assert old.version == 1 and old.system == "Be brief."

    versions = list(client.beta.agents.versions.list(agent.id, limit=1))
    assert [v.version for v in versions] == [2, 1]

    archived = client.beta.agents.archive(agent.id)
    assert archived.archived_at is not None
    visible = [a.id for a in client.beta.agents.list(limit=100)]
    assert agent.id not in visible
    everything = [a.id for a in client.beta.agents.list(limit=100, include_archived=True)]
    assert agent.id in everything


def test_auto_pagination_crosses_pages(client: anthropic.Anthropic) -> None:
    created = [
        client.beta.agents.create(name=f"page {i}", model={"id": "m", "speed": "fast"}).id
        for i in range(5)
    ]
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    seen = [a.id for a in client.beta.agents.list(limit=2, created_at_gte=since)]
    for agent_id in created:
        assert agent_id in seen
    assert len(seen) == len(set(seen)), "no duplicates across pages"

    first = client.beta.agents.list(limit=2)
    assert len(first.data) == 2
    assert first.next_page is not None
    second = first.get_next_page()
    assert {a.id for a in second.data}.isdisjoint({a.id for a in first.data})


def test_version_conflict_raises_conflict_error(client: anthropic.Anthropic) -> None:
    agent = client.beta.agents.create(name="guarded", model="m")
    client.beta.agents.update(agent.id, name="guarded 2", version=1)
    with pytest.raises(anthropic.ConflictError) as info:
        client.beta.agents.update(agent.id, name="guarded 3", version=1)
    assert info.value.status_code == 409
    assert info.value.request_id and info.value.request_id.startswith("req_")
    assert client.beta.agents.retrieve(agent.id).name == "guarded 2"


def test_errors_map_to_sdk_classes(client: anthropic.Anthropic, other_tenant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.beta.agents.retrieve("agent_doesnotexist")
    assert missing.value.body["error"]["type"] == "not_found_error"

    with pytest.raises(anthropic.BadRequestError) as bad:
        client.beta.agents.create(name="x", model="m", system="s" * 100_001)
    assert "system" in str(bad.value)

    with pytest.raises(anthropic.BadRequestError):
        client.beta.agents.create(
            name="x",
            model="m",
            tools=[{"type": "mcp_toolset", "mcp_server_name": "undeclared"}],
        )

    mine = client.beta.agents.create(name="private", model="m")
    with pytest.raises(anthropic.NotFoundError):
        other_tenant.beta.agents.retrieve(mine.id)
    with pytest.raises(anthropic.NotFoundError):
        other_tenant.beta.agents.update(mine.id, name="stolen")
    assert client.beta.agents.retrieve(mine.id).name == "private"

    unauthenticated = anthropic.Anthropic(
        base_url=str(client.base_url), api_key="berth_sk_nope", max_retries=0
    )
    with pytest.raises(anthropic.AuthenticationError):
        unauthenticated.beta.agents.list()


def test_multiagent_and_mcp(client: anthropic.Anthropic) -> None:
    helper = client.beta.agents.create(name="helper", model="m")
    lead = client.beta.agents.create(
        name="lead",
        model={"id": "m", "effort": "high"},
        mcp_servers=[{"type": "url", "name": "docs", "url": "https://mcp.example.com/docs"}],
        tools=[{"type": "mcp_toolset", "mcp_server_name": "docs"}],
        multiagent={"type": "coordinator", "agents": [helper.id, {"type": "self"}]},
    )
    assert lead.model.effort.type == "high"
    assert lead.mcp_servers[0].name == "docs"
    assert lead.tools[0].default_config.permission_policy.type == "always_ask"
    assert lead.multiagent.agents[0].id == helper.id
    assert lead.multiagent.agents[0].version == 1
    assert lead.multiagent.agents[1].id == lead.id
