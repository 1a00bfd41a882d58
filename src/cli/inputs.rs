//! CLI helpers for topology and dataset commands.

use anyhow::{bail, Context, Result};
use leadsim::data::{self, DatasetSpec, SynthName};
use leadsim::ids::HostId;
use leadsim::topology::matrix::{write_matrix, MatrixUnit};
use leadsim::topology::stats::topology_stats as measure;
use leadsim::topology::{Topology, TopologySpec};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn build(spec: &str, hosts: Option<usize>, seed: u64, seconds: bool) -> Result<Topology> {
    let mut s = TopologySpec::from_cli(spec)?;
    if let Some(file) = s.file.clone() {
        if seconds {
            s.unit = Some(MatrixUnit::S);
            s.ignore_diagonal = Some(true);
        }
        // Default to every host of the file.
        s.hosts = match hosts {
            Some(h) => h,
            None => {
                leadsim::topology::matrix::load_matrix(&file, s.unit.unwrap_or_default(), seconds)?
                    .hosts
            }
        };
    } else if let Some(h) = hosts {
        s.hosts = h;
    }
    s.build(seed)
}

pub fn topology_stats(
    spec: &str,
    hosts: Option<usize>,
    seed: u64,
    seconds: bool,
    json: bool,
) -> Result<()> {
    let t = build(spec, hosts, seed, seconds)?;
    let s = measure(&t, seed);
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("topology            {}", t.description);
    println!("hosts               {}", s.hosts);
    println!("pairs measured      {}", s.pairs);
    println!("RTT min             {:.3} ms", s.min);
    println!("RTT p10             {:.3} ms", s.p10);
    println!("RTT median          {:.3} ms", s.median);
    println!("RTT mean            {:.3} ms", s.mean);
    println!("RTT p90             {:.3} ms", s.p90);
    println!("RTT p99             {:.3} ms", s.p99);
    println!("RTT max             {:.3} ms", s.max);
    println!("nearest-nbr median  {:.3} ms", s.nearest_neighbour_median);
    println!("asymmetric pairs    {:.4}", s.asymmetric_share);
    println!(
        "triangle violations {:.4} (share of random ordered triples with d(i,k) > d(i,j) + d(j,k))",
        s.triangle_violation_share
    );
    Ok(())
}

pub fn topology_export(spec: &str, out: &Path, hosts: Option<usize>, seed: u64) -> Result<()> {
    let t = build(spec, hosts, seed, false)?;
    write_matrix(out, t.host_count(), |a, b| {
        t.rtt_us(0, a as HostId, b as HostId)
    })?;
    eprintln!("{} written to {}", t.description, out.display());
    Ok(())
}

pub fn dataset_gen(name: &str, keys: usize, seed: u64, out: Option<PathBuf>) -> Result<()> {
    let Some(n) = SynthName::parse(name) else {
        bail!(
            "unknown dataset '{name}'; choose one of {}",
            SynthName::ALL.map(|n| n.as_str()).join(", ")
        );
    };
    if keys == 0 {
        bail!("--keys must be >= 1");
    }
    leadsim::limits::check_memory(&format!("dataset gen --keys {keys}"), 16.0 * keys as f64)?;
    let t = Instant::now();
    let k = data::synth::generate(n, keys, seed);
    let gen_s = t.elapsed().as_secs_f64();
    let path = out.unwrap_or_else(|| {
        data::cache_path(Path::new(leadsim::experiment::DATASET_CACHE), n, keys, seed)
    });
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let t = Instant::now();
    data::write_sosd(&path, &k).with_context(|| format!("dataset gen {name}"))?;
    eprintln!(
        "generated {keys} keys of {name} in {gen_s:.2} s, written in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    println!("{}", path.display());
    Ok(())
}

pub fn dataset_stats(source: &str, keys: usize, seed: u64) -> Result<()> {
    let t = Instant::now();
    let looks_like_path = source.contains('/') || source.contains('.');
    let set = if Path::new(source).exists() {
        data::load_sosd(Path::new(source))?
    } else if looks_like_path && SynthName::parse(source).is_none() {
        bail!(
            "{source}: no such SOSD file (and not a dataset name: {})",
            SynthName::ALL.map(|n| n.as_str()).join(", ")
        );
    } else {
        DatasetSpec {
            name: source.to_string(),
            keys,
            seed,
            file: None,
            cache: true,
        }
        .load(Path::new(leadsim::experiment::DATASET_CACHE))?
    };
    let s = data::dataset_stats(set.keys());
    println!(
        "source          {source} (loaded in {:.2} s)",
        t.elapsed().as_secs_f64()
    );
    println!("count           {}", s.count);
    println!("min             {}", s.min);
    println!("max             {}", s.max);
    println!("duplicate share {:.6}", s.duplicate_share);
    for (q, v) in s.quantiles {
        println!("p{:<14} {v}", (q * 100.0).round() as u32);
    }
    Ok(())
}
