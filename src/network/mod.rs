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
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A protocol message: a plain enum that knows its kind (for counters) and its wire size.
pub trait Message: std::fmt::Debug {
    /// This message's kind: an index into the protocol's list of kind names (the names are
    /// given to [`Network::new`] by their count and reported by the protocol as CSV columns).
    fn kind(&self) -> usize;
    /// Its size on the wire in bytes (headers included), for byte counters.
    fn size_bytes(&self) -> u32;
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

/// The network state of one run.
pub struct Network {
    topology: Arc<Topology>,
    one_way: OneWay,
    local_us: Time,
    peer_host: Vec<HostId>,
    host_up: Vec<bool>,
    incarnation: Vec<u32>,
    slice: usize,
    counters: Counters,
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
        let mut peer_host = Vec::with_capacity(vnodes.iter().map(|&v| v as usize).sum());
        for (h, &v) in vnodes.iter().enumerate() {
            peer_host.extend(std::iter::repeat_n(h as HostId, v as usize));
        }
        Network {
            topology,
            one_way,
            local_us,
            peer_host,
            host_up: vec![true; hosts],
            incarnation: vec![0; hosts],
            slice: 0,
            counters: Counters::new(kinds),
        }
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.host_up.len()
    }

    /// Number of peers.
    pub fn peer_count(&self) -> usize {
        self.peer_host.len()
    }

    /// The host a peer runs on.
    #[inline]
    pub fn host_of(&self, p: PeerId) -> HostId {
        self.peer_host[p as usize]
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
        self.host_up[h as usize] = up;
    }

    /// Number of live hosts.
    pub fn live_hosts(&self) -> usize {
        self.host_up.iter().filter(|&&u| u).count()
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
    #[inline]
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

/// The `[overlay]` table: how many virtual peers each host runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlaySpec {
    /// Virtual peers per host (default 10).
    #[serde(default = "default_vnodes")]
    pub vnodes: u32,
    /// Optional per-host counts (capacity-weighted); overrides `vnodes`, one entry per host.
    #[serde(default)]
    pub vnodes_per_host: Option<Vec<u32>>,
}

fn default_vnodes() -> u32 {
    10
}

impl Default for OverlaySpec {
    fn default() -> Self {
        OverlaySpec {
            vnodes: default_vnodes(),
            vnodes_per_host: None,
        }
    }
}

impl OverlaySpec {
    /// The vnode count of each of `hosts` hosts, validated.
    pub fn vnodes_per_host(&self, hosts: usize) -> Result<Vec<u32>> {
        let v = match &self.vnodes_per_host {
            Some(v) => {
                if v.len() != hosts {
                    bail!(
                        "overlay.vnodes_per_host has {} entries but there are {hosts} hosts",
                        v.len()
                    );
                }
                v.clone()
            }
            None => vec![self.vnodes; hosts],
        };
        if v.contains(&0) {
            bail!("overlay.vnodes must be >= 1 on every host");
        }
        if v.iter().map(|&x| u64::from(x)).sum::<u64>() >= u64::from(u32::MAX) {
            bail!("overlay.vnodes: too many peers in total");
        }
        Ok(v)
    }
}
