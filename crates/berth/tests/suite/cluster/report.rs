//! The summary printed after a fault run: the faults in the order they happened, and what the
//! posting and streaming clients went through.

use std::fmt::Write as _;
use std::time::Duration;

use super::clients::{Followed, PostOutcome};
use super::proxy::DbProxy;
use super::{Chaos, DATABASE_DOWN};

/// The kills and the database restart, in the order they happened.
pub(super) fn describe_faults(out: &mut String, chaos: &Chaos, proxy: Option<&DbProxy>) {
    let running = |mid_turn: bool| {
        if mid_turn {
            "mid-turn"
        } else {
            "no turn was running"
        }
    };
    let mut lines: Vec<(Duration, String)> = chaos
        .kills
        .iter()
        .map(|kill| {
            let after = match kill.restarted_at {
                Some(at) => format!("restarted at {at:.2?}"),
                None => "left dead".to_owned(),
            };
            let line = format!(
                "  kill -9 of slot {} at {:.2?} ({}), {after}\n",
                kill.slot,
                kill.at,
                running(kill.mid_turn)
            );
            (kill.at, line)
        })
        .collect();
    if let (Some(restart), Some(proxy)) = (&chaos.database, proxy) {
        let line = format!(
            "  database restart at {:.2?} ({}): {} connections reset, down for {DATABASE_DOWN:?} \
             ({} connection attempts reset meanwhile); {} connections relayed in all\n",
            restart.at,
            running(restart.mid_turn),
            restart.cut,
            proxy.refused(),
            proxy.accepted()
        );
        lines.push((restart.at, line));
    }
    lines.sort_by_key(|(at, _)| *at);
    for (_, line) in lines {
        out.push_str(&line);
    }
}

pub(super) fn describe_run(
    out: &mut String,
    outcomes: &[PostOutcome],
    followed: &[Option<Followed>],
    posted_at: Duration,
    quiet_at: Duration,
    model_turns: usize,
) {
    let ambiguous: usize = outcomes.iter().map(|o| o.ambiguous).sum();
    let stored: usize = outcomes.iter().map(|o| o.stored_anyway).sum();
    let server_errors: usize = outcomes.iter().map(|o| o.server_errors).sum();
    let _ = writeln!(
        out,
        "  {} messages posted by {posted_at:.2?}; {ambiguous} attempts failed without an answer \
         ({server_errors} of them 5xx), {stored} of them stored anyway",
        outcomes.len()
    );
    let _ = writeln!(
        out,
        "  quiet (or gave up) at {quiet_at:.2?}; {model_turns} model requests streamed"
    );
    let present: Vec<&Followed> = followed.iter().flatten().collect();
    let _ = writeln!(
        out,
        "  SSE: {} clients, {} connections, {} switched on purpose, {} streams ended with their \
         replica up; {} reconnected while the database was down, refused {} times meanwhile",
        followed.len(),
        present.iter().map(|f| f.connections).sum::<usize>(),
        present.iter().filter(|f| f.switched_on_purpose).count(),
        present.iter().map(|f| f.ended_while_up).sum::<usize>(),
        present
            .iter()
            .filter(|f| f.reconnected_while_database_down)
            .count(),
        present
            .iter()
            .map(|f| f.refused_while_database_down)
            .sum::<usize>()
    );
}
