//! # leadsim
//!
//! A deterministic discrete-event simulator for structured peer-to-peer overlays and range
//! queries: LEAD (a distributed learned hash table), Chord-batch and MARQUES.
//!
//! Architecture (one module per concept):
//! - [`ids`], [`engine::time`]: leaf modules (host / peer ids, integer time);
//! - [`engine`]: the pure event kernel (time, queue, cancellable events);
//! - [`sim`]: the environment above it (network, churn, time slices) and the [`sim::Protocol`] trait;
//! - [`network`]: message delivery, liveness, counters; [`topology`]: latency models;
//! - [`churn`]: host up/down schedules; [`dist`]: platform-stable samplers; [`rng`]: seeded streams;
//! - [`data`]: SOSD datasets and synthetic look-alikes;
//! - [`protocols`]: the simulated systems (one file each, registered in [`protocols::REGISTRY`]);
//! - [`workload`]: query arrivals; [`manifest`]: experiment files; [`experiment`]: running them;
//! - [`output`]: records, statistics, atomic files; [`bench`]: performance measurements.

pub mod bench;
pub mod churn;
pub mod curve;
pub mod data;
pub mod dist;
pub mod driver;
pub mod engine;
pub mod experiment;
pub mod figures;
pub mod guide;
pub mod ids;
pub mod learned;
pub mod ledger;
pub mod limits;
pub mod manifest;
pub mod multiattr;
pub mod network;
pub mod output;
pub mod overlay;
pub mod plot;
pub mod protocols;
pub mod rng;
pub mod rpc;
pub mod settings;
pub mod sim;
pub mod topology;
pub mod workload;
