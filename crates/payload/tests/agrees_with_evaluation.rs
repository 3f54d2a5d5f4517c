//! The payload index against `Filter::matches` on random rows and filters:
//! every operator, nested combinations, fields that are not indexed, missing
//! and `null` values, both postings shapes; and its stored form.

use proptest::prelude::*;
use proxima_core::{ErrorKind, FieldSpec, FieldType, Filter, Metadata};
use proxima_payload::{Answer, PayloadIndex};
use serde_json::{Value, json};

fn fields() -> Vec<FieldSpec> {
    [("kind", FieldType::String), ("n", FieldType::Int), ("wide", FieldType::Int), ("x", FieldType::Float)]
        .into_iter()
        .chain([("flag", FieldType::Bool), ("a.b", FieldType::Int)])
        .map(|(name, ty)| FieldSpec { name: name.into(), ty })
        .collect()
}

/// A row: each field absent, `null` or a value of its type; `free` is never declared.
fn row() -> impl Strategy<Value = Metadata> {
    let maybe =
        |v: BoxedStrategy<Value>| prop_oneof![1 => Just(None), 1 => Just(Some(Value::Null)), 6 => v.prop_map(Some)];
    (
        maybe(prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(|s| json!(s)).boxed()),
        maybe((-3i64..4).prop_map(|n| json!(n)).boxed()),
        maybe((0i64..100_000).prop_map(|n| json!(n)).boxed()),
        maybe(
            prop_oneof![(-2i64..3).prop_map(|n| json!(n)), (-20i32..20).prop_map(|n| json!(f64::from(n) / 4.0))]
                .boxed(),
        ),
        maybe(any::<bool>().prop_map(|b| json!(b)).boxed()),
        maybe((0i64..3).prop_map(|n| json!(n)).boxed()),
        maybe((0i64..3).prop_map(|n| json!(n)).boxed()),
    )
        .prop_map(|(kind, n, wide, x, flag, ab, free)| {
            let mut m = Metadata::new();
            for (k, v) in [("kind", kind), ("n", n), ("wide", wide), ("x", x), ("flag", flag), ("free", free)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            if let Some(v) = ab {
                m.insert("a".into(), json!({ "b": v }));
            }
            m
        })
}

fn leaf() -> impl Strategy<Value = Filter> {
    let field = prop::sample::select(vec!["kind", "n", "wide", "x", "flag", "a.b", "free", "missing"]);
    let constant = prop_oneof![
        prop::sample::select(vec!["a", "b", "c", "z"]).prop_map(|s| json!(s)),
        (-4i64..5).prop_map(|n| json!(n)),
        (0i64..100_000).prop_map(|n| json!(n)),
        (-20i32..20).prop_map(|n| json!(f64::from(n) / 4.0)),
        any::<bool>().prop_map(|b| json!(b)),
    ];
    (field, 0..8usize, constant, prop::collection::vec((-4i64..5).prop_map(|n| json!(n)), 0..4)).prop_map(
        |(field, op, value, values)| {
            let fv = proxima_core::filter::FieldValue { field: field.to_string(), value };
            match op {
                0 => Filter::Eq(fv),
                1 => Filter::Ne(fv),
                2 => Filter::Gt(fv),
                3 => Filter::Gte(fv),
                4 => Filter::Lt(fv),
                5 => Filter::Lte(fv),
                6 => Filter::In(proxima_core::filter::FieldValues { field: field.to_string(), values }),
                _ => Filter::Exists(proxima_core::filter::FieldRef { field: field.to_string() }),
            }
        },
    )
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn answers_agree_with_evaluation(rows in prop::collection::vec(row(), 0..600), filters in prop::collection::vec(filter(), 1..6)) {
        let index = PayloadIndex::build(&fields(), rows.iter());
        let stored = PayloadIndex::from_bytes(&index.to_bytes()).unwrap();
        prop_assert_eq!(&stored, &index);
        for filter in &filters {
            let truth: Vec<u32> = (0..rows.len() as u32).filter(|&r| filter.matches(&rows[r as usize])).collect();
            match index.evaluate(filter) {
                Answer::Exact(found) => prop_assert_eq!(found.iter().collect::<Vec<_>>(), truth, "{:?}", filter),
                Answer::Candidates(found) => {
                    prop_assert!(truth.iter().all(|r| found.contains(*r)), "a match outside the candidates: {:?}", filter);
                }
                Answer::Unknown => {}
            }
        }
    }
}

#[test]
fn declared_fields_alone_are_answered_exactly() {
    let rows: Vec<Metadata> =
        (0..5000).map(|i| json!({"p1": i % 100, "yr": 1900 + i % 125}).as_object().unwrap().clone()).collect();
    let fields =
        [FieldSpec { name: "p1".into(), ty: FieldType::Int }, FieldSpec { name: "yr".into(), ty: FieldType::Int }];
    let index = PayloadIndex::build(&fields, rows.iter());
    let both = Filter::And(vec![Filter::eq("p1", 7), Filter::gt("yr", 1999)]);
    let Answer::Exact(rows_found) = index.evaluate(&both) else { panic!("declared fields are exact") };
    assert_eq!(rows_found.len() as usize, rows.iter().filter(|m| both.matches(m)).count());
    let mixed = Filter::And(vec![Filter::eq("p1", 7), Filter::eq("free", 1)]);
    assert!(matches!(index.evaluate(&mixed), Answer::Candidates(c) if c.len() == 50));
    assert_eq!(index.evaluate(&Filter::Or(vec![Filter::eq("p1", 7), Filter::eq("free", 1)])), Answer::Unknown);
    assert!(index.memory_bytes() > 0);
}

#[test]
fn values_the_index_cannot_hold_exactly_leave_the_field_to_evaluation() {
    let rows: Vec<Metadata> = [json!({"x": 1.5, "s": "a"}), json!({"x": 9_007_199_254_740_993u64, "s": 3})]
        .iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
    let fields =
        [FieldSpec { name: "x".into(), ty: FieldType::Float }, FieldSpec { name: "s".into(), ty: FieldType::String }];
    let index = PayloadIndex::build(&fields, rows.iter());
    assert_eq!(index.fields().count(), 0, "an integer beyond 2^53 and a number in a string field");
}

#[test]
fn damaged_bytes_are_corrupted() {
    let rows: Vec<Metadata> = (0..300).map(|i| json!({"n": i % 9}).as_object().unwrap().clone()).collect();
    let bytes = PayloadIndex::build(&[FieldSpec { name: "n".into(), ty: FieldType::Int }], rows.iter()).to_bytes();
    for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        assert_eq!(PayloadIndex::from_bytes(&damaged).unwrap_err().kind(), ErrorKind::Corrupted, "byte {at}");
    }
    assert_eq!(PayloadIndex::from_bytes(&bytes[..bytes.len() - 3]).unwrap_err().kind(), ErrorKind::Corrupted);
    assert_eq!(PayloadIndex::from_bytes(&[]).unwrap_err().kind(), ErrorKind::Corrupted);
}
