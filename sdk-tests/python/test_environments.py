"""client.beta.environments against Berth, method by method."""

import anthropic
import pytest


def test_environment_lifecycle(client: anthropic.Anthropic) -> None:
    env = client.beta.environments.create(
        name="py",
        description="python tools",
        config={
            "type": "cloud",
            "packages": {"pip": ["requests"]},
            "networking": {"type": "limited", "allowed_hosts": ["pypi.org"], "allow_package_managers": True},
        },
        metadata={"a": "1"},
    )
    assert env.id.startswith("env_")
    assert env.config.type == "cloud"
    assert env.config.packages.pip == ["requests"]
    assert env.config.networking.type == "limited"
    assert env.config.networking.allowed_hosts == ["pypi.org"]

    assert client.beta.environments.retrieve(env.id).name == "py"

    updated = client.beta.environments.update(
        env.id,
        config={"type": "cloud", "networking": {"type": "unrestricted"}},
        metadata={"a": None, "b": "2"},
    )
    assert updated.config.networking.type == "unrestricted"
    assert updated.config.packages.pip == ["requests"], "omitted packages are kept"
    assert updated.metadata == {"b": "2"}

    with pytest.raises(anthropic.BadRequestError) as change:
        client.beta.environments.update(env.id, config={"type": "self_hosted"})
    assert change.value.body["error"]["details"]["error_code"] == "invalid_config_type_change"

    ids = [e.id for e in client.beta.environments.list(limit=1)]
    assert env.id in ids

    archived = client.beta.environments.archive(env.id)
    assert archived.archived_at is not None
    assert env.id not in [e.id for e in client.beta.environments.list()]
    assert env.id in [e.id for e in client.beta.environments.list(include_archived=True)]

    deleted = client.beta.environments.delete(env.id)
    assert deleted.id == env.id and deleted.type == "environment_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.beta.environments.retrieve(env.id)


def test_environment_pagination(client: anthropic.Anthropic) -> None:
    made = {client.beta.environments.create(name=f"env {i}").id for i in range(5)}
    seen = [e.id for e in client.beta.environments.list(limit=2)]
    assert made <= set(seen)
    assert len(seen) == len(set(seen))


def test_environment_errors(client: anthropic.Anthropic, other_tenant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        client.beta.environments.create(
            name="bad", config={"type": "cloud", "packages": {"apt": ["--force-yes"]}}
        )
    env = client.beta.environments.create(name="mine")
    with pytest.raises(anthropic.NotFoundError):
        other_tenant.beta.environments.retrieve(env.id)
    with pytest.raises(anthropic.NotFoundError):
        other_tenant.beta.environments.delete(env.id)
    assert client.beta.environments.retrieve(env.id).name == "mine"
