"""client.beta.files and client.beta.skills against Berth: uploads, pagination, downloads with
identical bytes, deletion, and skills with versions."""

import anthropic
import pytest


def test_files_round_trip(client: anthropic.Anthropic) -> None:
    payload = bytes(range(256)) * 400
    uploaded = client.beta.files.upload(file=("data.bin", payload, "application/octet-stream"))
    assert uploaded.type == "file"
    assert uploaded.filename == "data.bin"
    assert uploaded.size_bytes == len(payload)
    assert uploaded.downloadable is True

    meta = client.beta.files.retrieve_metadata(uploaded.id)
    assert meta.id == uploaded.id and meta.mime_type == "application/octet-stream"
    assert client.beta.files.download(uploaded.id).read() == payload

    ids = [client.beta.files.upload(file=(f"n{i}.txt", f"note {i}".encode(), "text/plain")).id for i in range(3)]
    first = client.beta.files.list(limit=2)
    assert len(first.data) == 2
    seen = [f.id for f in client.beta.files.list(limit=2)]
    assert set(ids + [uploaded.id]) <= set(seen), "auto-pagination reaches every file"
    picked = client.beta.files.list(ids=[ids[0], "file_missing"])
    assert [f.id for f in picked.data] == [ids[0]]

    deleted = client.beta.files.delete(uploaded.id)
    assert deleted.id == uploaded.id
    with pytest.raises(anthropic.NotFoundError):
        client.beta.files.retrieve_metadata(uploaded.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.files.download(uploaded.id)


def skill_files(description: str, script: bytes) -> list:
    skill_md = f"---\nname: sdk-skill\ndescription: {description}\n---\n# SDK skill\n".encode()
    return [
        ("sdk-skill/SKILL.md", skill_md, "text/markdown"),
        ("sdk-skill/tool.py", script, "text/x-python"),
    ]


def test_skills_round_trip(client: anthropic.Anthropic) -> None:
    skill = client.beta.skills.create(files=skill_files("First", b"print(1)\n"), display_name="SDK Skill")
    assert skill.type == "skill"
    assert skill.display_name == "SDK Skill"
    assert skill.source.type == "custom"
    assert client.beta.skills.retrieve(skill.id).latest_version_id == skill.latest_version_id
    custom = [s.id for s in client.beta.skills.list(source="custom")]
    assert skill.id in custom
    anthropic_ids = [s.id for s in client.beta.skills.list(source="anthropic")]
    assert "xlsx" in anthropic_ids

    with pytest.raises(anthropic.ConflictError):
        client.beta.skills.create(files=skill_files("Again", b""))

    version = client.beta.skills.versions.create(skill.id, files=skill_files("Second", b"print(2)\n"))
    assert version.type == "skill_version"
    assert version.name == "sdk-skill"
    assert version.description == "Second"
    versions = list(client.beta.skills.versions.list(skill.id))
    assert [v.id for v in versions] == [version.id, skill.latest_version_id]
    fetched = client.beta.skills.versions.retrieve(version.id, skill_id=skill.id)
    assert fetched.description == "Second"
    bundle = client.beta.skills.versions.download(version.id, skill_id=skill.id).read()
    assert bundle[:2] == b"PK", "the bundle is a zip"

    assert client.beta.skills.versions.delete(version.id, skill_id=skill.id).type == "skill_version_deleted"
    assert client.beta.skills.retrieve(skill.id).latest_version_id == skill.latest_version_id
    assert client.beta.skills.delete(skill.id).type == "skill_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.beta.skills.retrieve(skill.id)
