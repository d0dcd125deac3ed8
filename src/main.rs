use clap::Parser;
use rum_explorer::cli::{default_db_path, run, Cli};

fn main() {
    let cli = Cli::parse();
    let db = cli.db.clone().unwrap_or_else(default_db_path);
    let code = match cli.command {
        Some(command) => match run(&db, command) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("rum-explorer: {message}");
                2
            }
        },
        None => match rum_explorer::app::run(db, cli.files) {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("rum-explorer: {message}");
                2
            }
        },
    };
    std::process::exit(code);
}
