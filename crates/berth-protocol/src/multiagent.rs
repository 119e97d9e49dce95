//! The optional `multiagent` roster of an agent (contract §4.3): either a `coordinator` list or
//! the `multiagent_20261001` advisor/subagents/workflows form. Requests may name agents loosely
//! (an id string, `{type:"agent", id, version?}`, `{type:"self"}`); responses always pin
//! `{type:"agent", id, version}`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{Validated, ValidationError, check_len};

/// Most agents one roster may name.
pub const MAX_ROSTER: usize = 20;

// ---------------------------------------------------------------- requests

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum MultiagentParam {
    #[serde(rename = "coordinator")]
    Coordinator { agents: Vec<RosterEntryParam> },
    #[serde(rename = "multiagent_20261001")]
    V20261001 {
        #[serde(default)]
        advisor: Option<AdvisorParam>,
        #[serde(default)]
        subagents: Option<GroupParam>,
        #[serde(default)]
        workflows: Option<GroupParam>,
    },
}

/// A roster entry: an agent id string, or one of the tagged forms.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RosterEntryParam {
    Id(String),
    Tagged(TaggedEntryParam),
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaggedEntryParam {
    Agent {
        id: String,
        #[serde(default)]
        version: Option<i64>,
    },
    #[serde(rename = "self")]
    SelfRef,
    Advisor {
        model: String,
    },
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AdvisorParam {
    Enabled { model: String },
    Disabled,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GroupParam {
    Enabled {
        #[serde(default)]
        inline_agents: Option<Toggle>,
        #[serde(default)]
        predefined_agents: Option<Vec<RosterEntryParam>>,
    },
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Toggle {
    Enabled,
    Disabled,
}

// --------------------------------------------------------------- responses

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum Multiagent {
    #[serde(rename = "coordinator")]
    Coordinator { agents: Vec<RosterEntry> },
    #[serde(rename = "multiagent_20261001")]
    V20261001 {
        advisor: Advisor,
        subagents: Group,
        workflows: Group,
    },
}

crate::wire_tag!(
    /// The literal `"agent"`.
    AgentRefTag = "agent"
);
crate::wire_tag!(
    /// The literal `"advisor"`.
    AdvisorTag = "advisor"
);

/// A pinned roster entry: `{type:"agent", id, version}` or `{type:"advisor", model}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RosterEntry {
    Agent(AgentReference),
    Advisor(AdvisorEntry),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentReference {
    #[serde(rename = "type")]
    pub kind: AgentRefTag,
    pub id: String,
    pub version: i64,
}

impl AgentReference {
    pub fn new(id: impl Into<String>, version: i64) -> Self {
        Self {
            kind: AgentRefTag,
            id: id.into(),
            version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdvisorEntry {
    #[serde(rename = "type")]
    pub kind: AdvisorTag,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Advisor {
    Enabled { model: String },
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Group {
    Enabled {
        inline_agents: Toggle,
        predefined_agents: Vec<AgentReference>,
    },
    Disabled,
}

// -------------------------------------------------------------- resolution

impl MultiagentParam {
    /// Every other agent this roster names, so the caller can look up their current versions.
    pub fn referenced_agent_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut push = |entries: &[RosterEntryParam]| {
            for entry in entries {
                match entry {
                    RosterEntryParam::Id(id)
                    | RosterEntryParam::Tagged(TaggedEntryParam::Agent { id, .. }) => {
                        ids.push(id.clone());
                    }
                    _ => {}
                }
            }
        };
        match self {
            MultiagentParam::Coordinator { agents } => push(agents),
            MultiagentParam::V20261001 {
                subagents,
                workflows,
                ..
            } => {
                for group in [subagents, workflows].into_iter().flatten() {
                    if let GroupParam::Enabled {
                        predefined_agents: Some(agents),
                        ..
                    } = group
                    {
                        push(agents);
                    }
                }
            }
        }
        ids.sort();
        ids.dedup();
        ids
    }

    /// Pins every reference. `current_versions` maps each referenced id to its latest version;
    /// an id missing from it does not exist in the tenant. `this_agent` resolves `{type:"self"}`.
    pub fn resolve(
        self,
        this_agent: &AgentReference,
        current_versions: &HashMap<String, i64>,
    ) -> Validated<Multiagent> {
        let pin = |entries: Vec<RosterEntryParam>, field: &str| -> Validated<Vec<RosterEntry>> {
            if entries.len() > MAX_ROSTER {
                return Err(ValidationError::new(
                    field,
                    format!("at most {MAX_ROSTER} agents are allowed"),
                ));
            }
            entries
                .into_iter()
                .enumerate()
                .map(|(i, entry)| {
                    pin_entry(entry, this_agent, current_versions)
                        .map_err(|e| e.within(&format!("{field}[{i}]")))
                })
                .collect()
        };
        Ok(match self {
            MultiagentParam::Coordinator { agents } => {
                if agents.is_empty() {
                    return Err(ValidationError::new(
                        "multiagent.agents",
                        "must name at least one agent",
                    ));
                }
                Multiagent::Coordinator {
                    agents: pin(agents, "multiagent.agents")?,
                }
            }
            MultiagentParam::V20261001 {
                advisor,
                subagents,
                workflows,
            } => {
                let advisor = match advisor {
                    Some(AdvisorParam::Enabled { model }) => {
                        check_len("multiagent.advisor.model", &model, 1, 256)?;
                        Advisor::Enabled { model }
                    }
                    Some(AdvisorParam::Disabled) | None => Advisor::Disabled,
                };
                let group = |g: Option<GroupParam>, field: &str| -> Validated<Group> {
                    Ok(match g {
                        Some(GroupParam::Enabled {
                            inline_agents,
                            predefined_agents,
                        }) => {
                            let pinned = pin(
                                predefined_agents.unwrap_or_default(),
                                &format!("{field}.predefined_agents"),
                            )?;
                            let mut refs = Vec::with_capacity(pinned.len());
                            for (i, entry) in pinned.into_iter().enumerate() {
                                match entry {
                                    RosterEntry::Agent(r) => refs.push(r),
                                    RosterEntry::Advisor(_) => {
                                        return Err(ValidationError::new(
                                            format!("{field}.predefined_agents[{i}]"),
                                            "an advisor cannot be a predefined agent",
                                        ));
                                    }
                                }
                            }
                            Group::Enabled {
                                inline_agents: inline_agents.unwrap_or(Toggle::Disabled),
                                predefined_agents: refs,
                            }
                        }
                        Some(GroupParam::Disabled) | None => Group::Disabled,
                    })
                };
                Multiagent::V20261001 {
                    advisor,
                    subagents: group(subagents, "multiagent.subagents")?,
                    workflows: group(workflows, "multiagent.workflows")?,
                }
            }
        })
    }
}

fn pin_entry(
    entry: RosterEntryParam,
    this_agent: &AgentReference,
    current_versions: &HashMap<String, i64>,
) -> Validated<RosterEntry> {
    let (id, version) = match entry {
        RosterEntryParam::Id(id) => (id, None),
        RosterEntryParam::Tagged(TaggedEntryParam::Agent { id, version }) => (id, version),
        RosterEntryParam::Tagged(TaggedEntryParam::SelfRef) => {
            return Ok(RosterEntry::Agent(this_agent.clone()));
        }
        RosterEntryParam::Tagged(TaggedEntryParam::Advisor { model }) => {
            check_len("model", &model, 1, 256)?;
            return Ok(RosterEntry::Advisor(AdvisorEntry {
                kind: AdvisorTag,
                model,
            }));
        }
    };
    if id == this_agent.id {
        return Ok(RosterEntry::Agent(this_agent.clone()));
    }
    let Some(&latest) = current_versions.get(&id) else {
        return Err(ValidationError::new(
            "id",
            format!("agent \"{id}\" not found"),
        ));
    };
    let version = version.unwrap_or(latest);
    if version < 1 || version > latest {
        return Err(ValidationError::new(
            "version",
            format!("agent \"{id}\" has no version {version}"),
        ));
    }
    Ok(RosterEntry::Agent(AgentReference::new(id, version)))
}
