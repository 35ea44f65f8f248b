//! `popfetch chek`: clap takes an unknown word for an account name, so a
//! mistyped subcommand would only be told "there is no account named
//! chek". When the word is close to a subcommand, the error says which one
//! was probably meant, first.

use clap::CommandFactory;

use super::Cli;
use crate::config::ConfigError;

/// The subcommand `word` is a likely typo of: the same but for case, or one
/// edit away (two for words longer than four letters), counting a swap of neighbours as one.
pub(crate) fn subcommand_like(word: &str) -> Option<String> {
    let word = word.to_ascii_lowercase();
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .map(|name| (distance(&word, &name), name))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// The error to show instead of `e` when the first bare word on the
/// command line is no account but looks like a mistyped subcommand:
/// a usage error (exit 64) that suggests it before saying the rest.
pub(crate) fn mistyped_subcommand(cli: &Cli, e: &ConfigError) -> Option<ConfigError> {
    if cli.command.is_some() {
        return None;
    }
    let word = cli.accounts.first()?;
    let rest = match e {
        ConfigError::UnknownAccount { name, .. } if name == word => e.to_string(),
        ConfigError::NoConfigFile { .. } | ConfigError::NoAccounts { .. } => {
            format!("{word:?} is no command, and there is no account named {word:?} ({e})")
        }
        _ => return None,
    };
    let meant = subcommand_like(word)?;
    Some(ConfigError::Usage {
        message: format!("did you mean `popfetch {meant}`? {rest}"),
    })
}

/// Optimal string alignment distance: insertions, deletions,
/// substitutions and swaps of two neighbours each count one.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        d[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("chek", "check"), 1);
        assert_eq!(distance("ftech", "fetch"), 1);
        assert_eq!(distance("fetch", "fetch"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn near_words_suggest_their_subcommand() {
        assert_eq!(subcommand_like("chek").as_deref(), Some("check"));
        assert_eq!(subcommand_like("CHECK").as_deref(), Some("check"));
        assert_eq!(subcommand_like("serverinf").as_deref(), Some("serverinfo"));
        assert_eq!(subcommand_like("adpot").as_deref(), Some("adopt"));
        assert_eq!(subcommand_like("work"), None);
        assert_eq!(subcommand_like("home"), None);
        assert_eq!(subcommand_like("x"), None);
    }
}
