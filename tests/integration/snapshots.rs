//! Snapshots of every kind × every channel format and the call script in all three formats,
//! rendered from the shipped templates with each slot's example at a fixed time.
//! Review a change with `cargo insta review` (or `INSTA_UPDATE=always cargo test` and `git diff`).

use std::collections::BTreeMap;

use crier::channels::FORMATS;
use crier::template::Incident;
use crier::template::slots::{self, Fill};

use crate::support::{Project, now};

#[test]
fn every_kind_on_every_channel() {
    let p = Project::init();
    let project = p.load();
    let wanted: Vec<&str> = FORMATS.iter().copied().chain(["call-script"]).collect();
    let incident = Incident::sample(Some("Checkout is failing"), now());
    let mut count = 0;
    for kind in project.engine.kinds().values() {
        let values = slots::resolve(
            &kind.name,
            &kind.slots,
            &BTreeMap::new(),
            Fill::Examples,
            project.clock(now()),
        )
        .expect("examples are valid");
        let (outputs, problems) =
            crier::preview::outputs(&project, kind, &values, &incident, &wanted, now())
                .expect("renders");
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(outputs.len(), 16, "every format of {}", kind.name);
        for output in outputs {
            insta::assert_snapshot!(format!("{}__{}", kind.name, output.file), output.content);
            count += 1;
        }
    }
    assert_eq!(count, 5 * 16);
}
