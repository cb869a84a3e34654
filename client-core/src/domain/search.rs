//! Diacritic-insensitive search: documents are indexed on a folded key (no marks, đ → d,
//! lower case), and so are queries, so "muoi" finds "Muối" and "Hoa" finds "Hòa" and "Hoà".

use giaoban_protocol::{DocId, DocKind};
use giaoban_vietnamese_text::search_tokens;
use rusqlite::params;

use crate::Store;
use crate::error::Result;

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The document.
    pub id: DocId,
    /// Its kind.
    pub kind: DocKind,
    /// Its title.
    pub title: String,
}

impl Store {
    /// Documents containing every word of `query` (each word also matches as a prefix), best
    /// first, at most `limit`. An empty query finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let tokens = search_tokens(query);
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        self.refresh_stale_search()?;
        // Tokens hold only letters and digits, so quoting them is enough to keep FTS5 syntax out.
        let fts_query =
            tokens.iter().map(|t| format!("\"{}\"*", t.replace('"', ""))).collect::<Vec<_>>().join(" ");
        let mut stmt = self.conn().prepare_cached(
            "SELECT d.id, d.kind, d.title
             FROM search JOIN documents d ON d.n = search.rowid
             WHERE search MATCH ?1
             ORDER BY bm25(search, 4.0, 1.0)
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![fts_query, limit as i64], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (id, kind, title) = r?;
            if let (Ok(id), Ok(kind)) = (DocId::from_slice(&id), kind.parse::<DocKind>()) {
                out.push(SearchHit { id, kind, title });
            }
        }
        Ok(out)
    }
}
