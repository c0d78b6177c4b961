//! `weft integrations list|show|validate`: the providers an integration can
//! be added for without a plugin (the definitions Weft ships, then the
//! operator's files in the data directory, which replace a shipped one of
//! the same id), and the check of one definition file.

use crate::config::Settings;
use anyhow::bail;
use std::collections::BTreeMap;
use std::path::Path;
use weft_catalog::{ApiKeyLocation, AuthScheme, Catalog, DefinitionError, Provider};

/// Where a definition comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Shipped,
    File,
}

/// Every definition by id, with its source; refused operator files are
/// printed with their problems.
fn definitions(settings: &Settings) -> anyhow::Result<BTreeMap<String, (Provider, Source)>> {
    let (shipped, refused) = Catalog::bundled();
    if let Some(e) = refused.first() {
        bail!("a shipped definition is refused (a build defect): {e}");
    }
    let mut all: BTreeMap<String, (Provider, Source)> =
        shipped.iter().map(|p| (p.id.clone(), ((**p).clone(), Source::Shipped))).collect();
    let dir = settings.provider_dir();
    if dir.is_dir() {
        for (path, loaded) in weft_catalog::load::load_dir(&dir)? {
            match loaded {
                Ok(p) => {
                    all.insert(p.id.clone(), (p, Source::File));
                }
                Err(e) => print_problems(&e, &path.display().to_string()),
            }
        }
    }
    Ok(all)
}

fn print_problems(e: &DefinitionError, file: &str) {
    for p in &e.problems {
        let at = if p.path.is_empty() { String::new() } else { format!(" at {}", p.path) };
        eprintln!("{file}{at}: {}", p.reason);
    }
}

/// The auth scheme in a few words.
fn scheme(auth: &AuthScheme) -> String {
    match auth {
        AuthScheme::None => "none".into(),
        AuthScheme::ApiKey { location: ApiKeyLocation::Header, name, .. } => format!("api-key (header {name})"),
        AuthScheme::ApiKey { location: ApiKeyLocation::Query, name, .. } => format!("api-key (query {name})"),
        AuthScheme::Basic => "basic".into(),
        AuthScheme::Bearer { .. } => "bearer".into(),
        AuthScheme::Oauth2 { .. } => "oauth2".into(),
        AuthScheme::Oauth2ClientCredentials { .. } => "oauth2-client-credentials".into(),
        AuthScheme::Custom { .. } => "custom".into(),
    }
}

/// Prints one line per definition: id, auth scheme, name, and where an
/// operator's file provides it.
pub fn list(settings: &Settings) -> anyhow::Result<()> {
    let all = definitions(settings)?;
    for (id, (p, source)) in &all {
        let from = if *source == Source::File { "  (data directory)" } else { "" };
        println!("{id:<28} {:<34} {}{from}", scheme(&p.auth), p.name);
    }
    let files = all.values().filter(|(_, s)| *s == Source::File).count();
    println!(
        "{} definitions ({} shipped, {files} from {}); an installed plugin of the same id takes precedence",
        all.len(),
        all.len() - files,
        settings.provider_dir().display()
    );
    Ok(())
}

/// Prints the definition `id` in force, as JSON.
pub fn show(settings: &Settings, id: &str) -> anyhow::Result<()> {
    let all = definitions(settings)?;
    let Some((provider, _)) = all.get(id) else {
        bail!("no definition has the id {id:?}; `weft integrations list` names them");
    };
    println!("{}", serde_json::to_string_pretty(provider)?);
    Ok(())
}

/// Checks a definition file and says what it describes; every problem is
/// printed with its path in the document.
pub fn validate(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let refused = |e: DefinitionError| {
        print_problems(&e, &file.display().to_string());
        anyhow::anyhow!("{}: {} problem(s)", file.display(), e.problems.len())
    };
    let mut provider = weft_catalog::load::load_file(file).map_err(refused)?;
    // A `custom.<name>` definition is one a project gives through the admin
    // API: it must also pass the checks made there, with this server's
    // egress policy.
    let custom = provider.id.starts_with("custom.");
    if custom {
        let text = std::fs::read_to_string(file)?;
        let policy = settings.egress_config()?.policy;
        provider =
            weft_catalog::check_custom(serde_json::Value::String(text), &provider.id, &policy).map_err(refused)?;
    }
    println!(
        "{}: a valid {} definition, {} ({}): {}, base URL {}",
        file.display(),
        if custom { "custom integration" } else { "provider" },
        provider.id,
        provider.name,
        scheme(&provider.auth),
        provider.base_url
    );
    Ok(())
}
