//! `bash`: runs a command in the session's sandbox (`/bin/sh -c`, working directory
//! `/workspace`) and returns `exit=<code>` and its combined output.

use std::time::Duration;

use berth_llm::ToolSpec;
use berth_sandbox::{Ended, ExecRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::output::{ToolError, ToolOutput};
use crate::{ToolContext, parse_input};

pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// The hosted toolset's input (`command`, `restart`, `timeout_ms`); `timeout` (milliseconds,
/// as the Open Managed Agents reference names it) is accepted too.
#[derive(Deserialize)]
struct Input {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    restart: Option<bool>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    timeout: Option<u64>,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "bash".into(),
        description: "Run a shell command in the sandbox. The working directory is /workspace; \
            files there, in /mnt/session/outputs and in /tmp persist between commands, and \
            nothing else is writable. Output (stdout and stderr together) is returned with the \
            exit code. Commands are stopped after `timeout_ms` milliseconds (default 120000, \
            at most 600000); processes left running in the background end with the command. \
            Each command starts afresh in /workspace: `cd` and variables do not carry over."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to run."},
                "restart": {"type": "boolean", "description": "Start a fresh shell instead of running a command."},
                "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds (default 120000, max 600000)."}
            }
        }),
    }
}

pub(crate) async fn run(
    ctx: &ToolContext,
    input: &Value,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    let command = input.command.unwrap_or_default();
    if command.trim().is_empty() {
        if input.restart == Some(true) {
            // Every command already starts in a fresh shell.
            return Ok(ToolOutput::text("bash session restarted"));
        }
        return Err(ToolError::new("command is required"));
    }
    let timeout_ms = input
        .timeout_ms
        .or(input.timeout)
        .filter(|t| *t > 0)
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        .min(MAX_TIMEOUT_MS);
    let sandbox = ctx.sandbox()?;
    let request = ExecRequest {
        command,
        timeout: Duration::from_millis(timeout_ms),
        env: Vec::new(),
        disk: ctx.disk_allowance(&sandbox).await?,
    };
    let result = sandbox
        .exec(&request, cancel)
        .await
        .map_err(|e| ToolError::new(e.to_string()))?;
    ctx.record_disk_use(&sandbox).await;
    let mut output = result.output_text();
    for hit in &result.limits_hit {
        output.push_str(&format!("\n[berth: {hit}]"));
    }
    let seconds = timeout_ms as f64 / 1000.0;
    Ok(match result.ended {
        Ended::Exited => ToolOutput::text(format!("exit={}\n{output}", result.exit_code)),
        Ended::TimedOut => ToolOutput::failed_text(format!(
            "exit={}\nCommand timed out after {seconds}s and was stopped\n{output}",
            result.exit_code
        )),
        Ended::OutputLimit => ToolOutput::failed_text(format!(
            "exit={}\nCommand printed more than {} MiB and was stopped\n{output}",
            result.exit_code,
            berth_sandbox::MAX_OUTPUT_BYTES >> 20
        )),
        Ended::Interrupted => ToolOutput::failed_text(format!(
            "exit={}\nCommand was interrupted\n{output}",
            result.exit_code
        )),
        Ended::DiskQuota => ToolOutput::failed_text(format!(
            "exit={}\nCommand was stopped: the session's files passed their disk quota\n{output}",
            result.exit_code
        )),
    })
}
