"""client.beta.sessions.events: send, list, stream (with deltas) and the session tool runner."""

import asyncio
import os
import threading

import anthropic
from anthropic.lib.sessions import accumulate_managed_agents_event

from conftest import wait_idle


def say(text: str) -> list:
    return [{"type": "user.message", "content": [{"type": "text", "text": text}]}]


def test_send_and_list(client: anthropic.Anthropic, session_ids, fake_model) -> None:
    agent_id, env_id = session_ids
    session = client.beta.sessions.create(agent=agent_id, environment_id=env_id)
    sent = client.beta.sessions.events.send(session.id, events=say("hello"))
    assert len(sent.data) == 1
    assert sent.data[0].type == "user.message"
    assert sent.data[0].id.startswith("sevt_")
    events = wait_idle(client, session.id)
    types = [e.type for e in events]
    assert types == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    assert events[3].content[0].text == "echo: hello"
    assert events[4].model_usage.input_tokens > 0
    assert events[5].stop_reason.type == "end_turn"
    assert events[0].processed_at is not None

    for i in range(3):
        client.beta.sessions.events.send(session.id, events=say(f"more {i}"))
        wait_idle(client, session.id, turns=i + 2)
    paged = list(client.beta.sessions.events.list(session.id, limit=5))
    assert [e.id for e in paged] == [e.id for e in client.beta.sessions.events.list(session.id, limit=1000)]
    assert len(paged) == 24
    only = list(client.beta.sessions.events.list(session.id, types=["agent.message"]))
    assert len(only) == 4 and all(e.type == "agent.message" for e in only)
    newest = client.beta.sessions.events.list(session.id, order="desc", limit=1)
    assert newest.data[0].type == "session.status_idle"
    updated = client.beta.sessions.retrieve(session.id)
    assert updated.usage.input_tokens > 0


def test_stream_with_deltas(client: anthropic.Anthropic, session_ids, fake_model) -> None:
    agent_id, env_id = session_ids
    session = client.beta.sessions.create(agent=agent_id, environment_id=env_id)
    fake_model.push(
        {
            "type": "message",
            "blocks": [
                {"type": "thinking", "thinking": "pondering", "signature": "sig"},
                {"type": "text", "text": "streamed in several pieces"},
            ],
            "stop_reason": "end_turn",
        }
    )
    stream = client.beta.sessions.events.stream(session.id, event_deltas=["agent.message", "agent.thinking"])
    sender = threading.Timer(0.3, lambda: client.beta.sessions.events.send(session.id, events=say("go")))
    sender.start()
    seen = []
    accumulated = None
    for event in stream:
        seen.append(event.type)
        if event.type in ("event_start", "event_delta") and (
            event.type == "event_delta" or event.event.type == "agent.message"
        ):
            accumulated = accumulate_managed_agents_event(accumulated, event)
        if event.type == "agent.message":
            final = event
        if event.type == "session.status_idle":
            break
    stream.close()
    sender.join()
    assert "event_start" in seen and "event_delta" in seen
    assert seen.index("event_start") < seen.index("agent.message")
    assert final.content[0].text == "streamed in several pieces"
    assert accumulated is not None
    assert accumulated.content[0].text == "streamed in several pieces"
    assert accumulated.id == final.id


def test_session_tool_runner(client: anthropic.Anthropic, fake_model) -> None:
    from anthropic.lib.tools import beta_async_tool

    calls = []

    @beta_async_tool
    async def get_weather(city: str) -> str:
        """Weather for a city.

        Args:
            city: The city.
        """
        calls.append(city)
        return f"sunny in {city}"

    agent = client.beta.agents.create(
        name="tool agent",
        model="claude-sonnet-4-6",
        tools=[
            {
                "type": "custom",
                "name": "get_weather",
                "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }
        ],
    )
    env = client.beta.environments.create(name="tool env")
    session = client.beta.sessions.create(agent=agent.id, environment_id=env.id)
    fake_model.push(
        {"type": "tool_use", "id": "toolu_w1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "text", "text": "It is sunny in Oslo."},
    )

    async def run() -> list:
        aclient = anthropic.AsyncAnthropic(
            base_url=os.environ["BERTH_URL"], api_key=os.environ["BERTH_API_KEY"], max_retries=0
        )
        dispatched = []
        await aclient.beta.sessions.events.send(session.id, events=say("weather in Oslo?"))
        async for call in aclient.beta.sessions.events.tool_runner(session.id, tools=[get_weather], max_idle=1.0):
            dispatched.append(call)
        return dispatched

    dispatched = asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert calls == ["Oslo"]
    assert len(dispatched) == 1
    events = wait_idle(client, session.id, turns=2)
    result = [e for e in events if e.type == "user.custom_tool_result"]
    assert len(result) == 1
    last_message = [e for e in events if e.type == "agent.message"][-1]
    assert last_message.content[0].text == "It is sunny in Oslo."
    second_request = fake_model.requests()[-1]
    tool_result = second_request["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result"
    assert "sunny in Oslo" in str(tool_result["content"])
