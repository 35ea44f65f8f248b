//! One AFL++ fuzz target per parser: `popfetch-fuzz TARGET` reads inputs
//! as AFL++ feeds them and runs `popfetch::fuzzing`'s target of that name.
//! `popfetch-fuzz --seeds DIR` writes each target's seeds to `DIR/TARGET/`
//! and `popfetch-fuzz --list` names the targets. `scripts/fuzz.sh` drives
//! it.

use std::path::Path;
use std::process::ExitCode;

use popfetch::fuzzing::{TARGETS, target};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--list"] => {
            for t in TARGETS {
                println!("{}", t.name);
            }
            ExitCode::SUCCESS
        }
        ["--seeds", dir] => {
            for t in TARGETS {
                let d = Path::new(dir).join(t.name);
                std::fs::create_dir_all(&d).expect("create the seed directory");
                for (i, s) in t.seeds.iter().enumerate() {
                    std::fs::write(d.join(format!("seed-{i}")), s).expect("write a seed");
                }
            }
            ExitCode::SUCCESS
        }
        [name] => match target(name) {
            Some(t) => {
                let run = t.run;
                afl::fuzz!(|data: &[u8]| run(data));
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("popfetch-fuzz: no target {name:?}; --list names them");
                ExitCode::from(64)
            }
        },
        _ => {
            eprintln!("usage: popfetch-fuzz TARGET | --seeds DIR | --list");
            ExitCode::from(64)
        }
    }
}
