//! `.netrc` (the ftp/curl format): `machine HOST login USER password PASS`,
//! a `default` entry, and `macdef` blocks that are skipped. Tokens are
//! separated by blanks; a token may be written in double quotes with `\`
//! escapes, as curl accepts.

use zeroize::Zeroizing;

#[derive(Default)]
struct Entry {
    /// `None` for the `default` entry.
    machine: Option<String>,
    login: Option<String>,
    password: Option<Zeroizing<String>>,
}

/// The entries of one `.netrc` file, in order.
#[derive(Default)]
pub(crate) struct Netrc {
    entries: Vec<Entry>,
}

// Hand-written so that passwords can never end up in a log.
impl std::fmt::Debug for Netrc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Netrc({} entries)", self.entries.len())
    }
}

impl Netrc {
    /// Parse leniently: unknown tokens are skipped, as other readers do.
    pub fn parse(text: &str) -> Netrc {
        let mut tokens = Tokens { rest: text };
        let mut entries: Vec<Entry> = Vec::new();
        while let Some(tok) = tokens.next() {
            match tok.as_str() {
                "machine" => entries.push(Entry {
                    machine: tokens.next().map(|t| t.to_string()),
                    ..Entry::default()
                }),
                "default" => entries.push(Entry::default()),
                "login" => {
                    let v = tokens.next().map(|t| t.to_string());
                    if let Some(e) = entries.last_mut() {
                        e.login = v;
                    }
                }
                "password" => {
                    let v = tokens.next();
                    if let Some(e) = entries.last_mut() {
                        e.password = v;
                    }
                }
                "account" => {
                    tokens.next();
                }
                "macdef" => {
                    tokens.next();
                    tokens.skip_macro();
                }
                _ => {}
            }
        }
        Netrc { entries }
    }

    /// The password for `user` at `host`: the first `machine` entry for the
    /// host whose login is the user (or absent), else the `default` entry.
    pub fn password(&self, host: &str, user: &str) -> Option<&str> {
        let fits = |e: &Entry| e.login.as_deref().is_none_or(|l| l == user);
        let machine = self.entries.iter().find(|e| {
            e.machine
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(host))
                && fits(e)
                && e.password.is_some()
        });
        let entry = machine.or_else(|| {
            self.entries
                .iter()
                .find(|e| e.machine.is_none() && fits(e) && e.password.is_some())
        })?;
        entry.password.as_ref().map(|p| p.as_str())
    }
}

struct Tokens<'a> {
    rest: &'a str,
}

impl Tokens<'_> {
    /// The next token; owned and wiped on drop, since it may be a password.
    fn next(&mut self) -> Option<Zeroizing<String>> {
        self.rest = self.rest.trim_start();
        if self.rest.is_empty() {
            return None;
        }
        // Sized up front: a buffer outgrown while a quoted token is
        // unescaped would be freed unwiped.
        let mut out = Zeroizing::new(String::with_capacity(self.rest.len().min(4096)));
        if let Some(quoted) = self.rest.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => out.push('\n'),
                        Some((_, 'r')) => out.push('\r'),
                        Some((_, 't')) => out.push('\t'),
                        Some((_, other)) => out.push(other),
                        None => {}
                    },
                    c => out.push(c),
                }
            }
            self.rest = &quoted[end..];
        } else {
            let end = self
                .rest
                .find(char::is_whitespace)
                .unwrap_or(self.rest.len());
            out.push_str(&self.rest[..end]);
            self.rest = &self.rest[end..];
        }
        Some(out)
    }

    /// A macro body runs from the next line to the first empty line.
    fn skip_macro(&mut self) {
        let body = match self.rest.find('\n') {
            Some(i) => &self.rest[i + 1..],
            None => "",
        };
        let mut offset = 0;
        for line in body.split_inclusive('\n') {
            offset += line.len();
            if line.trim().is_empty() {
                break;
            }
        }
        self.rest = &body[offset..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_login_password() {
        let n = Netrc::parse(
            "machine pop.example.com login alice password s3cret\n\
             machine pop.example.com\n  login bob\n  password hunter2\n\
             default login anon password guest\n",
        );
        assert_eq!(n.password("pop.example.com", "alice"), Some("s3cret"));
        assert_eq!(n.password("POP.example.com", "bob"), Some("hunter2"));
        // No machine entry for carol: the default applies only to its own login.
        assert_eq!(n.password("pop.example.com", "carol"), None);
        assert_eq!(n.password("other.example", "anon"), Some("guest"));
        assert_eq!(n.password("other.example", "alice"), None);
    }

    #[test]
    fn entry_without_login_fits_any_user() {
        let n = Netrc::parse("machine h password p1\ndefault password p2");
        assert_eq!(n.password("h", "anyone"), Some("p1"));
        assert_eq!(n.password("x", "anyone"), Some("p2"));
    }

    #[test]
    fn quoted_tokens_and_macros() {
        let n = Netrc::parse(
            "macdef init\ncd /pub\nmachine fake password wrong\n\n\
             machine h login \"a b\" password \"p\\\"w d\"\n",
        );
        assert_eq!(n.password("h", "a b"), Some("p\"w d"));
        // The machine line inside the macro body is not an entry.
        assert_eq!(n.password("fake", "x"), None);
    }

    #[test]
    fn entry_without_password_is_skipped() {
        let n = Netrc::parse("machine h login u\nmachine h login u password later");
        assert_eq!(n.password("h", "u"), Some("later"));
        assert_eq!(Netrc::parse("").password("h", "u"), None);
        assert_eq!(Netrc::parse("machine").password("h", "u"), None);
    }

    #[test]
    fn debug_hides_passwords() {
        let n = Netrc::parse("machine h login u password topsecret");
        assert!(!format!("{n:?}").contains("topsecret"));
    }
}
