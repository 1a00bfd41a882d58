//! # leadsim
//!
//! A deterministic discrete-event simulator for structured peer-to-peer overlays and range
//! queries: LEAD (a distributed learned hash table), Chord-batch and MARQUES.
//!
//! Architecture (one module per concept):
//! - [`engine`]: the event kernel (time, queue, timers, run loop) and the [`engine::Protocol`] trait;
//! - [`network`]: message delivery, liveness, counters; [`topology`]: latency models;
//! - [`churn`]: host up/down schedules; [`dist`]: platform-stable samplers; [`rng`]: seeded streams;
//! - [`data`]: SOSD datasets and synthetic look-alikes;
//! - [`protocols`]: the simulated systems (one file each, registered in [`protocols::REGISTRY`]);
//! - [`workload`]: query arrivals; [`manifest`]: experiment files; [`experiment`]: running them;
//! - [`output`]: records, statistics, atomic files; [`bench`]: performance measurements.

pub mod bench;
pub mod churn;
pub mod data;
pub mod dist;
pub mod engine;
pub mod experiment;
pub mod figures;
pub mod learned;
pub mod manifest;
pub mod network;
pub mod output;
pub mod overlay;
pub mod plot;
pub mod protocols;
pub mod rng;
pub mod topology;
pub mod workload;
