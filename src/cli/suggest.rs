//! `popfetch chek`: clap takes an unknown word for an account name, so a
//! mistyped subcommand would only be told "there is no account named
//! chek". When the word is close to a subcommand, the error says which one
//! was probably meant, first.

use clap::CommandFactory;

use super::Cli;
use crate::config::{ConfigError, edit_distance};

/// The subcommand `word` is a likely typo of: the same but for case, or one
/// edit away (two for words longer than four letters).
pub(crate) fn subcommand_like(word: &str) -> Option<String> {
    let word = word.to_ascii_lowercase();
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .map(|name| (edit_distance(&word, &name), name))
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

#[cfg(test)]
mod tests {
    use super::*;

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
