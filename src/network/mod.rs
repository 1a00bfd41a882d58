//! The simulated network: who is where, who is alive, how long a message takes, and what was sent.
//!
//! Delay between two peers = the one-way latency of their hosts (model.md §1): `rtt / 2` by default
//! (`latency.one_way = "half-rtt"`) or the full RTT (`"rtt"`, the authors' convention). Virtual
//! peers on one host talk in `latency.local_us`. No bandwidth or queueing is modelled; every
//! message carries a byte size so that bytes are counted per message kind.

use crate::engine::Time;
use crate::ids::{HostId, PeerId};
use crate::topology::Topology;
use anyhow::{bail, Result};
use hosts::HostMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub mod hosts;

/// A protocol message: a plain enum that knows its kind (for counters) and its wire size.
pub trait Message: std::fmt::Debug {
    /// This message's kind: an index into the protocol's list of kind names (the names are
    /// given to [`Network::new`] by their count and reported by the protocol as CSV columns).
    fn kind(&self) -> usize;
    /// Its size on the wire in bytes (headers included), for byte counters.
    fn size_bytes(&self) -> u32;
    /// Whether it is sent on behalf of a data query (a request, a forward, an answer, an ack of
    /// one) rather than for maintenance. Deliveries of such messages are counted per host, for
    /// the query-load balance (`query_load_cov`). Default: no.
    fn query_traffic(&self) -> bool {
        false
    }
}

/// How a matrix entry (a round-trip time) becomes a one-way delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OneWay {
    /// One-way delay = RTT / 2 (physically faithful; the default).
    #[default]
    HalfRtt,
    /// One-way delay = RTT (the authors' p2psim convention: absolute latencies double).
    Rtt,
}

/// Per-kind message counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages sent, by kind.
    pub sent: Vec<u64>,
    /// Bytes sent, by kind.
    pub bytes: Vec<u64>,
    /// Messages lost because the receiver's host was down on arrival, by kind.
    pub lost: Vec<u64>,
}

impl Counters {
    fn new(kinds: usize) -> Self {
        Counters {
            sent: vec![0; kinds],
            bytes: vec![0; kinds],
            lost: vec![0; kinds],
        }
    }
    /// All messages sent.
    pub fn total_sent(&self) -> u64 {
        self.sent.iter().sum()
    }
    /// All messages lost.
    pub fn total_lost(&self) -> u64 {
        self.lost.iter().sum()
    }
}

/// The one-way delays between two peers in both directions under one latency slice.
///
/// An RPC reads its pair's latency once when it is made and keeps the `Path` for its request
/// and its reply: on large topologies every latency read is a cache miss, and on computed ones
/// (beyond the materialized host counts) a model evaluation. Only [`Network::path`] makes one,
/// and a path whose slice is no longer current is read again, so using one never changes a
/// delay.
#[derive(Clone, Copy, Debug)]
pub struct Path {
    there: u32,
    back: u32,
    /// The latency slice it was read under; `u32::MAX`: not kept (read at every use).
    slice: u32,
}

impl Default for Path {
    /// A path that is read again at every use (what [`crate::sim::Sim::send`] sends along).
    fn default() -> Self {
        Path {
            there: 0,
            back: 0,
            slice: u32::MAX,
        }
    }
}

impl Path {
    /// The same pair seen from the other end (a reply's path).
    #[inline]
    pub fn reversed(self) -> Path {
        Path {
            there: self.back,
            back: self.there,
            slice: self.slice,
        }
    }
}

/// The network state of one run.
pub struct Network {
    topology: Arc<Topology>,
    one_way: OneWay,
    local_us: Time,
    hosts: HostMap,
    host_up: Vec<bool>,
    /// Hosts currently up (kept with `host_up`: no scan per query).
    hosts_up: usize,
    incarnation: Vec<u32>,
    slice: usize,
    counters: Counters,
    query_load: Vec<u64>,
}

impl Network {
    /// A network over `topology` where host `h` runs `vnodes[h]` consecutive peers.
    /// All hosts start up. `kinds` is the number of message kinds of the protocol.
    pub fn new(
        topology: Arc<Topology>,
        one_way: OneWay,
        local_us: Time,
        vnodes: &[u32],
        kinds: usize,
    ) -> Self {
        let hosts = topology.host_count();
        assert_eq!(vnodes.len(), hosts, "one vnode count per host");
        Network {
            topology,
            one_way,
            local_us,
            hosts: HostMap::new(vnodes),
            host_up: vec![true; hosts],
            hosts_up: hosts,
            incarnation: vec![0; hosts],
            slice: 0,
            counters: Counters::new(kinds),
            query_load: vec![0; hosts],
        }
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.host_up.len()
    }

    /// Number of peers.
    pub fn peer_count(&self) -> usize {
        self.hosts.peers()
    }

    /// The host a peer runs on.
    #[inline]
    pub fn host_of(&self, p: PeerId) -> HostId {
        self.hosts.host_of(p)
    }

    /// Starts loading what the next event's handler reads first about peer `p`'s host (a
    /// cache hint: at 10^6 peers these tables miss the cache). With uniform hosts the host is
    /// computed, so its up flag and latency record are hinted and the host is returned; else
    /// `p`'s peer-to-host entry is hinted and `None` is returned.
    #[inline]
    pub fn prefetch_host_of(&self, p: PeerId) -> Option<HostId> {
        let Some(h) = self.hosts.computed(p) else {
            self.hosts.prefetch(p);
            return None;
        };
        if let Some(up) = self.host_up.get(h as usize) {
            crate::engine::prefetch(up);
        }
        self.topology.prefetch_host(h);
        Some(h)
    }

    /// Whether a host is up.
    #[inline]
    pub fn is_host_up(&self, h: HostId) -> bool {
        self.host_up[h as usize]
    }

    /// Whether a peer's host is up.
    #[inline]
    pub fn is_peer_up(&self, p: PeerId) -> bool {
        self.host_up[self.host_of(p) as usize]
    }

    /// How many times the host has crashed (timers carry it to void themselves on a crash).
    #[inline]
    pub fn incarnation(&self, h: HostId) -> u32 {
        self.incarnation[h as usize]
    }

    /// Marks a host up or down; going down starts a new incarnation.
    pub fn set_host_up(&mut self, h: HostId, up: bool) {
        if !up && self.host_up[h as usize] {
            self.incarnation[h as usize] += 1;
        }
        if self.host_up[h as usize] != up {
            if up {
                self.hosts_up += 1;
            } else {
                self.hosts_up -= 1;
            }
        }
        self.host_up[h as usize] = up;
    }

    /// Number of live hosts.
    pub fn live_hosts(&self) -> usize {
        self.hosts_up
    }

    /// The round-trip time between two hosts under the current time slice.
    #[inline]
    pub fn rtt_hosts(&self, a: HostId, b: HostId) -> Time {
        if a == b {
            return 2 * self.local_us;
        }
        self.topology.rtt_us(self.slice, a, b)
    }

    /// The delay of one message from peer `a` to peer `b`.
    #[inline]
    pub fn one_way(&self, a: PeerId, b: PeerId) -> Time {
        let (ha, hb) = (self.host_of(a), self.host_of(b));
        if ha == hb {
            return self.local_us;
        }
        let rtt = self.topology.rtt_us(self.slice, ha, hb);
        match self.one_way {
            OneWay::HalfRtt => rtt / 2,
            OneWay::Rtt => rtt,
        }
    }

    /// The delays between peers `a` and `b` in both directions, read once for a request and
    /// its reply ([`Path`]).
    ///
    /// ```
    /// use leadsim::network::{Network, OneWay};
    /// use leadsim::topology::{Backing, Topology};
    /// use std::sync::Arc;
    /// // Two hosts, 30 ms apart, one peer each.
    /// let topo = Topology::new("two".into(), 2, Backing::Matrix(vec![vec![0, 30_000, 30_000, 0]]), None);
    /// let net = Network::new(Arc::new(topo), OneWay::HalfRtt, 50, &[1, 1], 1);
    /// let path = net.path(0, 1); // keep it with the RPC
    /// assert_eq!(net.rtt_on(path, 0, 1), 30_000); // the timeout's basis
    /// assert_eq!(net.one_way_on(path, 0, 1), 15_000); // the request (`Sim::send_on`)
    /// assert_eq!(net.one_way_on(path.reversed(), 1, 0), 15_000); // the reply
    /// ```
    #[inline]
    pub fn path(&self, a: PeerId, b: PeerId) -> Path {
        let there = self.one_way(a, b);
        let back = if self.topology.is_symmetric() {
            there
        } else {
            self.one_way(b, a)
        };
        match (u32::try_from(there), u32::try_from(back)) {
            (Ok(there), Ok(back)) => Path {
                there,
                back,
                slice: self.slice as u32,
            },
            _ => Path::default(), // too long to keep: re-read at every use
        }
    }

    /// The delay of one message from `a` to `b`, taken from `path` (read for that pair) while
    /// its latency slice is current, else read again.
    #[inline]
    pub fn one_way_on(&self, path: Path, a: PeerId, b: PeerId) -> Time {
        if path.slice == self.slice as u32 {
            debug_assert_eq!(
                Time::from(path.there),
                self.one_way(a, b),
                "a path of another pair"
            );
            Time::from(path.there)
        } else {
            self.one_way(a, b)
        }
    }

    /// The round-trip time between `a` and `b`, taken from `path` (read for that pair) while
    /// its latency slice is current, else read again ([`Network::rtt_peers`]).
    #[inline]
    pub fn rtt_on(&self, path: Path, a: PeerId, b: PeerId) -> Time {
        if path.slice == self.slice as u32 {
            Time::from(path.there) + Time::from(path.back)
        } else {
            self.rtt_peers(a, b)
        }
    }

    /// The round-trip time between two peers (what one RPC costs without processing time).
    #[inline]
    pub fn rtt_peers(&self, a: PeerId, b: PeerId) -> Time {
        if self.topology.is_symmetric() {
            // One matrix read instead of two (the second is a cache miss on large matrices).
            2 * self.one_way(a, b)
        } else {
            self.one_way(a, b) + self.one_way(b, a)
        }
    }

    /// Switches to latency time slice `index` (cycling through the available slices).
    pub fn set_slice(&mut self, index: usize) {
        self.slice = index % self.topology.slice_count();
    }

    /// The period between time-slice switches, if the topology has several slices.
    pub fn slice_period(&self) -> Option<Time> {
        self.topology.slice_period()
    }

    /// Counts a message sent.
    #[inline(always)]
    pub fn count_sent<M: Message>(&mut self, m: &M) {
        let k = m.kind();
        self.counters.sent[k] += 1;
        self.counters.bytes[k] += u64::from(m.size_bytes());
    }

    /// Counts a message lost at a dead receiver.
    #[inline]
    pub fn count_lost<M: Message>(&mut self, m: &M) {
        self.counters.lost[m.kind()] += 1;
    }

    /// Counts a message delivered to `to` if it is query traffic ([`Message::query_traffic`]).
    #[inline]
    pub fn count_delivered<M: Message>(&mut self, to: PeerId, m: &M) {
        if m.query_traffic() {
            let h = self.hosts.host_of(to) as usize;
            self.query_load[h] += 1;
        }
    }

    /// Query messages delivered to each host so far (the load a host handled for queries).
    pub fn query_load(&self) -> &[u64] {
        &self.query_load
    }

    /// The message counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }
}

/// The `[latency]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    /// `half-rtt` (default: one-way = RTT / 2) or `rtt` (the authors' convention).
    #[serde(default)]
    pub one_way: OneWay,
    /// One-way delay between virtual peers of one host, in µs (default 50).
    #[serde(default = "default_local_us")]
    pub local_us: Time,
}

fn default_local_us() -> Time {
    50
}

impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec {
            one_way: OneWay::default(),
            local_us: default_local_us(),
        }
    }
}

/// The `[overlay]` table: how many virtual peers each host runs, and within which bounds a
/// balancer may change that number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlaySpec {
    /// Virtual peers per host (default 10); with `capacity`, the mean over hosts.
    #[serde(default = "default_vnodes")]
    pub vnodes: u32,
    /// Optional per-host counts (capacity-weighted); overrides `vnodes`, one entry per host.
    #[serde(default)]
    pub vnodes_per_host: Option<Vec<u32>>,
    /// Host capacities the virtual-peer counts follow: `equal` (default), `uniform:LO,HI` or
    /// `pareto:ALPHA` (drawn per host from the run's `capacity` stream).
    #[serde(default = "default_capacity")]
    pub capacity: String,
    /// The fewest virtual peers a balancer may leave a host with (default 1).
    #[serde(default = "default_min_vnodes")]
    pub min_vnodes: u32,
    /// The most virtual peers a host may run (peer slots per host; default: its initial count).
    #[serde(default)]
    pub max_vnodes: Option<u32>,
}

fn default_vnodes() -> u32 {
    10
}

fn default_capacity() -> String {
    "equal".into()
}

fn default_min_vnodes() -> u32 {
    1
}

impl Default for OverlaySpec {
    fn default() -> Self {
        OverlaySpec {
            vnodes: default_vnodes(),
            vnodes_per_host: None,
            capacity: default_capacity(),
            min_vnodes: default_min_vnodes(),
            max_vnodes: None,
        }
    }
}

/// A distribution of host capacities (`overlay.capacity`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Capacity {
    /// Every host the same.
    Equal,
    /// Uniform on [lo, hi].
    Uniform(f64, f64),
    /// Pareto with shape alpha and scale 1.
    Pareto(f64),
}

impl Capacity {
    /// Parses `equal`, `uniform:LO,HI` or `pareto:ALPHA`.
    pub fn parse(s: &str) -> Result<Capacity> {
        let err = || {
            anyhow::anyhow!(
                "overlay.capacity = {s:?}: expected \"equal\", \"uniform:LO,HI\" (0 < LO <= HI) or \"pareto:ALPHA\" (ALPHA > 1)"
            )
        };
        let num = |x: &str| x.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        match s.split_once(':') {
            None if s == "equal" => Ok(Capacity::Equal),
            Some(("uniform", rest)) => {
                let (a, b) = rest.split_once(',').ok_or_else(err)?;
                match (num(a), num(b)) {
                    (Some(lo), Some(hi)) if lo > 0.0 && lo <= hi => Ok(Capacity::Uniform(lo, hi)),
                    _ => Err(err()),
                }
            }
            Some(("pareto", a)) => match num(a) {
                Some(alpha) if alpha > 1.0 && alpha <= 100.0 => Ok(Capacity::Pareto(alpha)),
                _ => Err(err()),
            },
            _ => Err(err()),
        }
    }

    /// One capacity per host, drawn from the master seed's `capacity` stream.
    pub fn draw(self, hosts: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::rng::SimRng::stream(seed, "capacity");
        (0..hosts)
            .map(|_| match self {
                Capacity::Equal => 1.0,
                Capacity::Uniform(lo, hi) => lo + (hi - lo) * rng.unit(),
                Capacity::Pareto(alpha) => libm::pow(rng.unit_open0(), -1.0 / alpha),
            })
            .collect()
    }
}

impl OverlaySpec {
    /// The initial virtual-peer count of each of `hosts` hosts, validated: `vnodes_per_host`,
    /// else `vnodes` scaled by each host's drawn capacity over the mean capacity (at least 1,
    /// at most `max_vnodes`).
    pub fn vnodes_per_host(&self, hosts: usize, seed: u64) -> Result<Vec<u32>> {
        let cap = Capacity::parse(&self.capacity)?;
        if self.vnodes == 0 {
            bail!("overlay.vnodes must be >= 1");
        }
        let v = match &self.vnodes_per_host {
            Some(v) => {
                if v.len() != hosts {
                    bail!(
                        "overlay.vnodes_per_host has {} entries but there are {hosts} hosts",
                        v.len()
                    );
                }
                if cap != Capacity::Equal {
                    bail!("overlay.vnodes_per_host and overlay.capacity both set the counts; keep one");
                }
                v.clone()
            }
            None if cap == Capacity::Equal => vec![self.vnodes; hosts],
            None => {
                let w = cap.draw(hosts, seed);
                let mean = w.iter().sum::<f64>() / hosts.max(1) as f64;
                let hi = self.max_vnodes.unwrap_or(u32::MAX / 2);
                w.iter()
                    .map(|x| {
                        let n = (f64::from(self.vnodes) * x / mean).round();
                        (n.min(f64::from(hi)) as u32).max(1)
                    })
                    .collect()
            }
        };
        if v.contains(&0) {
            bail!("overlay.vnodes must be >= 1 on every host");
        }
        if self.min_vnodes == 0 {
            bail!("overlay.min_vnodes must be >= 1");
        }
        if let Some(max) = self.max_vnodes {
            if max < self.min_vnodes {
                bail!(
                    "overlay.max_vnodes = {max} is below overlay.min_vnodes = {}",
                    self.min_vnodes
                );
            }
            if let Some((h, &n)) = v.iter().enumerate().find(|(_, &n)| n > max) {
                bail!("overlay.max_vnodes = {max} is below host {h}'s {n} virtual peers");
            }
        }
        let slots: u64 = v
            .iter()
            .map(|&x| u64::from(self.max_vnodes.unwrap_or(x).max(x)))
            .sum();
        if slots >= u64::from(u32::MAX) {
            bail!("overlay.vnodes: too many peers in total ({slots})");
        }
        Ok(v)
    }

    /// Network peer slots per host for initial counts `vnodes`: `max_vnodes` where set (a
    /// balancer adds virtual peers into the spare slots), else the initial count.
    pub fn slots_per_host(&self, vnodes: &[u32]) -> Vec<u32> {
        vnodes
            .iter()
            .map(|&n| self.max_vnodes.map_or(n, |m| m.max(n)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Backing;

    /// Three hosts with two peers each; an asymmetric matrix with two slices, or one
    /// symmetric slice.
    fn net(asymmetric: bool) -> Network {
        let slice = |k: u32| {
            let mut m = vec![0u32; 9];
            for a in 0..3u32 {
                for b in 0..3u32 {
                    if a != b {
                        let skew = if asymmetric && a < b { 1_000 } else { 0 };
                        m[(a * 3 + b) as usize] = 10_000 * k + 2_000 * (a + b) + skew;
                    }
                }
            }
            m
        };
        let slices = if asymmetric {
            vec![slice(1), slice(2)]
        } else {
            vec![slice(1)]
        };
        let topo = Topology::new("test".into(), 3, Backing::Matrix(slices), Some(1_000_000));
        Network::new(Arc::new(topo), OneWay::HalfRtt, 50, &[2, 2, 2], 1)
    }

    #[test]
    fn a_path_holds_the_delays_it_was_read_for_in_both_directions() {
        for asymmetric in [false, true] {
            let n = net(asymmetric);
            for (a, b) in [(0, 2), (2, 0), (1, 4), (5, 0), (2, 3)] {
                let p = n.path(a, b);
                assert_eq!(n.one_way_on(p, a, b), n.one_way(a, b));
                assert_eq!(n.one_way_on(p.reversed(), b, a), n.one_way(b, a));
                assert_eq!(n.rtt_on(p, a, b), n.rtt_peers(a, b));
                assert_eq!(n.rtt_on(p, a, b), n.one_way(a, b) + n.one_way(b, a));
            }
            // Same host: the local delay.
            assert_eq!(n.one_way_on(n.path(0, 1), 0, 1), 50);
        }
        // The asymmetric matrix really is asymmetric (so `back` is not a copy of `there`).
        let n = net(true);
        assert_ne!(n.one_way(0, 2), n.one_way(2, 0));
    }

    #[test]
    fn a_path_of_a_past_slice_is_read_again() {
        let mut n = net(true);
        let p = n.path(0, 4);
        let before = n.one_way(0, 4);
        n.set_slice(1);
        assert_ne!(n.one_way(0, 4), before, "the slices differ");
        assert_eq!(n.one_way_on(p, 0, 4), n.one_way(0, 4));
        assert_eq!(n.one_way_on(p.reversed(), 4, 0), n.one_way(4, 0));
        assert_eq!(n.rtt_on(p, 0, 4), n.rtt_peers(0, 4));
        // A path kept from nothing (too long to store) is read at every use.
        assert_eq!(n.one_way_on(Path::default(), 0, 4), n.one_way(0, 4));
    }
}
