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

/// The C library's `pow`, for its one caller in the process: the progress
/// bar's rate estimate (`f64::powf` in indicatif). Defined here, it keeps
/// libm.so out of the process, about 0.3 MB resident on every run for one
/// function (bench/RESULTS.md, "Peak RSS of the 100 MB fetch").
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn powf_reaches_the_pow_defined_here_and_it_is_right() {
        // black_box: computed at run time, through the symbol, not folded.
        let x = std::hint::black_box(0.1_f64);
        assert_eq!(x.powf(std::hint::black_box(0.0)), 1.0);
        assert!((x.powf(std::hint::black_box(1.5)) - 0.031_622_776_601_683_79).abs() < 1e-15);
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
        assert!(super::pow(-1.0, 0.5).is_nan());
    }
}
