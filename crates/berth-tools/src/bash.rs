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

#[derive(Deserialize)]
struct Input {
    command: String,
    #[serde(default)]
    timeout: Option<u64>,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "bash".into(),
        description: "Run a shell command in the sandbox. The working directory is /workspace; \
            files there, in /mnt/session/outputs and in /tmp persist between commands, and \
            nothing else is writable. Output (stdout and stderr together) is returned with the \
            exit code. Commands are stopped after `timeout` milliseconds (default 120000, at \
            most 600000); processes left running in the background end with the command."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to run."},
                "timeout": {"type": "number", "description": "Timeout in milliseconds (default 120000, max 600000)."}
            },
            "required": ["command"]
        }),
    }
}

pub(crate) async fn run(
    ctx: &ToolContext,
    input: &Value,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    if input.command.trim().is_empty() {
        return Err(ToolError::new("command must not be empty"));
    }
    let timeout_ms = input
        .timeout
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        .clamp(1, MAX_TIMEOUT_MS);
    let sandbox = ctx.sandbox()?;
    let request = ExecRequest {
        command: input.command,
        timeout: Duration::from_millis(timeout_ms),
        env: Vec::new(),
    };
    let result = sandbox
        .exec(&request, cancel)
        .await
        .map_err(|e| ToolError::new(e.to_string()))?;
    let output = result.output_text();
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
    })
}
