//! Page cursors: any serializable state, carried as an opaque string.
//!
//! A cursor is plain JSON text, so a page number is `"2"` and a struct is
//! `{"offset":20}`. The host never interprets it. Decoding a cursor that the
//! action did not produce fails with `invalid-input`.
//!
//! ```no_run
//! use weft_sdk::cursor;
//!
//! # fn f(page: Option<String>) -> weft_sdk::Result<()> {
//! let n: u32 = cursor::decode(page.as_deref())?.unwrap_or(1);
//! let next = cursor::encode(&(n + 1))?;
//! # Ok(()) }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Encodes `state` as a cursor string.
///
/// ```no_run
/// # fn f() -> weft_sdk::Result<()> {
/// assert_eq!(weft_sdk::cursor::encode(&2u32)?, "2");
/// # Ok(()) }
/// ```
pub fn encode<C: Serialize + ?Sized>(state: &C) -> Result<String> {
    serde_json::to_string(state).map_err(|e| Error::internal(format!("page cursor: {e}")))
}

/// Decodes the cursor of the page to produce; `None` for the first page.
///
/// ```no_run
/// # fn f(page: Option<String>) -> weft_sdk::Result<()> {
/// #[derive(serde::Deserialize)]
/// struct At { offset: usize }
/// let at: Option<At> = weft_sdk::cursor::decode(page.as_deref())?;
/// # Ok(()) }
/// ```
pub fn decode<C: DeserializeOwned>(page: Option<&str>) -> Result<Option<C>> {
    page.map(|p| serde_json::from_str(p).map_err(|e| Error::invalid_input(format!("page cursor: {e}")))).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = encode(&(3u32, "x")).expect("encodes");
        assert_eq!(decode::<(u32, String)>(Some(&c)), Ok(Some((3, "x".into()))));
        assert_eq!(decode::<u32>(None), Ok(None));
        assert_eq!(encode(&2u32).as_deref(), Ok("2"));
    }

    #[test]
    fn a_foreign_cursor_is_invalid_input() {
        assert_eq!(decode::<u32>(Some("not json")).map_err(|e| e.kind()), Err("invalid-input"));
    }
}
