//! `write`: creates or overwrites a file, making missing directories.

use berth_llm::ToolSpec;
use berth_sandbox::Access;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::disk::check_room;
use crate::files::{on_files, resolve, write_file};
use crate::output::{ToolError, ToolOutput};
use crate::{ToolContext, parse_input};

/// Largest file `write` creates.
pub const MAX_WRITE_BYTES: usize = 16 << 20;

#[derive(Deserialize)]
struct Input {
    file_path: String,
    content: String,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "write".into(),
        description: "Write a file in the sandbox (under /workspace, /mnt/session/outputs or \
            /tmp), replacing it if it exists and creating missing directories."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "Absolute path of the file."},
                "content": {"type": "string", "description": "The whole new content."}
            },
            "required": ["file_path", "content"]
        }),
    }
}

pub(crate) async fn run(ctx: &ToolContext, input: &Value) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    if input.content.len() > MAX_WRITE_BYTES {
        return Err(ToolError::new(format!(
            "content is {} bytes; write takes at most {MAX_WRITE_BYTES}",
            input.content.len()
        )));
    }
    let sandbox = ctx.sandbox()?;
    let bytes = input.content.len();
    check_room(ctx.disk_allowance(&sandbox).await?, bytes as u64)?;
    let shown = on_files(&sandbox, move |view| {
        let resolved = resolve(view, &input.file_path, Access::Write)?;
        write_file(
            &resolved.host,
            input.content.as_bytes(),
            view.owner(),
            &resolved.sandbox,
        )?;
        Ok(resolved.sandbox)
    })
    .await?;
    ctx.record_disk_use(&sandbox).await;
    Ok(ToolOutput::text(format!("Wrote {bytes} bytes to {shown}")))
}
