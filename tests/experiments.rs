//! Every file shipped in experiments/ parses and validates: run manifests, and model-evaluation
//! configs (recognised by their top-level `models` key).

#[test]
fn shipped_manifests_are_valid() {
    let (mut runs, mut evals) = (0, 0);
    for entry in std::fs::read_dir("experiments").unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&p).unwrap();
            let table: toml::Table =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            if table.contains_key("models") {
                leadsim::learned::eval::EvalConfig::load(&p)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                evals += 1;
            } else {
                leadsim::manifest::Manifest::load(&p)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                runs += 1;
            }
        }
    }
    assert!(
        runs >= 3 && evals >= 1,
        "expected the example manifests, found {runs} runs and {evals} evals"
    );
}

#[test]
fn eval_config_errors_name_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.toml");
    std::fs::write(
        &p,
        "models = [\"linear\"]\noutput = \"x.csv\"\nmodles = 1\n",
    )
    .unwrap();
    let e = format!(
        "{:#}",
        leadsim::learned::eval::EvalConfig::load(&p).unwrap_err()
    );
    assert!(e.contains("bad.toml:3") && e.contains("modles"), "{e}");
    std::fs::write(&p, "models = [\"btree\"]\noutput = \"x.csv\"\n").unwrap();
    let e = format!(
        "{:#}",
        leadsim::learned::eval::EvalConfig::load(&p).unwrap_err()
    );
    assert!(e.contains("unknown model 'btree'"), "{e}");
    std::fs::write(
        &p,
        "models = [\"linear\"]\noutput = \"x.csv\"\nalso_datasets = [\"osm\"]\n",
    )
    .unwrap();
    let e = format!(
        "{:#}",
        leadsim::learned::eval::EvalConfig::load(&p).unwrap_err()
    );
    assert!(e.contains("osmc64-like"), "{e}");
}

#[test]
fn readme_protocol_key_table_is_generated_from_the_registry() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let begin = "<!-- protocol-keys:begin -->\n";
    let a = readme
        .find(begin)
        .expect("README has the protocol-keys markers")
        + begin.len();
    let b = readme.find("<!-- protocol-keys:end -->").unwrap();
    assert_eq!(
        &readme[a..b],
        leadsim::protocols::markdown_keys(),
        "README's protocol key table is stale: paste `leadsim protocols --markdown` between the markers"
    );
}
