//! The `smartgap` command: parses the CLI, calls the library, renders errors, sets the exit
//! code (0 ok, 1 run failed, 2 bad config or usage).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "smartgap",
    version,
    about = "Regional smart-city investment gaps, every night"
)]
struct Cli {
    /// Log level filter (error, warn, info, debug, trace or a tracing directive).
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    /// Worker threads for assignment (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline and publish its outputs (skipped when nothing changed since the last run).
    Run {
        pipeline: PathBuf,
        /// Run even when the version, config and every input are unchanged.
        #[arg(long)]
        force: bool,
        /// Hash every input again instead of reusing the checksums of files unchanged (by size,
        /// inode and times) since the last run, and rewrite the checksum store.
        #[arg(long)]
        rehash: bool,
    },
    /// Validate a pipeline and open its inputs' headers, without running it.
    Check { pipeline: PathBuf },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Colour only for a person at a terminal: cron logs, pipes and files get plain text, and
    // NO_COLOR (https://no-color.org) turns it off everywhere.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().color(colour).build())
    }));
    tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_env_filter(
            EnvFilter::try_new(&cli.log_level).unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    // GDAL's own notices go to the log (and its level filter) instead of GDAL's default
    // `Warning 1: …` lines on standard error; the readers and writers also fail on them.
    smartgap::gdal_log::install();
    if let Some(n) = cli.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        eprintln!("smartgap: --threads {n}: {e}");
        return ExitCode::from(2);
    }
    let result = match &cli.command {
        Command::Check { pipeline } => smartgap::pipeline::load(pipeline)
            .map(|p| {
                println!(
                    "{}: ok ({} inputs, levels {})",
                    pipeline.display(),
                    p.inputs.len(),
                    smartgap::read::level_names(&p.boundaries.levels)
                );
            })
            .map_err(smartgap::Error::from),
        Command::Run {
            pipeline,
            force,
            rehash,
        } => smartgap::pipeline::load(pipeline)
            .map_err(smartgap::Error::from)
            .and_then(|p| smartgap::pipeline::run_incremental_with(&p, *force, *rehash))
            .map(|o| {
                let Some(o) = o else {
                    println!("smartgap: nothing changed since the published run; outputs left as they are (--force reruns)");
                    return;
                };
                let t = &o.report.totals;
                let dir = std::fs::canonicalize(&o.run_dir).unwrap_or_else(|_| o.run_dir.clone());
                let negative = if t.rejected_negative_krw == 0 {
                    String::new()
                } else {
                    format!(", {} KRW in negative amounts", t.rejected_negative_krw)
                };
                println!(
                    "smartgap: {} records, {} KRW assigned, {} rejected ({} KRW{negative}); outputs in {}",
                    t.input_records,
                    t.assigned_krw,
                    t.rejected_records,
                    t.rejected_krw,
                    dir.display()
                );
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::from(code as u8)
        }
    }
}
