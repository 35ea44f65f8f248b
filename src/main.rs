//! The `popfetch` binary: parse the command line, run, exit with the
//! status the library chose.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match popfetch::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(popfetch::usage_code(e.kind()));
        }
    };
    ExitCode::from(popfetch::run(&cli))
}
