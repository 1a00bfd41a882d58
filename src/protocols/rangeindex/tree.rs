//! RP-BST's distributed binary search tree (DBST style): the coordinator builds a balanced BST
//! over the key-ordered partitions; each node holds its interval, left / right child and parent
//! pointers, and its in-order neighbours (the previous and next partitions) for range walks.

/// No node.
pub const NIL: u32 = u32::MAX;

/// A balanced BST over partitions `0..n` (in key order).
#[derive(Clone, Debug)]
pub struct Tree {
    /// The root partition.
    pub root: u32,
    /// Per partition: parent, left and right child ([`NIL`] when absent).
    pub parent: Vec<u32>,
    /// Left children.
    pub left: Vec<u32>,
    /// Right children.
    pub right: Vec<u32>,
}

impl Tree {
    /// The balanced tree of `n` partitions (the middle one at the root, recursively).
    ///
    /// ```
    /// use leadsim::protocols::rangeindex::tree::{Tree, NIL};
    /// let t = Tree::balanced(7);
    /// assert_eq!(t.root, 3);
    /// assert_eq!((t.left[3], t.right[3]), (1, 5));
    /// assert_eq!(t.parent[0], 1);
    /// assert_eq!(t.depth(0), 2);
    /// assert_eq!(t.next_hop(3, 6), Some(5));
    /// assert_eq!(t.next_hop(6, 6), None);
    /// assert_eq!(t.neighbours(0), vec![1, 1]); // parent 1 and in-order successor 1
    /// assert_eq!(t.left[0], NIL);
    /// ```
    pub fn balanced(n: u32) -> Tree {
        let mut t = Tree {
            root: NIL,
            parent: vec![NIL; n as usize],
            left: vec![NIL; n as usize],
            right: vec![NIL; n as usize],
        };
        t.root = t.build(0, n, NIL);
        t
    }

    fn build(&mut self, lo: u32, hi: u32, parent: u32) -> u32 {
        if lo >= hi {
            return NIL;
        }
        let mid = lo + (hi - lo) / 2;
        self.parent[mid as usize] = parent;
        let l = self.build(lo, mid, mid);
        let r = self.build(mid + 1, hi, mid);
        self.left[mid as usize] = l;
        self.right[mid as usize] = r;
        mid
    }

    /// Partitions.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether it has no partition.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The child of `at` towards partition `target` (`None` when `at` is the target): a node
    /// compares the searched key with its interval.
    pub fn next_hop(&self, at: u32, target: u32) -> Option<u32> {
        use std::cmp::Ordering::*;
        match target.cmp(&at) {
            Less => Some(self.left[at as usize]),
            Greater => Some(self.right[at as usize]),
            Equal => None,
        }
    }

    /// Edges from the root to `p`.
    pub fn depth(&self, mut p: u32) -> u32 {
        let mut d = 0;
        while self.parent[p as usize] != NIL {
            p = self.parent[p as usize];
            d += 1;
        }
        d
    }

    /// The nodes whose pointers name `p`: its parent, children and in-order neighbours (each
    /// listed once per pointer), i.e. who must be told when `p`'s holder changes.
    pub fn neighbours(&self, p: u32) -> Vec<u32> {
        let i = p as usize;
        let mut v: Vec<u32> = [self.parent[i], self.left[i], self.right[i]]
            .into_iter()
            .filter(|&x| x != NIL)
            .collect();
        if p > 0 {
            v.push(p - 1);
        }
        if (p as usize) + 1 < self.len() {
            v.push(p + 1);
        }
        v
    }
}
