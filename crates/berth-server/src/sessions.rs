//! Session rules that need the store: resolving the agent a session runs (a version, maybe
//! with overrides), checking its environment, and building its resources.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_protocol::agent::{
    Agent, LATEST_SKILL_VERSION, Skill, SkillSource, check_toolsets_match,
};
use berth_protocol::agent_tools::resolve_tools;
use berth_protocol::environment::Environment;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::session::{
    AgentRefParam, MAX_FILE_RESOURCES, MAX_INSTRUCTIONS_CHARS, MAX_MEMORY_STORE_RESOURCES,
    MemoryAccess, Resource, ResourceParam, SessionAgent, validate_mount_path,
};
use berth_protocol::validation::ValidationError;
use berth_store::Collection;
use chrono::{DateTime, Utc};

use crate::auth::Caller;
use crate::documents::load;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use berth_runtime::memory_mounts::AttachedStore;

/// Resolves the agent reference of a session create into the snapshot the session runs.
pub async fn resolve_agent(
    state: &AppState,
    caller: &Caller,
    agent: AgentRefParam,
) -> ApiResult<SessionAgent> {
    let id = agent.id().to_owned();
    let doc = match agent.version() {
        Some(version) => state
            .store
            .get_agent_version(&caller.tenant_id, &id, version)
            .await?
            .ok_or_else(|| {
                ApiError::not_found("agent version", &format!("{id} version {version}"))
            })?,
        None => state
            .store
            .get_document(Collection::Agents, &caller.tenant_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("agent", &id))?,
    };
    let base: Agent = crate::documents::decode(&doc.body)?;
    if base.archived_at.is_some() && agent.version().is_none() {
        return Err(ApiError::bad_request(format!("agent {id} is archived")));
    }
    let mut snapshot = SessionAgent::from_agent(&base);
    if let AgentRefParam::WithOverrides(overrides) = agent {
        let overrides = *overrides;
        let at = |e: ValidationError| ApiError::from(e.within("agent"));
        if let Some(model) = overrides.model {
            if model.0.id.is_empty() {
                return Err(ApiError::bad_request("agent.model.id: must not be empty"));
            }
            snapshot.model = model.0;
        }
        if let Some(system) = overrides.system.into_change() {
            snapshot.system = system.filter(|s| !s.is_empty());
        }
        if let Some(servers) = overrides.mcp_servers {
            snapshot.mcp_servers = servers;
        }
        let names: Vec<String> = snapshot
            .mcp_servers
            .iter()
            .map(|s| s.name.clone())
            .collect();
        if let Some(tools) = overrides.tools {
            snapshot.tools = resolve_tools(tools, &names).map_err(at)?;
        }
        check_toolsets_match(&snapshot.tools, &names).map_err(at)?;
        if let Some(skills) = overrides.skills {
            snapshot.skills = skills
                .into_iter()
                .map(|s| Skill {
                    kind: s.kind,
                    skill_id: s.skill_id,
                    version: s
                        .version
                        .and_then(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .or_else(|| v.as_u64().map(|n| n.to_string()))
                        })
                        .unwrap_or_else(|| LATEST_SKILL_VERSION.to_owned()),
                })
                .collect();
            if snapshot.skills.iter().any(|s| {
                s.kind == SkillSource::Custom
                    && !berth_protocol::ids::has_prefix(&s.skill_id, prefix::SKILL)
            }) {
                return Err(ApiError::bad_request(
                    "agent.skills: custom skills need a skill_… id",
                ));
            }
        }
    }
    Ok(snapshot)
}

/// The environment a new session will run in; archived ones are refused.
pub async fn check_environment(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<Environment> {
    let (_, env) = load::<Environment>(
        &*state.store,
        Collection::Environments,
        &caller.tenant_id,
        id,
        "environment",
    )
    .await?;
    if env.archived_at.is_some() {
        return Err(
            ApiError::bad_request(format!("environment {id} is archived"))
                .with_code("environment_archived"),
        );
    }
    Ok(env)
}

/// Checks what a new session's resources refer to before anything is stored: file resources
/// get their mount paths, memory stores must be live stores of the tenant (their names,
/// descriptions and mount folders are returned by id).
pub async fn check_resources(
    state: &AppState,
    caller: &Caller,
    mut params: Vec<ResourceParam>,
) -> ApiResult<(Vec<ResourceParam>, HashMap<String, AttachedStore>)> {
    for (i, param) in params.iter_mut().enumerate() {
        if let ResourceParam::File {
            file_id,
            mount_path,
        } = param
        {
            let at = format!("resources[{i}]");
            let path = prepare_file_resource(state, caller, &at, file_id, mount_path.take());
            *mount_path = Some(path.await?);
        }
    }
    let stores = crate::memory_attach::attached_stores(state, caller, &params).await?;
    Ok((params, stores))
}

/// Checks that a file resource names a file of the tenant and gives it its mount path: the one
/// asked for (under `/workspace` or `/mnt`, not the outputs folder), or
/// `/mnt/session/uploads/<file_id>/<filename>`.
pub async fn prepare_file_resource(
    state: &AppState,
    caller: &Caller,
    at: &str,
    file_id: &str,
    mount_path: Option<String>,
) -> ApiResult<String> {
    if let Some(path) = &mount_path {
        check_file_mount_path(at, path)?;
    }
    let row = state
        .store
        .get_file(
            &caller.tenant_id,
            file_id,
            berth_protocol::time::micros(berth_protocol::time::now()),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("file", file_id))?;
    let file = berth_runtime::files::object_of(&row)?;
    let mount_path =
        mount_path.unwrap_or_else(|| format!("/mnt/session/uploads/{file_id}/{}", file.filename));
    check_file_mount_path(at, &mount_path)?;
    Ok(mount_path)
}

/// Mount points the sandbox itself uses: a file may be mounted neither at one of them, nor
/// above one (which would hide it), nor inside the trees Berth fills (outputs, skills, memory).
const RESERVED_MOUNTS: &[(&str, bool)] = &[
    // (mount point, whether everything under it is reserved too)
    ("/mnt/session/outputs", true),
    ("/mnt/session/uploads", false),
    (berth_runtime::mounts::SKILLS_MOUNT, true),
    (berth_runtime::memory_mounts::MEMORY_MOUNT, true),
];

/// Where a file resource may be mounted.
fn check_file_mount_path(at: &str, mount_path: &str) -> ApiResult<()> {
    validate_mount_path(&format!("{at}.mount_path"), mount_path)?;
    if !(mount_path.starts_with("/workspace/") || mount_path.starts_with("/mnt/")) {
        return Err(ApiError::bad_request(format!(
            "{at}.mount_path: files can be mounted under /workspace/ or /mnt/"
        )));
    }
    let path = mount_path.trim_end_matches('/');
    for (reserved, whole_tree) in RESERVED_MOUNTS {
        let above = reserved.starts_with(&format!("{path}/"));
        let inside = path.starts_with(&format!("{reserved}/"));
        if path == *reserved || above || (*whole_tree && inside) {
            return Err(ApiError::bad_request(format!(
                "{at}.mount_path: {mount_path} is reserved: the sandbox uses {reserved}{}",
                if *whole_tree {
                    " and everything under it"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}

/// Builds the resources of a new session. Repository tokens are sealed into the returned map
/// (resource id → sealed token, base64) and never appear in the resource itself.
pub fn build_resources(
    state: &AppState,
    caller: &Caller,
    session_id: &str,
    params: Vec<ResourceParam>,
    stores: &HashMap<String, AttachedStore>,
    now: DateTime<Utc>,
) -> ApiResult<(Vec<Resource>, BTreeMap<String, String>)> {
    let files = params
        .iter()
        .filter(|r| matches!(r, ResourceParam::File { .. }))
        .count();
    if files > MAX_FILE_RESOURCES {
        return Err(ApiError::bad_request(format!(
            "resources: at most {MAX_FILE_RESOURCES} file resources are allowed"
        )));
    }
    let store_count = params
        .iter()
        .filter(|r| matches!(r, ResourceParam::MemoryStore { .. }))
        .count();
    if store_count > MAX_MEMORY_STORE_RESOURCES {
        return Err(ApiError::bad_request(format!(
            "resources: at most {MAX_MEMORY_STORE_RESOURCES} memory stores are allowed"
        )));
    }
    let mut resources = Vec::with_capacity(params.len());
    let mut tokens = BTreeMap::new();
    let mut mounts: Vec<String> = Vec::new();
    for (i, param) in params.into_iter().enumerate() {
        let at = format!("resources[{i}]");
        let id = new_id(prefix::RESOURCE);
        let resource = match param {
            ResourceParam::File {
                file_id,
                mount_path,
            } => {
                if !berth_protocol::ids::has_prefix(&file_id, prefix::FILE) {
                    return Err(ApiError::bad_request(format!(
                        "{at}.file_id: must be a file id (file_…)"
                    )));
                }
                let mount_path =
                    mount_path.unwrap_or_else(|| format!("/mnt/session/uploads/{file_id}"));
                validate_mount_path(&format!("{at}.mount_path"), &mount_path)?;
                Resource::File {
                    id: id.clone(),
                    file_id,
                    mount_path,
                    created_at: now,
                    updated_at: now,
                }
            }
            ResourceParam::GithubRepository {
                url,
                authorization_token,
                checkout,
                mount_path,
            } => {
                berth_protocol::agent::validate_http_url(&url)
                    .map_err(|e| ApiError::from(e.within(&format!("{at}.url"))))?;
                if !url.starts_with("https://") {
                    return Err(ApiError::bad_request(format!(
                        "{at}.url: must be an https:// URL"
                    )));
                }
                if let Some(checkout) = &checkout {
                    let ok =
                        match checkout.get("type").and_then(|t| t.as_str()) {
                            Some("branch") => checkout
                                .get("name")
                                .and_then(|n| n.as_str())
                                .is_some_and(|n| !n.is_empty()),
                            Some("commit") => checkout
                                .get("sha")
                                .and_then(|n| n.as_str())
                                .is_some_and(|s| {
                                    s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit())
                                }),
                            _ => false,
                        };
                    if !ok {
                        return Err(ApiError::bad_request(format!(
                            "{at}.checkout: must be {{\"type\":\"branch\",\"name\"}} or {{\"type\":\"commit\",\"sha\"}}"
                        )));
                    }
                }
                let repo = url
                    .trim_end_matches('/')
                    .trim_end_matches(".git")
                    .rsplit('/')
                    .next()
                    .unwrap_or("repo")
                    .to_owned();
                let mount_path = mount_path.unwrap_or_else(|| format!("/workspace/{repo}"));
                validate_mount_path(&format!("{at}.mount_path"), &mount_path)?;
                if let Some(token) = authorization_token.filter(|t| !t.is_empty()) {
                    let aad = format!("{}|{session_id}|{id}", caller.tenant_id);
                    let sealed = state
                        .runtime
                        .session_secrets
                        .seal(token.as_bytes(), aad.as_bytes());
                    tokens.insert(id.clone(), STANDARD.encode(sealed));
                }
                Resource::GithubRepository {
                    id: id.clone(),
                    url,
                    mount_path,
                    checkout,
                    created_at: now,
                    updated_at: now,
                }
            }
            ResourceParam::MemoryStore {
                memory_store_id,
                access,
                instructions,
            } => {
                if !berth_protocol::ids::has_prefix(&memory_store_id, prefix::MEMORY_STORE) {
                    return Err(ApiError::bad_request(format!(
                        "{at}.memory_store_id: must be a memory store id (memstore_…)"
                    )));
                }
                if let Some(text) = &instructions
                    && text.chars().count() > MAX_INSTRUCTIONS_CHARS
                {
                    return Err(ApiError::bad_request(format!(
                        "{at}.instructions: must be at most {MAX_INSTRUCTIONS_CHARS} characters"
                    )));
                }
                let duplicate = resources.iter().any(|r| matches!(r, Resource::MemoryStore { memory_store_id: m, .. } if *m == memory_store_id));
                if duplicate {
                    return Err(ApiError::bad_request(format!(
                        "{at}: memory store {memory_store_id} is attached twice"
                    )));
                }
                let attached = stores.get(&memory_store_id);
                Resource::MemoryStore {
                    id: id.clone(),
                    access: access.unwrap_or(MemoryAccess::ReadWrite),
                    instructions,
                    name: attached.map(|s| s.name.clone()),
                    description: attached.map(|s| s.description.clone()),
                    mount_path: attached.map(|s| s.mount_path.clone()),
                    memory_store_id,
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        let mount = match &resource {
            Resource::File { mount_path, .. } | Resource::GithubRepository { mount_path, .. } => {
                Some(mount_path.clone())
            }
            Resource::MemoryStore { .. } => None,
        };
        if let Some(mount) = mount {
            if mounts.contains(&mount) {
                return Err(ApiError::bad_request(format!(
                    "{at}.mount_path: {mount} is used by another resource"
                )));
            }
            mounts.push(mount);
        }
        resources.push(resource);
    }
    Ok((resources, tokens))
}

#[cfg(test)]
mod mount_path_tests {
    use super::check_file_mount_path;

    #[test]
    fn reserved_mount_points_and_their_parents_are_refused() {
        for bad in [
            "/mnt/session",
            "/mnt/session/",
            "/mnt/session/outputs",
            "/mnt/session/outputs/a.txt",
            "/mnt/session/uploads",
            "/mnt/skills",
            "/mnt/skills/x/SKILL.md",
            "/mnt/memory/notes",
            "/mnt",
            "/etc/passwd",
            "/tmp/x",
        ] {
            assert!(check_file_mount_path("r", bad).is_err(), "{bad}");
        }
        for good in [
            "/workspace/data.csv",
            "/mnt/data/input.csv",
            "/mnt/session/uploads/file_1/a.txt",
            "/mnt/sessions/x",
        ] {
            assert!(check_file_mount_path("r", good).is_ok(), "{good}");
        }
    }
}
