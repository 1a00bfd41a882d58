//! Identifiers shared by every layer: hosts and peers. A leaf module (imports nothing), so the
//! kernel, the network, churn and the protocols can all name them without import cycles.

/// Index of a physical host.
pub type HostId = u32;
/// Index of a (virtual) peer; several peers may run on one host.
pub type PeerId = u32;

/// The pseudo-peer of global timers (workload drivers): never crashes.
pub const GLOBAL: PeerId = PeerId::MAX;
