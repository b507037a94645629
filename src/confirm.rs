//! Asking before a destructive step.
//!
//! On a terminal the operator sees what will be deleted and answers; `--yes` (or `CI=true`)
//! answers for them. Without a terminal and without `--yes` nobody can answer, so the
//! command refuses before changing anything rather than guessing.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::{Error, Result};

/// How the question can be answered in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// `--yes` or `CI=true`.
    AssumeYes,
    /// stdin and stderr are a terminal: ask there.
    Terminal,
    /// Nobody to ask.
    Nobody,
}

impl Answerer {
    pub fn detect(assume_yes: bool) -> Self {
        if assume_yes {
            Answerer::AssumeYes
        } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            Answerer::Terminal
        } else {
            Answerer::Nobody
        }
    }
}

/// Shows `summary` and asks whether to go on. `Ok(false)` is a "no" on the terminal;
/// without anyone to ask it is a usage error (exit 2) naming `command` and the way out.
pub fn confirm(
    answerer: Answerer,
    command: &str,
    summary: &str,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<bool> {
    match answerer {
        Answerer::AssumeYes => Ok(true),
        Answerer::Nobody => Err(Error::Usage(format!(
            "{command} would delete:\n{summary}\nnothing was changed: there is no terminal \
             to confirm on. Re-run with --yes (or CI=true) to proceed."
        ))),
        Answerer::Terminal => {
            let io = |e| Error::io("asking for confirmation", e);
            write!(out, "{command} will delete:\n{summary}\nProceed? [y/N] ").map_err(io)?;
            out.flush().map_err(io)?;
            let mut line = String::new();
            input.read_line(&mut line).map_err(io)?;
            Ok(matches!(
                line.trim().to_ascii_lowercase().as_str(),
                "y" | "yes"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(answerer: Answerer, typed: &str) -> (Result<bool>, String) {
        let mut input = typed.as_bytes();
        let mut out = Vec::new();
        let r = confirm(
            answerer,
            "disable --destroy",
            "  a thing",
            &mut input,
            &mut out,
        );
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn yes_skips_the_question() {
        let (r, shown) = ask(Answerer::AssumeYes, "");
        assert!(r.unwrap());
        assert!(shown.is_empty());
    }

    #[test]
    fn the_terminal_is_shown_the_summary_and_only_yes_proceeds() {
        for (typed, expected) in [
            ("y\n", true),
            ("YES\n", true),
            (" yes \n", true),
            ("\n", false),
            ("n\n", false),
            ("yep\n", false),
            ("", false),
        ] {
            let (r, shown) = ask(Answerer::Terminal, typed);
            assert_eq!(r.unwrap(), expected, "{typed:?}");
            assert!(shown.contains("will delete:\n  a thing\nProceed? [y/N]"));
        }
    }

    #[test]
    fn without_a_terminal_it_refuses_with_the_way_out() {
        let (r, shown) = ask(Answerer::Nobody, "y\n");
        let e = r.unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(text.contains("a thing") && text.contains("--yes"), "{text}");
        assert!(text.contains("nothing was changed"), "{text}");
        assert!(shown.is_empty());
    }
}
