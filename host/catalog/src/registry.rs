//! Which providers exist: the definitions Weft ships, the ones an operator
//! adds as files, and (through [`Providers`]) the installed plugins, which
//! win over a definition of the same id since they bring actions too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::load::{self, DefinitionError, Format};
use crate::provider::Provider;

/// Where a provider's description comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An installed plugin: its hooks test connections and may refresh.
    Plugin,
    /// A declarative definition: the generic path runs it.
    Definition,
}

/// A provider and where it comes from.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The provider.
    pub provider: Arc<Provider>,
    /// Its origin.
    pub origin: Origin,
}

/// Looks providers up by id (the integration type).
pub trait Providers: Send + Sync {
    /// The provider `id`, if any.
    fn provider(&self, id: &str) -> Option<Entry>;
}

// The definitions shipped with Weft (`host/catalog/providers/*.yaml`), listed
// by `build.rs`.
include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Declarative provider definitions by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    definitions: BTreeMap<String, Arc<Provider>>,
}

impl Catalog {
    /// The definitions Weft ships. Each is checked by this crate's tests, so
    /// one that fails to load is a build defect: it is left out and named.
    pub fn bundled() -> (Self, Vec<DefinitionError>) {
        let mut catalog = Self::default();
        let mut refused = Vec::new();
        for (name, text) in BUNDLED {
            match load::parse(text, Format::Yaml, name) {
                Ok(p) => catalog.insert(p),
                Err(e) => refused.push(e),
            }
        }
        (catalog, refused)
    }

    /// Adds (or replaces) a definition.
    pub fn insert(&mut self, provider: Provider) {
        self.definitions.insert(provider.id.clone(), Arc::new(provider));
    }

    /// Adds the definitions of `dir` (an operator's files; a later file of
    /// the same id replaces an earlier one or a bundled one). Returns the
    /// files refused, each with its problems.
    pub fn load_dir(&mut self, dir: &Path) -> std::io::Result<Vec<(PathBuf, DefinitionError)>> {
        let mut refused = Vec::new();
        for (path, loaded) in load::load_dir(dir)? {
            match loaded {
                Ok(p) => self.insert(p),
                Err(e) => refused.push((path, e)),
            }
        }
        Ok(refused)
    }

    /// The definition `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<Provider>> {
        self.definitions.get(id)
    }

    /// Every definition, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.definitions.values()
    }
}

impl Providers for Catalog {
    fn provider(&self, id: &str) -> Option<Entry> {
        self.get(id).map(|p| Entry { provider: p.clone(), origin: Origin::Definition })
    }
}

/// Plugins first, then definitions.
pub struct Layered {
    plugins: Arc<dyn Providers>,
    definitions: Catalog,
}

impl Layered {
    /// Looks in `plugins`, then in `definitions`.
    pub fn new(plugins: Arc<dyn Providers>, definitions: Catalog) -> Self {
        Self { plugins, definitions }
    }

    /// The declarative definitions.
    pub fn definitions(&self) -> &Catalog {
        &self.definitions
    }
}

impl Providers for Layered {
    fn provider(&self, id: &str) -> Option<Entry> {
        self.plugins.provider(id).or_else(|| self.definitions.provider(id))
    }
}

#[cfg(test)]
mod shipped;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_definition_loads() {
        let (catalog, refused) = Catalog::bundled();
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(catalog.iter().count(), BUNDLED.len());
        let zendesk = catalog.get("zendesk").unwrap();
        assert!(zendesk.base_url.contains("{config.subdomain}"));
    }

    #[test]
    fn plugins_win_over_definitions() {
        let (bundled, _) = Catalog::bundled();
        let mut plugin = (**bundled.get("openai").unwrap()).clone();
        plugin.name = "OpenAI (plugin)".into();
        let mut plugins = Catalog::default();
        plugins.insert(plugin);
        struct AsPlugins(Catalog);
        impl Providers for AsPlugins {
            fn provider(&self, id: &str) -> Option<Entry> {
                self.0.get(id).map(|p| Entry { provider: p.clone(), origin: Origin::Plugin })
            }
        }
        let layered = Layered::new(Arc::new(AsPlugins(plugins)), bundled);
        let openai = layered.provider("openai").unwrap();
        assert_eq!((openai.provider.name.as_str(), openai.origin), ("OpenAI (plugin)", Origin::Plugin));
        assert_eq!(layered.provider("zendesk").unwrap().origin, Origin::Definition);
        assert!(layered.provider("nope").is_none());
    }
}
