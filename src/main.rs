use std::process::ExitCode;

use clap::Parser;

use contestd::commands;
use contestd::config::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            None => commands::serve(cli.serve).await,
            Some(Command::Serve(args)) => commands::serve(*args).await,
            Some(Command::Migrate(args)) => commands::migrate(args).await,
            Some(Command::Demo(args)) => commands::demo(args).await,
            Some(Command::Maintenance(args)) => commands::maintenance(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the chain: what failed, then each cause.
            eprintln!("contestd: {error:#}");
            ExitCode::FAILURE
        }
    }
}
