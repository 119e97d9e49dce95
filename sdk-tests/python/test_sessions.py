"""client.beta.sessions against Berth, method by method."""

import anthropic
import pytest

from conftest import wait_idle


def test_session_lifecycle(client: anthropic.Anthropic, session_ids) -> None:
    agent_id, env_id = session_ids
    session = client.beta.sessions.create(
        agent=agent_id, environment_id=env_id, title="first", metadata={"k": "v"}
    )
    assert session.id.startswith("sesn_")
    assert session.type == "session"
    assert session.status == "idle"
    assert session.agent.id == agent_id
    assert session.agent.version == 1
    assert session.title == "first"
    assert session.metadata == {"k": "v"}
    assert session.usage.input_tokens == 0

    fetched = client.beta.sessions.retrieve(session.id)
    assert fetched.id == session.id

    updated = client.beta.sessions.update(session.id, title=None, metadata={"k": None, "n": "1"})
    assert updated.title is None
    assert updated.metadata == {"n": "1"}

    archived = client.beta.sessions.archive(session.id)
    assert archived.archived_at is not None

    deleted = client.beta.sessions.delete(session.id)
    assert deleted.id == session.id and deleted.type == "session_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.retrieve(session.id)


def test_agent_forms_and_overrides(client: anthropic.Anthropic, session_ids) -> None:
    agent_id, env_id = session_ids
    client.beta.agents.update(agent_id, system="version two")
    pinned = client.beta.sessions.create(
        agent={"type": "agent", "id": agent_id, "version": 1}, environment_id=env_id
    )
    assert pinned.agent.version == 1 and pinned.agent.system is None
    latest = client.beta.sessions.create(agent=agent_id, environment_id=env_id)
    assert latest.agent.version == 2 and latest.agent.system == "version two"
    uploaded = client.beta.files.upload(file=("notes.txt", b"notes", "text/plain"))
    overridden = client.beta.sessions.create(
        agent={"type": "agent_with_overrides", "id": agent_id, "model": "other-model", "system": "override"},
        environment_id=env_id,
        resources=[{"type": "file", "file_id": uploaded.id}],
    )
    assert overridden.agent.model.id == "other-model"
    assert overridden.agent.system == "override"
    assert overridden.resources[0].type == "file"
    assert overridden.resources[0].mount_path == f"/mnt/session/uploads/{uploaded.id}/notes.txt"


def test_list_filters_and_pagination(client: anthropic.Anthropic, session_ids) -> None:
    agent_id, env_id = session_ids
    made = [client.beta.sessions.create(agent=agent_id, environment_id=env_id).id for _ in range(5)]
    seen = [s.id for s in client.beta.sessions.list(agent_id=agent_id, limit=2)]
    assert seen == list(reversed(made)), "newest first across pages"
    idle = [s.id for s in client.beta.sessions.list(agent_id=agent_id, statuses=["idle"])]
    assert set(made) <= set(idle)
    assert list(client.beta.sessions.list(agent_id=agent_id, statuses=["terminated"])) == []
    page = client.beta.sessions.list(agent_id=agent_id, limit=2)
    assert page.next_page is not None


def test_session_errors(client: anthropic.Anthropic, session_ids, other_tenant) -> None:
    agent_id, env_id = session_ids
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.create(agent="agent_missing", environment_id=env_id)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.create(agent=agent_id, environment_id=env_id, vault_ids=["not-a-vault"])
    session = client.beta.sessions.create(agent=agent_id, environment_id=env_id)
    with pytest.raises(anthropic.NotFoundError):
        other_tenant.beta.sessions.retrieve(session.id)
    with pytest.raises(anthropic.NotFoundError):
        other_tenant.beta.sessions.delete(session.id)
    client.beta.sessions.archive(session.id)
    with pytest.raises(anthropic.ConflictError):
        client.beta.sessions.events.send(
            session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "hi"}]}]
        )
