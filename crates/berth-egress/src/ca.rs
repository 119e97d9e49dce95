//! The installation's interception CA.
//!
//! To put a secret into an HTTPS request the proxy must read the request, so it answers the
//! sandbox's TLS itself with a certificate for the host, issued on the fly by a CA of this
//! installation. Only sandboxes trust that CA: it is bound read-only into each one (alone and
//! appended to the system bundle), never added to the host's trust store. The key stays in the
//! CA directory (mode 0600) and in this process.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::{
    self, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// Where sandboxes find the system bundle with the CA appended (`SSL_CERT_FILE`,
/// `CURL_CA_BUNDLE`, `REQUESTS_CA_BUNDLE`); bound read-only outside the system directories.
pub const SANDBOX_CA_BUNDLE: &str = "/run/berth/ca-bundle.crt";
/// Where sandboxes find the CA certificate alone (`NODE_EXTRA_CA_CERTS`).
pub const SANDBOX_CA_CERT: &str = "/run/berth/ca.crt";
/// The system bundle, which sandboxes see with the CA appended (for tools that read it
/// directly and ignore `SSL_CERT_FILE`).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

const KEY_FILE: &str = "ca.key";
const CERT_FILE: &str = "ca.crt";
const BUNDLE_FILE: &str = "ca-bundle.crt";

/// Long enough that no installation sees its CA expire; the key never leaves the server.
const CA_VALIDITY_DAYS: i64 = 20 * 365;
/// Host certificates are short-lived and reissued daily, so a cached one is always valid.
const LEAF_VALIDITY_DAYS: i64 = 7;
const LEAF_REUSE: Duration = Duration::from_secs(24 * 3600);
/// Host certificates kept; a sandbox talks to a handful of hosts, an installation to a few
/// hundred at most, and issuing one again costs a millisecond.
const MAX_CACHED_LEAVES: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_owned(),
        source,
    }
}

struct CachedLeaf {
    config: Arc<ServerConfig>,
    issued: Instant,
}

/// The CA and the host certificates it has issued.
pub struct SandboxCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    /// The host paths of the CA certificate and of the bundle, bound into sandboxes.
    cert_path: PathBuf,
    bundle_path: PathBuf,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<String, CachedLeaf>>,
}

impl SandboxCa {
    /// The CA kept in `dir`, created there on first use; the bundle for sandboxes is
    /// (re)written beside it, so it follows updates of the system bundle.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        create_private_dir(dir)?;
        let key_path = dir.join(KEY_FILE);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) => {
                // Whatever happened to the file since, the key is for this process alone.
                std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io_error(&key_path))?;
                KeyPair::from_pem(&pem)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate()?;
                write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
                tracing::info!(path = %key_path.display(), "created the sandboxes' interception CA");
                key
            }
            Err(e) => return Err(io_error(&key_path)(e)),
        };
        Self::with_key(key, dir)
    }

    /// A CA for this process only: the key lives in memory, the certificates in `dir`.
    pub fn ephemeral(dir: &Path) -> Result<Self, CaError> {
        create_private_dir(dir)?;
        Self::with_key(KeyPair::generate()?, dir)
    }

    fn with_key(key: KeyPair, dir: &Path) -> Result<Self, CaError> {
        let params = ca_params(&key);
        let cert_path = dir.join(CERT_FILE);
        // The certificate follows from the key: the subject is derived from it, so a stored
        // certificate and one made again name the same issuer and key identifier, and host
        // certificates chain to whichever a sandbox holds.
        let cert_pem = match std::fs::read_to_string(&cert_path) {
            Ok(pem) if pem.contains("BEGIN CERTIFICATE") => pem,
            _ => {
                let pem = params.self_signed(&key)?.pem();
                write_file(&cert_path, pem.as_bytes(), 0o644)?;
                pem
            }
        };
        let cert_der = pem_certificate(&cert_pem)?;
        let bundle_path = dir.join(BUNDLE_FILE);
        let mut bundle = match std::fs::read(SYSTEM_CA_BUNDLE) {
            Ok(system) => system,
            Err(e) => {
                tracing::warn!(error = %e, "no system CA bundle; sandboxes trust only Berth's CA");
                Vec::new()
            }
        };
        if !bundle.is_empty() && !bundle.ends_with(b"\n") {
            bundle.push(b'\n');
        }
        bundle.extend_from_slice(cert_pem.as_bytes());
        write_file(&bundle_path, &bundle, 0o644)?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_der,
            cert_pem,
            cert_path,
            bundle_path,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            leaves: Mutex::new(HashMap::new()),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    pub fn bundle_path(&self) -> &Path {
        &self.bundle_path
    }

    /// A TLS server configuration presenting a certificate for `host` (a name or an address).
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        {
            let leaves = self.leaves.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(leaf) = leaves.get(&host)
                && leaf.issued.elapsed() < LEAF_REUSE
            {
                return Ok(Arc::clone(&leaf.config));
            }
        }
        let config = Arc::new(self.issue(&host)?);
        let mut leaves = self.leaves.lock().unwrap_or_else(|e| e.into_inner());
        if leaves.len() >= MAX_CACHED_LEAVES
            && let Some(oldest) = leaves
                .iter()
                .min_by_key(|(_, l)| l.issued)
                .map(|(h, _)| h.clone())
        {
            leaves.remove(&oldest);
        }
        leaves.insert(
            host,
            CachedLeaf {
                config: Arc::clone(&config),
                issued: Instant::now(),
            },
        );
        Ok(config)
    }

    fn issue(&self, host: &str) -> Result<ServerConfig, CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![host.to_owned()])?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, host);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(LEAF_VALIDITY_DAYS);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        let chain = vec![cert.der().clone(), self.cert_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        // Only HTTP/1.1 is understood; clients offering h2 fall back to it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The CA's parameters; the subject names the key (see [`SandboxCa::with_key`]).
fn ca_params(key: &KeyPair) -> CertificateParams {
    let digest = Sha256::digest(key.public_key_raw());
    let id = hex::encode(digest.get(..8).unwrap_or_default());
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Berth");
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Berth sandbox egress CA {id}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(CA_VALIDITY_DAYS);
    params
}

fn pem_certificate(pem: &str) -> Result<CertificateDer<'static>, CaError> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| CaError::Tls(rustls::Error::General(format!("the CA certificate: {e}"))))
}

fn create_private_dir(dir: &Path) -> Result<(), CaError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

/// Writes a file whole (through a temporary file and a rename) with the given mode.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io_error(&temporary))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io_error(path))
}
