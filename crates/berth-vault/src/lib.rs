//! Secrets at rest: the installation's root secret, keys derived from it for one purpose each
//! (HKDF-SHA256), and AES-256-GCM sealing with associated data; and the encoded forms a secret
//! takes, for redaction.
//!
//! Nothing here touches storage beyond the root-secret file. Callers seal a secret with the key
//! for its purpose and bind it to its row through the associated data (tenant and row ids), so a
//! ciphertext copied to another row fails to open.

mod forms;
mod root;
mod seal;

pub use forms::{MIN_FORM_CHARS, encoded_forms};
pub use root::{RootSecret, RootSecretSource};
pub use seal::{Purpose, SealingKey};

/// What can go wrong with secrets; none of these messages ever contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "BERTH_ROOT_SECRET must be 32 random bytes written as 64 hex characters or as base64 \
         (generate one with `openssl rand -hex 32`): {0}"
    )]
    WeakRootSecret(String),
    #[error("cannot read or write the root secret file {path}: {message}")]
    RootSecretFile { path: String, message: String },
    #[error("the sealed value is corrupt or belongs to another record")]
    OpenFailed,
}
