//! Skills (contract §8.4): a folder of files with a `SKILL.md` at its root whose frontmatter
//! names and describes it; versions replace the file set.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{Validated, ValidationError};

crate::wire_tag!(
    /// The literal `"skill"`.
    SkillTag = "skill"
);
crate::wire_tag!(
    /// The literal `"skill_version"`.
    SkillVersionTag = "skill_version"
);

pub const SKILL_FILE: &str = "SKILL.md";
pub const MAX_SKILL_FILES: usize = 500;
pub const MAX_SKILL_FILE_BYTES: u64 = 25 << 20;
pub const MAX_SKILL_TOTAL_BYTES: u64 = 100 << 20;
pub const MAX_DISPLAY_NAME_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkillSourceKind {
    Custom,
    Anthropic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SkillSourceObject {
    #[serde(rename = "type")]
    pub kind: SkillSourceKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillObject {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: SkillTag,
    pub display_name: String,
    pub latest_version_id: String,
    pub source: SkillSourceObject,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillVersionObject {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: SkillVersionTag,
    pub skill_id: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// What a `SKILL.md` says about its skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillHeader {
    pub name: String,
    pub description: String,
}

fn invalid(message: impl Into<String>) -> ValidationError {
    ValidationError::new("files", message)
}

/// Whether a name is a skill slug: lower-case letters, digits and hyphens, 1–64 characters.
pub fn is_skill_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Reads `name` and `description` from the frontmatter (`---` … `---`, `key: value` lines).
pub fn parse_skill_md(text: &str) -> Validated<SkillHeader> {
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("---") {
        return Err(invalid(
            "SKILL.md must start with a frontmatter block (---) naming the skill",
        ));
    }
    let (mut name, mut description) = (None, None);
    let mut closed = false;
    for line in lines {
        if line.trim() == "---" {
            closed = true;
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            let value = value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_owned();
            match key.trim() {
                "name" => name = Some(value),
                "description" => description = Some(value),
                _ => {}
            }
        }
    }
    if !closed {
        return Err(invalid("SKILL.md's frontmatter is not closed with ---"));
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("SKILL.md's frontmatter has no name"))?;
    if !is_skill_name(&name) {
        return Err(invalid(format!(
            "SKILL.md's name \"{name}\" must be 1-64 lower-case letters, digits or hyphens"
        )));
    }
    let description = description.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid(format!(
            "SKILL.md's description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(SkillHeader { name, description })
}

/// Checks uploaded paths and strips their common top folder: every path is relative, has no
/// `.`/`..`/empty segments, and one of them is `SKILL.md` at the root. Returns the paths inside
/// the skill, in the given order.
pub fn skill_paths(raw: &[String]) -> Validated<Vec<String>> {
    if raw.is_empty() {
        return Err(invalid("at least one file (SKILL.md) is required"));
    }
    if raw.len() > MAX_SKILL_FILES {
        return Err(invalid(format!(
            "a skill holds at most {MAX_SKILL_FILES} files"
        )));
    }
    let mut split: Vec<Vec<&str>> = Vec::with_capacity(raw.len());
    for path in raw {
        let normalized = path.replace('\\', "/");
        if normalized.starts_with('/') || normalized.contains(':') {
            return Err(invalid(format!("{path}: paths must be relative")));
        }
        let parts: Vec<&str> = path.split(['/', '\\']).collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.chars().any(char::is_control))
        {
            return Err(invalid(format!(
                "{path}: paths must not contain empty, '.' or '..' segments"
            )));
        }
        split.push(parts);
    }
    let top = split.first().and_then(|p| p.first()).copied().unwrap_or("");
    let shared_top = split.iter().all(|p| p.len() > 1 && p.first() == Some(&top));
    let inner: Vec<String> = split
        .iter()
        .map(|p| {
            p.get(usize::from(shared_top)..)
                .unwrap_or_default()
                .join("/")
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for path in &inner {
        if !seen.insert(path.as_str()) {
            return Err(invalid(format!("{path} is uploaded twice")));
        }
    }
    if !inner.iter().any(|p| p == SKILL_FILE) {
        return Err(invalid(
            "SKILL.md is required at the root of the skill (or of its single top folder)",
        ));
    }
    Ok(inner)
}

/// The built-in skills: listed, retrievable and attachable, with no files of their own here.
pub const BUILTIN_SKILLS: &[(&str, &str)] = &[
    ("docx", "Word documents"),
    ("pdf", "PDF documents"),
    ("pptx", "PowerPoint presentations"),
    ("xlsx", "Excel spreadsheets"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontmatter_names_and_describes_the_skill() {
        let header =
            parse_skill_md("---\nname: csv-tools\ndescription: \"Work with CSV\"\n---\n# Body")
                .unwrap();
        assert_eq!(
            header,
            SkillHeader {
                name: "csv-tools".into(),
                description: "Work with CSV".into()
            }
        );
        assert!(parse_skill_md("# no frontmatter").is_err());
        assert!(parse_skill_md("---\ndescription: x\n---").is_err());
        assert!(parse_skill_md("---\nname: Bad Name\n---").is_err());
        assert!(parse_skill_md("---\nname: ok\n").is_err());
    }

    #[test]
    fn paths_are_relative_inside_one_folder_with_skill_md() {
        let paths =
            |p: &[&str]| skill_paths(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            paths(&["csv/SKILL.md", "csv/lib/x.py"]).unwrap(),
            ["SKILL.md", "lib/x.py"]
        );
        assert_eq!(paths(&["SKILL.md", "x.py"]).unwrap(), ["SKILL.md", "x.py"]);
        assert!(paths(&["csv/../SKILL.md"]).is_err());
        assert!(paths(&["/etc/SKILL.md"]).is_err());
        assert!(paths(&["csv/x.py"]).is_err(), "no SKILL.md");
        assert!(
            paths(&["a/SKILL.md", "b/x.py"]).is_err(),
            "two top folders leave no root SKILL.md"
        );
        assert!(paths(&["SKILL.md", "SKILL.md"]).is_err());
    }
}
