//! Reading one knowledge-base article from the store, for the IVR (a voice prompt, the
//! visual IVR's article page). The articles are the server's knowledge base (record
//! kind [`KIND`]; its index is not the engine's); this is the read every door shares.

use crate::store::{SharedStore, StoreError};
use serde::{Deserialize, Serialize};

/// Store record kind of knowledge-base articles (key = article id).
pub const KIND: &str = "kb_article";

/// Languages an article may be written in.
pub const LANGUAGES: &[&str] = &["ja", "en"];

/// The fields of an article a caller or a visitor is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArticleView {
    #[serde(default)]
    pub id: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub language: String,
}

/// Reads article `id` (`None` if absent or unreadable).
pub async fn read(store: &SharedStore, id: &str) -> Result<Option<ArticleView>, StoreError> {
    Ok(store
        .record(KIND, id)
        .await?
        .and_then(|b| serde_json::from_slice::<ArticleView>(&b).ok())
        .map(|a| ArticleView { id: id.into(), ..a }))
}
