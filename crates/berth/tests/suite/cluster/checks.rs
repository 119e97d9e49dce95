//! What must hold at the end of a fault run, as lists of problems (empty when all is well):
//! the log of each session, and what its SSE client received compared with that log.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::clients::Followed;

/// Everything wrong with a final log: gaps, duplicates, lost or repeated messages, turns that
/// did not finish.
pub fn log_problems(events: &[Value], texts: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().unwrap_or(-1))
        .collect();
    if seqs != (1..=seqs.len() as i64).collect::<Vec<_>>() {
        problems.push(format!("seq is not gapless from 1: {}", compact(&seqs)));
    }
    let ids: HashSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    if ids.len() != events.len() {
        problems.push(format!(
            "{} events but {} distinct event ids",
            events.len(),
            ids.len()
        ));
    }
    let users: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "user.message")
        .collect();
    if users.len() != texts.len() {
        problems.push(format!(
            "{} user.message events for {} posted messages",
            users.len(),
            texts.len()
        ));
    }
    for text in texts {
        let copies = users
            .iter()
            .filter(|e| e["content"][0]["text"].as_str() == Some(text))
            .count();
        if copies != 1 {
            problems.push(format!("message {text:?} is stored {copies} times"));
        }
    }
    problems.extend(turn_problems(events, texts));
    problems
}

/// Messages not yet processed, and a last turn that has not gone idle.
pub fn turn_problems(events: &[Value], texts: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for text in texts {
        let message = events.iter().find(|e| {
            e["type"] == "user.message" && e["content"][0]["text"].as_str() == Some(text)
        });
        match message {
            None => problems.push(format!("message {text:?} is missing")),
            Some(m) if m["processed_at"].is_null() => {
                problems.push(format!("message {text:?} was never processed"));
            }
            Some(_) => {}
        }
    }
    let last_message = events
        .iter()
        .rposition(|e| e["type"] == "user.message")
        .unwrap_or(0);
    let last_status = events.iter().rposition(|e| {
        e["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("session.status_"))
    });
    match last_status {
        Some(i) if i > last_message && events[i]["type"] == "session.status_idle" => {}
        Some(i) => problems.push(format!(
            "the last status event is {} at seq {} (last message at seq {})",
            events[i]["type"], events[i]["seq"], events[last_message]["seq"]
        )),
        None => problems.push("no status event at all".to_owned()),
    }
    problems
}

/// How an SSE client's frames differ from the log: missing, repeated, out of order, different.
pub fn stream_problems(log: &[Value], followed: &Followed) -> Vec<String> {
    let expected: Vec<(i64, &str)> = log
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap_or(-1),
                e["id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let got: Vec<(i64, &str)> = followed
        .seen
        .iter()
        .map(|s| (s.seq, s.event_id.as_str()))
        .collect();
    let mut problems: Vec<String> = followed.errors.clone();
    if got == expected {
        return problems;
    }
    let seen: Vec<i64> = got.iter().map(|(s, _)| *s).collect();
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for s in &seen {
        *counts.entry(*s).or_default() += 1;
    }
    let missing: Vec<i64> = expected
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| !counts.contains_key(s))
        .collect();
    let mut repeated: Vec<i64> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, _)| *s)
        .collect();
    repeated.sort_unstable();
    let disorder = seen.windows(2).position(|w| w[1] <= w[0]);
    let log_ids: HashMap<i64, &str> = expected.iter().copied().collect();
    let wrong: Vec<i64> = got
        .iter()
        .filter(|(s, id)| log_ids.get(s).is_some_and(|l| l != id))
        .map(|(s, _)| *s)
        .collect();
    let last_kind = followed.seen.last().map_or("", |s| s.kind.as_str());
    problems.push(format!(
        "saw {} frames for {} events over {} connections (last: {last_kind}); missing {}; repeated {}; \
         first out of order at frame {disorder:?}; different event ids at {}",
        got.len(),
        expected.len(),
        followed.connections,
        compact(&missing),
        compact(&repeated),
        compact(&wrong)
    ));
    problems
}

/// A short rendering of a list of numbers.
fn compact(values: &[i64]) -> String {
    if values.len() <= 12 {
        return format!("{values:?}");
    }
    let head: Vec<i64> = values.iter().take(12).copied().collect();
    format!("{head:?}… ({} in all)", values.len())
}
