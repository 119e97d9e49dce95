//! The root secret: 32 random bytes from `BERTH_ROOT_SECRET` or a file generated once.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::VaultError;
use crate::seal::{Purpose, SealingKey};

const SECRET_LEN: usize = 32;
/// A real random 32-byte value has about 30 distinct bytes; fewer than this means a placeholder
/// such as all zeros or a repeated pattern.
const MIN_DISTINCT_BYTES: usize = 12;

/// Where the root secret came from, for the start-up log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSecretSource {
    Environment,
    ExistingFile,
    GeneratedFile,
}

pub struct RootSecret {
    bytes: [u8; SECRET_LEN],
}

impl Drop for RootSecret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl std::fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootSecret(<redacted>)")
    }
}

impl RootSecret {
    /// Parses 64 hex characters or base64 (standard or URL-safe, padded or not) of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        let decoded = Zeroizing::new(decode(text).ok_or_else(|| {
            VaultError::WeakRootSecret(format!(
                "got {} characters that are neither hex nor base64 of 32 bytes",
                text.len()
            ))
        })?);
        let bytes: [u8; SECRET_LEN] = decoded.as_slice().try_into().map_err(|_| {
            VaultError::WeakRootSecret(format!(
                "it decodes to {} bytes, not {SECRET_LEN}",
                decoded.len()
            ))
        })?;
        let mut distinct = [false; 256];
        for b in bytes {
            distinct[usize::from(b)] = true;
        }
        if distinct.iter().filter(|d| **d).count() < MIN_DISTINCT_BYTES {
            return Err(VaultError::WeakRootSecret(
                "it is not random (too few distinct bytes)".to_owned(),
            ));
        }
        Ok(Self { bytes })
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_LEN];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Reads `path`, or creates it with a new secret readable only by its owner (mode 0600).
    pub fn load_or_create(path: &Path) -> Result<(Self, RootSecretSource), VaultError> {
        let file_error = |message: String| VaultError::RootSecretFile {
            path: path.display().to_string(),
            message,
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                let mode = fs::metadata(path)
                    .map_err(|e| file_error(e.to_string()))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        "root secret file was readable by others; restricting it to mode 0600"
                    );
                    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                        .map_err(|e| file_error(e.to_string()))?;
                }
                let text = Zeroizing::new(text);
                Ok((Self::parse(&text)?, RootSecretSource::ExistingFile))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = Self::generate();
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| file_error(e.to_string()))?;
                let encoded = Zeroizing::new(hex::encode(secret.bytes));
                file.write_all(encoded.as_bytes())
                    .and_then(|()| file.write_all(b"\n"))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| file_error(e.to_string()))?;
                Ok((secret, RootSecretSource::GeneratedFile))
            }
            Err(e) => Err(file_error(e.to_string())),
        }
    }

    /// The key for one purpose. Keys for different purposes are unrelated.
    pub fn sealing_key(&self, purpose: Purpose) -> SealingKey {
        SealingKey::new(&self.derive(purpose.info()))
    }

    /// A non-secret fingerprint stored in the database, so a replica started with a different
    /// root secret notices before it writes anything it could never read back.
    pub fn check_value(&self) -> String {
        let derived = self.derive(Purpose::Fingerprint.info());
        hex::encode(&derived[..16])
    }

    fn derive(&self, info: &str) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(b"berth root secret v1"), &self.bytes);
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's output limit, so expansion cannot fail.
        if hk.expand(info.as_bytes(), out.as_mut()).is_err() {
            tracing::error!("HKDF expansion failed");
        }
        out
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    if text.len() == SECRET_LEN * 2 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(text).ok();
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(text) {
            return Some(bytes);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accepts_hex_and_base64() {
        let secret = RootSecret::generate();
        let hex_text = hex::encode(secret.bytes);
        let b64_text = STANDARD.encode(secret.bytes);
        assert_eq!(RootSecret::parse(&hex_text).unwrap().bytes, secret.bytes);
        assert_eq!(RootSecret::parse(&b64_text).unwrap().bytes, secret.bytes);
    }

    #[test]
    fn refuses_weak_values() {
        for weak in [
            "secret",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "abcd",
            &hex::encode([7u8; 16]),
        ] {
            assert!(
                matches!(RootSecret::parse(weak), Err(VaultError::WeakRootSecret(_))),
                "{weak}"
            );
        }
    }

    #[test]
    fn generated_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let (a, source) = RootSecret::load_or_create(&path).unwrap();
        assert_eq!(source, RootSecretSource::GeneratedFile);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (b, source) = RootSecret::load_or_create(&path).unwrap();
        assert_eq!(source, RootSecretSource::ExistingFile);
        assert_eq!(a.check_value(), b.check_value());
    }
}
