//! The man page (`man/popfetch.1`) and the shell completions
//! (`completions/`), rendered from the clap definition. Only the test
//! below uses them: it compares the committed copies with a fresh
//! rendering, and rewrites them with `POPFETCH_BLESS=1`.

use clap::CommandFactory;

use super::Cli;

/// The clap command, for rendering help, the man page and completions.
fn command() -> clap::Command {
    Cli::command()
}

/// Sections of the man page that clap does not know about: the config file,
/// passwords, files, environment, exit status and examples.
const MAN_SECTIONS: &str = include_str!("man-sections.roff");

/// The man page, `man/popfetch.1`. Deterministic: no date is embedded.
fn render_man() -> Vec<u8> {
    let man = clap_mangen::Man::new(command());
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, so the results carry no information.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    out.extend_from_slice(man_commands_section().as_bytes());
    out.extend_from_slice(MAN_SECTIONS.as_bytes());
    let _ = man.render_version_section(&mut out);
    out
}

/// The subcommands, described on this page (clap_mangen would point to a
/// separate page per subcommand).
fn man_commands_section() -> String {
    let mut cmd = command();
    cmd.build();
    let mut out = String::from(".SH COMMANDS\n");
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let args: Vec<String> = sub
            .get_positionals()
            .map(|a| {
                let name = a
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map_or_else(|| a.get_id().to_string(), |v| v.to_string());
                let dots = if a.get_num_args().is_some_and(|n| n.max_values() > 1) {
                    "..."
                } else {
                    ""
                };
                format!(" [\\fI{}\\fR]{dots}", roff_escape(&name))
            })
            .collect();
        out.push_str(&format!(
            ".TP\n\\fBpopfetch {}\\fR{}\n",
            roff_escape(sub.get_name()),
            args.concat()
        ));
        let about = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        for (i, para) in about.split("\n\n").enumerate() {
            if i > 0 {
                out.push_str(".IP\n");
            }
            out.push_str(&roff_escape(para.trim()));
            out.push('\n');
        }
    }
    out
}

/// Text as roff: backslashes and hyphens escaped, no line taken for a request.
fn roff_escape(text: &str) -> String {
    text.lines()
        .map(|line| {
            let l = line.replace('\\', "\\e").replace('-', "\\-");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Shell completions as `(path relative to the crate root, contents)`.
fn render_completions() -> Vec<(&'static str, Vec<u8>)> {
    use clap_complete::Shell;
    [
        (Shell::Bash, "completions/popfetch.bash"),
        (Shell::Zsh, "completions/_popfetch"),
        (Shell::Fish, "completions/popfetch.fish"),
    ]
    .into_iter()
    .map(|(shell, path)| {
        let mut cmd = command();
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "popfetch", &mut out);
        (path, out)
    })
    .collect()
}

/// Compares (or, with POPFETCH_BLESS=1, rewrites) the generated man page
/// and completions with the committed copies.
#[test]
fn generated_files_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![("man/popfetch.1", render_man())];
    files.extend(render_completions());
    let bless = std::env::var_os("POPFETCH_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (rel, want) in files {
        assert!(!want.is_empty(), "{rel} rendered empty");
        let path = root.join(rel);
        if bless {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap();
            }
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} are stale: run POPFETCH_BLESS=1 cargo test to regenerate"
    );
}
