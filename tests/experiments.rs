//! Every manifest shipped in experiments/ parses and validates.

#[test]
fn shipped_manifests_are_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir("experiments").unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            leadsim::manifest::Manifest::load(&p)
                .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 2, "expected the example manifests, found {n}");
}
