//! Ring identifiers: 64-bit positions on a circle, the interval tests Chord needs, and the hashes
//! that place peers (PeerHASH) and keys (KeyHASH) on the ring.

use sha1::{Digest, Sha1};

/// A position on the 64-bit identifier circle.
pub type RingId = u64;

/// `x` in the half-open arc `(a, b]` going clockwise from `a` (the whole circle when `a == b`).
#[inline]
pub fn in_open_closed(x: RingId, a: RingId, b: RingId) -> bool {
    if a < b {
        a < x && x <= b
    } else {
        x > a || x <= b
    }
}

/// `x` in the open arc `(a, b)` going clockwise from `a` (everything but `a` when `a == b`).
#[inline]
pub fn in_open(x: RingId, a: RingId, b: RingId) -> bool {
    if a < b {
        a < x && x < b
    } else {
        x > a || x < b
    }
}

/// Clockwise distance from `a` to `b`.
#[inline]
pub fn distance(a: RingId, b: RingId) -> u64 {
    b.wrapping_sub(a)
}

/// The simulated network address of host `h` (10.0.0.0/8, one address per host).
pub fn host_address(h: u32) -> String {
    format!("10.{}.{}.{}", (h >> 16) & 0xFF, (h >> 8) & 0xFF, h & 0xFF)
}

/// The first 8 bytes (big-endian) of SHA-1 over `bytes`: how every identifier of the overlay
/// (peers, keys, MARQUES's groups) is made.
#[inline]
pub fn sha1_id(bytes: &[u8]) -> RingId {
    let d = Sha1::digest(bytes);
    u64::from_be_bytes(d[..8].try_into().expect("SHA-1 has 20 bytes"))
}

/// PeerHASH: the first 8 bytes (big-endian) of SHA-1 over `"<address>:<port>"`.
pub fn peer_hash(address: &str, port: u16) -> RingId {
    sha1_id(format!("{address}:{port}").as_bytes())
}

/// Port of virtual peer `v` of a host (peers of one host differ by port).
pub fn vnode_port(v: u32) -> u16 {
    4000 + v as u16
}

/// Chord's KeyHASH: the first 8 bytes of SHA-1 over the key's 8 little-endian bytes
/// (a uniform 64-bit hash that destroys key order: what makes Chord's ranges expensive).
///
/// An 8-byte message is one padded SHA-1 block, compressed directly (the same digest as
/// [`sha1_id`] without the streaming buffer and finalisation: a consolidated batch hashes every
/// key it asks for).
#[inline]
pub fn key_hash(key: u64) -> RingId {
    let mut block = [0u8; 64];
    block[..8].copy_from_slice(&key.to_le_bytes());
    block[8] = 0x80; // the padding bit after the message
    block[56..].copy_from_slice(&64u64.to_be_bytes()); // the message length in bits
    let mut state = SHA1_INIT;
    sha1::compress(&mut state, &[block.into()]);
    (u64::from(state[0]) << 32) | u64::from(state[1])
}

/// SHA-1's initial state (FIPS 180-4, 5.3.1).
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arcs_wrap_around() {
        assert!(in_open_closed(5, 3, 5));
        assert!(!in_open_closed(3, 3, 5));
        assert!(in_open_closed(1, u64::MAX - 2, 2));
        assert!(in_open_closed(u64::MAX, u64::MAX - 2, 2));
        assert!(!in_open_closed(3, u64::MAX - 2, 2));
        assert!(in_open_closed(7, 4, 4), "a == b is the whole circle");
        assert!(in_open(4, 3, 5) && !in_open(5, 3, 5));
        assert!(!in_open(4, 4, 4) && in_open(5, 4, 4));
        assert_eq!(distance(u64::MAX, 1), 2);
    }

    #[test]
    fn hashes_are_sha1_prefixes() {
        // SHA-1("10.0.0.1:4000") starts with these 8 bytes (checked with Python's hashlib).
        assert_eq!(peer_hash(&host_address(1), vnode_port(0)), PEER_GOLDEN);
        assert_ne!(key_hash(1), key_hash(2));
        // The one-block shortcut is SHA-1 itself.
        for k in [0, 1, 2, 255, 1 << 40, u64::MAX, 0x0123_4567_89AB_CDEF] {
            assert_eq!(key_hash(k), sha1_id(&k.to_le_bytes()), "key {k}");
        }
        // SHA-1 of the 8 bytes 01 00 00 00 00 00 00 00 (Python's hashlib).
        assert_eq!(key_hash(1), KEY1_GOLDEN);
    }
    const PEER_GOLDEN: u64 = 3_118_096_593_553_434_760;
    const KEY1_GOLDEN: u64 = 4_442_975_727_842_628_419;
}
