//! Start-up: the data directory and its lock, the root secret, the store, the default tenant and
//! its admin key. Everything an operator can get wrong is reported here with a clear message.

use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_protocol::ids::{new_id, prefix};
use berth_store::{NewApiKey, Store, StoreError, TenantRow};
use berth_store_postgres::{PostgresOptions, PostgresStore};
use berth_store_sqlite::SqliteStore;
use berth_vault::{RootSecret, RootSecretSource, VaultError};

use crate::auth::{KEY_PREFIX, generate_key, key_from_raw};
use crate::config::ServerConfig;
use berth_protocol::time::{micros, now};

/// Operator-provided API keys shorter than this are refused: they would be guessable.
const MIN_PROVIDED_KEY_CHARS: usize = 32;
const SQLITE_FILE: &str = "berth.db";
const LOCK_FILE: &str = "berth.lock";
const ROOT_SECRET_FILE: &str = "root.key";
const DEFAULT_TENANT_META: &str = "default_tenant_id";
const ROOT_SECRET_CHECK_META: &str = "root_secret_check";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use data directory {path}: {message}")]
    DataDir { path: String, message: String },
    #[error(
        "another berth process is already using the data directory {0} (it holds the lock on \
         berth.lock); stop it first, or give this one its own --data-dir"
    )]
    DataDirInUse(String),
    #[error(transparent)]
    RootSecret(#[from] VaultError),
    #[error(
        "BERTH_ROOT_SECRET (or root.key) is not the root secret this database was created with; \
         secrets stored under the old one could not be read. Start with the original secret."
    )]
    RootSecretMismatch,
    #[error("BERTH_API_KEY must be at least {MIN_PROVIDED_KEY_CHARS} characters of random text")]
    WeakApiKey,
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
    #[error("{0}")]
    Config(String),
}

/// What start-up produced for the server to run with.
pub struct Started {
    pub store: Arc<dyn Store>,
    pub root_secret: RootSecret,
    pub default_tenant_id: String,
    /// A key generated for a brand-new installation, to show the operator once.
    pub bootstrap_key: Option<String>,
    /// Held for the life of the process in SQLite mode.
    pub lock: Option<File>,
}

pub async fn start(config: &ServerConfig) -> Result<Started, StartError> {
    prepare_data_dir(&config.data_dir)?;
    let lock = if config.uses_postgres() {
        None
    } else {
        Some(lock_data_dir(&config.data_dir)?)
    };
    let (root_secret, source) = match &config.root_secret {
        Some(text) => (RootSecret::parse(text)?, RootSecretSource::Environment),
        None => RootSecret::load_or_create(&config.data_dir.join(ROOT_SECRET_FILE))?,
    };
    tracing::info!(source = ?source, "root secret loaded");
    let store = open_store(config).await?;
    let check = root_secret.check_value();
    if store
        .meta_get_or_init(ROOT_SECRET_CHECK_META, &check)
        .await?
        != check
    {
        return Err(StartError::RootSecretMismatch);
    }
    let (default_tenant_id, bootstrap_key) =
        ensure_default_tenant(&store, config.api_key.as_deref()).await?;
    Ok(Started {
        store,
        root_secret,
        default_tenant_id,
        bootstrap_key,
        lock,
    })
}

/// Opens the configured store and applies migrations (also what `berth migrate` runs).
pub async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, StartError> {
    Ok(match &config.database_url {
        Some(url) if config.uses_postgres() => {
            let store = PostgresStore::open(&PostgresOptions {
                url: url.clone(),
                max_connections: config.db_max_connections,
                schema: None,
            })
            .await?;
            tracing::info!("using PostgreSQL");
            Arc::new(store)
        }
        _ => {
            let path = config.data_dir.join(SQLITE_FILE);
            let store = SqliteStore::open(&path).await?;
            tracing::info!(path = %path.display(), "using SQLite");
            Arc::new(store)
        }
    })
}

fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    let error = |message: String| StartError::DataDir {
        path: dir.display().to_string(),
        message,
    };
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| error(e.to_string()))?;
    }
    let meta = fs::metadata(dir).map_err(|e| error(e.to_string()))?;
    if !meta.is_dir() {
        return Err(error("it is not a directory".to_owned()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %dir.display(), "data directory is accessible to other users; consider chmod 700");
    }
    Ok(())
}

/// Takes an exclusive lock so a second process cannot open the same SQLite data.
fn lock_data_dir(dir: &Path) -> Result<File, StartError> {
    let path: PathBuf = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StartError::DataDir {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => {
            Err(StartError::DataDirInUse(dir.display().to_string()))
        }
        Err(fs::TryLockError::Error(e)) => Err(StartError::DataDir {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// Makes sure the default tenant exists and that `BERTH_API_KEY` (if given) is its admin key.
/// Returns the tenant id and, for a new installation without `BERTH_API_KEY`, a generated key.
async fn ensure_default_tenant(
    store: &Arc<dyn Store>,
    provided_key: Option<&str>,
) -> Result<(String, Option<String>), StartError> {
    let provided = match provided_key {
        Some(raw) if raw.trim().len() < MIN_PROVIDED_KEY_CHARS => {
            return Err(StartError::WeakApiKey);
        }
        Some(raw) => Some(key_from_raw(raw.trim().to_owned())),
        None => None,
    };
    let tenant_id = store
        .meta_get_or_init(DEFAULT_TENANT_META, &new_id(prefix::TENANT))
        .await?;
    let created_at = micros(now());
    let admin_key = |raw_prefix: String, hash: Vec<u8>, source: &str| NewApiKey {
        id: new_id(prefix::API_KEY),
        tenant_id: tenant_id.clone(),
        name: format!("{source} admin key"),
        prefix: raw_prefix,
        hash,
        is_admin: true,
        source: source.to_owned(),
        created_at,
    };
    if store.get_tenant(&tenant_id).await?.is_none() {
        let tenant = TenantRow {
            id: tenant_id.clone(),
            name: "default".to_owned(),
            created_at,
        };
        let (key, shown) = match &provided {
            Some(k) => (admin_key(k.prefix.clone(), k.hash.clone(), "env"), None),
            None => {
                let generated = generate_key();
                (
                    admin_key(generated.prefix, generated.hash, "bootstrap"),
                    Some(generated.raw),
                )
            }
        };
        match store.create_tenant(&tenant, &key).await {
            Ok(()) => return Ok((tenant_id, shown)),
            // Another replica created it first; fall through to the existing-tenant path.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(k) = provided {
        let id = store
            .upsert_api_key(&admin_key(k.prefix, k.hash, "env"))
            .await?;
        let revoked = store
            .revoke_keys_from_source(&tenant_id, "env", &id, created_at)
            .await?;
        if revoked > 0 {
            tracing::info!(revoked, "revoked previous BERTH_API_KEY values");
        }
    }
    debug_assert!(KEY_PREFIX.starts_with("berth"));
    Ok((tenant_id, None))
}
