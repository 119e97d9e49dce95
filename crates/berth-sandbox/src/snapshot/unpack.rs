//! Restoring a snapshot: the archive is unpacked into a fresh staging directory beside the
//! sandbox's trees, then swapped in whole, so a failed restore leaves the files as they were.
//!
//! Nothing is written through a symbolic link: regular files and directories come first, with
//! every parent checked to be a real directory of the staging tree, and links are made only
//! once all of them exist (and only under real directories too).

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::read::GzDecoder;
use tar::{Archive, Entry, EntryType};

use super::view::keeps_link;
use super::walk::trees;
use super::{SnapshotError, SnapshotLimits, TREES, io_at};
use crate::SandboxDirs;

/// Where an archive is unpacked before it replaces the trees, and where the replaced trees
/// wait to be removed: under the sandbox's directory, out of the sandbox's view, on the same
/// file system so the swap is a rename.
const STAGING: &str = ".berth-restore";
const REPLACED: &str = ".berth-replaced";

/// What a restore did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Files, directories and links written.
    pub entries: u64,
    /// Entries refused: unsafe paths, links out of the sandbox's view, hard links, devices,
    /// FIFOs, and paths something else already took.
    pub skipped: u64,
}

/// Replaces the sandbox's `workspace` and `outputs` with the `.tar.gz` read from `input`,
/// giving everything to `owner` (uid, gid) when set. Fails, changing nothing, when the archive
/// is unreadable or holds more than `limits`.
pub fn restore<R: Read>(
    dirs: &SandboxDirs,
    input: R,
    owner: Option<(u32, u32)>,
    limits: SnapshotLimits,
) -> Result<Restored, SnapshotError> {
    let staging = dirs.root.join(STAGING);
    remove_if_present(&staging)?;
    let unpacked = unpack(input, &staging, owner, limits);
    let swapped = unpacked.and_then(|restored| swap_in(dirs, &staging).map(|()| restored));
    let cleaned = remove_if_present(&staging);
    let restored = swapped?;
    cleaned?;
    Ok(restored)
}

fn unpack<R: Read>(
    input: R,
    staging: &Path,
    owner: Option<(u32, u32)>,
    limits: SnapshotLimits,
) -> Result<Restored, SnapshotError> {
    std::fs::create_dir(staging).map_err(io_at(staging))?;
    let mut out = Staging {
        root: staging,
        owner,
        limits,
        bytes: 0,
        done: Restored::default(),
        dirs: Vec::new(),
        links: Vec::new(),
    };
    for tree in TREES {
        out.make_dir(Path::new(tree))?;
    }
    let mut archive = Archive::new(GzDecoder::new(input));
    for entry in archive.entries().map_err(SnapshotError::Archive)? {
        let mut entry = entry.map_err(SnapshotError::Archive)?;
        out.entry(&mut entry)?;
        if out.done.entries + out.done.skipped > limits.entries {
            return Err(SnapshotError::TooManyEntries {
                limit: limits.entries,
            });
        }
    }
    out.finish()
}

/// The plain relative path of an entry inside one of the trees, or `None`.
fn sanitised(path: &Path) -> Option<PathBuf> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let tree = clean.components().next()?;
    TREES
        .iter()
        .any(|t| tree.as_os_str() == *t)
        .then_some(clean)
}

struct Staging<'a> {
    root: &'a Path,
    owner: Option<(u32, u32)>,
    limits: SnapshotLimits,
    bytes: u64,
    done: Restored,
    /// Directories and their permission bits, set once their contents are in.
    dirs: Vec<(PathBuf, u32)>,
    /// Links to make last.
    links: Vec<(PathBuf, PathBuf)>,
}

impl Staging<'_> {
    fn entry<R: Read>(&mut self, entry: &mut Entry<'_, R>) -> Result<(), SnapshotError> {
        let path = entry.path().map_err(SnapshotError::Archive)?;
        let Some(relative) = sanitised(&path) else {
            self.done.skipped += 1;
            return Ok(());
        };
        // The trees' own directories are the sandbox's mount points, made here, never replaced.
        let is_tree = relative.components().count() == 1;
        let mode = entry.header().mode().map_err(SnapshotError::Archive)? & 0o777;
        match entry.header().entry_type() {
            EntryType::Directory if is_tree => {}
            EntryType::Directory => self.directory(relative, mode)?,
            EntryType::Regular | EntryType::Continuous if !is_tree => {
                self.file(entry, &relative, mode)?;
            }
            EntryType::Symlink if !is_tree => {
                match entry.link_name().map_err(SnapshotError::Archive)? {
                    Some(target) if keeps_link(&relative, &target) => {
                        self.links.push((relative, target.into_owned()));
                    }
                    _ => self.done.skipped += 1,
                }
            }
            // PAX global headers carry nothing a snapshot uses.
            EntryType::XGlobalHeader => {}
            _ => self.done.skipped += 1,
        }
        Ok(())
    }

    fn directory(&mut self, relative: PathBuf, mode: u32) -> Result<(), SnapshotError> {
        if !self.parents(&relative)? {
            self.done.skipped += 1;
            return Ok(());
        }
        let host = self.root.join(&relative);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                self.done.skipped += 1;
                return Ok(());
            }
            Err(_) => self.make_dir(&relative)?,
        }
        self.dirs.push((relative, mode));
        self.done.entries += 1;
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut Entry<'_, R>,
        relative: &Path,
        mode: u32,
    ) -> Result<(), SnapshotError> {
        if !self.parents(relative)? {
            self.done.skipped += 1;
            return Ok(());
        }
        let host = self.root.join(relative);
        match std::fs::symlink_metadata(&host) {
            // A later entry for the same path wins, as with `tar -x`.
            Ok(meta) if meta.is_file() => std::fs::remove_file(&host).map_err(io_at(&host))?,
            Ok(_) => {
                self.done.skipped += 1;
                return Ok(());
            }
            Err(_) => {}
        }
        let size = entry.size();
        self.bytes += size;
        if self.bytes > self.limits.bytes {
            return Err(SnapshotError::TooLarge {
                limit: self.limits.bytes,
            });
        }
        let mtime = modified(entry)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&host)
            .map_err(io_at(&host))?;
        let copied = io::copy(&mut entry.take(size), &mut file).map_err(SnapshotError::Archive)?;
        if copied != size {
            return Err(SnapshotError::Archive(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside a file",
            )));
        }
        file.set_modified(mtime).map_err(io_at(&host))?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_at(&host))?;
        self.give(&host)?;
        self.done.entries += 1;
        Ok(())
    }

    /// Makes sure every parent of `relative` is a real directory of the staging tree, making
    /// missing ones; `false` when one is anything else (a file, or a link).
    fn parents(&mut self, relative: &Path) -> Result<bool, SnapshotError> {
        let mut at = PathBuf::new();
        let Some(parent) = relative.parent() else {
            return Ok(false);
        };
        for component in parent.components() {
            at.push(component);
            let host = self.root.join(&at);
            match std::fs::symlink_metadata(&host) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotFound => self.make_dir(&at)?,
                Err(e) => return Err(io_at(&host)(e)),
            }
        }
        Ok(true)
    }

    fn make_dir(&self, relative: &Path) -> Result<(), SnapshotError> {
        let host = self.root.join(relative);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&host)
            .map_err(io_at(&host))?;
        self.give(&host)
    }

    fn give(&self, host: &Path) -> Result<(), SnapshotError> {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::lchown(host, Some(uid), Some(gid)).map_err(io_at(host))?;
        }
        Ok(())
    }

    /// Makes the links, then sets directories' permission bits (deepest first, so a read-only
    /// directory is closed only once its contents are in).
    fn finish(mut self) -> Result<Restored, SnapshotError> {
        for (relative, target) in std::mem::take(&mut self.links) {
            let host = self.root.join(&relative);
            if !self.parents(&relative)? || std::fs::symlink_metadata(&host).is_ok() {
                self.done.skipped += 1;
                continue;
            }
            std::os::unix::fs::symlink(&target, &host).map_err(io_at(&host))?;
            self.give(&host)?;
            self.done.entries += 1;
        }
        for (relative, mode) in self.dirs.iter().rev() {
            let host = self.root.join(relative);
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(*mode))
                .map_err(io_at(&host))?;
        }
        Ok(self.done)
    }
}

/// The entry's modification time, to the nanosecond when a PAX header gives it.
fn modified<R: Read>(entry: &mut Entry<'_, R>) -> Result<SystemTime, SnapshotError> {
    let mut time = Duration::from_secs(entry.header().mtime().unwrap_or(0));
    if let Some(extensions) = entry.pax_extensions().map_err(SnapshotError::Archive)? {
        for extension in extensions.flatten() {
            if extension.key() == Ok("mtime")
                && let Ok(value) = extension.value()
                && let Some(precise) = parse_pax_time(value)
            {
                time = precise;
            }
        }
    }
    Ok(SystemTime::UNIX_EPOCH + time)
}

/// `seconds[.fraction]`, as PAX writes times (negative times are taken as the epoch).
fn parse_pax_time(value: &str) -> Option<Duration> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    let seconds: u64 = seconds.parse().ok()?;
    let digits: String = fraction.chars().take(9).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        let scale = 10u32.pow(9 - digits.len() as u32);
        digits.parse::<u32>().ok()? * scale
    };
    Some(Duration::new(seconds, nanos))
}

/// Moves the staged trees into place and the current ones away, then removes those.
fn swap_in(dirs: &SandboxDirs, staging: &Path) -> Result<(), SnapshotError> {
    let replaced = dirs.root.join(REPLACED);
    remove_if_present(&replaced)?;
    std::fs::create_dir(&replaced).map_err(io_at(&replaced))?;
    for (name, live) in trees(dirs) {
        let staged = staging.join(name);
        let old = replaced.join(name);
        let had_live = live.exists();
        if had_live {
            std::fs::rename(live, &old).map_err(io_at(live))?;
        }
        if let Err(e) = std::fs::rename(&staged, live) {
            if had_live {
                let _ = std::fs::rename(&old, live);
            }
            return Err(io_at(live)(e));
        }
        // The sandbox's mount points, as `prepare_dirs` makes them.
        std::fs::set_permissions(live, std::fs::Permissions::from_mode(0o700))
            .map_err(io_at(live))?;
    }
    remove_if_present(&replaced)
}

fn remove_if_present(path: &Path) -> Result<(), SnapshotError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(path)(e)),
    }
}
