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
            if table.contains_key("figure") {
                // The figure specs: every source they name exists and is checked here too.
                let f = leadsim::figures::spec::FiguresFile::load(&p)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                for fig in f.figures.iter().filter_map(|f| f.source.as_ref()) {
                    assert!(
                        std::path::Path::new("experiments").join(fig).exists(),
                        "{fig}"
                    );
                }
            } else if table.contains_key("models") {
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

#[test]
fn figure_specs_explain_their_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("figures.toml");
    for (text, want) in [
        ("[[figure]]\nid = \"a\"\nwhat = \"w\"\npaper = \"p\"\n", "needs a source"),
        ("[[figure]]\nid = \"a\"\nwhat = \"w\"\npaper = \"p\"\nsource = \"x.toml\"\nkind = \"pie\"\n", "figures.toml:6"),
        (
            "[[figure]]\nid = \"a\"\nwhat = \"w\"\npaper = \"p\"\nsource = \"x\"\nx = \"n\"\ny = \"m\"\n\
             [[figure.verdict]]\nstatement = \"s\"\nrule = \"ratio\"\nseries = \"A\"\n",
            "needs `other`",
        ),
    ] {
        std::fs::write(&p, text).unwrap();
        let e = format!("{:#}", leadsim::figures::spec::FiguresFile::load(&p).unwrap_err());
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn verdict_rules_decide_and_report_missing_systems() {
    use leadsim::figures::render::Measured;
    use leadsim::figures::spec::{Rule, VerdictSpec};
    use leadsim::figures::verdict::check;
    let m = Measured {
        panels: vec![(
            "osm".into(),
            vec![
                (
                    "A".into(),
                    vec![(1000.0, 100.0, 0.0, 1), (6000.0, 600.0, 0.0, 1)],
                ),
                (
                    "B".into(),
                    vec![(1000.0, 10.0, 0.0, 1), (6000.0, 12.0, 0.0, 1)],
                ),
            ],
        )],
        samples: vec![],
    };
    let v = |rule, series: &str, other: Option<&str>, x, op: Option<&str>, value| VerdictSpec {
        statement: "s".into(),
        rule,
        series: series.into(),
        other: other.map(Into::into),
        x,
        op: op.map(Into::into),
        value,
    };
    // Interpolated at 5,000: 500.
    assert_eq!(
        check(
            &v(Rule::At, "A", None, Some(5000.0), Some(">"), Some(450.0)),
            &m
        )
        .outcome,
        "holds"
    );
    assert_eq!(
        check(
            &v(Rule::At, "A", None, Some(5000.0), Some(">"), Some(550.0)),
            &m
        )
        .outcome,
        "differs"
    );
    assert_eq!(
        check(&v(Rule::Lowest, "B", None, None, None, None), &m).outcome,
        "holds"
    );
    assert_eq!(
        check(&v(Rule::Lowest, "A", None, None, None, None), &m).outcome,
        "differs"
    );
    assert_eq!(
        check(&v(Rule::Flat, "B", None, None, None, Some(1.5)), &m).outcome,
        "holds"
    );
    assert_eq!(
        check(&v(Rule::Flat, "A", None, None, None, Some(1.5)), &m).outcome,
        "differs"
    );
    assert_eq!(
        check(
            &v(Rule::Ratio, "A", Some("B"), None, Some(">"), Some(10.0)),
            &m
        )
        .outcome,
        "holds"
    );
    assert!(check(&v(Rule::Lowest, "LEAD", None, None, None, None), &m)
        .outcome
        .starts_with("pending"));
}
