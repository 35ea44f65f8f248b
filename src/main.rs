//! The `popfetch` binary: parse the command line, run, exit with the
//! status the library chose.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match popfetch::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors; everything else clap
            // rejects is misuse, EX_USAGE as the SPEC says (clap's own
            // default would be 2).
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(popfetch::error::exit::USAGE),
            };
        }
    };
    ExitCode::from(popfetch::run::run(&cli))
}
