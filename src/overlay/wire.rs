//! What crosses the simulated network and the timer queue in an overlay run: ring messages and
//! timers (tagged with their ring), application messages and timers (tagged with their system,
//! their payload kept in the system's own arena), and the substrate's application RPCs.
//!
//! Keeping these types non-generic lets several rings and several query systems of different
//! types share one kernel.

use super::arena::Handle;
pub use super::chord::config::MAX_SUCCESSORS;
use super::id::RingId;
use crate::engine::TimerHandle;
use crate::ids::PeerId;
use crate::ledger::QueryId;
use crate::network::Message;

/// Index of a ring in an overlay run (MARQUES uses several).
pub type RingIx = u8;
/// Index of a query system in an overlay run (paired runs host several).
pub type SysIx = u8;

/// Bytes of headers on every message (IP + UDP + overlay header with ids).
pub const HEADER_BYTES: u32 = 40;
/// Bytes per routing entry carried (VID + address).
pub const ENTRY_BYTES: u32 = 12;

/// Kind names of ring messages (the substrate's RPC kinds and the apps' kinds follow).
pub const RING_KINDS: &[&str] = &[
    "lookup",
    "finger",
    "join",
    "hop_ack",
    "found",
    "stabilize",
    "successor_list",
    "notify",
    "check_pred",
    "check_pred_reply",
    "key_request",
    "key_transfer",
];
/// Kind names of the substrate's own messages beyond the ring's: application RPC acks, and the
/// graceful-leave notices.
pub const SUBSTRATE_KINDS: &[&str] = &["app_ack", "leave"];
/// Index of the first substrate kind.
pub const APP_ACK_KIND: usize = RING_KINDS.len();
/// Index of the leave-notice kind.
pub const LEAVE_KIND: usize = RING_KINDS.len() + 1;
/// Index of the first application kind.
pub const FIRST_APP_KIND: usize = RING_KINDS.len() + SUBSTRATE_KINDS.len();

/// Why a list of targets is being routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A query of application system `sys`.
    App { sys: SysIx, query: QueryId },
    /// A joining peer looking for its successor.
    Join,
    /// Finger `i` repair.
    Finger(u8),
}

/// A [`Purpose`] as a message carries it: plain fields instead of an enum. As an enum, its
/// payload after the one-byte tag is an odd 7-byte piece, which the compiler moves as two
/// overlapping 4-byte stores; every popped event's copy then stalled on a load spanning both
/// (store-to-load forwarding fails), about 6% of a paper run (`docs/performance.md`, step 14).
///
/// ```
/// use leadsim::overlay::wire::{Purpose, WirePurpose};
/// for p in [Purpose::App { sys: 3, query: 7 }, Purpose::Join, Purpose::Finger(63)] {
///     assert_eq!(WirePurpose::from(p).get(), p);
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WirePurpose {
    /// 0: app query, 1: join, 2: finger repair.
    tag: u8,
    /// The app's system, or the finger's index.
    small: u8,
    /// The app's query (0 otherwise).
    query: QueryId,
}

impl From<Purpose> for WirePurpose {
    #[inline]
    fn from(p: Purpose) -> WirePurpose {
        match p {
            Purpose::App { sys, query } => WirePurpose {
                tag: 0,
                small: sys,
                query,
            },
            Purpose::Join => WirePurpose {
                tag: 1,
                small: 0,
                query: 0,
            },
            Purpose::Finger(i) => WirePurpose {
                tag: 2,
                small: i,
                query: 0,
            },
        }
    }
}

impl WirePurpose {
    /// The purpose.
    #[inline]
    pub fn get(self) -> Purpose {
        match self.tag {
            0 => Purpose::App {
                sys: self.small,
                query: self.query,
            },
            1 => Purpose::Join,
            _ => Purpose::Finger(self.small),
        }
    }

    /// Whether it is an application query's ([`Purpose::App`]).
    #[inline]
    pub fn is_app(self) -> bool {
        self.tag == 0
    }
}

/// One routed target: a ring position and the app's tag for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Ring position looked up.
    pub id: RingId,
    /// The application's reference (e.g. index of the key in its query).
    pub tag: u32,
    /// Set by the forwarder that found the receiver to be the responsible peer.
    pub final_hop: bool,
}

impl Target {
    /// A target at ring position `id` with the app's `tag`.
    pub fn new(id: RingId, tag: u32) -> Target {
        Target {
            id,
            tag,
            final_hop: false,
        }
    }
}

/// The targets a routed message carries: a single one inside the message (a lookup, a finger
/// repair: nothing to load from side storage at each hop), or a list in the ring's arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// One target, inline (stored as [`OneTarget`] to keep messages 4-byte aligned).
    One(OneTarget),
    /// A list in the ring's list arena (owned by whoever holds the message).
    List(Handle),
}

/// A [`Target`] stored 4-byte aligned, for [`Targets::One`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OneTarget {
    id: Wide,
    tag: u32,
    final_hop: bool,
}

impl From<Target> for OneTarget {
    fn from(t: Target) -> OneTarget {
        OneTarget {
            id: Wide::new(t.id),
            tag: t.tag,
            final_hop: t.final_hop,
        }
    }
}

impl From<OneTarget> for Target {
    fn from(t: OneTarget) -> Target {
        Target {
            id: t.id.get(),
            tag: t.tag,
            final_hop: t.final_hop,
        }
    }
}

/// A successor list carried inline in a message.
#[derive(Clone, Copy, Debug)]
pub struct SuccList {
    pub(crate) len: u8,
    pub(crate) peers: [PeerId; MAX_SUCCESSORS],
}

impl SuccList {
    /// The peers.
    pub fn as_slice(&self) -> &[PeerId] {
        &self.peers[..self.len as usize]
    }
}

/// A 64-bit value stored as two `u32`s, so that messages stay 4-byte aligned (an event slot is
/// 8 bytes smaller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wide([u32; 2]);

impl Wide {
    /// Wraps a value.
    pub fn new(v: u64) -> Wide {
        Wide([v as u32, (v >> 32) as u32])
    }
    /// The value.
    pub fn get(self) -> u64 {
        u64::from(self.0[0]) | (u64::from(self.0[1]) << 32)
    }
}

/// Ring maintenance and routing messages.
#[derive(Clone, Debug)]
pub enum RingMsg {
    /// A list of targets being routed; `rpc` is the forwarder's pending hop (for the ack).
    Route {
        targets: Targets,
        len: u32,
        origin: PeerId,
        hops: u16,
        purpose: WirePurpose,
        rpc: Handle,
    },
    /// The next hop got a routed list.
    HopAck {
        rpc: Handle,
        /// Whether the acknowledged hop carried an application query (query traffic).
        app: bool,
    },
    /// Result of a ring-internal lookup (join, finger), sent by the responsible peer.
    Found {
        purpose: WirePurpose,
        owner: PeerId,
        hops: u16,
    },
    /// Stabilisation: "send me your predecessor and successor list".
    GetSuccs { rpc: Handle },
    /// The answer (the list travels in the ring's side arena, so messages stay small).
    Succs {
        rpc: Handle,
        pred: PeerId,
        list: Handle,
        len: u8,
    },
    /// "I might be your predecessor."
    Notify,
    /// "I might be your successor" (sent by a joining peer to its predecessor).
    NotifyPred,
    /// Predecessor liveness check.
    Ping { rpc: Handle },
    /// Its answer.
    Pong { rpc: Handle },
    /// A joined peer asks its successor for the keys it now owns.
    KeyRequest { rpc: Handle, lo: Wide },
    /// The keys (their byte size; data itself stays implicit).
    KeyData { rpc: Handle, bytes: u32 },
    /// Graceful leave, to the predecessor: "your new successor is `succ`".
    LeaveToPred { succ: PeerId },
    /// Graceful leave, to the successor: "your new predecessor is `pred`; here are my keys".
    LeaveToSucc { pred: PeerId, bytes: u32 },
}

impl RingMsg {
    #[inline(always)]
    fn kind(&self) -> usize {
        match self {
            RingMsg::Route { purpose, .. } => match purpose.get() {
                Purpose::App { .. } => 0,
                Purpose::Finger(_) => 1,
                Purpose::Join => 2,
            },
            RingMsg::HopAck { .. } => 3,
            RingMsg::Found { .. } => 4,
            RingMsg::GetSuccs { .. } => 5,
            RingMsg::Succs { .. } => 6,
            RingMsg::Notify | RingMsg::NotifyPred => 7,
            RingMsg::Ping { .. } => 8,
            RingMsg::Pong { .. } => 9,
            RingMsg::KeyRequest { .. } => 10,
            RingMsg::KeyData { .. } => 11,
            RingMsg::LeaveToPred { .. } | RingMsg::LeaveToSucc { .. } => LEAVE_KIND,
        }
    }

    #[inline(always)]
    fn size_bytes(&self) -> u32 {
        match self {
            RingMsg::Route { len, .. } => HEADER_BYTES + 16 + 12 * len,
            RingMsg::Succs { len, .. } => HEADER_BYTES + ENTRY_BYTES * (1 + u32::from(*len)),
            RingMsg::Found { .. } | RingMsg::LeaveToPred { .. } => HEADER_BYTES + ENTRY_BYTES,
            RingMsg::KeyData { bytes, .. } => HEADER_BYTES + bytes,
            RingMsg::LeaveToSucc { bytes, .. } => HEADER_BYTES + ENTRY_BYTES + bytes,
            _ => HEADER_BYTES,
        }
    }
}

/// An application message on the wire: its system, its global kind and size, and where its
/// payload waits in the system's arena.
#[derive(Clone, Copy, Debug)]
pub struct AppEnvelope {
    /// The system it belongs to.
    pub sys: SysIx,
    /// Global kind index (counters).
    pub kind: u16,
    /// Size on the wire.
    pub bytes: u32,
    /// The payload.
    pub payload: Handle,
    /// The application RPC it is part of ([`Handle::NONE`] for a plain message).
    pub call: Handle,
    /// Whether it is sent on behalf of a query ([`Message::query_traffic`]).
    pub query: bool,
}

/// Everything an overlay run sends.
#[derive(Clone, Debug)]
pub enum Msg {
    /// A ring's own message.
    Ring(RingIx, RingMsg),
    /// An application message (plain, or the request of an application RPC).
    App(AppEnvelope),
    /// The substrate's acknowledgement of an application RPC request of system `sys` (`query`:
    /// the request was a query's).
    AppAck {
        sys: SysIx,
        call: Handle,
        query: bool,
    },
}

impl Message for Msg {
    #[inline(always)]
    fn kind(&self) -> usize {
        match self {
            Msg::Ring(_, m) => m.kind(),
            Msg::App(e) => usize::from(e.kind),
            Msg::AppAck { .. } => APP_ACK_KIND,
        }
    }

    #[inline(always)]
    fn size_bytes(&self) -> u32 {
        match self {
            Msg::Ring(_, m) => m.size_bytes(),
            Msg::App(e) => e.bytes,
            Msg::AppAck { .. } => HEADER_BYTES,
        }
    }

    #[inline]
    fn query_traffic(&self) -> bool {
        match self {
            Msg::Ring(_, RingMsg::Route { purpose, .. }) => purpose.is_app(),
            Msg::Ring(_, RingMsg::HopAck { app, .. }) => *app,
            Msg::Ring(..) => false,
            Msg::App(e) => e.query,
            Msg::AppAck { query, .. } => *query,
        }
    }
}

/// A ring's timers.
#[derive(Clone, Copy, Debug)]
pub enum RingTimer {
    /// Periodic stabilisation and predecessor check.
    Stabilize,
    /// Periodic finger repair.
    FixFinger,
    /// An RPC's timeout.
    Rpc(Handle),
    /// Start joining (with `init = join`, or after a crash).
    Join,
    /// The join lookup took too long: retry.
    JoinDeadline(u32),
}

/// Everything an overlay run schedules.
#[derive(Clone, Copy, Debug)]
pub enum Timer {
    /// A ring's timer.
    Ring(RingIx, RingTimer),
    /// An application timer (payload in the system's arena).
    App { sys: SysIx, payload: Handle },
    /// An application RPC's timeout.
    Call { sys: SysIx, call: Handle },
}

/// A handle to cancel an application timer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppTimerHandle {
    pub(crate) kernel: TimerHandle,
    pub(crate) payload: Option<Handle>,
}

#[cfg(test)]
mod size_tests {
    /// Event slots are the hot path's memory traffic: a message must stay within 48 bytes (a
    /// routed message carries one target inline: 8 bytes more than a list handle, and one
    /// cache miss less at every hop of a lookup) and its event slot within one cache line.
    #[test]
    fn messages_stay_small() {
        let msg = std::mem::size_of::<super::Msg>();
        let event = std::mem::size_of::<crate::sim::Event<super::Msg, super::Timer>>();
        assert!(msg <= 48, "a message is {msg} bytes");
        assert!(event <= 56, "an event is {event} bytes");
        assert!(
            std::mem::align_of::<super::Msg>() <= 4,
            "messages must stay 4-byte aligned"
        );
    }
}
