use clap::Parser;
use rum_explorer::cli::{default_db_path, run, Cli};

// The importer allocates many small values on one thread and frees them on another; mimalloc
// does that far cheaper than the system allocator (measured in the import benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    if cli.command.is_some() {
        // `rum-explorer sessions | head` ends quietly when `head` stops reading, as other
        // command-line tools do, instead of failing on a broken pipe.
        #[cfg(unix)]
        // SAFETY: restores the default action of one signal before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let code = match cli.command {
        Some(command) => match run(&cli.db.clone().unwrap_or_else(default_db_path), command) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("rum-explorer: {message}");
                2
            }
        },
        None => match rum_explorer::app::run(cli.db, cli.files, cli.session, cli.overview) {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("rum-explorer: {message}");
                2
            }
        },
    };
    std::process::exit(code);
}
