//! A bounded cache of verified tokens. Entries never outlive the token's
//! `exp`; when full, expired entries go first, then an arbitrary half.

use std::collections::HashMap;
use std::sync::Mutex;

pub(crate) struct VerifiedCache<V> {
    entries: Mutex<HashMap<[u8; 32], (V, i64)>>,
    capacity: usize,
}

impl<V: Clone> VerifiedCache<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), capacity }
    }

    /// The value for `key` if it is still valid at `now` (Unix seconds).
    pub(crate) fn get(&self, key: &[u8; 32], now: i64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(_, until)| now < *until).map(|(v, _)| v.clone())
    }

    /// Remembers `value` until `until` (Unix seconds).
    pub(crate) fn insert(&self, key: [u8; 32], value: V, until: i64, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, u)| now < *u);
        }
        if entries.len() >= self.capacity {
            let drop: Vec<_> = entries.keys().take(self.capacity / 2 + 1).copied().collect();
            for k in drop {
                entries.remove(&k);
            }
        }
        entries.insert(key, (value, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_stays_bounded() {
        let c = VerifiedCache::new(4);
        c.insert([1; 32], "a", 100, 0);
        assert_eq!(c.get(&[1; 32], 99), Some("a"));
        assert_eq!(c.get(&[1; 32], 100), None, "never past exp");
        for i in 0..50u8 {
            c.insert([i; 32], "x", 1000, 0);
        }
        assert!(c.entries.lock().unwrap().len() <= 4);
    }
}
