#![doc = include_str!("../docs/adding-a-protocol.md")]
