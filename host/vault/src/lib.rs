//! Secrets at rest: envelope encryption of credentials, integration client
//! secrets and environment secrets under a versioned master key.
//!
//! This crate owns every decryption in Weft. Each value is sealed with its
//! own random 256-bit data key (XChaCha20-Poly1305, random 192-bit nonce);
//! the data key is wrapped by the master key (the KEK). Both AEADs carry
//! associated data naming the value's owner (project, owner kind, owner id,
//! field), so a ciphertext copied to another row, project or field fails
//! closed; the wrap also binds the master key's version. See [`Sealed`] for
//! the stored byte layout and [`Owner`] for the associated data's layout.
//!
//! It does not own where sealed blobs are kept (the store keeps them in a
//! BLOB/bytea column), where the master key file lives or when it may be
//! created (server start-up, see [`Vault::verify_master_key`]), nor which
//! rows to re-wrap during a rotation (the `weft vault rotate` command walks
//! them and calls [`Vault::rewrap`]).
//!
//! ```no_run
//! # fn demo() -> weft_vault::Result<()> {
//! use std::sync::Arc;
//! use secrecy::ExposeSecret;
//! use weft_vault::{Keyring, LocalMasterKey, Owner, OwnerKind, Vault};
//!
//! let (key, created) = LocalMasterKey::create_file_if_missing("data/master.key".as_ref())?;
//! if created {
//!     eprintln!("created data/master.key: back it up, without it no secret can be read");
//! }
//! let vault = Vault::new(Keyring::new(Arc::new(key)));
//! let owner = Owner::new("project-1", OwnerKind::Credential, "credential-7");
//! let sealed = vault.seal(&owner, "access_token", b"ya29.secret")?;
//! let blob: Vec<u8> = sealed.to_bytes(); // what the store keeps
//! let opened = vault.open(&owner, "access_token", &weft_vault::Sealed::from_bytes(&blob)?)?;
//! assert_eq!(opened.expose_secret(), b"ya29.secret");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod cipher;
mod error;
mod key_file;
mod keyring;
mod master_key;
mod owner;
mod sealed;
mod vault;

pub use error::{Error, Result};
pub use keyring::Keyring;
pub use master_key::{DataKey, KeyId, LocalMasterKey, MasterKey};
pub use owner::{Owner, OwnerKind};
pub use sealed::Sealed;
pub use vault::{KeyReloader, MasterKeyCheck, Vault};
