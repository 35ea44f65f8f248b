//! The `popfetch` binary: parse the command line, run, exit with the
//! status the library chose.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match popfetch::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(popfetch::error::usage_code(e.kind()));
        }
    };
    ExitCode::from(popfetch::run::run(&cli))
}
