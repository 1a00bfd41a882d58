//! A peer's Kademlia routing table: 160 k-buckets, each a least-recently-seen-first list of at
//! most k contacts, plus one replacement candidate waiting on a ping of the bucket's oldest
//! contact (the paper's rule: a full bucket keeps its old contact if it still answers).

use super::id::{Kid, BITS};
use crate::engine::Time;
use crate::ids::PeerId;

/// One k-bucket.
#[derive(Clone, Debug, Default)]
pub struct Bucket {
    /// Contacts, least recently seen first.
    pub contacts: Vec<PeerId>,
    /// A new contact waiting for the oldest one's ping to fail.
    pub candidate: Option<PeerId>,
    /// A ping of the oldest contact is in flight.
    pub pinging: bool,
    /// When a lookup last targeted this bucket's range (refresh skips fresh buckets).
    pub touched: Time,
}

/// What [`Table::seen`] did with a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Already known: moved to the tail (most recently seen).
    Refreshed,
    /// Added to a bucket with room.
    Added,
    /// The bucket is full and no ping is running: ping its oldest contact (`head`), bucket `bucket`.
    PingOldest { bucket: u32, head: PeerId },
    /// The bucket is full and a ping is already running: kept as the candidate.
    Waiting,
    /// The peer itself.
    Own,
}

/// A peer's routing table.
#[derive(Clone, Debug)]
pub struct Table {
    buckets: Vec<Bucket>,
    len: usize,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            buckets: vec![Bucket::default(); BITS as usize],
            len: 0,
        }
    }
}

impl Table {
    /// Contacts in all buckets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it knows no contact.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bucket `i`.
    pub fn bucket(&self, i: u32) -> &Bucket {
        &self.buckets[i as usize]
    }

    /// Bucket `i`, mutable.
    pub fn bucket_mut(&mut self, i: u32) -> &mut Bucket {
        &mut self.buckets[i as usize]
    }

    /// Forgets everything (a crashed peer restarts empty).
    pub fn clear(&mut self) {
        for b in &mut self.buckets {
            b.contacts.clear();
            b.candidate = None;
            b.pinging = false;
            b.touched = 0;
        }
        self.len = 0;
    }

    /// Puts `p` in its bucket at warm start (no ping rule: the bucket has room by construction).
    pub fn insert(&mut self, me: Kid, ids: &[Kid], p: PeerId) {
        if let Some(b) = me.bucket_of(ids[p as usize]) {
            self.buckets[b as usize].contacts.push(p);
            self.len += 1;
        }
    }

    /// `me` heard from `p` (a request or a reply): Kademlia's update rule, bucket size `k`.
    pub fn seen(&mut self, me: Kid, ids: &[Kid], p: PeerId, k: usize) -> Seen {
        let Some(b) = me.bucket_of(ids[p as usize]) else {
            return Seen::Own;
        };
        let bucket = &mut self.buckets[b as usize];
        if let Some(i) = bucket.contacts.iter().position(|&c| c == p) {
            let c = bucket.contacts.remove(i);
            bucket.contacts.push(c);
            return Seen::Refreshed;
        }
        if bucket.contacts.len() < k {
            bucket.contacts.push(p);
            self.len += 1;
            return Seen::Added;
        }
        bucket.candidate = Some(p);
        if bucket.pinging {
            return Seen::Waiting;
        }
        bucket.pinging = true;
        Seen::PingOldest {
            bucket: b,
            head: bucket.contacts[0],
        }
    }

    /// The ping of bucket `b`'s oldest contact `head` ended: an answer keeps it (moved to the
    /// tail) and drops the candidate; silence evicts it for the candidate.
    pub fn ping_done(&mut self, b: u32, head: PeerId, answered: bool) {
        let bucket = &mut self.buckets[b as usize];
        bucket.pinging = false;
        let cand = bucket.candidate.take();
        let Some(i) = bucket.contacts.iter().position(|&c| c == head) else {
            // The head left meanwhile (evicted by a lookup timeout): the candidate takes a slot.
            if let Some(c) = cand.filter(|c| !bucket.contacts.contains(c)) {
                bucket.contacts.push(c);
                self.len += 1;
            }
            return;
        };
        if answered {
            let c = bucket.contacts.remove(i);
            bucket.contacts.push(c);
        } else {
            bucket.contacts.remove(i);
            match cand.filter(|c| !bucket.contacts.contains(c)) {
                Some(c) => bucket.contacts.push(c),
                None => self.len -= 1,
            }
        }
    }

    /// Drops `p` (it stayed silent in a lookup); the bucket's candidate, if any, takes its slot.
    pub fn remove(&mut self, me: Kid, ids: &[Kid], p: PeerId) {
        let Some(b) = me.bucket_of(ids[p as usize]) else {
            return;
        };
        let bucket = &mut self.buckets[b as usize];
        if let Some(i) = bucket.contacts.iter().position(|&c| c == p) {
            bucket.contacts.remove(i);
            match bucket.candidate.take() {
                Some(c) if !bucket.contacts.contains(&c) => bucket.contacts.push(c),
                _ => self.len -= 1,
            }
        }
    }

    /// Writes to `out` (cleared first) the at most `k` contacts closest to `target`, closest first.
    pub fn closest(&self, ids: &[Kid], target: Kid, k: usize, out: &mut Vec<PeerId>) {
        out.clear();
        for b in &self.buckets {
            out.extend_from_slice(&b.contacts);
        }
        let key = |p: &PeerId| ids[*p as usize].xor(target);
        if out.len() > k {
            out.select_nth_unstable_by_key(k - 1, key);
            out.truncate(k);
        }
        out.sort_unstable_by_key(key);
    }

    /// The lowest non-empty bucket (that of the nearest contact), if any.
    pub fn nearest_bucket(&self) -> Option<u32> {
        self.buckets
            .iter()
            .position(|b| !b.contacts.is_empty())
            .map(|i| i as u32)
    }

    /// Bytes of routing state: 26 per contact (20-byte id, 4-byte address, 2-byte port), 8 per
    /// bucket of bookkeeping (last refresh time).
    pub fn bytes(&self) -> u64 {
        26 * self.len as u64 + 8 * BITS as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_bucket_pings_its_oldest_and_keeps_it_if_it_answers() {
        let ids: Vec<Kid> = (0..64)
            .map(|i| Kid::sha1(format!("n{i}").as_bytes()))
            .collect();
        let me = ids[0];
        let top: Vec<PeerId> = (1..64)
            .filter(|&p| me.bucket_of(ids[p as usize]) == Some(159))
            .collect();
        assert!(
            top.len() >= 4,
            "about half the ids share no first bit with me"
        );
        let mut t = Table::default();
        let k = 2;
        assert_eq!(t.seen(me, &ids, top[0], k), Seen::Added);
        assert_eq!(t.seen(me, &ids, top[1], k), Seen::Added);
        assert_eq!(t.seen(me, &ids, top[0], k), Seen::Refreshed);
        // Now top[1] is the oldest.
        assert_eq!(
            t.seen(me, &ids, top[2], k),
            Seen::PingOldest {
                bucket: 159,
                head: top[1]
            }
        );
        assert_eq!(t.seen(me, &ids, top[3], k), Seen::Waiting);
        t.ping_done(159, top[1], true);
        assert_eq!(t.bucket(159).contacts, vec![top[0], top[1]]);
        assert_eq!(t.len(), 2);
        // A silent head is replaced by the latest candidate.
        assert!(matches!(
            t.seen(me, &ids, top[2], k),
            Seen::PingOldest { .. }
        ));
        t.ping_done(159, top[0], false);
        assert_eq!(t.bucket(159).contacts, vec![top[1], top[2]]);
        assert_eq!(t.len(), 2);
        t.remove(me, &ids, top[1]);
        assert_eq!(t.len(), 1);
        let mut out = Vec::new();
        t.closest(&ids, ids[top[2] as usize], 5, &mut out);
        assert_eq!(out, vec![top[2]]);
    }
}
