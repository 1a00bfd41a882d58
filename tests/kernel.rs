//! Kernel semantics: delivery delays, tie order, timer cancellation, crash voiding, losses.

use leadsim::churn::ChurnSchedule;
use leadsim::engine::{Time, TimerHandle};
use leadsim::ids::{HostId, PeerId};
use leadsim::network::{Message, Network, OneWay};
use leadsim::sim::{run_until, Protocol, Sim};
use leadsim::topology::matrix::parse_matrix;
use leadsim::topology::matrix::MatrixUnit;
use leadsim::topology::{Backing, Topology};
use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
struct M(u32);
impl Message for M {
    fn kind(&self) -> usize {
        0
    }
    fn size_bytes(&self) -> u32 {
        10
    }
}

#[derive(Default)]
struct Log {
    seen: Vec<(Time, &'static str, u32)>,
    cancel_me: Option<TimerHandle>,
}

impl Protocol for Log {
    type Msg = M;
    type Timer = u32;
    fn start(&mut self, k: &mut Sim<M, u32>) {
        // Three timers at the same instant: must fire in insertion order.
        for i in [7, 3, 5] {
            k.set_timer(0, 1_000, i);
        }
        self.cancel_me = Some(k.set_timer(0, 2_000, 99));
        k.send(0, 2, M(1)); // host 0 -> host 1: RTT 100 ms, one-way 50 ms
        k.send(0, 1, M(2)); // co-located vnode: local 50 µs
        k.send(0, 4, M(3)); // host 2 crashes at 10 ms: lost
        k.set_timer(4, 20_000, 42); // host 2's timer: voided by the crash
    }
    fn on_message(&mut self, _k: &mut Sim<M, u32>, _from: PeerId, to: PeerId, msg: M) {
        self.seen.push((_k.now(), "msg", msg.0 * 100 + to));
    }
    fn on_timer(&mut self, k: &mut Sim<M, u32>, _peer: PeerId, t: u32) {
        self.seen.push((k.now(), "timer", t));
        if t == 7 {
            let h = self.cancel_me.take().unwrap();
            k.cancel(h);
            k.cancel(h); // double cancel is harmless
        }
    }
    fn on_host_down(&mut self, k: &mut Sim<M, u32>, h: HostId) {
        self.seen.push((k.now(), "down", h));
    }
    fn on_host_up(&mut self, k: &mut Sim<M, u32>, h: HostId) {
        self.seen.push((k.now(), "up", h));
    }
}

fn three_hosts() -> Arc<Topology> {
    let m = parse_matrix("0 100 200\n100 0 300\n200 300 0\n", MatrixUnit::Ms, false).unwrap();
    Arc::new(Topology::new(
        "t".into(),
        3,
        Backing::Matrix(vec![m.rtt_us]),
        None,
    ))
}

fn churn_host2_down_at_10ms() -> ChurnSchedule {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.csv");
    std::fs::write(&p, "time_us,host,event\n10000,2,down\n500000,2,up\n").unwrap();
    ChurnSchedule::read_csv(&p, 3).unwrap()
}

#[test]
fn kernel_delivers_orders_cancels_and_voids() {
    let net = Network::new(three_hosts(), OneWay::HalfRtt, 50, &[2, 2, 2], 1);
    let mut k = Sim::new(net, churn_host2_down_at_10ms());
    let mut p = Log::default();
    p.start(&mut k);
    run_until(&mut k, &mut p, 1_000_000);
    assert_eq!(
        p.seen,
        vec![
            (50, "msg", 201),
            (1_000, "timer", 7),
            (1_000, "timer", 3),
            (1_000, "timer", 5),
            (10_000, "down", 2),
            (50_000, "msg", 102),
            (500_000, "up", 2),
        ]
    );
    let c = k.net().counters();
    assert_eq!(c.sent, vec![3]);
    assert_eq!(c.lost, vec![1], "the message to the crashed host is lost");
    assert_eq!(c.bytes, vec![30]);
}

#[test]
fn rtt_convention_doubles_delays() {
    let net = Network::new(three_hosts(), OneWay::Rtt, 50, &[1, 1, 1], 1);
    assert_eq!(net.one_way(0, 1), 100_000);
    let net = Network::new(three_hosts(), OneWay::HalfRtt, 50, &[1, 1, 1], 1);
    assert_eq!(net.one_way(0, 2), 100_000);
    assert_eq!(net.rtt_peers(1, 2), 300_000);
}

#[derive(Default)]
struct Echo {
    arrivals: Vec<Time>,
}
impl Protocol for Echo {
    type Msg = M;
    type Timer = u32;
    fn start(&mut self, k: &mut Sim<M, u32>) {
        k.send(0, 1, M(0));
        k.set_timer(0, 1_500_000, 1);
        k.set_timer(0, 2_500_000, 2);
    }
    fn on_message(&mut self, k: &mut Sim<M, u32>, _: PeerId, _: PeerId, _: M) {
        self.arrivals.push(k.now());
    }
    fn on_timer(&mut self, k: &mut Sim<M, u32>, _: PeerId, _: u32) {
        let sent = k.now();
        k.send(0, 1, M(0));
        self.arrivals.push(sent);
    }
}

#[test]
fn time_slices_switch_latency_and_cycle() {
    // Slice 0: RTT 10 ms; slice 1: RTT 40 ms; switch every second, cycling back to slice 0.
    let s0 = parse_matrix("0 10\n10 0\n", MatrixUnit::Ms, false)
        .unwrap()
        .rtt_us;
    let s1 = parse_matrix("0 40\n40 0\n", MatrixUnit::Ms, false)
        .unwrap()
        .rtt_us;
    let topo = Topology::new(
        "slices".into(),
        2,
        Backing::Matrix(vec![s0, s1]),
        Some(1_000_000),
    );
    let net = Network::new(Arc::new(topo), OneWay::HalfRtt, 50, &[1, 1], 1);
    let mut k = Sim::new(net, ChurnSchedule::none(2));
    let mut p = Echo::default();
    p.start(&mut k);
    run_until(&mut k, &mut p, 3_000_000);
    // Sent at 0 (slice 0: 5 ms), at 1.5 s (slice 1: 20 ms), at 2.5 s (slice 0 again: 5 ms).
    assert_eq!(
        p.arrivals,
        vec![5_000, 1_500_000, 1_520_000, 2_500_000, 2_505_000]
    );
}
