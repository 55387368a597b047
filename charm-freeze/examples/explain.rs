//! Why did two values hash differently? `cargo run -p charm-freeze --example explain`

use charm_freeze::{freeze_tree, hash, summarize_diffs, Freeze};
use std::collections::HashMap;

#[derive(Freeze)]
struct Experiment {
    dataset: String,
    learning_rate: f64,
    layers: Vec<u32>,
    options: HashMap<String, bool>,
    #[freeze(skip)]
    _progress_bar: bool,
}

fn main() {
    let before = Experiment {
        dataset: "mnist".into(),
        learning_rate: 0.01,
        layers: vec![784, 128, 10],
        options: HashMap::from([("dropout".into(), true), ("batch_norm".into(), false)]),
        _progress_bar: true,
    };
    let after = Experiment {
        layers: vec![784, 256, 10],
        options: HashMap::from([("dropout".into(), true), ("augment".into(), true)]),
        _progress_bar: false,
        ..before.clone_config()
    };

    println!("digest before: {}", hash(&before));
    println!("digest after:  {}", hash(&after));
    println!("\nwhat is hashed (before):\n{:#}", freeze_tree(&before));
    println!("\nwhy they differ:\n{}", summarize_diffs(&before, &after));

    let again = before.clone_config();
    assert_eq!(hash(&before), hash(&again), "the same config hashes alike");
    assert_ne!(hash(&before), hash(&after));
}

impl Experiment {
    fn clone_config(&self) -> Experiment {
        Experiment {
            dataset: self.dataset.clone(),
            learning_rate: self.learning_rate,
            layers: self.layers.clone(),
            options: self.options.clone(),
            _progress_bar: false,
        }
    }
}
