//! A slab of values addressed by generation-checked handles: O(1) insert, get and remove, no
//! hashing, and stale handles (to a removed and reused slot) are detected instead of aliasing.
//! Used for in-flight RPCs and routed target lists.

/// A handle into an [`Arena`]. `NONE` is a handle that is never valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    slot: u32,
    generation: u32,
}

/// Slots at or above this are never an arena's: a handle there carries a value instead
/// ([`Handle::carrying`]).
const CARRIED: u32 = 1 << 31;

impl Handle {
    /// A handle that refers to nothing.
    pub const NONE: Handle = Handle {
        slot: u32::MAX,
        generation: u32::MAX,
    };

    /// A handle that refers to nothing in any arena but carries `v` (below 2^63 - 1), for a
    /// message field that names either a stored record or the little a record would have
    /// kept. `None` if `v` does not fit.
    ///
    /// ```
    /// use leadsim::overlay::arena::{Arena, Handle};
    /// let h = Handle::carrying(42).unwrap();
    /// assert_eq!(h.carried(), Some(42));
    /// let mut a: Arena<u8> = Arena::default();
    /// assert_eq!(a.insert(7).carried(), None);
    /// assert_eq!(a.get(h), None);
    /// ```
    #[inline]
    pub fn carrying(v: u64) -> Option<Handle> {
        (v < (1 << 63) - 1).then_some(Handle {
            slot: CARRIED | (v >> 32) as u32,
            generation: v as u32,
        })
    }

    /// The value a [`Handle::carrying`] handle carries (`None` for an arena's handle).
    #[inline]
    pub fn carried(self) -> Option<u64> {
        (self.slot >= CARRIED && self != Handle::NONE)
            .then(|| (u64::from(self.slot & !CARRIED) << 32) | u64::from(self.generation))
    }
}

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

/// The slab.
pub struct Arena<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            entries: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Arena<T> {
    /// Stores a value and returns its handle.
    pub fn insert(&mut self, value: T) -> Handle {
        self.live += 1;
        match self.free.pop() {
            Some(slot) => {
                let e = &mut self.entries[slot as usize];
                e.value = Some(value);
                Handle {
                    slot,
                    generation: e.generation,
                }
            }
            None => {
                assert!(
                    self.entries.len() < CARRIED as usize,
                    "an arena of 2^31 values"
                );
                self.entries.push(Entry {
                    generation: 0,
                    value: Some(value),
                });
                Handle {
                    slot: (self.entries.len() - 1) as u32,
                    generation: 0,
                }
            }
        }
    }

    /// The value behind a live handle.
    pub fn get(&self, h: Handle) -> Option<&T> {
        let e = self.entries.get(h.slot as usize)?;
        if e.generation == h.generation {
            e.value.as_ref()
        } else {
            None
        }
    }

    /// Hints the cache to load the slot behind `h` (no check, no effect on results).
    #[inline]
    pub fn prefetch(&self, h: Handle) {
        if let Some(e) = self.entries.get(h.slot as usize) {
            crate::engine::prefetch(e);
        }
    }

    /// Mutable access to the value behind a live handle.
    pub fn get_mut(&mut self, h: Handle) -> Option<&mut T> {
        let e = self.entries.get_mut(h.slot as usize)?;
        if e.generation == h.generation {
            e.value.as_mut()
        } else {
            None
        }
    }

    /// Removes and returns the value; the handle (and any copy of it) becomes stale.
    pub fn remove(&mut self, h: Handle) -> Option<T> {
        let e = self.entries.get_mut(h.slot as usize)?;
        if e.generation != h.generation || e.value.is_none() {
            return None;
        }
        let v = e.value.take();
        e.generation = e.generation.wrapping_add(1);
        self.free.push(h.slot);
        self.live -= 1;
        v
    }

    /// Live values with their handles, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, &T)> {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            e.value.as_ref().map(|v| {
                (
                    Handle {
                        slot: i as u32,
                        generation: e.generation,
                    },
                    v,
                )
            })
        })
    }

    /// Number of live values.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_handles_are_detected() {
        let mut a = Arena::default();
        let h1 = a.insert(1);
        assert_eq!(a.remove(h1), Some(1));
        let h2 = a.insert(2);
        assert_eq!(a.get(h1), None, "old handle must not see the reused slot");
        assert_eq!(a.get(h2), Some(&2));
        assert_eq!(a.remove(h1), None);
        assert_eq!(a.get(Handle::NONE), None);
        assert_eq!(a.len(), 1);
    }
}
