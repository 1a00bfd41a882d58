//! Running query systems on one Chord ring: build the ring from `[chord]` and the run's peers, let
//! every system's protocol add its application, then hand the overlay to the run driver.

use super::chord::{ArcKeys, ChordConfig, Ring};
use super::view::GlobalView;
use super::Overlay;
use crate::driver::{drive, ProtocolOutput, SystemSpec, World};
use crate::engine::Time;
use anyhow::Result;

/// What a system contributes to the ring run besides its application.
pub struct SystemParts {
    /// Keys it stores in a ring arc `(a, b]` (summed over systems for key-transfer sizes).
    pub arc_keys: ArcKeys,
    /// How long its queries may still need after the end of the run (the drain).
    pub drain: Time,
}

/// Adds one system (described by its spec) to the overlay.
pub type AddSystemFn = fn(&World, &SystemSpec, &mut Overlay) -> Result<SystemParts>;

/// Runs `systems` on one ring of every peer at its PeerHASH position.
pub fn run_systems(
    world: &World,
    systems: &[(AddSystemFn, &SystemSpec)],
) -> Result<ProtocolOutput> {
    let timing = world.settings::<ChordConfig>("chord")?.timing()?;
    let view = GlobalView::with_slots(&world.vnodes, &world.slots);
    let ring = Ring::new(0, view, timing, world.seed, Box::new(|_, _| 0));
    let mut overlay = Overlay::new(vec![ring]);
    let mut arcs = Vec::new();
    let mut drain = 0;
    for (add, spec) in systems {
        let parts = add(world, spec, &mut overlay)?;
        arcs.push(parts.arc_keys);
        drain = drain.max(parts.drain);
    }
    overlay.rings[0].set_arc_keys(Box::new(move |a, b| arcs.iter().map(|f| f(a, b)).sum()));
    let kinds = overlay.kind_names();
    drive(world, &mut overlay, kinds, drain)
}
