//! `docs/operator-guide.md` against the code: every message its troubleshooting section quotes
//! is one the tool can print. Reads files only (no moto, no network).

use std::fs;
use std::path::{Path, PathBuf};

/// The guide, relative to the crate root.
const GUIDE: &str = "docs/operator-guide.md";

/// Where the messages come from: the CLI, the contract crate, the stage-logging library and
/// the forwarder.
const SOURCE_DIRS: [&str; 4] = [
    "src",
    "crates/contract/src",
    "crates/stage-logging/src",
    "lambda-forwarder/src",
];

/// The guide's sections, in order.
const SECTIONS: [&str; 10] = [
    "## Prerequisites and IAM",
    "## Creating the Cequence client",
    "## Configuring `.env`",
    "## Check first: `cq-apigw doctor`",
    "## Enable",
    "## Verifying",
    "## Adding regions and accounts",
    "## Updating the template and the forwarder",
    "## Disable and destroy",
    "## Troubleshooting",
];

/// Fewer quoted messages than this and the troubleshooting section has lost its point.
const MIN_MESSAGES: usize = 15;

/// Literal fragments shorter than this (punctuation between placeholders) prove nothing.
const MIN_FRAGMENT: usize = 4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The message of a guide line that is a blockquote holding one code span, if it is one. A
/// message containing a backtick is in a double-backtick span, padded with a space on each
/// side when it starts or ends with a backtick; the padding is dropped, as CommonMark does.
fn quoted_message(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("> ")?;
    let ticks = rest.len() - rest.trim_start_matches('`').len();
    if ticks == 0 || rest.len() < 2 * ticks {
        return None;
    }
    let fence = &rest[..ticks];
    let inner = rest[ticks..].strip_suffix(fence)?;
    let inner = match inner.strip_prefix(' ').and_then(|i| i.strip_suffix(' ')) {
        Some(padded) if ticks > 1 && !padded.trim().is_empty() => padded,
        _ => inner,
    };
    (!inner.is_empty()).then_some(inner)
}

/// The literal parts of a message: the text between its `<placeholder>`s, trimmed, without
/// the ones too short to mean anything. A placeholder stands for a `{}` in the code, so a
/// fragment never spans one.
fn fragments(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message;
    loop {
        let (literal, after) = match rest.find('<') {
            Some(open) => match rest[open..].find('>') {
                Some(close) => (&rest[..open], Some(&rest[open + close + 1..])),
                None => (rest, None),
            },
            None => (rest, None),
        };
        let literal = literal.trim();
        if literal.chars().count() >= MIN_FRAGMENT {
            out.push(literal);
        }
        match after {
            Some(next) => rest = next,
            None => return out,
        }
    }
}

/// Rust source as the strings in it read: a `\` line continuation and the indentation after
/// it are dropped, `\"` is `"` and `\\` is `\`. Messages are split across lines in the code.
fn unescape(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('\n') => {
                chars.next();
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
            }
            Some(&escaped @ ('"' | '\\')) => {
                chars.next();
                out.push(escaped);
            }
            _ => out.push('\\'),
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file under the source directories, unescaped, in one string.
fn source_text() -> String {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&root().join(dir), &mut files);
    }
    files.sort();
    assert!(!files.is_empty(), "no Rust sources under {SOURCE_DIRS:?}");
    files
        .iter()
        .map(|f| {
            let text =
                fs::read_to_string(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display()));
            unescape(&text)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The troubleshooting section quotes the tool's messages word for word, so an operator can
/// search the guide for what they saw. A message reworded in the code (or a quote mistyped in
/// the guide) fails here: update the guide with the new text.
#[test]
fn every_message_in_the_operator_guide_is_printed_by_the_code() {
    let path = root().join(GUIDE);
    let guide =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));

    let lines: Vec<&str> = guide.lines().collect();
    let mut at = 0;
    for section in SECTIONS {
        let found = lines[at..].iter().position(|l| *l == section);
        let offset = found.unwrap_or_else(|| {
            panic!("{GUIDE}: no heading `{section}` (after the previous section)")
        });
        at += offset + 1;
    }

    let messages: Vec<&str> = guide.lines().filter_map(quoted_message).collect();
    assert!(
        messages.len() >= MIN_MESSAGES,
        "{GUIDE} quotes {} messages (lines like > `message`); at least {MIN_MESSAGES} expected",
        messages.len()
    );

    let source = source_text();
    let mut missing = Vec::new();
    for message in &messages {
        for fragment in fragments(message) {
            if !source.contains(fragment) {
                missing.push(format!("  message:  {message}\n  fragment: {fragment}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{GUIDE} quotes text that no source file under {SOURCE_DIRS:?} contains (a message \
         was reworded: quote the new text in the guide):\n{}",
        missing.join("\n")
    );
}

#[test]
fn quoted_lines_fragments_and_unescaping() {
    assert_eq!(quoted_message("> `a <b> c`"), Some("a <b> c"));
    assert_eq!(
        quoted_message("> ``run `enable` again``"),
        Some("run `enable` again")
    );
    assert_eq!(quoted_message("> `` `x` is bad ``"), Some("`x` is bad"));
    assert_eq!(quoted_message("> plain quote"), None);
    assert_eq!(quoted_message("> `unclosed"), None);
    assert_eq!(quoted_message("`not quoted`"), None);

    assert_eq!(
        fragments("<region> is not enabled (status <s>); enable it or leave it out"),
        ["is not enabled (status", "); enable it or leave it out"]
    );
    assert_eq!(fragments("<a>/<b>: <c>"), Vec::<&str>::new());

    let source = "format!(\"one \\\n             two \\\"{x}\\\" \\\\ three\")";
    assert_eq!(unescape(source), "format!(\"one two \"{x}\" \\ three\")");
}
