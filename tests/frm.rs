//! FRM (LEAD's model updates under a growing key set): without churn every insert is stored and
//! every range issued before, during and after update rounds comes back complete; update rounds
//! publish patches that move keys, and every stored key stays findable under every model
//! version in use; an FRM system's records are the same alone and beside a LEAD without updates;
//! bad settings are explained.

mod common;

use leadsim::experiment::run_manifest;
use leadsim::manifest::Manifest;
use leadsim::output::Outcome;

fn run(text: &str) -> leadsim::experiment::RunResult {
    run_manifest(&Manifest::parse(text, "frm.toml").unwrap()).unwrap()
}

fn manifest(systems: &str) -> String {
    format!(
        "seed = 4\nduration_s = 60\nprotocol = \"lead\"\n[topology]\nhosts = 40\n[overlay]\nvnodes = 10\n\
         [churn]\nmodel = \"none\"\n[dataset]\nname = \"osmc64-like\"\nkeys = 300000\ncache = false\n\
         [workload]\nqueries_per_s = 5\nrange_keys = 2000\n\
         [lead]\nmodel = \"rmi:cubic,linear,2048\"\nnew_share = 0.6\ninsert_rate = 30000\n{systems}"
    )
}

#[test]
fn update_rounds_keep_every_key_findable_and_every_range_complete() {
    let r = run(&manifest("updates = \"frm\"\n"));
    let m = |n: &str| r.output.metric(n).unwrap();
    assert_eq!(m("frm_inserts_stored"), 180_000.0, "every new key inserted");
    assert_eq!(m("frm_inserts_lost"), 0.0);
    assert!(m("frm_rounds") >= 10.0, "rounds: {}", m("frm_rounds"));
    assert!(m("frm_patches") >= 10.0);
    assert!(m("frm_keys_moved") > 0.0, "re-homing moved no key");
    assert!(m("frm_round_bytes") > 0.0 && m("frm_gossip_messages") > 0.0);
    let recs = &r.output.records[0];
    assert!(recs.len() > 250, "{} queries", recs.len());
    for q in recs {
        assert_eq!(q.outcome, Outcome::Ok, "{q:?}");
        assert_eq!(q.keys_returned, q.keys_requested, "{q:?}");
    }
    // Ranges issued while inserts arrive ask for the keys stored so far: fewer than 2,000.
    assert!(recs.iter().any(|q| q.keys_requested < 1_500));
    for name in [
        "every insert stored",
        "every stored key findable under every model version in use",
        "every key of a range returned",
    ] {
        let c = r.output.check(name).unwrap();
        assert!(c.holds && c.enforced, "{name}: {c:?}");
    }
}

#[test]
fn frm_records_are_the_same_alone_and_beside_lead_without_updates() {
    let alone = run(&manifest(
        "[[systems]]\nname = \"F\"\nlead = { updates = \"frm\" }\n",
    ));
    let paired = run(&manifest(
        "[[systems]]\nname = \"L\"\n[[systems]]\nname = \"F\"\nlead = { updates = \"frm\" }\n",
    ));
    assert_eq!(alone.output.records[0], paired.output.records[1]);
    assert_eq!(
        alone.output.system_metrics[0],
        paired.output.system_metrics[1]
    );
    // Without updates there are no rounds, and the stored keys stay where the t = 0 model put
    // their hashes.
    let m = &paired.output.system_metrics[0];
    let get = |n: &str| m.iter().find(|x| x.0 == n).unwrap().1;
    assert_eq!(get("frm_rounds"), 0.0);
    assert_eq!(get("frm_keys_moved"), 0.0);
    assert_eq!(get("frm_inserts_stored"), 180_000.0);
}

#[test]
fn bad_frm_settings_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, lead: &str, extra: &str| {
        let text = manifest("").replace(
            "[lead]\nmodel = \"rmi:cubic,linear,2048\"\nnew_share = 0.6\ninsert_rate = 30000\n",
            &format!("[lead]\n{lead}\n{extra}"),
        );
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let cases = [
        (
            "exact.toml",
            "model = \"exact\"\nnew_share = 0.5",
            "",
            vec!["linear leaves"],
        ),
        (
            "slow.toml",
            "new_share = 0.5\ninsert_rate = 10",
            "",
            vec!["insert_rate", "longer than the run"],
        ),
        ("share.toml", "new_share = 0.99", "", vec!["new_share"]),
        (
            "rate.toml",
            "new_share = 0.5\ninsert_rate = 0",
            "",
            vec!["lead.insert_rate must be in"],
        ),
        (
            "threshold.toml",
            "updates = \"frm\"\nupdate_threshold = 1.5",
            "",
            vec!["lead.update_threshold"],
        ),
        (
            "updates.toml",
            "updates = \"sometimes\"",
            "",
            vec!["updates"],
        ),
        (
            "quorum.toml",
            "updates = \"frm\"\nquorum = 0",
            "",
            vec!["lead.quorum"],
        ),
        (
            "balancer.toml",
            "updates = \"frm\"\nbalancer = \"keys\"",
            "",
            vec!["balancer"],
        ),
    ];
    for (name, lead, extra, needles) in cases {
        let p = write(name, lead, extra);
        common::refused(&["run", &p], dir.path(), &needles);
    }
}
