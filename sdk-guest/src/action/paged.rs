//! [`Paged`]: one page of a paginated action's output.

use serde::Serialize;

use crate::{Result, cursor};

/// One page of a paginated action: its output and the cursor of the next
/// page (`None` on the last one). The host stores cursors without reading
/// them and passes one back as the handler's `page` argument.
///
/// ```no_run
/// use weft_sdk::{cursor, Ctx, Paged, Result};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct At { offset: usize }
///
/// fn numbers(_cx: &Ctx, _input: weft_sdk::Empty, page: Option<String>) -> Result<Paged<Vec<usize>>> {
///     let at: At = cursor::decode(page.as_deref())?.unwrap_or(At { offset: 0 });
///     let items: Vec<usize> = (at.offset..at.offset + 10).collect();
///     if at.offset >= 90 {
///         Ok(Paged::last(items))
///     } else {
///         Paged::next(items, &At { offset: at.offset + 10 })
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<O> {
    /// This page's output.
    pub output: O,
    /// The opaque cursor of the next page; `None` on the last page.
    pub next_page: Option<String>,
}

impl<O> Paged<O> {
    /// A page with an explicit, possibly absent, next cursor.
    ///
    /// ```no_run
    /// # let (items, next): (Vec<u8>, Option<String>) = (vec![], None);
    /// // E.g. a provider's own cursor, passed through as-is.
    /// let page = weft_sdk::Paged::new(items, next);
    /// ```
    pub fn new(output: O, next_page: Option<String>) -> Self {
        Self { output, next_page }
    }

    /// The last page.
    ///
    /// ```no_run
    /// let page = weft_sdk::Paged::last(vec![1, 2, 3]);
    /// assert!(page.next_page.is_none());
    /// ```
    pub fn last(output: O) -> Self {
        Self::new(output, None)
    }

    /// A page followed by another, whose cursor is the raw string
    /// `next_page` (e.g. a provider's `next_cursor`).
    ///
    /// ```no_run
    /// let page = weft_sdk::Paged::more(vec!["a"], "dXNlcjpVMEc5V0ZYTlo=");
    /// ```
    pub fn more(output: O, next_page: impl Into<String>) -> Self {
        Self::new(output, Some(next_page.into()))
    }

    /// A page followed by another, whose cursor is `state` encoded with
    /// [`cursor::encode`]; read it back with [`cursor::decode`].
    ///
    /// ```no_run
    /// # fn f() -> weft_sdk::Result<()> {
    /// let page = weft_sdk::Paged::next(vec!["a", "b"], &2u32)?; // cursor "2"
    /// # Ok(()) }
    /// ```
    pub fn next<C: Serialize + ?Sized>(output: O, state: &C) -> Result<Self> {
        Ok(Self::more(output, cursor::encode(state)?))
    }
}
