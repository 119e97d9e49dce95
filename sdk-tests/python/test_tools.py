"""Built-in tools through the official SDK: confirmations of `always_ask` tools, and the SDK's
session tool runner serving a self-hosted environment with the SDK's own agent toolset."""

import asyncio
import os
import tempfile

import anthropic
from anthropic.lib.tools.agent_toolset import AgentToolContext, beta_agent_toolset_20260401

from conftest import wait_idle


def say(text: str) -> list:
    return [{"type": "user.message", "content": [{"type": "text", "text": text}]}]


def test_always_ask_confirmation(client: anthropic.Anthropic, fake_model) -> None:
    agent = client.beta.agents.create(
        name="careful agent",
        model="claude-sonnet-4-6",
        tools=[
            {
                "type": "agent_toolset_20260401",
                "configs": [{"name": "bash", "permission_policy": {"type": "always_ask"}}],
            }
        ],
    )
    env = client.beta.environments.create(name="sdk tools env")
    session = client.beta.sessions.create(agent=agent.id, environment_id=env.id)
    fake_model.push(
        {"type": "tool_use", "id": "toolu_c1", "name": "bash", "input": {"command": "echo confirmed"}},
        {"type": "text", "text": "Ran it."},
    )
    client.beta.sessions.events.send(session.id, events=say("run echo"))
    events = wait_idle(client, session.id)
    call = next(e for e in events if e.type == "agent.tool_use")
    assert call.evaluated_permission == "ask"
    assert call.evaluation.type == "always_ask"
    idle = [e for e in events if e.type == "session.status_idle"][-1]
    assert idle.stop_reason.type == "requires_action"
    assert idle.stop_reason.event_ids == [call.id]

    client.beta.sessions.events.send(
        session.id, events=[{"type": "user.tool_confirmation", "tool_use_id": call.id, "result": "allow"}]
    )
    events = wait_idle(client, session.id, turns=2)
    result = next(e for e in events if e.type == "agent.tool_result")
    assert result.tool_use_id == call.id
    assert result.content[0].text == "exit=0\nconfirmed\n"
    assert [e for e in events if e.type == "agent.message"][-1].content[0].text == "Ran it."


def test_session_tool_runner_serves_a_self_hosted_environment(client: anthropic.Anthropic, fake_model) -> None:
    agent = client.beta.agents.create(
        name="worker agent", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
    )
    env = client.beta.environments.create(name="self hosted", config={"type": "self_hosted"})
    session = client.beta.sessions.create(agent=agent.id, environment_id=env.id)
    fake_model.push(
        {"type": "tool_use", "id": "toolu_s1", "name": "write", "input": {"file_path": "hello.txt", "content": "from the worker"}},
        {"type": "tool_use", "id": "toolu_s2", "name": "bash", "input": {"command": "cat hello.txt"}},
        {"type": "text", "text": "The worker wrote it."},
    )

    async def run(workdir: str) -> list:
        aclient = anthropic.AsyncAnthropic(
            base_url=os.environ["BERTH_URL"], api_key=os.environ["BERTH_API_KEY"], max_retries=0
        )
        dispatched = []
        ctx = AgentToolContext(workdir=workdir)
        await aclient.beta.sessions.events.send(session.id, events=say("write a file"))
        async for call in aclient.beta.sessions.events.tool_runner(
            session.id, tools=beta_agent_toolset_20260401(ctx), max_idle=1.0
        ):
            dispatched.append(call)
        return dispatched

    with tempfile.TemporaryDirectory() as workdir:
        dispatched = asyncio.run(asyncio.wait_for(run(workdir), timeout=60))
        with open(os.path.join(workdir, "hello.txt")) as f:
            assert f.read() == "from the worker"
    assert [c.name for c in dispatched] == ["write", "bash"]
    assert all(c.posted and not c.is_error for c in dispatched)
    events = wait_idle(client, session.id, turns=3)
    results = [e for e in events if e.type == "user.tool_result"]
    assert len(results) == 2
    assert [e for e in events if e.type == "agent.message"][-1].content[0].text == "The worker wrote it."
    last_request = fake_model.requests()[-1]
    assert "from the worker" in str(last_request["messages"][-1]["content"])
