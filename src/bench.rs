//! Performance measurements printed by `leadsim bench` (never asserted in tests).
//!
//! `engine`: the classic *hold* model — keep P events pending; repeatedly pop the earliest and
//! push one new event at `popped time + Exp(1 ms)`. Measured for the queue the kernel uses (std
//! `BinaryHeap` on 24-byte keys), the `priority-queue` crate (an indexed heap keyed by item), a
//! 4-ary implicit heap, and the whole kernel (arena, timer handles, dispatch to a protocol).

use crate::churn::ChurnSchedule;
use crate::engine::queue::{EventQueue, HeapQueue, QueueEntry};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::network::{Message, Network, OneWay};
use crate::rng::SimRng;
use crate::sim::{run_until, Protocol, Sim};
use crate::topology::synthetic::RandomSampling;
use crate::topology::{Backing, Topology};
use std::sync::Arc;
use std::time::Instant;

/// Peak resident memory of this process (Linux `VmHWM`), if available.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// One benchmark figure.
#[derive(Clone, Debug)]
pub struct BenchRow {
    /// Which implementation.
    pub name: &'static str,
    /// Pending events held.
    pub pending: usize,
    /// Hold operations (pop + push) performed.
    pub ops: u64,
    /// Operations per wall-clock second.
    pub ops_per_s: f64,
}

fn increments(n: usize, seed: u64) -> Vec<Time> {
    let mut r = SimRng::from_seed(seed);
    (0..n)
        .map(|_| (-1000.0 * libm::log(r.unit_open0())) as Time + 1)
        .collect()
}

fn timed(name: &'static str, pending: usize, ops: u64, f: impl FnOnce() -> u64) -> BenchRow {
    let t = Instant::now();
    let check = f();
    let s = t.elapsed().as_secs_f64();
    std::hint::black_box(check);
    BenchRow {
        name,
        pending,
        ops,
        ops_per_s: ops as f64 / s,
    }
}

/// Hold model on a `BinaryHeap` of 24-byte `(time, seq, slot)` structs.
pub fn hold_binary_heap(pending: usize, ops: u64) -> BenchRow {
    let inc = increments(1 << 16, 1);
    let mut q = std::collections::BinaryHeap::with_capacity(pending);
    let mut seq = 0u64;
    for i in 0..pending {
        let time = inc[i % inc.len()] * 3;
        q.push(Wide(QueueEntry {
            time,
            seq,
            slot: i as u32,
        }));
        seq += 1;
    }
    timed(
        "BinaryHeap of 24-byte (time, seq, slot)",
        pending,
        ops,
        || {
            let mut acc = 0u64;
            for i in 0..ops {
                let Wide(e) = q.pop().expect("non-empty");
                acc = acc.wrapping_add(e.time);
                let time = e.time + inc[i as usize & 0xFFFF];
                q.push(Wide(QueueEntry {
                    time,
                    seq,
                    slot: e.slot,
                }));
                seq += 1;
            }
            acc
        },
    )
}

/// Hold model on the `priority-queue` crate (items keyed by sequence number).
pub fn hold_priority_queue_crate(pending: usize, ops: u64) -> BenchRow {
    use std::cmp::Reverse;
    let inc = increments(1 << 16, 1);
    let mut q: priority_queue::PriorityQueue<u64, Reverse<(Time, u64)>> =
        priority_queue::PriorityQueue::with_capacity(pending);
    let mut seq = 0u64;
    for i in 0..pending {
        q.push(seq, Reverse((inc[i % inc.len()] * 3, seq)));
        seq += 1;
    }
    timed("priority-queue crate", pending, ops, || {
        let mut acc = 0u64;
        for i in 0..ops {
            let (_, Reverse((t, _))) = q.pop().expect("non-empty");
            acc = acc.wrapping_add(t);
            q.push(seq, Reverse((t + inc[i as usize & 0xFFFF], seq)));
            seq += 1;
        }
        acc
    })
}

/// The two queue types of the kernel module, behind one interface for the hold loop.
trait HoldQueue {
    fn push(&mut self, e: QueueEntry);
    fn pop(&mut self) -> Option<QueueEntry>;
}

impl HoldQueue for EventQueue {
    fn push(&mut self, e: QueueEntry) {
        EventQueue::push(self, e)
    }
    fn pop(&mut self) -> Option<QueueEntry> {
        EventQueue::pop(self)
    }
}

impl HoldQueue for HeapQueue {
    fn push(&mut self, e: QueueEntry) {
        HeapQueue::push(self, e)
    }
    fn pop(&mut self) -> Option<QueueEntry> {
        HeapQueue::pop(self)
    }
}

fn hold_packed<Q: HoldQueue>(name: &'static str, mut q: Q, pending: usize, ops: u64) -> BenchRow {
    let inc = increments(1 << 16, 1);
    let mut seq = 0u64;
    for i in 0..pending {
        q.push(QueueEntry {
            time: inc[i % inc.len()] * 3,
            seq,
            slot: i as u32,
        });
        seq += 1;
    }
    timed(name, pending, ops, || {
        let mut acc = 0u64;
        for i in 0..ops {
            let e = q.pop().expect("non-empty");
            acc = acc.wrapping_add(e.time);
            q.push(QueueEntry {
                time: e.time + inc[i as usize & 0xFFFF],
                seq,
                slot: e.slot,
            });
            seq += 1;
        }
        acc
    })
}

/// Hold model on the kernel's queue ([`EventQueue`]: calendar queue of packed keys).
pub fn hold_calendar(pending: usize, ops: u64) -> BenchRow {
    let q = EventQueue::with_capacity(pending);
    hold_packed("EventQueue: calendar queue (kernel queue)", q, pending, ops)
}

/// Hold model on [`HeapQueue`]: packed 128-bit keys in one `BinaryHeap`.
pub fn hold_packed_u128(pending: usize, ops: u64) -> BenchRow {
    hold_packed(
        "BinaryHeap of packed u128 keys",
        HeapQueue::with_capacity(pending),
        pending,
        ops,
    )
}

/// A 24-byte heap entry ordered by (time, seq), reversed, for the comparison.
#[derive(PartialEq, Eq)]
struct Wide(QueueEntry);
impl Ord for Wide {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.0.time, o.0.seq).cmp(&(self.0.time, self.0.seq))
    }
}
impl PartialOrd for Wide {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// A minimal 4-ary implicit min-heap on (time, seq), for comparison.
struct QuadHeap {
    v: Vec<(Time, u64, u32)>,
}

impl QuadHeap {
    fn push(&mut self, e: (Time, u64, u32)) {
        let mut i = self.v.len();
        self.v.push(e);
        while i > 0 {
            let p = (i - 1) / 4;
            if (self.v[p].0, self.v[p].1) <= (e.0, e.1) {
                break;
            }
            self.v[i] = self.v[p];
            i = p;
        }
        self.v[i] = e;
    }
    fn pop(&mut self) -> Option<(Time, u64, u32)> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = self.v[0];
        let n = self.v.len();
        let mut i = 0;
        loop {
            let c = 4 * i + 1;
            if c >= n {
                break;
            }
            let mut m = c;
            for j in c + 1..(c + 4).min(n) {
                if (self.v[j].0, self.v[j].1) < (self.v[m].0, self.v[m].1) {
                    m = j;
                }
            }
            if (last.0, last.1) <= (self.v[m].0, self.v[m].1) {
                break;
            }
            self.v[i] = self.v[m];
            i = m;
        }
        self.v[i] = last;
        Some(top)
    }
}

/// Hold model on a 4-ary heap.
pub fn hold_quad_heap(pending: usize, ops: u64) -> BenchRow {
    let inc = increments(1 << 16, 1);
    let mut q = QuadHeap {
        v: Vec::with_capacity(pending),
    };
    let mut seq = 0u64;
    for i in 0..pending {
        q.push((inc[i % inc.len()] * 3, seq, i as u32));
        seq += 1;
    }
    timed("4-ary heap", pending, ops, || {
        let mut acc = 0u64;
        for i in 0..ops {
            let e = q.pop().expect("non-empty");
            acc = acc.wrapping_add(e.0);
            q.push((e.0 + inc[i as usize & 0xFFFF], seq, e.2));
            seq += 1;
        }
        acc
    })
}

#[derive(Debug)]
struct Nothing;
impl Message for Nothing {
    fn kind(&self) -> usize {
        0
    }
    fn size_bytes(&self) -> u32 {
        0
    }
}

struct Hold {
    inc: Vec<Time>,
    i: usize,
    pending: usize,
}

impl Protocol for Hold {
    type Msg = Nothing;
    type Timer = u32;
    fn start(&mut self, k: &mut Sim<Nothing, u32>) {
        let peers = k.net().peer_count() as u32;
        for i in 0..self.pending {
            let d = self.inc[i % self.inc.len()] * 3;
            k.set_timer(i as u32 % peers, d, i as u32);
        }
    }
    fn on_message(&mut self, _: &mut Sim<Nothing, u32>, _: PeerId, _: PeerId, _: Nothing) {}
    fn on_timer(&mut self, k: &mut Sim<Nothing, u32>, peer: PeerId, t: u32) {
        self.i = (self.i + 1) & 0xFFFF;
        k.set_timer(peer, self.inc[self.i], t);
    }
}

/// Hold model through the whole kernel: P peer timers, each re-armed when it fires.
pub fn hold_kernel(pending: usize, ops: u64) -> BenchRow {
    let hosts = 1000;
    let topo = Topology::new(
        "bench".into(),
        hosts,
        Backing::RandomSampling(RandomSampling::new(1, 1.0, 2.0)),
        None,
    );
    let net = Network::new(Arc::new(topo), OneWay::HalfRtt, 50, &vec![1; hosts], 1);
    let mut k = Sim::new(net, ChurnSchedule::none(hosts));
    let mut p = Hold {
        inc: increments(1 << 16, 1),
        i: 0,
        pending,
    };
    p.start(&mut k);
    // Warm up (the arena reaches its peak size), then time a horizon that yields ~ops events.
    run_until(&mut k, &mut p, 1_000);
    let start_events = k.events_processed();
    let t = Instant::now();
    let mut horizon = k.now();
    while k.events_processed() - start_events < ops {
        horizon += 10_000;
        run_until(&mut k, &mut p, horizon);
    }
    let s = t.elapsed().as_secs_f64();
    let done = k.events_processed() - start_events;
    BenchRow {
        name: "leadsim kernel (arena + timers + dispatch)",
        pending,
        ops: done,
        ops_per_s: done as f64 / s,
    }
}

/// Runs every engine benchmark at the given pending-event counts.
pub fn engine_benchmarks(pendings: &[usize], ops: u64) -> Vec<BenchRow> {
    let mut rows = Vec::new();
    for &p in pendings {
        rows.push(hold_calendar(p, ops));
        rows.push(hold_packed_u128(p, ops));
        rows.push(hold_binary_heap(p, ops));
        rows.push(hold_quad_heap(p, ops));
        rows.push(hold_priority_queue_crate(p, ops));
        rows.push(hold_kernel(p, ops));
    }
    rows
}

/// One row of the curve benchmark.
#[derive(Clone, Debug)]
pub struct CurveRow {
    /// What was measured.
    pub name: String,
    /// Nanoseconds per operation (encode or decode), or the interval count (boxes).
    pub value: f64,
    /// Unit of `value`.
    pub unit: &'static str,
}

/// Nanoseconds per Z-order and Hilbert encode and decode in 2-D (32 bits each) and 3-D (21 bits
/// each) over `ops` pseudo-random cells, and the intervals of square 2-D boxes of a few sizes.
pub fn curve_benchmarks(ops: u64) -> Vec<CurveRow> {
    use crate::curve::{Curve, Space};
    let mut rows = Vec::new();
    for (d, bits) in [(2usize, 32u32), (3, 21)] {
        let s = Space::new(d, bits).expect("valid space");
        for c in [Curve::Z, Curve::Hilbert] {
            let mut x = [0u32; 3];
            let mut r = 0x9E37_79B9_7F4A_7C15u64;
            let mut acc = 0u64;
            let t = Instant::now();
            for _ in 0..ops {
                r = r
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                for (i, xi) in x.iter_mut().take(d).enumerate() {
                    *xi = ((r >> (8 * i)) as u32) & s.max_coord();
                }
                acc = acc.wrapping_add(s.encode(c, &x[..d]));
            }
            let enc = t.elapsed().as_secs_f64();
            let t = Instant::now();
            for i in 0..ops {
                s.decode(c, acc.wrapping_add(i) >> (64 - s.index_bits()), &mut x);
                acc = acc.wrapping_add(u64::from(x[0]));
            }
            let dec = t.elapsed().as_secs_f64();
            std::hint::black_box(acc);
            for (what, secs) in [("encode", enc), ("decode", dec)] {
                rows.push(CurveRow {
                    name: format!("{c:?} {what} {d}-D x {bits} bits"),
                    value: secs * 1e9 / ops as f64,
                    unit: "ns",
                });
            }
        }
    }
    let s = Space::new(2, 16).expect("valid space");
    for w in [10u32, 100, 1000, 10_000] {
        let lo = [12_345, 23_456];
        let hi = [lo[0] + w - 1, lo[1] + w - 1];
        for c in [Curve::Z, Curve::Hilbert] {
            let iv = s
                .intervals(c, &lo, &hi, usize::MAX / 128)
                .expect("valid box");
            rows.push(CurveRow {
                name: format!("{c:?} intervals of a {w} x {w} box (2-D, 16 bits)"),
                value: iv.len() as f64,
                unit: "intervals",
            });
        }
    }
    rows
}
