//! The ring application API: RPC with failover and successor walks under churn (every leg charged
//! to its query), graceful leave (no key lost, ring consistent), and paired runs (a system's
//! records on a shared ring equal the same system run alone).

use leadsim::driver::{drive, ProtocolOutput, World};
use leadsim::experiment::{self, run_manifest};
use leadsim::ids::PeerId;
use leadsim::ledger::{QueryId, QueryStream};
use leadsim::manifest::Manifest;
use leadsim::network::Message;
use leadsim::output::Outcome;
use leadsim::overlay::chord::{ArcKeys, ChordConfig, Timing};
use leadsim::overlay::id::RingId;
use leadsim::overlay::view::GlobalView;
use leadsim::overlay::{Ctx, Delivery, Overlay, Ring, RingApp};
use std::sync::Arc;

/// Runs `app` on the rings `rings` builds, from manifest `text`; returns the output and what
/// `read` takes from the app afterwards.
fn run_on<A: RingApp, T>(
    text: &str,
    rings: impl FnOnce(&World, Timing) -> Vec<Ring>,
    app: impl FnOnce(&World) -> A,
    read: impl FnOnce(&A) -> T,
) -> (ProtocolOutput, T) {
    let m = Manifest::parse(text, "test.toml").unwrap();
    let topo = Arc::new(m.topology.build(m.seed).unwrap());
    let churn = m
        .churn
        .schedule(topo.host_count(), m.duration(), m.seed)
        .unwrap();
    experiment::with_world(&m, topo, Default::default(), churn, |w| {
        let timing = w.settings::<ChordConfig>("chord")?.timing()?;
        let mut overlay = Overlay::new(rings(w, timing));
        let sys = overlay.add_system("test", app(w));
        let kinds = overlay.kind_names();
        let out = drive(w, &mut overlay, kinds, 60_000_000)?;
        Ok((out, read(overlay.app::<A>(sys).unwrap())))
    })
    .unwrap()
}

/// One ring of every peer at its PeerHASH position.
fn one_ring(w: &World, timing: Timing, arc_keys: ArcKeys) -> Vec<Ring> {
    vec![Ring::new(
        0,
        GlobalView::new(&w.vnodes),
        timing,
        w.seed,
        arc_keys,
    )]
}

fn stream(w: &World) -> QueryStream {
    QueryStream::new(
        w.seed,
        "workload",
        w.workload.arrivals().unwrap(),
        w.duration,
    )
}

// ---------------------------------------------------------------- successor walks under churn

const STEPS: u8 = 5;

#[derive(Clone, Debug)]
enum WalkMsg {
    Step {
        q: QueryId,
        left: u8,
        origin: PeerId,
        /// The sender's first successor when it sent the step (a different receiver = failover).
        first: PeerId,
    },
    Done {
        q: QueryId,
    },
}

impl Message for WalkMsg {
    fn kind(&self) -> usize {
        matches!(self, WalkMsg::Done { .. }) as usize
    }
    fn size_bytes(&self) -> u32 {
        48
    }
}

#[derive(Clone, Copy, Debug)]
enum WalkTimer {
    Issue,
    Deadline(QueryId),
}

struct Walker {
    stream: QueryStream,
    failovers: u64,
    failover_to_true_successor: u64,
}

impl Walker {
    fn step(&mut self, ctx: &mut Ctx<Self>, from: PeerId, q: QueryId, left: u8, origin: PeerId) {
        let Some(&first) = ctx.successors(0, from).first() else {
            return;
        };
        let msg = WalkMsg::Step {
            q,
            left,
            origin,
            first,
        };
        ctx.walk(0, from, msg, Some(q));
    }
}

impl RingApp for Walker {
    type Msg = WalkMsg;
    type Timer = WalkTimer;

    fn kinds(&self) -> &'static [&'static str] {
        &["walk", "done"]
    }

    fn start(&mut self, ctx: &mut Ctx<Self>) {
        let t = self.stream.first();
        ctx.set_global_timer(t, WalkTimer::Issue);
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, _at: PeerId, d: Delivery) {
        ctx.ring_mut(d.ring).free_list(d.list);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _peer: PeerId, t: WalkTimer) {
        match t {
            WalkTimer::Issue => {
                if let Some(gap) = self.stream.next_gap(ctx.now()) {
                    ctx.set_global_timer(gap, WalkTimer::Issue);
                }
                // Every member's next-hop shortcuts and kept predecessor VID match its table,
                // whatever churn did to it.
                ctx.ring(0).audit_shortcuts().unwrap();
                ctx.ring(0).audit_pred_vids().unwrap();
                let Some(origin) = ctx.random_joined_peer(0, &mut self.stream.rng) else {
                    return;
                };
                let q = ctx.open_query(origin, "walk", 0);
                ctx.set_timer(origin, 30_000_000, WalkTimer::Deadline(q));
                self.step(ctx, origin, q, STEPS, origin);
            }
            WalkTimer::Deadline(q) => {
                let now = ctx.now();
                ctx.ledger().close(q, now, Outcome::Failed);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: PeerId, to: PeerId, m: WalkMsg) {
        match m {
            WalkMsg::Step {
                q,
                left,
                origin,
                first,
            } => {
                if to != first {
                    self.failovers += 1;
                    let mut truth = Vec::new();
                    ctx.ring(0).view.live_successors_of(from, 1, &mut truth);
                    if truth.first() == Some(&to) {
                        self.failover_to_true_successor += 1;
                    }
                }
                if left == 1 {
                    ctx.send(to, origin, WalkMsg::Done { q }, Some(q));
                } else {
                    self.step(ctx, to, q, left - 1, origin);
                }
            }
            WalkMsg::Done { q } => {
                let now = ctx.now();
                ctx.ledger().close(q, now, Outcome::Ok);
            }
        }
    }
}

#[test]
fn walks_fail_over_to_the_true_live_successor_and_every_leg_is_charged() {
    // Heavy churn on a Euclidean topology (every RTT well below the 1 s RPC timeout cap, so a
    // timeout always means a lost request).
    let text = r#"
seed = 4
duration_s = 600
[topology]
kind = "euclidean"
hosts = 60
[overlay]
vnodes = 4
[churn]
model = "uniform"
lifetime_mean_s = 120
downtime_mean_s = 40
[workload]
queries_per_s = 20
warmup_s = 10
"#;
    let (out, (failovers, right)) = run_on(
        text,
        |w, t| one_ring(w, t, Box::new(|_, _| 0)),
        |w| Walker {
            stream: stream(w),
            failovers: 0,
            failover_to_true_successor: 0,
        },
        |a| (a.failovers, a.failover_to_true_successor),
    );
    let recs = &out.records[0];
    let ok: Vec<_> = recs.iter().filter(|r| r.outcome == Outcome::Ok).collect();
    let with_timeouts = ok.iter().filter(|r| r.timeouts > 0).count();
    eprintln!(
        "walks: {} ok of {}, {with_timeouts} with timeouts; {failovers} failovers, {right} to the true live successor",
        ok.len(),
        recs.len()
    );
    assert!(ok.len() > 5_000, "{} walks ok of {}", ok.len(), recs.len());
    assert!(with_timeouts > 50, "timeouts must happen: {with_timeouts}");
    // Each step is one request + one ack, each lost request one more attempt and one timeout,
    // plus the reply: nothing is sent for a query without being charged to it.
    for r in &ok {
        assert_eq!(
            r.messages,
            2 * u32::from(STEPS) + r.timeouts + 1,
            "legs of {r:?}"
        );
    }
    assert!(failovers > 50, "{failovers} failovers");
    assert!(
        right as f64 >= 0.9 * failovers as f64,
        "{right} of {failovers} failovers reached the true live successor"
    );
}

// ---------------------------------------------------------------- graceful leave

struct Leaver {
    stream: QueryStream,
    keys: Arc<Vec<RingId>>,
    leavers: Vec<PeerId>,
    expected_transfer_keys: u64,
    delivered: u64,
    at_true_owner: u64,
}

fn keys_in(keys: &[RingId], lo: RingId, hi: RingId) -> u64 {
    let below = |x: RingId| keys.partition_point(|&k| k <= x) as u64;
    if lo < hi {
        below(hi) - below(lo)
    } else {
        keys.len() as u64 - below(lo) + below(hi)
    }
}

#[derive(Clone, Copy, Debug)]
enum LeaveTimer {
    Leave,
    Issue,
}

impl RingApp for Leaver {
    type Msg = WalkMsg;
    type Timer = LeaveTimer;

    fn kinds(&self) -> &'static [&'static str] {
        &["unused"]
    }

    fn start(&mut self, ctx: &mut Ctx<Self>) {
        ctx.set_global_timer(10_000_000, LeaveTimer::Leave);
        ctx.set_global_timer(20_000_000, LeaveTimer::Issue);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: PeerId, t: LeaveTimer) {
        match t {
            LeaveTimer::Leave => {
                // Every 7th peer in ring order leaves (never two neighbours).
                let order: Vec<PeerId> = ctx.ring(0).view.all().iter().map(|&(_, p)| p).collect();
                for &p in order.iter().step_by(7) {
                    let view = &ctx.ring(0).view;
                    let pred = view.live_predecessor_of(p).unwrap();
                    self.expected_transfer_keys += keys_in(&self.keys, view.vid(pred), view.vid(p));
                    self.leavers.push(p);
                    ctx.leave(0, p);
                }
            }
            LeaveTimer::Issue => {
                if let Some(gap) = self.stream.next_gap(ctx.now()) {
                    ctx.set_global_timer(gap, LeaveTimer::Issue);
                }
                let Some(origin) = ctx.random_joined_peer(0, &mut self.stream.rng) else {
                    return;
                };
                let key = self.keys[self.stream.rng.below(self.keys.len() as u64) as usize];
                let q = ctx.open_query(origin, "lookup", 1);
                let r = ctx.lookup(0, origin, key, 0, q);
                self.handle_routed(ctx, origin, r);
            }
        }
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        let ring = ctx.ring(d.ring);
        let id = ring.list(d.list)[0].id;
        self.delivered += 1;
        if ring.view.owner(id) == Some(at) && ring.view.is_member(at) {
            self.at_true_owner += 1;
        }
        ctx.ring_mut(d.ring).free_list(d.list);
        let now = ctx.now();
        ctx.ledger().add_returned(d.query, 1);
        ctx.ledger().close(d.query, now, Outcome::Ok);
    }

    fn on_message(&mut self, _: &mut Ctx<Self>, _: PeerId, _: PeerId, _: WalkMsg) {}
}

#[test]
fn graceful_leave_hands_over_every_key_and_keeps_the_ring_consistent() {
    let text = r#"
seed = 2
duration_s = 90
[topology]
hosts = 50
[overlay]
vnodes = 4
[churn]
model = "none"
[workload]
queries_per_s = 50
"#;
    let mut rng = leadsim::rng::SimRng::stream(5, "keys");
    let mut keys: Vec<RingId> = (0..100_000).map(|_| rng.next_u64()).collect();
    keys.sort_unstable();
    let keys = Arc::new(keys);
    let k2 = keys.clone();
    let arc: ArcKeys = Box::new(move |lo, hi| keys_in(&k2, lo, hi));
    let (out, (leavers, expected, delivered, right)) = run_on(
        text,
        |w, t| {
            // Its members leave while it runs: declared before the run.
            let mut rings = one_ring(w, t, arc);
            rings[0].expect_moves();
            rings
        },
        |w| Leaver {
            stream: stream(w),
            keys: keys.clone(),
            leavers: Vec::new(),
            expected_transfer_keys: 0,
            delivered: 0,
            at_true_owner: 0,
        },
        |a| {
            (
                a.leavers.clone(),
                a.expected_transfer_keys,
                a.delivered,
                a.at_true_owner,
            )
        },
    );
    assert_eq!(leavers.len(), 200usize.div_ceil(7));
    // Every key of a departed arc went to the successor: one transfer per leaver, carrying the
    // arc's keys (16 bytes each: key and value), plus one notice to the predecessor.
    let leave = out.kinds.iter().position(|k| k == "leave").unwrap();
    assert_eq!(out.counters.sent[leave], 2 * leavers.len() as u64);
    let header = 40 + 12;
    assert_eq!(
        out.counters.bytes[leave],
        2 * header * leavers.len() as u64 + 16 * expected
    );
    eprintln!("{} leavers handed over {expected} keys", leavers.len());
    assert!(expected > 10_000, "{expected} keys handed over");
    // Afterwards every lookup reaches the key's owner on the new ring, and the ring is consistent.
    let recs = &out.records[0];
    assert!(recs.len() > 3_000);
    assert!(recs.iter().all(|r| r.outcome == Outcome::Ok));
    assert_eq!(
        delivered, right,
        "lookups answered by a peer that does not own the key"
    );
    let c = out.check("ring consistent").unwrap();
    assert!(c.holds, "{}", c.detail);
    assert!(
        c.detail
            .contains(&format!("{} live peers", 200 - leavers.len())),
        "{}",
        c.detail
    );
}

// ---------------------------------------------------------------- moved members and the hop cache

/// Moves a random peer to a random new ring position every second (graceful leave, then
/// add at the new VID) while routing lists of 16 targets (long enough for a next-hop table).
struct Mover {
    stream: QueryStream,
    moves: u64,
    /// Every delivery: (time, peer, first target id, targets), in order.
    deliveries: Vec<(u64, PeerId, RingId, usize)>,
    at_true_owner: usize,
    targets: usize,
}

#[derive(Clone, Copy, Debug)]
enum MoveTimer {
    Move,
    Issue,
}

impl RingApp for Mover {
    type Msg = WalkMsg;
    type Timer = MoveTimer;

    fn kinds(&self) -> &'static [&'static str] {
        &["unused"]
    }

    fn start(&mut self, ctx: &mut Ctx<Self>) {
        ctx.set_global_timer(5_000_000, MoveTimer::Move);
        ctx.set_global_timer(self.stream.first(), MoveTimer::Issue);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: PeerId, t: MoveTimer) {
        match t {
            MoveTimer::Move => {
                if ctx.now() < 70_000_000 {
                    ctx.set_global_timer(1_000_000, MoveTimer::Move);
                }
                if ctx.now() == 20_000_000 {
                    // Host 5 is down (the trace): its peers move while they cannot rejoin, so
                    // nothing but the move itself changes the ring's routing state.
                    for p in 20..24 {
                        assert!(ctx.net().host_of(p) == 5 && !ctx.net().is_host_up(5));
                        let id = self.stream.rng.next_u64();
                        ctx.leave(0, p);
                        ctx.add_member(0, p, id);
                        self.moves += 1;
                    }
                    return;
                }
                let Some(p) = ctx.random_joined_peer(0, &mut self.stream.rng) else {
                    return;
                };
                let id = self.stream.rng.next_u64();
                ctx.leave(0, p);
                ctx.add_member(0, p, id);
                self.moves += 1;
            }
            MoveTimer::Issue => {
                if let Some(gap) = self.stream.next_gap(ctx.now()) {
                    ctx.set_global_timer(gap, MoveTimer::Issue);
                }
                let Some(origin) = ctx.random_joined_peer(0, &mut self.stream.rng) else {
                    return;
                };
                let q = ctx.open_query(origin, "lookup", 16);
                let ring = ctx.ring_mut(0);
                let list = ring.new_list();
                for tag in 0..16 {
                    let id = self.stream.rng.next_u64();
                    ring.push_target(list, leadsim::overlay::wire::Target::new(id, tag));
                }
                let r = ctx.route(0, origin, list, q);
                self.handle_routed(ctx, origin, r);
            }
        }
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        let ring = ctx.ring(d.ring);
        let targets = ring.list(d.list);
        for t in targets {
            self.targets += 1;
            if ring.view.owner(t.id) == Some(at) {
                self.at_true_owner += 1;
            }
        }
        let entry = (ctx.now(), at, targets[0].id, targets.len());
        self.deliveries.push(entry);
        ctx.ring_mut(d.ring).free_list(d.list);
    }

    fn on_message(&mut self, _: &mut Ctx<Self>, _: PeerId, _: PeerId, _: WalkMsg) {}
}

/// The next-hop tables a peer reuses between lists must be rebuilt when a member moves (its VID
/// changes under the same peer id): routing with the cache gives exactly the deliveries of
/// routing without it, while peers keep moving.
#[test]
fn cached_next_hop_tables_follow_members_that_move() {
    let dir = std::env::temp_dir().join(format!("leadsim-moves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.csv");
    std::fs::write(
        &trace,
        "time_us,host,event\n19900000,5,down\n60000000,5,up\n",
    )
    .unwrap();
    let text = format!(
        "seed = 4\nduration_s = 80\n[topology]\nhosts = 40\n[overlay]\nvnodes = 4\n\
         [churn]\nmodel = \"trace\"\ntrace = \"{}\"\n[workload]\nqueries_per_s = 40\n",
        trace.display()
    );
    let run = |on: bool| {
        leadsim::overlay::chord::routing::set_hop_caching(on);
        let (out, got) = run_on(
            &text,
            |w, t| {
                let mut rings = one_ring(w, t, Box::new(|_, _| 0));
                rings[0].expect_moves();
                rings
            },
            |w| Mover {
                stream: stream(w),
                moves: 0,
                deliveries: Vec::new(),
                at_true_owner: 0,
                targets: 0,
            },
            |a| (a.moves, a.deliveries.clone(), a.at_true_owner, a.targets),
        );
        leadsim::overlay::chord::routing::set_hop_caching(true);
        (out.events, got)
    };
    let (events_on, on) = run(true);
    let (events_off, off) = run(false);
    let (moves, deliveries, right, targets) = &on;
    assert!(*moves >= 60, "{moves} moves");
    assert!(deliveries.len() > 10_000, "{} deliveries", deliveries.len());
    // Routing is sane while peers move (a few answers come from a peer whose state lags a move).
    assert!(
        *right as f64 > 0.97 * *targets as f64,
        "{right} of {targets} targets at their true owner"
    );
    assert_eq!(events_on, events_off);
    assert!(
        on == off,
        "routing with cached tables differs from routing without"
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------- paired runs

const PAIRED: &str = r#"
seed = 7
duration_s = 400
protocol = "chord-batch"
[topology]
hosts = 60
[overlay]
vnodes = 4
[churn]
model = "exponential"
lifetime_mean_s = 200
downtime_mean_s = 50
[chord]
learn_from_queries = false
[dataset]
name = "osmc64-like"
keys = 100000
cache = false
[workload]
queries_per_s = 0.5
range_keys = 700
[[systems]]
name = "B100"
chord_batch = { batch_size = 100 }
"#;

#[test]
fn a_system_on_a_shared_ring_behaves_exactly_as_alone() {
    let second = "[[systems]]\nname = \"B1000\"\nchord_batch = { batch_size = 1000, mode = \"parallel\" }\nworkload = { range_keys = 3000, queries_per_s = 2 }\n";
    let alone = run_manifest(&Manifest::parse(PAIRED, "alone").unwrap()).unwrap();
    let paired =
        run_manifest(&Manifest::parse(&format!("{PAIRED}{second}"), "paired").unwrap()).unwrap();
    assert_eq!(paired.output.systems, vec!["B100", "B1000"]);
    let a = &alone.output.records[0];
    assert!(
        a.iter().any(|r| r.timeouts > 0),
        "churn must cause timeouts"
    );
    assert!(paired.output.records[1].len() > 500);
    assert_eq!(
        a, &paired.output.records[0],
        "B100's records changed by B1000's presence"
    );
    // The run-wide counters do see both systems.
    assert!(paired.output.counters.total_sent() > alone.output.counters.total_sent());
    // CSVs: a system column, one summary row per system.
    let summary = String::from_utf8(paired.summary_csv()).unwrap();
    assert_eq!(summary.lines().count(), 3);
    assert!(summary.lines().nth(2).unwrap().contains(",B1000,"));
}

#[test]
fn bad_systems_are_explained() {
    for (extra, want) in [
        ("[[systems]]\nname = \"B100\"\n", "used twice"),
        (
            "[[systems]]\nname = \"x\"\nchord = { successors = 3 }\n",
            "substrate shared",
        ),
        (
            "[[systems]]\nname = \"x\"\nprotocol = \"ping\"\n",
            "cannot run as one of several",
        ),
        (
            "[[systems]]\nname = \"x\"\nchord_batch = { batch_size = 0 }\n",
            "batch_size must be >= 1",
        ),
        (
            "[[systems]]\nname = \"x\"\nbogus = 1\n",
            "unknown key `bogus`",
        ),
    ] {
        let e = Manifest::parse(&format!("{PAIRED}{extra}"), "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want) && e.contains("p.toml:"), "{e}");
    }
}

// ---------------------------------------------------------------- several rings in one kernel

struct TwoRings {
    stream: QueryStream,
    right: [u64; 2],
    wrong: [u64; 2],
}

impl RingApp for TwoRings {
    type Msg = WalkMsg;
    type Timer = ();

    fn kinds(&self) -> &'static [&'static str] {
        &["unused"]
    }

    fn start(&mut self, ctx: &mut Ctx<Self>) {
        let t = self.stream.first();
        ctx.set_global_timer(t, ());
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: PeerId, _: ()) {
        if let Some(gap) = self.stream.next_gap(ctx.now()) {
            ctx.set_global_timer(gap, ());
        }
        let r = (self.stream.rng.below(2)) as u8;
        let Some(origin) = ctx.random_joined_peer(r, &mut self.stream.rng) else {
            return;
        };
        let q = ctx.open_query(origin, "lookup", 1);
        let id = self.stream.rng.next_u64();
        let routed = ctx.lookup(r, origin, id, 0, q);
        self.handle_routed(ctx, origin, routed);
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        let ring = ctx.ring(d.ring);
        let id = ring.list(d.list)[0].id;
        let i = usize::from(d.ring);
        if ring.view.is_member(at) && ring.view.live_successor(id) == Some(at) {
            self.right[i] += 1;
        } else {
            self.wrong[i] += 1;
        }
        ctx.ring_mut(d.ring).free_list(d.list);
        let now = ctx.now();
        ctx.ledger().close(d.query, now, Outcome::Ok);
    }

    fn on_message(&mut self, _: &mut Ctx<Self>, _: PeerId, _: PeerId, _: WalkMsg) {}
}

#[test]
fn two_rings_of_disjoint_members_share_one_kernel() {
    // Even peers on ring 0 at their PeerHASH, odd peers on ring 1 at evenly spaced positions;
    // churn until 120 s, then calm.
    let text = r#"
seed = 12
duration_s = 240
[topology]
hosts = 40
[overlay]
vnodes = 4
[churn]
model = "uniform"
lifetime_mean_s = 100
downtime_mean_s = 30
stop_s = 120
[workload]
queries_per_s = 40
"#;
    let mut sizes = [0; 2];
    let rings = |w: &World, timing: Timing| {
        let all = leadsim::overlay::view::peer_hash_positions(&w.vnodes);
        let even: Vec<_> = all.iter().copied().filter(|m| m.0 % 2 == 0).collect();
        let odd: Vec<_> = (all.iter().filter(|m| m.0 % 2 == 1).enumerate())
            .map(|(i, &(p, h, _))| (p, h, (i as u64) << 56))
            .collect();
        let r0 = Ring::new(
            0,
            GlobalView::from_members(&even),
            timing,
            w.seed,
            Box::new(|_, _| 0),
        );
        let r1 = Ring::new(
            1,
            GlobalView::from_members(&odd),
            timing,
            w.seed,
            Box::new(|_, _| 0),
        );
        sizes = [r0.peers(), r1.peers()];
        vec![r0, r1]
    };
    let app = |w: &World| TwoRings {
        stream: stream(w),
        right: [0; 2],
        wrong: [0; 2],
    };
    let (out, (right, wrong)) = run_on(text, rings, app, |a| (a.right, a.wrong));
    assert_eq!(sizes, [80, 80]);
    for r in 0..2 {
        assert!(
            right[r] > 2_000,
            "ring {r}: {} lookups at the owner",
            right[r]
        );
        assert!(
            (wrong[r] as f64) < 0.01 * right[r] as f64,
            "ring {r}: {} of {} answers from a non-owner",
            wrong[r],
            right[r] + wrong[r]
        );
    }
    let checks: Vec<_> = out
        .checks
        .iter()
        .filter(|c| c.name == "ring consistent")
        .collect();
    assert_eq!(checks.len(), 2);
    for c in checks {
        assert!(c.holds && c.enforced, "{c:?}");
    }
}
