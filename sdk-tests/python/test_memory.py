"""client.beta.memory_stores, .memories and .memory_versions against Berth (contract §8.2).

Every method of the three resources is called through the official SDK: stores (create,
retrieve, update, list, archive, delete), memories (create, retrieve, update, list, delete) and
memory versions (list, retrieve, redact). Hashes are computed here with hashlib, sizes from the
UTF-8 bytes, so the server's numbers are checked rather than echoed. Search, which the SDK
does not wrap, goes through the client's own `post`.
"""

import hashlib
import unicodedata
from typing import Callable, Iterator, List

import anthropic
import pytest

BETA = "agent-memory-2026-07-22"
# "The maximum size is 100 kB (102,400 bytes)." (SDK docstrings of memories.create / update)
MAX_CONTENT_BYTES = 102_400


# ----------------------------------------------------------------- helpers


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def status_of(call: Callable[[], object]) -> int:
    """The HTTP status a call ends with: 200 when it succeeds, else the error's status."""
    try:
        call()
    except anthropic.APIStatusError as error:
        return error.status_code
    return 200


def all_paths(client: anthropic.Anthropic, store_id: str, **params) -> List[str]:
    """Every list item's path, across all pages."""
    return [item.path for item in client.beta.memory_stores.memories.list(store_id, **params)]


def memory_count(client: anthropic.Anthropic, store_id: str) -> int:
    return len(all_paths(client, store_id, limit=100))


def walk_pages(first_page) -> List[list]:
    """The `data` of every page, following `next_page` by hand with the `page` parameter."""
    pages = [first_page.data]
    page = first_page
    while page.next_page:
        page = page.get_next_page()
        pages.append(page.data)
    return pages


def assert_conflict(error: pytest.ExceptionInfo, error_type: str) -> None:
    """A 409 the SDK must not retry, carrying the memory error type."""
    assert error.value.status_code == 409
    assert error.value.type == error_type
    assert error.value.body["error"]["type"] == error_type
    assert error.value.response.headers.get("x-should-retry") == "false"


@pytest.fixture()
def store_id(client: anthropic.Anthropic) -> Iterator[str]:
    """A fresh, empty memory store, deleted afterwards if the test left it."""
    store = client.beta.memory_stores.create(name="sdk memory test")
    yield store.id
    try:
        client.beta.memory_stores.delete(store.id)
    except anthropic.NotFoundError:
        pass


def put(client: anthropic.Anthropic, store_id: str, path: str, content: str = "x"):
    return client.beta.memory_stores.memories.create(store_id, path=path, content=content)


# ------------------------------------------------------------------ stores


def test_store_create_and_retrieve(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(
        name="Team notes", description="What the team knows", metadata={"team": "qa", "owner": "ann"}
    )
    assert store.type == "memory_store" and store.id.startswith("memstore_")
    assert store.name == "Team notes"
    assert store.description == "What the team knows"
    assert store.metadata == {"team": "qa", "owner": "ann"}
    assert store.archived_at is None
    assert store.updated_at == store.created_at

    fetched = client.beta.memory_stores.retrieve(store.id)
    assert fetched.model_dump() == store.model_dump()

    bare = client.beta.memory_stores.create(name="bare")
    assert bare.description == "" and bare.metadata == {}


def test_store_create_rejects_long_description(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        client.beta.memory_stores.create(name="too long", description="d" * 1025)
    assert client.beta.memory_stores.create(name="just fits", description="d" * 1024).description == "d" * 1024


def test_store_update_patches_metadata_and_clears_description(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(
        name="before", description="to be cleared", metadata={"team": "qa", "owner": "ann"}
    )
    renamed = client.beta.memory_stores.update(store.id, name="after", metadata={"team": None, "tier": "gold"})
    assert renamed.name == "after"
    assert renamed.description == "to be cleared", "an omitted description is kept"
    assert renamed.metadata == {"owner": "ann", "tier": "gold"}
    assert renamed.updated_at > store.updated_at

    cleared = client.beta.memory_stores.update(store.id, description="")
    assert cleared.description == ""
    assert cleared.name == "after" and cleared.metadata == {"owner": "ann", "tier": "gold"}
    assert client.beta.memory_stores.retrieve(store.id).description == ""


def test_store_list_walks_pages_of_one_newest_first(client: anthropic.Anthropic) -> None:
    created = [client.beta.memory_stores.create(name=f"paged {i}") for i in range(3)]
    ids = [store.id for store in created]
    pages = walk_pages(client.beta.memory_stores.list(limit=1, created_at_gte=created[0].created_at))
    assert all(len(data) == 1 for data in pages)
    seen = [data[0].id for data in pages]
    assert len(seen) == len(set(seen)), "no store appears twice"
    assert [i for i in seen if i in ids] == list(reversed(ids)), "newest first"

    auto = [s.id for s in client.beta.memory_stores.list(limit=1)]
    assert len(auto) == len(set(auto)) and set(ids) <= set(auto)


def test_store_list_created_at_window_is_inclusive(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name="windowed")
    listed = client.beta.memory_stores.list(created_at_gte=store.created_at, created_at_lte=store.created_at)
    assert [s.id for s in listed] == [store.id]


def test_store_archive_refuses_writes_and_hides_from_list(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/kept.md", "kept")
    archived = client.beta.memory_stores.archive(store_id)
    assert archived.archived_at is not None and archived.id == store_id
    again = client.beta.memory_stores.archive(store_id)
    assert again.archived_at == archived.archived_at, "archiving twice changes nothing"

    memories = client.beta.memory_stores.memories
    with pytest.raises(anthropic.BadRequestError):
        memories.create(store_id, path="/new.md", content="refused")
    with pytest.raises(anthropic.BadRequestError):
        memories.update(memory.id, memory_store_id=store_id, content="refused")
    with pytest.raises(anthropic.BadRequestError):
        memories.delete(memory.id, memory_store_id=store_id)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.memory_stores.update(store_id, name="refused")

    assert memories.retrieve(memory.id, memory_store_id=store_id).content == "kept", "reads still work"
    assert all_paths(client, store_id) == ["/kept.md"]
    assert client.beta.memory_stores.retrieve(store_id).name == "sdk memory test"

    default_ids = {s.id for s in client.beta.memory_stores.list(limit=100)}
    with_archived = {s.id for s in client.beta.memory_stores.list(limit=100, include_archived=True)}
    assert store_id not in default_ids
    assert store_id in with_archived


def test_store_delete_removes_memories_and_versions(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name="doomed")
    memory = put(client, store.id, "/gone.md", "gone")
    deleted = client.beta.memory_stores.delete(store.id)
    assert deleted.id == store.id and deleted.type == "memory_store_deleted"

    with pytest.raises(anthropic.NotFoundError):
        client.beta.memory_stores.retrieve(store.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.memory_stores.memories.retrieve(memory.id, memory_store_id=store.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.memory_stores.memory_versions.retrieve(memory.memory_version_id, memory_store_id=store.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.memory_stores.delete(store.id)


def test_explicit_beta_header_is_accepted(client: anthropic.Anthropic, store_id: str) -> None:
    stores = client.beta.memory_stores
    raw = stores.with_raw_response.retrieve(store_id, betas=[BETA])
    assert BETA in raw.http_request.headers["anthropic-beta"].split(",")
    assert raw.parse().id == store_id

    memory = stores.memories.create(store_id, path="/beta.md", content="b", betas=[BETA])
    assert stores.memories.retrieve(memory.id, memory_store_id=store_id, betas=[BETA]).content == "b"
    assert [m.id for m in stores.memories.list(store_id, betas=[BETA])] == [memory.id]
    versions = stores.memory_versions.list(store_id, betas=[BETA])
    assert [v.id for v in versions] == [memory.memory_version_id]


# ---------------------------------------------------------------- memories


def test_memory_create_reports_hash_and_size(client: anthropic.Anthropic, store_id: str) -> None:
    content = "naïve café ☕\n"
    memory = client.beta.memory_stores.memories.create(store_id, path="/notes/today.md", content=content)
    assert memory.type == "memory" and memory.id.startswith("mem_")
    assert memory.memory_store_id == store_id
    assert memory.memory_version_id.startswith("memver_")
    assert memory.path == "/notes/today.md"
    assert memory.content_sha256 == sha256(content)
    assert memory.content_size_bytes == size(content) == 17
    assert memory.content is None, "create defaults to view=basic"
    assert memory.updated_at == memory.created_at

    full = client.beta.memory_stores.memories.create(store_id, path="/notes/full.md", content="", view="full")
    assert full.content == ""
    assert full.content_sha256 == sha256("") and full.content_size_bytes == 0


def test_memory_path_is_normalised_to_nfc(client: anthropic.Anthropic, store_id: str) -> None:
    decomposed = "/cafe\u0301/menu.md"
    composed = unicodedata.normalize("NFC", decomposed)
    assert composed != decomposed
    memory = put(client, store_id, decomposed, "espresso")
    assert memory.path == composed

    with pytest.raises(anthropic.ConflictError) as clash:
        put(client, store_id, composed, "again")
    assert_conflict(clash, "memory_path_conflict_error")
    assert all_paths(client, store_id) == [composed]


def test_memory_content_is_stored_byte_for_byte(client: anthropic.Anthropic, store_id: str) -> None:
    content = "e\u0301 stays decomposed\r\n\ttabs too"
    memory = put(client, store_id, "/raw.txt", content)
    assert memory.content_sha256 == sha256(content)
    assert client.beta.memory_stores.memories.retrieve(memory.id, memory_store_id=store_id).content == content


def test_memory_paths_are_case_sensitive(client: anthropic.Anthropic, store_id: str) -> None:
    lower = put(client, store_id, "/notes.md", "lower")
    upper = put(client, store_id, "/Notes.md", "upper")
    assert lower.id != upper.id
    assert sorted(all_paths(client, store_id)) == ["/Notes.md", "/notes.md"]


def test_memory_retrieve_views(client: anthropic.Anthropic, store_id: str) -> None:
    content = "the full text"
    memory = put(client, store_id, "/doc.md", content)
    memories = client.beta.memory_stores.memories

    default = memories.retrieve(memory.id, memory_store_id=store_id)
    assert default.content == content, "retrieve defaults to view=full"
    full = memories.retrieve(memory.id, memory_store_id=store_id, view="full")
    basic = memories.retrieve(memory.id, memory_store_id=store_id, view="basic")
    assert full.content == content
    assert basic.content is None
    for seen in (default, full, basic):
        assert seen.id == memory.id and seen.path == "/doc.md"
        assert seen.content_sha256 == sha256(content) and seen.content_size_bytes == size(content)
        assert seen.memory_version_id == memory.memory_version_id

    with pytest.raises(anthropic.NotFoundError):
        memories.retrieve("mem_doesnotexist", memory_store_id=store_id)


def test_memory_update_content_and_path(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    memory = put(client, store_id, "/draft.md", "first")

    edited = memories.update(memory.id, memory_store_id=store_id, content="second, longer")
    assert edited.id == memory.id and edited.path == "/draft.md"
    assert edited.content_sha256 == sha256("second, longer")
    assert edited.content_size_bytes == 14
    assert edited.content is None, "update defaults to view=basic"
    assert edited.memory_version_id != memory.memory_version_id
    assert edited.created_at == memory.created_at and edited.updated_at > memory.updated_at

    moved = memories.update(memory.id, memory_store_id=store_id, path="/final/draft.md", view="full")
    assert moved.id == memory.id
    assert moved.path == "/final/draft.md"
    assert moved.content == "second, longer", "a rename keeps the content"
    assert moved.content_sha256 == edited.content_sha256
    assert moved.memory_version_id not in (memory.memory_version_id, edited.memory_version_id)
    assert all_paths(client, store_id) == ["/final/draft.md"]


def test_memory_update_with_stale_precondition_conflicts(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    memory = put(client, store_id, "/counter.md", "1")
    memories.update(memory.id, memory_store_id=store_id, content="2")

    with pytest.raises(anthropic.ConflictError) as stale:
        memories.update(
            memory.id,
            memory_store_id=store_id,
            content="from a stale reader",
            precondition={"type": "content_sha256", "content_sha256": sha256("1")},
        )
    assert_conflict(stale, "memory_precondition_failed_error")
    assert memories.retrieve(memory.id, memory_store_id=store_id).content == "2"

    fresh = memories.update(
        memory.id,
        memory_store_id=store_id,
        content="3",
        precondition={"type": "content_sha256", "content_sha256": sha256("2")},
        view="full",
    )
    assert fresh.content == "3" and fresh.content_sha256 == sha256("3")


def test_memory_rename_onto_existing_path_conflicts(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    keep = put(client, store_id, "/a.md", "a")
    move = put(client, store_id, "/b.md", "b")
    with pytest.raises(anthropic.ConflictError) as clash:
        memories.update(move.id, memory_store_id=store_id, path="/a.md")
    assert_conflict(clash, "memory_path_conflict_error")
    assert memories.retrieve(keep.id, memory_store_id=store_id).content == "a"
    assert memories.retrieve(move.id, memory_store_id=store_id).path == "/b.md"


def test_memory_delete_checks_expected_hash(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    memory = put(client, store_id, "/temp.md", "temporary")

    with pytest.raises(anthropic.ConflictError) as wrong:
        memories.delete(memory.id, memory_store_id=store_id, expected_content_sha256=sha256("something else"))
    assert_conflict(wrong, "memory_precondition_failed_error")
    assert memories.retrieve(memory.id, memory_store_id=store_id).content == "temporary"

    deleted = memories.delete(memory.id, memory_store_id=store_id, expected_content_sha256=sha256("temporary"))
    assert deleted.id == memory.id and deleted.type == "memory_deleted"
    with pytest.raises(anthropic.NotFoundError):
        memories.retrieve(memory.id, memory_store_id=store_id)
    with pytest.raises(anthropic.NotFoundError):
        memories.delete(memory.id, memory_store_id=store_id)
    assert memory_count(client, store_id) == 0


def test_memory_delete_without_hash_is_unconditional(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/any.md", "whatever")
    assert client.beta.memory_stores.memories.delete(memory.id, memory_store_id=store_id).id == memory.id
    assert memory_count(client, store_id) == 0


# ------------------------------------------------------------ memory lists


def test_list_path_prefix_matches_whole_segments(client: anthropic.Anthropic, store_id: str) -> None:
    for path in ["/notes/todo.md", "/notes/sub/deep.md", "/notes-archive/todo.md", "/notesx.md", "/other.md"]:
        put(client, store_id, path)
    assert all_paths(client, store_id, path_prefix="/notes/") == ["/notes/sub/deep.md", "/notes/todo.md"]
    assert all_paths(client, store_id, path_prefix="/nothing/") == []
    everything = all_paths(client, store_id)
    assert everything == sorted(everything) and len(everything) == 5


def test_list_views(client: anthropic.Anthropic, store_id: str) -> None:
    put(client, store_id, "/one.md", "one")
    basic = list(client.beta.memory_stores.memories.list(store_id))
    full = list(client.beta.memory_stores.memories.list(store_id, view="full"))
    assert [m.content for m in basic] == [None], "list defaults to view=basic"
    assert [m.content for m in full] == ["one"]
    assert basic[0].content_sha256 == full[0].content_sha256 == sha256("one")


def test_list_pagination_returns_every_memory_once(client: anthropic.Anthropic, store_id: str) -> None:
    paths = sorted(f"/page/{name}.md" for name in ["g", "a", "e", "c", "b", "f", "d"])
    ids = {put(client, store_id, path, path).id for path in paths}

    first = client.beta.memory_stores.memories.list(store_id, limit=2)
    pages = walk_pages(first)
    assert [len(data) for data in pages] == [2, 2, 2, 1]
    listed = [item for data in pages for item in data]
    assert [m.path for m in listed] == paths, "path order, each once"
    assert {m.id for m in listed} == ids

    auto = list(client.beta.memory_stores.memories.list(store_id, limit=3))
    assert [m.path for m in auto] == paths


TREE = ["/proj/a.md", "/proj/b/1.md", "/proj/b/2.md", "/proj/b/3.md", "/proj/c.md", "/proj/d/e/1.md", "/top.md"]


def items(page_items) -> List[tuple]:
    return [(item.type, item.path) for item in page_items]


def test_list_depth_rolls_up_deeper_memories(client: anthropic.Anthropic, store_id: str) -> None:
    for path in TREE:
        put(client, store_id, path)
    memories = client.beta.memory_stores.memories

    assert items(memories.list(store_id, depth=1)) == [("memory_prefix", "/proj/"), ("memory", "/top.md")]
    assert items(memories.list(store_id, depth=2)) == [
        ("memory", "/proj/a.md"),
        ("memory_prefix", "/proj/b/"),
        ("memory", "/proj/c.md"),
        ("memory_prefix", "/proj/d/"),
        ("memory", "/top.md"),
    ]
    assert items(memories.list(store_id, path_prefix="/proj/", depth=1)) == [
        ("memory", "/proj/a.md"),
        ("memory_prefix", "/proj/b/"),
        ("memory", "/proj/c.md"),
        ("memory_prefix", "/proj/d/"),
    ]
    assert items(memories.list(store_id, depth=20)) == [("memory", p) for p in TREE]


def test_list_depth_pages_never_split_a_roll_up(client: anthropic.Anthropic, store_id: str) -> None:
    for path in TREE:
        put(client, store_id, path)
    first = client.beta.memory_stores.memories.list(store_id, path_prefix="/proj/", depth=1, limit=1)
    pages = walk_pages(first)
    assert [items(data) for data in pages] == [
        [("memory", "/proj/a.md")],
        [("memory_prefix", "/proj/b/")],
        [("memory", "/proj/c.md")],
        [("memory_prefix", "/proj/d/")],
    ]


# ------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "path",
    [
        "/a/../b.md",
        "/a/./b.md",
        "/..",
        "/a//b.md",
        "/dir/",
        "/",
        "",
        "/tab\there.md",
        "/" + "/".join(["s"] * 21),
        "/" + "x" * 1024,
    ],
    ids=["dotdot", "dot", "only-dotdot", "empty-segment", "trailing-slash", "root", "empty", "control",
         "21-segments", "1025-bytes"],
)
def test_bad_path_is_rejected_and_nothing_stored(client: anthropic.Anthropic, store_id: str, path: str) -> None:
    with pytest.raises(anthropic.BadRequestError):
        put(client, store_id, path)
    assert memory_count(client, store_id) == 0
    assert list(client.beta.memory_stores.memory_versions.list(store_id)) == []


def test_path_limits_at_their_edges_are_accepted(client: anthropic.Anthropic, store_id: str) -> None:
    deep = "/" + "/".join(["s"] * 20)
    long = "/" + "x" * 1023
    assert put(client, store_id, deep).path == deep
    assert put(client, store_id, long).path == long
    assert memory_count(client, store_id) == 2


def test_path_without_leading_slash_is_rejected(client: anthropic.Anthropic, store_id: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        put(client, store_id, "notes/today.md")
    assert refused.value.type == "invalid_request_error"
    assert memory_count(client, store_id) == 0


def test_rename_to_bad_path_is_rejected(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/ok.md", "ok")
    with pytest.raises(anthropic.BadRequestError):
        client.beta.memory_stores.memories.update(memory.id, memory_store_id=store_id, path="/x/../ok.md")
    assert all_paths(client, store_id) == ["/ok.md"]


def test_oversized_content_is_rejected_and_nothing_stored(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    kept = put(client, store_id, "/kept.md", "small")

    with pytest.raises(anthropic.BadRequestError):
        put(client, store_id, "/big.md", "a" * (MAX_CONTENT_BYTES + 1))
    # 51,201 two-byte characters: fewer characters than the limit, more bytes.
    with pytest.raises(anthropic.BadRequestError):
        put(client, store_id, "/wide.md", "é" * 51_201)
    assert memory_count(client, store_id) == 1

    with pytest.raises(anthropic.BadRequestError):
        memories.update(kept.id, memory_store_id=store_id, content="a" * (MAX_CONTENT_BYTES + 1))
    after = memories.retrieve(kept.id, memory_store_id=store_id)
    assert after.content == "small" and after.memory_version_id == kept.memory_version_id
    assert len(list(client.beta.memory_stores.memory_versions.list(store_id))) == 1


def test_content_of_exactly_the_limit_is_accepted(client: anthropic.Anthropic, store_id: str) -> None:
    content = "a" * MAX_CONTENT_BYTES
    assert status_of(lambda: put(client, store_id, "/limit.md", content)) == 200
    listed = list(client.beta.memory_stores.memories.list(store_id))
    assert [m.content_size_bytes for m in listed] == [MAX_CONTENT_BYTES]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u200b", "\u202e"], ids=["LS", "PS", "ZWSP", "RLO"])
def test_path_with_separator_or_format_character_is_rejected(
    client: anthropic.Anthropic, store_id: str, char: str
) -> None:
    assert status_of(lambda: put(client, store_id, f"/a{char}b.md")) == 400
    assert memory_count(client, store_id) == 0


def test_path_prefix_without_trailing_slash_never_matches_part_of_a_segment(
    client: anthropic.Anthropic, store_id: str
) -> None:
    put(client, store_id, "/notes/todo.md")
    put(client, store_id, "/notes-archive/todo.md")
    assert status_of(lambda: all_paths(client, store_id, path_prefix="/notes")) == 400
    assert all_paths(client, store_id, path_prefix="/notes/") == ["/notes/todo.md"]


def test_depth_zero_lists_every_memory(client: anthropic.Anthropic, store_id: str) -> None:
    for path in TREE:
        put(client, store_id, path)
    assert status_of(lambda: client.beta.memory_stores.memories.list(store_id, depth=0)) == 200
    assert items(client.beta.memory_stores.memories.list(store_id, depth=0)) == [("memory", p) for p in TREE]


def test_list_full_view_caps_a_page_at_20(client: anthropic.Anthropic, store_id: str) -> None:
    paths = sorted(f"/many/{i:02d}.md" for i in range(21))
    for path in paths:
        put(client, store_id, path, path)
    first = client.beta.memory_stores.memories.list(store_id, view="full", limit=100)
    assert len(first.data) <= 20 and first.next_page
    assert [(m.path, m.content) for m in client.beta.memory_stores.memories.list(store_id, view="full", limit=100)] == [
        (p, p) for p in paths
    ]


# -------------------------------------------------------- memory versions


def test_versions_record_every_change_newest_first(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    versions = client.beta.memory_stores.memory_versions
    memory = put(client, store_id, "/log.md", "v1")
    edited = memories.update(memory.id, memory_store_id=store_id, content="v2")
    moved = memories.update(memory.id, memory_store_id=store_id, path="/archive/log.md")
    put(client, store_id, "/unrelated.md", "other")

    history = list(versions.list(store_id, memory_id=memory.id))
    assert [v.id for v in history] == [moved.memory_version_id, edited.memory_version_id, memory.memory_version_id]
    assert [v.operation for v in history] == ["modified", "modified", "created"]
    assert [v.path for v in history] == ["/archive/log.md", "/log.md", "/log.md"]
    assert [v.content_sha256 for v in history] == [sha256("v2"), sha256("v2"), sha256("v1")]
    assert [v.content_size_bytes for v in history] == [2, 2, 2]
    assert all(v.content is None for v in history), "list defaults to view=basic"
    for v in history:
        assert v.type == "memory_version" and v.memory_id == memory.id and v.memory_store_id == store_id
        assert v.created_by.type == "api_actor" and v.created_by.api_key_id
        assert v.redacted_at is None and v.redacted_by is None

    full = list(versions.list(store_id, memory_id=memory.id, view="full"))
    assert [v.content for v in full] == ["v2", "v2", "v1"]
    assert len(list(versions.list(store_id))) == 4, "the whole store's history"


def test_version_list_pagination(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/busy.md", "0")
    for i in range(1, 5):
        client.beta.memory_stores.memories.update(memory.id, memory_store_id=store_id, content=str(i))
    put(client, store_id, "/noise.md", "noise")

    pages = walk_pages(client.beta.memory_stores.memory_versions.list(store_id, memory_id=memory.id, limit=2))
    assert [len(data) for data in pages] == [2, 2, 1]
    hashes = [v.content_sha256 for data in pages for v in data]
    assert hashes == [sha256(str(i)) for i in (4, 3, 2, 1, 0)]
    ids = [v.id for data in pages for v in data]
    assert len(set(ids)) == 5


def test_version_retrieve_views(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/v.md", "versioned")
    versions = client.beta.memory_stores.memory_versions
    default = versions.retrieve(memory.memory_version_id, memory_store_id=store_id)
    basic = versions.retrieve(memory.memory_version_id, memory_store_id=store_id, view="basic")
    assert default.content == "versioned", "retrieve defaults to view=full"
    assert basic.content is None
    for seen in (default, basic):
        assert seen.id == memory.memory_version_id and seen.operation == "created"
        assert seen.path == "/v.md"
        assert seen.content_sha256 == sha256("versioned") and seen.content_size_bytes == 9
    with pytest.raises(anthropic.NotFoundError):
        versions.retrieve("memver_doesnotexist", memory_store_id=store_id)


def test_redact_blanks_an_old_version(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    versions = client.beta.memory_stores.memory_versions
    memory = put(client, store_id, "/secret.md", "password=hunter2")
    current = memories.update(memory.id, memory_store_id=store_id, content="password=<removed>")

    redacted = versions.redact(memory.memory_version_id, memory_store_id=store_id)
    assert redacted.id == memory.memory_version_id
    assert redacted.redacted_at is not None
    assert redacted.redacted_by.type == "api_actor"
    assert redacted.content is None and redacted.path is None
    assert redacted.content_sha256 is None and redacted.content_size_bytes is None
    assert redacted.operation == "created" and redacted.created_by.type == "api_actor"

    fetched = versions.retrieve(memory.memory_version_id, memory_store_id=store_id, view="full")
    assert fetched.content is None and fetched.path is None and fetched.redacted_at == redacted.redacted_at
    raw = versions.with_raw_response.list(store_id, memory_id=memory.id, view="full").http_response.text
    assert "hunter2" not in raw

    again = versions.redact(memory.memory_version_id, memory_store_id=store_id)
    assert again.redacted_at == redacted.redacted_at, "redacting twice changes nothing"
    live = memories.retrieve(memory.id, memory_store_id=store_id)
    assert live.content == "password=<removed>" and live.memory_version_id == current.memory_version_id


def test_redacting_the_live_version_is_refused(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/live.md", "current")
    versions = client.beta.memory_stores.memory_versions
    with pytest.raises(anthropic.ConflictError) as refused:
        versions.redact(memory.memory_version_id, memory_store_id=store_id)
    assert refused.value.status_code == 409
    assert refused.value.response.headers.get("x-should-retry") == "false"
    intact = versions.retrieve(memory.memory_version_id, memory_store_id=store_id)
    assert intact.redacted_at is None and intact.content == "current"

    client.beta.memory_stores.memories.delete(memory.id, memory_store_id=store_id)
    after = versions.redact(memory.memory_version_id, memory_store_id=store_id)
    assert after.redacted_at is not None, "once the memory is gone its last state can be redacted"


def test_versions_outlive_the_deleted_memory(client: anthropic.Anthropic, store_id: str) -> None:
    memories = client.beta.memory_stores.memories
    versions = client.beta.memory_stores.memory_versions
    memory = put(client, store_id, "/short-lived.md", "brief")
    memories.delete(memory.id, memory_store_id=store_id)

    history = list(versions.list(store_id, memory_id=memory.id))
    assert [v.operation for v in history] == ["deleted", "created"]
    assert history[1].id == memory.memory_version_id
    assert history[0].path == "/short-lived.md"
    kept = versions.retrieve(memory.memory_version_id, memory_store_id=store_id)
    assert kept.content == "brief" and kept.content_sha256 == sha256("brief")


def test_deleted_version_carries_no_content(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/erased.md", "erase me")
    client.beta.memory_stores.memories.delete(memory.id, memory_store_id=store_id)
    deleted = next(iter(client.beta.memory_stores.memory_versions.list(store_id, memory_id=memory.id, view="full")))
    assert deleted.operation == "deleted"
    assert (deleted.content, deleted.content_sha256, deleted.content_size_bytes) == (None, None, None)


def test_version_list_filters_by_operation(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/ops.md", "1")
    client.beta.memory_stores.memories.update(memory.id, memory_store_id=store_id, content="2")
    client.beta.memory_stores.memories.delete(memory.id, memory_store_id=store_id)
    listed = list(client.beta.memory_stores.memory_versions.list(store_id, operation="modified"))
    assert [v.operation for v in listed] == ["modified"]


def test_version_list_full_view_caps_a_page_at_20(client: anthropic.Anthropic, store_id: str) -> None:
    memory = put(client, store_id, "/churn.md", "0")
    for i in range(1, 21):
        client.beta.memory_stores.memories.update(memory.id, memory_store_id=store_id, content=str(i))
    first = client.beta.memory_stores.memory_versions.list(store_id, view="full", limit=100)
    assert len(first.data) <= 20 and first.next_page
    assert len(list(client.beta.memory_stores.memory_versions.list(store_id, view="full", limit=100))) == 21


# ------------------------------------------------------------- isolation


def test_other_tenant_sees_nothing(
    client: anthropic.Anthropic, other_tenant: anthropic.Anthropic, store_id: str
) -> None:
    memory = put(client, store_id, "/private.md", "mine")
    version_id = memory.memory_version_id
    theirs = other_tenant.beta.memory_stores

    refused = {
        "store retrieve": lambda: theirs.retrieve(store_id),
        "store update": lambda: theirs.update(store_id, name="taken"),
        "store archive": lambda: theirs.archive(store_id),
        "store delete": lambda: theirs.delete(store_id),
        "memory create": lambda: theirs.memories.create(store_id, path="/planted.md", content="x"),
        "memory retrieve": lambda: theirs.memories.retrieve(memory.id, memory_store_id=store_id),
        "memory update": lambda: theirs.memories.update(memory.id, memory_store_id=store_id, content="x"),
        "memory list": lambda: theirs.memories.list(store_id),
        "memory delete": lambda: theirs.memories.delete(memory.id, memory_store_id=store_id),
        "version list": lambda: theirs.memory_versions.list(store_id),
        "version retrieve": lambda: theirs.memory_versions.retrieve(version_id, memory_store_id=store_id),
        "version redact": lambda: theirs.memory_versions.redact(version_id, memory_store_id=store_id),
    }
    assert {name: status_of(call) for name, call in refused.items()} == {name: 404 for name in refused}
    assert store_id not in {s.id for s in theirs.list(limit=100, include_archived=True)}

    own = client.beta.memory_stores
    assert own.retrieve(store_id).name == "sdk memory test" and own.retrieve(store_id).archived_at is None
    assert [(m.path, m.content) for m in own.memories.list(store_id, view="full")] == [("/private.md", "mine")]
    assert [v.id for v in own.memory_versions.list(store_id)] == [version_id]


# ------------------------------------------------------------------- search


def search(client: anthropic.Anthropic, store_id: str, query: str, limit: int = 10) -> list:
    answer = client.post(
        f"/v1/memory_stores/{store_id}/search",
        body={"query": query, "limit": limit},
        cast_to=object,
        options={"headers": {"anthropic-beta": "agent-memory-2026-07-22"}},
    )
    return answer["data"]


def test_search_finds_memories_by_keyword_and_paraphrase(client: anthropic.Anthropic, store_id: str) -> None:
    put(client, store_id, "/team/deploy.md", "Deployments run every Tuesday with blue-green switching.")
    put(client, store_id, "/team/lunch.md", "Team lunch is on Fridays; two people are vegetarian.")
    edited = put(client, store_id, "/infra/db.md", "The staging database password rotates monthly.")

    hits = search(client, store_id, "blue-green")
    assert [h["path"] for h in hits][:1] == ["/team/deploy.md"]
    assert hits[0]["type"] == "memory_search_result" and "blue-green" in hits[0]["snippet"]
    assert 0 < hits[0]["score"] <= 1
    assert search(client, store_id, "when do we deploy")[0]["path"] == "/team/deploy.md"

    # The index follows updates at once: the old words no longer match, the new ones do.
    client.beta.memory_stores.memories.update(edited.id, memory_store_id=store_id, content="Backups are kept 35 days.")
    assert "/infra/db.md" not in [h["path"] for h in search(client, store_id, "staging password")]
    top = search(client, store_id, "how long are backups kept", limit=1)
    assert [(h["path"], h["content_sha256"]) for h in top] == [("/infra/db.md", sha256("Backups are kept 35 days."))]


def test_search_rejects_bad_requests(client: anthropic.Anthropic, store_id: str) -> None:
    assert status_of(lambda: search(client, store_id, "   ")) == 400
    assert status_of(lambda: search(client, store_id, "x", limit=0)) == 400
    assert status_of(lambda: search(client, store_id, "x", limit=51)) == 400
    assert status_of(lambda: search(client, "memstore_missing", "x")) == 404


# ------------------------------------------------------------- in sessions


def test_sessions_attach_stores_and_list_by_store(client: anthropic.Anthropic, store_id: str) -> None:
    agent = client.beta.agents.create(name="memory sdk agent", model="claude-sonnet-4-6")
    env = client.beta.environments.create(name="memory sdk env")
    other = client.beta.memory_stores.create(name="other notes", description="Other facts.")
    attached = client.beta.sessions.create(
        agent=agent.id,
        environment_id=env.id,
        resources=[
            {"type": "memory_store", "memory_store_id": store_id, "instructions": "Read first."},
            {"type": "memory_store", "memory_store_id": other.id, "access": "read_only"},
        ],
    )
    client.beta.sessions.create(agent=agent.id, environment_id=env.id)

    stores = [r for r in attached.resources if r.type == "memory_store"]
    assert [(r.memory_store_id, r.access, r.mount_path) for r in stores] == [
        (store_id, "read_write", "/mnt/memory/sdk memory test"),
        (other.id, "read_only", "/mnt/memory/other notes"),
    ]
    assert stores[0].instructions == "Read first." and stores[1].description == "Other facts."
    assert [s.id for s in client.beta.sessions.list(memory_store_id=store_id)] == [attached.id]
    assert [s.id for s in client.beta.sessions.list(memory_store_id=other.id)] == [attached.id]

    # Versions written through the API are not the session's.
    put(client, store_id, "/by-api.md", "api")
    versions = client.beta.memory_stores.memory_versions
    assert list(versions.list(store_id, session_id=attached.id)) == []
    assert len(list(versions.list(store_id, operation="created"))) == 1
    assert status_of(lambda: client.beta.sessions.create(
        agent=agent.id,
        environment_id=env.id,
        resources=[{"type": "memory_store", "memory_store_id": "memstore_missing"}],
    )) == 404
