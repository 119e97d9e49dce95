//! Writing a sandbox's files as a gzip-compressed tar archive, streamed: nothing but one read
//! buffer is held, whatever the size of the tree.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{Builder, EntryType, Header};

use super::walk::{Item, Kind, walk};
use super::{SnapshotError, SnapshotLimits, io_at};
use crate::SandboxDirs;

/// What went into an archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Packed {
    /// Bytes of file contents.
    pub bytes: u64,
    pub entries: u64,
    /// FIFOs, sockets and devices left out.
    pub skipped: u64,
}

/// Writes the sandbox's `workspace` and `outputs` to `out` as a `.tar.gz`, failing once the
/// contents pass `limits`. On failure what was written is not a usable archive, though it may
/// end like one: the caller must discard it.
pub fn pack<W: Write>(
    dirs: &SandboxDirs,
    out: W,
    limits: SnapshotLimits,
) -> Result<Packed, SnapshotError> {
    // Fast compression: the end of a turn waits for the snapshot, and workspaces are mostly
    // text, which compresses well even so.
    let mut builder = Builder::new(GzEncoder::new(out, Compression::fast()));
    let mut packed = Packed::default();
    walk(dirs, |item| append(&mut builder, item, &mut packed, limits))?;
    let encoder = builder.into_inner().map_err(SnapshotError::Archive)?;
    encoder
        .finish()
        .and_then(|mut out| out.flush())
        .map_err(SnapshotError::Archive)?;
    Ok(packed)
}

fn append<W: Write>(
    builder: &mut Builder<W>,
    item: &Item,
    packed: &mut Packed,
    limits: SnapshotLimits,
) -> Result<(), SnapshotError> {
    packed.entries += 1;
    if packed.entries > limits.entries {
        return Err(SnapshotError::TooManyEntries {
            limit: limits.entries,
        });
    }
    let mtime = u64::try_from(item.meta.mtime()).unwrap_or(0);
    match &item.kind {
        Kind::Dir => {
            let mut header = header(EntryType::Directory, item.meta.mode(), mtime);
            builder
                .append_data(&mut header, &item.relative, io::empty())
                .map_err(SnapshotError::Archive)
        }
        Kind::Link(target) => {
            let mut header = header(EntryType::Symlink, 0o777, mtime);
            builder
                .append_link(&mut header, &item.relative, target)
                .map_err(SnapshotError::Archive)
        }
        Kind::File => append_file(builder, item, packed, limits),
        Kind::Other => {
            packed.skipped += 1;
            Ok(())
        }
    }
}

fn append_file<W: Write>(
    builder: &mut Builder<W>,
    item: &Item,
    packed: &mut Packed,
    limits: SnapshotLimits,
) -> Result<(), SnapshotError> {
    // Not through a link, and never blocking on a FIFO, should the path have been replaced
    // since the walk saw a file there.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&item.host)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ELOOP) => {
            packed.skipped += 1;
            return Ok(());
        }
        Err(e) => return Err(io_at(&item.host)(e)),
    };
    let meta = file.metadata().map_err(io_at(&item.host))?;
    if !meta.is_file() {
        packed.skipped += 1;
        return Ok(());
    }
    let size = meta.len();
    packed.bytes += size;
    if packed.bytes > limits.bytes {
        return Err(SnapshotError::TooLarge {
            limit: limits.bytes,
        });
    }
    let seconds = u64::try_from(meta.mtime()).unwrap_or(0);
    let precise = format!("{seconds}.{:09}", meta.mtime_nsec());
    builder
        .append_pax_extensions([("mtime", precise.as_bytes())])
        .map_err(SnapshotError::Archive)?;
    let mut header = header(EntryType::Regular, meta.mode(), seconds);
    header.set_size(size);
    builder
        .append_data(&mut header, &item.relative, exactly(&file, size))
        .map_err(SnapshotError::Archive)
}

/// Exactly `size` bytes of `file`: cut if it grew since its size was read, padded with zeros
/// if it shrank, so the archive stays well-formed either way.
fn exactly(file: &File, size: u64) -> impl Read + '_ {
    file.take(size).chain(io::repeat(0)).take(size)
}

fn header(kind: EntryType, mode: u32, mtime: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    // Permission bits only: set-id bits have no business crossing replicas.
    header.set_mode(mode & 0o777);
    header.set_mtime(mtime);
    header.set_size(0);
    header
}
