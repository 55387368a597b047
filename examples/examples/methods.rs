//! `cargo run -p charm-examples --example methods`
//!
//! Memoized methods: `&self` is part of the key, so the receiver must be
//! `Freeze` (derive it). `#[charm::memoized_impl]` on the impl block gives
//! each memoized method handles: `Polynomial::eval_memoized()`,
//! `p.eval_would_hit(x)` and `p.eval_uncached(x)`.

#[derive(charm::Freeze)]
struct Polynomial {
    coefficients: Vec<i64>,
}

#[charm::memoized_impl]
impl Polynomial {
    /// Evaluates the polynomial at `x` (slowly, for the sake of the example).
    #[charm::memoize(group = charm_examples::scratch_cache())]
    fn eval(&self, x: i64) -> i64 {
        println!("  (computed p({x}) for {:?})", self.coefficients);
        self.coefficients.iter().rev().fold(0, |acc, c| acc * x + c)
    }
}

fn main() {
    let p = Polynomial {
        coefficients: vec![1, 0, 2],
    }; // 1 + 2x²
    let q = Polynomial {
        coefficients: vec![0, 1],
    }; // x
    assert_eq!(p.eval(3), 19);
    assert_eq!(p.eval(3), 19); // hit
    assert_eq!(q.eval(3), 3); // another receiver, another key
    assert_eq!(
        Polynomial {
            coefficients: vec![1, 0, 2]
        }
        .eval(3),
        19
    ); // an equal receiver hits
    assert!(q.eval_would_hit(3));
    let usage = Polynomial::eval_memoized().usage();
    assert_eq!((usage.hits, usage.misses), (2, 2));
    println!(
        "all four calls answered; {} computed, {} from the cache",
        usage.misses, usage.hits
    );
}
