//! The `popfetch` binary: parse the command line, run, exit with the
//! status the library chose.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = popfetch::cli::Cli::parse();
    ExitCode::from(popfetch::run::run(&cli))
}
