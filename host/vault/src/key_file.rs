//! Master key files: one line, `weft-master-key v<N> <base64>`, mode 0600.
//!
//! A key file is created only on an explicit call and never overwritten:
//! replacing it would make every sealed value unreadable. Whether creating
//! one is right at all (a fresh data directory, not a lost key) is the
//! server's decision, made with the start-up canary.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::master_key::parse;
use crate::{Error, KeyId, LocalMasterKey, Result};

/// A key file is one short line; a bigger file is not one.
const MAX_FILE_LEN: u64 = 1024;

impl LocalMasterKey {
    /// Loads the key in `path`. A missing file is an error, never a reason
    /// to create one.
    pub fn load_file(path: &Path) -> Result<Self> {
        let io_err = |source| Error::KeyFile { path: path.to_owned(), source };
        let file = File::open(path).map_err(io_err)?;
        let mut text = Zeroizing::new(String::new());
        let read = file.take(MAX_FILE_LEN + 1).read_to_string(&mut text);
        let malformed = |reason| Error::MalformedKey { origin: path.display().to_string(), reason };
        match read {
            Ok(n) if n as u64 > MAX_FILE_LEN => Err(malformed("the file is too large to be a key file")),
            Ok(_) => parse(&text).map_err(malformed),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(malformed("the file is not text")),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Loads the key in `path`, or creates it with a new random version-1
    /// key when there is no file. The flag says whether it was created, so
    /// the caller can tell the operator to back it up.
    pub fn create_file_if_missing(path: &Path) -> Result<(Self, bool)> {
        match Self::create_file(path, KeyId(1)) {
            Ok(key) => Ok((key, true)),
            Err(Error::KeyFile { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
                Ok((Self::load_file(path)?, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes a new random key of version `id` to `path` (readable by its
    /// owner only), for first start or a rotation. Fails if `path` exists.
    pub fn create_file(path: &Path, id: KeyId) -> Result<Self> {
        let key = Self::generate(id)?;
        let io_err = |source| Error::KeyFile { path: path.to_owned(), source };
        let mut options = OpenOptions::new();
        // `create_new` is O_EXCL: two processes starting at once cannot
        // both create (and one overwrite) the key.
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io_err)?;
        let mut line = key.encode();
        line.push('\n');
        file.write_all(line.as_bytes()).and_then(|()| file.sync_all()).map_err(io_err)?;
        sync_parent(path).map_err(io_err)?;
        Ok(key)
    }
}

/// Makes the new directory entry durable: a key lost in a crash right
/// after data was sealed under it would lose that data.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
