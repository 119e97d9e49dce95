//! AES-256-GCM sealing under a purpose-specific key.
//!
//! Sealed format: `0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)`. The leading
//! version byte leaves room for a future algorithm or key rotation.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::VaultError;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// What a derived key is for. Each purpose yields an unrelated key, so a ciphertext of one kind
/// can never be opened as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Model-card API keys.
    ModelCardKeys,
    /// Vault credential secrets.
    VaultCredentials,
    /// Secrets given with a session (repository tokens).
    SessionSecrets,
    /// The stored fingerprint of the root secret.
    Fingerprint,
}

impl Purpose {
    pub(crate) fn info(self) -> &'static str {
        match self {
            Purpose::ModelCardKeys => "berth/v1/model-card-keys",
            Purpose::VaultCredentials => "berth/v1/vault-credentials",
            Purpose::SessionSecrets => "berth/v1/session-secrets",
            Purpose::Fingerprint => "berth/v1/root-secret-fingerprint",
        }
    }
}

#[derive(Clone)]
pub struct SealingKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    pub(crate) fn new(key: &Zeroizing<[u8; 32]>) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.as_ref().into()),
        }
    }

    /// Encrypts `plaintext`, binding it to `associated_data` (e.g. `tenant|vault|credential`).
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: associated_data,
        };
        // Encryption only fails for messages beyond AES-GCM's 64 GiB limit.
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value sealed with [`SealingKey::seal`] under the same associated data.
    pub fn open(
        &self,
        sealed: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let (version, rest) = sealed.split_first().ok_or(VaultError::OpenFailed)?;
        if *version != VERSION || rest.len() < NONCE_LEN + 16 {
            return Err(VaultError::OpenFailed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::OpenFailed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::RootSecret;

    #[test]
    fn seal_and_open_round_trip() {
        let key = RootSecret::generate().sealing_key(Purpose::VaultCredentials);
        let sealed = key.seal(b"token-123", b"tn_1|vlt_1|vcrd_1");
        assert!(!sealed.windows(9).any(|w| w == b"token-123"));
        let opened = key.open(&sealed, b"tn_1|vlt_1|vcrd_1").unwrap();
        assert_eq!(opened.as_slice(), b"token-123");
    }

    #[test]
    fn moved_ciphertext_fails_to_open() {
        let key = RootSecret::generate().sealing_key(Purpose::VaultCredentials);
        let sealed = key.seal(b"token-123", b"tn_1|vlt_1|vcrd_1");
        assert!(key.open(&sealed, b"tn_2|vlt_1|vcrd_1").is_err());
    }

    #[test]
    fn purposes_do_not_share_keys() {
        let root = RootSecret::generate();
        let sealed = root.sealing_key(Purpose::ModelCardKeys).seal(b"x", b"aad");
        assert!(
            root.sealing_key(Purpose::VaultCredentials)
                .open(&sealed, b"aad")
                .is_err()
        );
    }
}
