//! Command-line interface: argument definitions and dispatch to the library.

mod inputs;
mod model;

use anyhow::Result;
use clap::{Parser, Subcommand};
use leadsim::experiment;
use leadsim::manifest::Manifest;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "leadsim",
    version,
    about = "Deterministic discrete-event simulator for LEAD, Chord-batch and MARQUES range queries",
    long_about = "Deterministic discrete-event simulator for LEAD (a distributed learned hash table), \
Chord-batch and MARQUES. Write an experiment manifest (TOML), run it, and get tidy CSVs. \
Same manifest + seed => byte-identical CSVs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate the paper's figures (results/<fig>.csv|svg|png) and results/REPORT.md from the
    /// manifests in experiments/. Figures whose protocols do not exist yet are listed as pending.
    Figures {
        /// quick (minutes on 2 cores; the default) or paper (the paper's scale).
        #[arg(long, value_enum, default_value = "quick")]
        profile: leadsim::figures::Profile,
        /// Only these figures (comma separated), e.g. --only fig07,table1; REPORT.md is then
        /// printed instead of written.
        #[arg(long, value_delimiter = ',')]
        only: Option<Vec<String>>,
        /// Parallel runs, 1..=256 (default: all cores).
        #[arg(long, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Run everything again instead of reusing cached runs.
        #[arg(long)]
        rerun: bool,
    },
    /// Run one experiment manifest and write queries.csv, summary.csv and provenance.json.
    Run {
        /// The manifest (TOML). See experiments/ for examples and the README for every key.
        manifest: PathBuf,
        /// Output directory (overrides the manifest's output.dir).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Check ring invariants at the end (ring protocols): every live peer has its true
        /// successor and predecessor, and, without churn, every answer came from the true owner.
        /// Fails (exit 2) when they do not hold although churn was off or had stopped long enough.
        #[arg(long)]
        check: bool,
    },
    /// Run every run of a manifest's [sweep] in parallel (resumable; --shard for clusters) and
    /// assemble summary.csv / queries.csv in run order under output.dir.
    Sweep {
        /// The manifest with a [sweep] table.
        manifest: PathBuf,
        /// Print every run (index, parameters, replication, seed) without running.
        #[arg(long)]
        list: bool,
        /// Parallel runs, 1..=256 (default: all cores).
        #[arg(long, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Run only shard i of N (1-based), e.g. --shard 3/8 (a Slurm array task); combine with merge.
        #[arg(long)]
        shard: Option<String>,
        /// Run everything again instead of reusing cached runs.
        #[arg(long)]
        rerun: bool,
    },
    /// Combine the run directories of sharded sweeps into summary.csv / queries.csv.
    Merge {
        /// The sweep's manifest (defines the run order).
        manifest: PathBuf,
        /// Output directories of the shards (each holding runs/).
        dirs: Vec<PathBuf>,
        /// Where to write the combined CSVs (default: the manifest's output.dir).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Inspect manifests.
    Manifest {
        #[command(subcommand)]
        command: ManifestCommand,
    },
    /// List the protocols that can be simulated, with every settings table, key, default and
    /// accepted range (from the protocol registry).
    Protocols {
        /// Print the README's Markdown key table instead.
        #[arg(long)]
        markdown: bool,
    },
    /// Latency models: statistics and export.
    Topology {
        #[command(subcommand)]
        command: TopologyCommand,
    },
    /// Churn schedules: export a manifest's schedule as a replayable CSV.
    Churn {
        #[command(subcommand)]
        command: ChurnCommand,
    },
    /// Datasets: generate synthetic look-alikes, summarise SOSD files.
    Dataset {
        #[command(subcommand)]
        command: DatasetCommand,
    },
    /// Learned hash functions: evaluate (Table I) and run Model-Scout.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Performance benchmarks (printed figures, never pass/fail).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Print the manifest with every key resolved (defaults written out).
    Show { manifest: PathBuf },
}

#[derive(Subcommand)]
enum TopologyCommand {
    /// Print size, min/p10/median/mean/p90/p99/max RTT, symmetry and triangle-violation share.
    Stats {
        /// A matrix file (NetLatency-Data format), or a synthetic kind: planetlab-like,
        /// euclidean, random-graph, random-sampling, optionally with ':HOSTS' (e.g. euclidean:490).
        spec: String,
        /// Use only the first N hosts of a file / generate N hosts.
        #[arg(long)]
        hosts: Option<usize>,
        /// Seed of synthetic generators.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Entries are in seconds (SeattleData), not milliseconds.
        #[arg(long)]
        seconds: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a topology as an RTT matrix file (ms, tab separated).
    Export {
        /// As for `stats`.
        spec: String,
        /// Output file.
        out: PathBuf,
        #[arg(long)]
        hosts: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum ChurnCommand {
    /// Write the churn schedule of a manifest (time_us,host,event) for replay with model = "trace".
    Export { manifest: PathBuf, out: PathBuf },
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Generate a synthetic dataset as a SOSD file (default: into the datasets/ cache).
    Gen {
        /// uniform, normal, lognormal, osmc64-like, face64-like, amzn64-like, wiki64-like.
        name: String,
        #[arg(long, default_value_t = 200_000_000)]
        keys: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file (default: datasets/<name>_n<keys>_s<seed>_g<version>.sosd).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Count, min, max, duplicate share and quantiles of a SOSD file or a synthetic dataset.
    Stats {
        /// A SOSD file, or a synthetic name (generated through the cache).
        source: String,
        #[arg(long, default_value_t = 200_000_000)]
        keys: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Train models and print max / average log2 error (log2(|predicted - true| + 1) per key),
    /// p50 / p99 absolute error, size, training time and prediction ns/key; optionally as CSV.
    Eval {
        /// A config file instead of flags (see experiments/table1.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A SOSD file or a synthetic dataset name (default osmc64-like).
        #[arg(long)]
        dataset: Option<String>,
        #[arg(long, default_value_t = 200_000_000)]
        keys: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Models: rmi:ROOT,LEAF,B (roots linear, robust-linear, cubic, radixN; leaves linear,
        /// linear-spline, cubic), rs:EPS,BITS, pgm:EPS, auto[:BUDGET], or linear / radix / cubic
        /// (the Table I configurations).
        #[arg(long, num_args = 1.., default_values_t = vec!["linear".to_string(), "radix".to_string(), "cubic".to_string()])]
        models: Vec<String>,
        /// Write the table as CSV here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// How far a range of n consecutive keys spreads on the ring under a learned hash: the span
    /// of every window of n keys, in key positions and in the peers a LEAD walk crosses at each
    /// ring size (the arc's share of the ring times the peers).
    Spans {
        #[command(flatten)]
        source: model::KeySource,
        /// The model (a `leadsim model eval` spec; default LEAD's).
        #[arg(long, default_value = leadsim::protocols::lead::config::DEFAULT_MODEL)]
        model: String,
        /// Keys per range (1..=keys).
        #[arg(long, default_value_t = 5000)]
        range: usize,
        /// Ring sizes (virtual peers) to express the spans in.
        #[arg(long, value_delimiter = ',', default_values_t = vec![4900, 100_000, 1_000_000], value_parser = clap::value_parser!(u64).range(1..))]
        peers: Vec<u64>,
        /// Also report the share of ranges whose arc holds more than this many peers.
        #[arg(long, default_value_t = 100.0)]
        over: f64,
    },
    /// Run Model-Scout (1% sample) and print the chosen configuration.
    Scout {
        #[command(flatten)]
        source: model::KeySource,
        /// Size budget in bytes (default 12 MiB).
        #[arg(long, default_value_t = 12 << 20)]
        budget: usize,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Run a manifest and print wall time, events, events/s and peak memory (writes nothing).
    Run { manifest: PathBuf },
    /// Space-filling curves: ns per Z-order / Hilbert encode and decode, intervals per box.
    Curve {
        /// Encodes and decodes per measurement (1..=1e10).
        #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000_000))]
        ops: u64,
    },
    /// Hold-model benchmark of the event queue candidates and of the whole kernel.
    Engine {
        /// Pending-event counts.
        #[arg(long, value_delimiter = ',', value_parser = parse_pending, default_values_t = vec![10_000usize, 100_000, 1_000_000])]
        pending: Vec<usize>,
        /// Hold operations per measurement (1..=1e10).
        #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000_000))]
        ops: u64,
    },
}

/// `--jobs`: 1..=256 parallel runs (more threads than that only thrash memory).
fn parse_jobs(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number in 1..=256, got {s:?}")),
    }
}

/// `--pending`: 1..=100,000,000 pending events per measurement.
fn parse_pending(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=100_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number in 1..=100000000 (the hold model needs at least one pending event), got {s:?}"
        )),
    }
}

/// Parses the command line and runs it.
pub fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            manifest,
            out,
            check,
        } => {
            let m = Manifest::load(&manifest)?;
            let dir = out.unwrap_or_else(|| m.output.dir.clone());
            let r = experiment::run_manifest(&m)
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", manifest.display()))?;
            let files = r.write(&dir)?;
            if check {
                eprintln!("{}", experiment::check_invariants(&r)?);
            }
            let p = r.provenance();
            eprintln!(
                "{}: {} queries, {} events in {:.2} s ({:.2} M events/s)",
                m.label(),
                r.output.records.iter().map(Vec::len).sum::<usize>(),
                p.events,
                p.wall_s,
                p.events_per_s / 1e6
            );
            for f in files {
                println!("{}", f.display());
            }
            Ok(())
        }
        Command::Figures {
            profile,
            only,
            jobs,
            rerun,
        } => {
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            leadsim::figures::run(profile, only, jobs, rerun)
        }
        Command::Sweep {
            manifest,
            list,
            jobs,
            shard,
            rerun,
        } => {
            let plan = leadsim::experiment::sweep::SweepPlan::load(&manifest)?;
            let shard = shard
                .map(|s| leadsim::experiment::sweep::parse_shard(&s))
                .transpose()?;
            if list {
                println!(
                    "index,{}replication,seed",
                    plan.axes
                        .iter()
                        .map(|a| format!("{a},"))
                        .collect::<String>()
                );
                let runs: Vec<_> = match shard {
                    Some((i, n)) => plan.shard(i, n),
                    None => plan.runs.iter().collect(),
                };
                for r in runs {
                    println!(
                        "{},{}{},{}",
                        r.index,
                        r.params.iter().map(|p| format!("{p},")).collect::<String>(),
                        r.replication,
                        r.seed
                    );
                }
                return Ok(());
            }
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let t = std::time::Instant::now();
            let opts = leadsim::experiment::Exec {
                jobs,
                shard,
                rerun,
                label: String::new(),
            };
            let report = leadsim::experiment::execute(&plan, &opts)?;
            eprintln!(
                "{report} in {:.1} s ({} runs in the sweep)",
                t.elapsed().as_secs_f64(),
                plan.runs.len()
            );
            match shard {
                Some((i, n)) => eprintln!(
                    "shard {i}/{n} finished; combine all shards with: leadsim merge {} <shard dirs...>",
                    manifest.display()
                ),
                None => {
                    leadsim::experiment::assemble(&plan, std::slice::from_ref(&plan.dir), &plan.dir)?;
                    println!("{}", plan.dir.join("summary.csv").display());
                }
            }
            Ok(())
        }
        Command::Merge {
            manifest,
            dirs,
            out,
        } => {
            let plan = leadsim::experiment::sweep::SweepPlan::load(&manifest)?;
            let out = out.unwrap_or_else(|| plan.dir.clone());
            leadsim::experiment::assemble(&plan, &dirs, &out)?;
            println!("{}", out.join("summary.csv").display());
            Ok(())
        }
        Command::Manifest {
            command: ManifestCommand::Show { manifest },
        } => {
            print!("{}", Manifest::load(&manifest)?.to_toml());
            Ok(())
        }
        Command::Protocols { markdown } => {
            if markdown {
                print!("{}", leadsim::protocols::markdown_keys());
            } else {
                print!("{}", leadsim::protocols::describe());
            }
            Ok(())
        }
        Command::Topology { command } => match command {
            TopologyCommand::Stats {
                spec,
                hosts,
                seed,
                seconds,
                json,
            } => inputs::topology_stats(&spec, hosts, seed, seconds, json),
            TopologyCommand::Export {
                spec,
                out,
                hosts,
                seed,
            } => inputs::topology_export(&spec, &out, hosts, seed),
        },
        Command::Churn {
            command: ChurnCommand::Export { manifest, out },
        } => {
            let m = Manifest::load(&manifest)?;
            let s = m.churn.schedule(m.topology.hosts, m.duration(), m.seed)?;
            s.write_csv(&out)?;
            eprintln!(
                "{} crashes over {} hosts written to {}",
                s.crash_count(),
                s.hosts(),
                out.display()
            );
            Ok(())
        }
        Command::Dataset { command } => match command {
            DatasetCommand::Gen {
                name,
                keys,
                seed,
                out,
            } => inputs::dataset_gen(&name, keys, seed, out),
            DatasetCommand::Stats { source, keys, seed } => {
                inputs::dataset_stats(&source, keys, seed)
            }
        },
        Command::Model { command } => match command {
            ModelCommand::Eval {
                config,
                dataset,
                keys,
                seed,
                models,
                out,
            } => model::eval(config, dataset, keys, seed, models, out),
            ModelCommand::Scout { source, budget } => model::scout_cmd(&source, budget),
            ModelCommand::Spans {
                source,
                model: spec,
                range,
                peers,
                over,
            } => model::spans_cmd(&source, &spec, range, &peers, over),
        },
        Command::Bench {
            command: BenchCommand::Run { manifest },
        } => {
            let t = std::time::Instant::now();
            let m = Manifest::load(&manifest)?;
            let r = experiment::run_manifest(&m)?;
            let total = t.elapsed().as_secs_f64();
            let p = r.provenance();
            println!("manifest            {}", manifest.display());
            println!(
                "simulated           {} s (ended at {:.3} s: drain of unfinished queries)",
                m.duration_s, p.ended_s
            );
            println!(
                "queries             {}",
                r.output.records.iter().map(Vec::len).sum::<usize>()
            );
            println!("events              {}", p.events);
            println!(
                "  settled at send   {} (replies that needed no queue entry)",
                p.events_settled
            );
            println!("simulation wall     {:.2} s", p.wall_s);
            println!("events/s            {:.2} M", p.events_per_s / 1e6);
            println!("total wall          {total:.2} s (inputs: topology, dataset, churn)");
            match leadsim::bench::peak_rss_bytes() {
                Some(b) => println!("peak memory (RSS)   {:.1} MB", b as f64 / 1e6),
                None => println!("peak memory (RSS)   unavailable on this platform"),
            }
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Curve { ops },
        } => {
            println!("{:<52} {:>12}", "curve", "value");
            for r in leadsim::bench::curve_benchmarks(ops) {
                println!("{:<52} {:>9.2} {}", r.name, r.value, r.unit);
            }
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Engine { pending, ops },
        } => {
            println!(
                "{:<44} {:>10} {:>12} {:>14}",
                "queue", "pending", "ops", "M ops/s"
            );
            for p in &pending {
                for r in leadsim::bench::engine_benchmarks(&[*p], ops) {
                    println!(
                        "{:<44} {:>10} {:>12} {:>14.2}",
                        r.name,
                        r.pending,
                        r.ops,
                        r.ops_per_s / 1e6
                    );
                }
            }
            Ok(())
        }
    }
}
