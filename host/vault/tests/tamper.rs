//! Corrupted blobs: every bit flip, every truncation and random bytes fail
//! closed and never panic (TESTING C3-46, DESIGN security invariants).

use std::sync::Arc;

use weft_vault::{Error, KeyId, Keyring, LocalMasterKey, Owner, OwnerKind, Result, Sealed, Vault};

fn setup() -> Result<(Vault, Owner, Vec<u8>)> {
    let ring = Keyring::new(Arc::new(LocalMasterKey::generate(KeyId(2))?))
        .with_older(Arc::new(LocalMasterKey::generate(KeyId(1))?))?;
    let vault = Vault::new(ring);
    let owner = Owner::new("p", OwnerKind::Credential, "c");
    let blob = vault.seal(&owner, "token", b"cnry-tamper")?.to_bytes();
    Ok((vault, owner, blob))
}

/// Parsing and opening `bytes` must fail with a "corrupt" error.
fn assert_fails_closed(vault: &Vault, owner: &Owner, bytes: &[u8], what: &str) {
    let result = Sealed::from_bytes(bytes).and_then(|s| vault.open(owner, "token", &s));
    match result {
        Err(e) if e.is_corrupt() => {}
        Err(e) => panic!("{what}: unexpected error {e:?}"),
        Ok(_) => panic!("{what}: opened"),
    }
}

#[test]
fn flipping_any_single_bit_fails_closed() -> Result<()> {
    let (vault, owner, blob) = setup()?;
    for bit in 0..blob.len() * 8 {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_fails_closed(&vault, &owner, &bad, &format!("bit {bit}"));
    }
    Ok(())
}

#[test]
fn every_truncation_and_extension_fails_closed() -> Result<()> {
    let (vault, owner, blob) = setup()?;
    for len in 0..blob.len() {
        assert_fails_closed(&vault, &owner, &blob[..len], &format!("len {len}"));
    }
    assert_fails_closed(&vault, &owner, &[blob.as_slice(), &[0]].concat(), "extended");
    Ok(())
}

#[test]
fn a_key_id_pointing_at_another_known_key_fails_closed() -> Result<()> {
    let (vault, owner, mut blob) = setup()?;
    blob[1..5].copy_from_slice(&1u32.to_be_bytes());
    let result = vault.open(&owner, "token", &Sealed::from_bytes(&blob)?);
    assert!(matches!(result, Err(Error::Integrity)), "{result:?}");
    Ok(())
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_and_random_mutations_never_panic_or_open() -> Result<()> {
    let (vault, owner, blob) = setup()?;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for round in 0..20_000 {
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            (0..rng.below(200)).map(|_| rng.next() as u8).collect()
        } else {
            // A valid blob with a few bytes replaced and maybe its tail cut.
            let mut bad = blob.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bad.len());
                bad[at] = rng.next() as u8;
            }
            bad.truncate(bad.len() - rng.below(3));
            bad
        };
        // Keep the header plausible half the time, so parsing gets further.
        if round % 4 < 2 && bytes.len() >= 7 {
            bytes[..7].copy_from_slice(&blob[..7]);
        }
        if bytes != blob {
            assert_fails_closed(&vault, &owner, &bytes, &format!("round {round}"));
        }
    }
    Ok(())
}
