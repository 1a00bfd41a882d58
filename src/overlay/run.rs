//! Running query systems on Chord rings: build the shared ring from `[chord]` and the run's peers
//! (when a system uses it), let every system's protocol add its application (and its own rings,
//! if it brings any), then hand the overlay to the run driver.

use super::chord::{ArcKeys, ChordConfig, Ring};
use super::view::GlobalView;
use super::Overlay;
use crate::driver::{drive_systems, ProtocolOutput, SystemSpec, World};
use crate::engine::Time;
use anyhow::Result;

/// What a system contributes to the ring run besides its application.
pub struct SystemParts {
    /// Keys it stores in an arc `(a, b]` of the shared ring (summed over systems for
    /// key-transfer sizes; ignored for a system on rings of its own, which set their own).
    pub arc_keys: ArcKeys,
    /// How long its queries may still need after the end of the run (the drain).
    pub drain: Time,
}

/// Adds one system (described by its spec) to the overlay.
pub type AddSystemFn = fn(&World, &SystemSpec, &mut Overlay) -> Result<SystemParts>;

/// Runs `systems` (add function, spec, whether it brings its own rings): those without rings of
/// their own share ring 0, every peer at its PeerHASH position; the others add theirs (one per
/// group: [`Overlay::add_ring_keyed`]). Stored keys count once per group.
pub fn run_systems(
    world: &World,
    systems: &[(AddSystemFn, &SystemSpec, bool)],
) -> Result<ProtocolOutput> {
    let timing = world.settings::<ChordConfig>("chord")?.timing()?;
    let shared = systems.iter().any(|s| !s.2);
    let mut rings = Vec::new();
    if shared {
        let view = GlobalView::with_slots(&world.vnodes, &world.slots);
        rings.push(Ring::new(0, view, timing, world.seed, Box::new(|_, _| 0)));
    }
    let mut overlay = Overlay::new(rings);
    let mut arcs = Vec::new();
    let mut drains = Vec::new();
    let mut groups: Vec<(&str, Option<String>)> = Vec::new();
    for (add, spec, own) in systems {
        let parts = add(world, spec, &mut overlay)?;
        // The members of a group store one copy of each dataset they hold (they differ only in
        // workload and dataset).
        let copy = (spec.group.as_str(), spec.dataset.as_ref().map(|d| d.id()));
        if !own && !groups.contains(&copy) {
            arcs.push(parts.arc_keys);
        }
        groups.push(copy);
        drains.push(parts.drain);
    }
    if shared {
        overlay.rings[0].set_arc_keys(Box::new(move |a, b| arcs.iter().map(|f| f(a, b)).sum()));
    }
    let kinds = overlay.kind_names();
    drive_systems(world, &mut overlay, kinds, &drains)
}
