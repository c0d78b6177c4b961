//! The plugin walkthrough (docs/writing-a-plugin.md) against the repository: each
//! block marked `<!-- file: PATH -->` is that file byte for byte, and the
//! walkthrough's workflow names the trigger and the action the built
//! `hello` plugin has. So the walkthrough cannot drift from the code that
//! is built and tested.

use std::path::{Path, PathBuf};
use weft_engine::StepKind;
use weft_engine::definition::TriggerKind;
use weft_tests::TestHost;

/// The walkthrough, from the repository's root.
const WALKTHROUGH: &str = "docs/writing-a-plugin.md";

/// The files the walkthrough shows in full, in order.
const SHOWN: &[&str] = &["plugins/hello/Cargo.toml", "plugins/hello/src/lib.rs", "tests/tests/plugins/hello.rs"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn readme() -> String {
    std::fs::read_to_string(root().join(WALKTHROUGH)).expect("reading the walkthrough")
}

/// The code block after each `<!-- file: PATH -->` line: `(PATH, text)`.
fn shown_files(readme: &str) -> Result<Vec<(String, String)>, String> {
    let mut shown = Vec::new();
    let mut lines = readme.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let Some(path) = line.trim_end().strip_prefix("<!-- file: ").and_then(|r| r.strip_suffix(" -->")) else {
            continue;
        };
        if !lines.next().is_some_and(|fence| fence.starts_with("```")) {
            return Err(format!("no code block opens right after the marker of {path}"));
        }
        let (mut text, mut closed) = (String::new(), false);
        for line in lines.by_ref() {
            if line.trim_end() == "```" {
                closed = true;
                break;
            }
            text.push_str(line);
        }
        if !closed {
            return Err(format!("the code block of {path} is not closed"));
        }
        shown.push((path.to_owned(), text));
    }
    Ok(shown)
}

/// Where two texts first differ, by line.
fn first_difference(shown: &str, file: &str) -> String {
    let (mut a, mut b) = (shown.split_inclusive('\n'), file.split_inclusive('\n'));
    for n in 1.. {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) if x != y => return format!("line {n}: walkthrough {x:?}, file {y:?}"),
            _ => {}
        }
    }
    "no difference".into()
}

#[test]
fn the_walkthrough_shows_the_repositorys_files_byte_for_byte() {
    let shown = shown_files(&readme()).unwrap();
    let paths: Vec<&str> = shown.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, SHOWN, "the walkthrough's file markers");
    for (path, text) in &shown {
        let file = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        assert!(*text == file, "{WALKTHROUGH}'s block of {path} is not the file: {}", first_difference(text, &file));
    }
}

#[test]
fn a_changed_or_unclosed_block_is_caught() {
    let readme = "text\n<!-- file: a.rs -->\n```rust\nfn main() {}\n```\n";
    assert_eq!(shown_files(readme).unwrap(), [("a.rs".to_owned(), "fn main() {}\n".to_owned())]);
    assert_eq!(
        first_difference("fn main() {}\n", "fn main() { }\n"),
        r#"line 1: walkthrough Some("fn main() {}\n"), file Some("fn main() { }\n")"#
    );
    assert!(shown_files("<!-- file: a.rs -->\n```rust\nfn main() {}\n").is_err());
    assert!(shown_files("<!-- file: a.rs -->\nfn main() {}\n").is_err());
}

#[tokio::test]
async fn the_walkthroughs_workflow_uses_the_plugins_trigger_and_action() {
    let readme = readme();
    let yaml = readme
        .split_once("cat > thank.yaml <<'YAML'\n")
        .and_then(|(_, rest)| rest.split_once("\nYAML\n"))
        .map(|(yaml, _)| yaml)
        .expect("the walkthrough writes thank.yaml");
    let workflow = weft_engine::load::parse(yaml, weft_engine::Format::Yaml, "thank.yaml").unwrap();
    let t = TestHost::new();
    let info = t.host.get(&t.install("hello").await).unwrap();
    assert_eq!(workflow.integration.as_deref(), Some(info.id.as_str()));
    let TriggerKind::Integration(trigger) = &workflow.trigger.kind else { panic!("{:?}", workflow.trigger) };
    assert!(info.triggers.iter().any(|tr| tr.key == trigger.event), "no trigger {}", trigger.event);
    for step in workflow.all_steps() {
        if let StepKind::IntegrationAction(step) = &step.kind {
            assert!(info.actions.iter().any(|a| a.key == step.action), "no action {}", step.action);
        }
    }
}
